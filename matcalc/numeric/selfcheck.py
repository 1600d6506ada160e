"""The self-check of every shown derivative (SPEC §3): finite differences at random points.

At each point, the shown result of order K is contracted with a random weight
U on the function's axes and a random direction V_k on the variable's axes of
each differentiation k, and compared with the central difference along V_K of
the order K-1 result contracted the same way:

    <D^K f, U, V_1..V_K>  ≈  (C(X + h V_K) - C(X - h V_K)) / 2h,   C = <D^(K-1) f, U, V_1..V_(K-1)>

For K = 1, C is <U, f> itself, evaluated by `evaluate` (which shares no code
with the differentiator). For K > 1 the order K-1 result has been checked the
same way first, so trust is built one order at a time, each step a
first-order central difference with a tiny step (far from any kink), at two
steps combined by Richardson extrapolation; where the two disagree (a deep
network is chaotic at the sampled scale), the point is tried closer to 0, and
a point where differences cannot judge is not counted. Each point costs a few
evaluations whatever the sizes. A wrong entry
anywhere changes the contraction for almost every random U and V, so a
missing transpose cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nodes as n
from ..calculus.differentiate import TOLERANCE, Derivative, differentiate
from ..errors import ExitStatus, MatcalcError, UnsupportedError
from ..language.decls import Decl, Env
from .differences import KINK_DISTANCE, Point, evaluate_numeric, evaluate_shown, kink_distance, sample_point
from .evaluate import Evaluator

STEP = 1e-5  # and half of it, for Richardson extrapolation
RELIABLE = 10 * TOLERANCE  # differences at the two steps further apart than this cannot judge the result
POINT_SCALES = (1, 1 / 4, 1 / 16, 1 / 64, 1 / 256)  # a point where differences cannot judge is tried closer to 0
UNDERFLOW = 1e-250  # values this small have lost their digits
JITTER = 1e-9  # relative move of a point that tells rounding noise from a wrong result
JITTERS = 3
ROUNDING = 4 * float(np.finfo(float).eps)  # a few units of rounding: how far each value may be off
ROUNDINGS = 3
MAX_CONDITION = 1e8  # a matrix the result inverts must be at least this well conditioned at a sample point
TRIES_PER_POINT = 4  # points at which the result cannot be evaluated (a singular inverse) are redrawn


class SelfCheckError(MatcalcError):
    """A result that disagrees with finite differences of the function: matcalc's own fault."""

    exit_code = ExitStatus.INTERNAL


@dataclass(frozen=True)
class CheckReport:
    points: int  # the points at which the result was compared
    max_error: float  # the largest relative error there
    reason: str = ""  # why no point could be used, when points == 0

    @property
    def holds(self) -> bool:
        return self.points > 0 and self.max_error <= TOLERANCE

    def text(self) -> str:
        if self.points == 0:
            return f"not checked: {self.reason}"
        return f"checked: {self.points} point{'s' if self.points != 1 else ''}, max rel. error {self.max_error:.0e}"

    def to_json(self) -> dict:
        data: dict = {"points": self.points, "holds": self.holds}
        if self.points:
            data["max_relative_error"] = float(f"{self.max_error:.1e}")  # more digits would be noise
        else:
            data["reason"] = self.reason
        return data


def self_check(results: list[Derivative], env: Env, seed: int = 0, points: int = 3) -> CheckReport:
    """Check results[-1], the derivative of order K; results holds orders 1..K of the same function."""
    result = results[-1]
    try:
        results = _unconstrained(results[:-1], env) + [result]
    except UnsupportedError as error:  # more terms than matcalc works through: the result stands unchecked
        return CheckReport(0, 0.0, reason=error.message)
    rng = np.random.default_rng(seed)
    errors: list[float] = []
    for _ in range(points * TRIES_PER_POINT):
        if len(errors) == points:
            break
        try:
            # only the inverses the result itself holds must exist (result.invertible, checked per point)
            point = sample_point(result.expr, env, rng, symbolic_derivatives=False)
        except UnsupportedError as error:
            return CheckReport(len(errors), max(errors, default=0.0), reason=error.message)
        error_here = _error_at(results, point, _constrained(env), rng)
        if error_here is not None:
            errors.append(error_here)
    if not errors:
        return CheckReport(0, 0.0, reason=_why_unevaluable(result))
    return CheckReport(len(errors), max(errors))


def _unconstrained(lower: list[Derivative], env: Env) -> list[Derivative]:
    """The lower orders as formulas that hold off the symmetric matrices too. A symmetric variable's shown
    derivative is simplified by its symmetry (d/dS logdet(S) is S⁻¹, not S⁻ᵀ), so it equals the unconstrained
    derivative only at symmetric points; its difference along a direction that is not symmetric is not the
    next derivative. The same orders by the variable declared a general square matrix are exact everywhere."""
    if not lower or not env.is_symmetric(lower[0].wrt.name):
        return lower
    wrt = lower[0].wrt
    general = Env({**env.decls, wrt.name: Decl("matrix", env.decls[wrt.name].shape)})
    return [differentiate(d.expr, wrt, general, d.layout, d.order) for d in lower]


def _constrained(env: Env) -> frozenset[str]:
    """The variables whose kind a scaling would break (a onehot or simplex vector no longer sums to 1, a
    posdef matrix stays one but is drawn as such): sample_point leaves them unscaled too."""
    return frozenset(name for name, decl in env.decls.items() if decl.kind in ("posdef", "onehot", "simplex"))


def _error_at(
    results: list[Derivative], point: Point, constrained: frozenset[str], rng: np.random.Generator
) -> float | None:
    """The largest relative error of the orders' contractions at the point, or at the point scaled
    towards 0 where finite differences are unreliable at full scale (a deep network's chaos); None
    if no scale gives a reliable comparison or the results cannot be evaluated. A scaled point keeps
    the constrained variables as they are (the result may use 1'y = 1) and its distance from kinks."""
    for scale in POINT_SCALES:
        scaled = point if scale == 1 else _scaled(point, scale, constrained)
        if scale != 1 and kink_distance([results[-1].expr], scaled.values, scaled.sizes) <= KINK_DISTANCE:
            continue
        if not _assumptions_hold(results[-1], scaled):
            return None
        try:
            return _compare(results, scaled, rng)
        except _Unreliable:
            continue
    return None


def _scaled(point: Point, scale: float, constrained: frozenset[str]) -> Point:
    values = {name: value if name in constrained else scale * value for name, value in point.values.items()}
    return Point(values, point.sizes)


class _Unreliable(Exception):
    """Finite differences at two steps disagree here: they cannot judge the result."""


def _compare(results: list[Derivative], point: Point, rng: np.random.Generator) -> float:
    expr, wrt = results[-1].expr, results[-1].wrt.name
    weight = rng.normal(size=(_size(expr.shape.rows, point), _size(expr.shape.cols, point)))
    directions = [rng.normal(size=point.values[wrt].shape) for _ in results]
    worst = 0.0
    for k, result in enumerate(results):
        lower = results[k - 1] if k else None

        def difference(step: float) -> tuple[float, float]:
            return _difference(expr, lower, wrt, weight, directions, k, point, step)  # noqa: B023 (called in this iteration)

        with np.errstate(all="ignore"):
            try:
                value = evaluate_shown(result, point)
            except ValueError:  # shapes that do not conform: the shown form is malformed, not unreliable
                return float("inf")
            except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
                raise _Unreliable from None
            try:
                shown = _contract(result, value, weight, directions, point)
                coarse, size = difference(STEP)
                # rounding in a difference is about eps |C| / h: below ten times that, a value is noise
                # a Python float: a NumPy scalar here became the max error of a zero result, and its
                # comparison a numpy.bool_ in the JSON report, which json.dumps refuses
                noise = 10 * float(np.finfo(float).eps) * size / STEP / TOLERANCE
                if _agrees(shown, coarse, noise):  # one difference settles it; Richardson is for when it does not
                    worst = max(worst, abs(shown - coarse) / max(abs(coarse), abs(shown), noise))
                    continue
                fine, _ = difference(STEP / 2)
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError):
                raise _Unreliable from None
        expected = (4 * fine - coarse) / 3  # Richardson: the step's h² error cancels
        judged = max(abs(expected), noise)  # the differences' own scale: the shown value must not widen it
        if (
            not all(np.isfinite(v) for v in (shown, coarse, fine))
            or abs(fine - coarse) > RELIABLE * judged
            or 0 < judged < UNDERFLOW
        ):
            raise _Unreliable
        scale = max(judged, abs(shown))
        error = abs(shown - expected) / scale if scale > 0 else 0.0  # 0 = 0 exactly
        discrepancy = abs(shown - expected)
        if error > TOLERANCE and (
            _jitters(result, point, weight, directions, shown, discrepancy, rng)
            or _rounded(result, lower, point, weight, directions, shown, discrepancy, rng)
        ):
            raise _Unreliable
        worst = max(worst, error)
    return worst


def _jitters(
    result: Derivative,
    point: Point,
    weight: np.ndarray,
    directions: list[np.ndarray],
    shown: float,
    discrepancy: float,
    rng: np.random.Generator,
) -> bool:
    """Whether the shown formula's value here is rounding noise as large as the discrepancy: moving
    the point by a relative 1e-9 moves a sound evaluation by about that much, but one that cancels
    catastrophically (1 - tanh(u)² at a large u, or 1 - 1 where the result is 0) by as much as the
    noise itself. A few moves, so that noise cannot repeat itself by chance."""
    for _ in range(JITTERS):
        moved = Point(
            {name: value * (1 + JITTER * rng.standard_normal(value.shape)) for name, value in point.values.items()},
            point.sizes,
        )
        with np.errstate(all="ignore"):
            try:
                again = _contract(result, evaluate_shown(result, moved), weight, directions, moved)
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError):
                return True
        if not np.isfinite(again) or abs(again - shown) >= 0.1 * discrepancy:
            return True
    return False


def _rounded(
    result: Derivative,
    lower: Derivative | None,
    point: Point,
    weight: np.ndarray,
    directions: list[np.ndarray],
    shown: float,
    discrepancy: float,
    rng: np.random.Generator,
) -> bool:
    """Whether rounding inside the formulas can make the discrepancy: each evaluated a few times with
    every value moved by a few units of rounding at random (Monte Carlo arithmetic), the shown value
    moving by as much, or the difference of the lower order's contraction (its moves over the step).
    1 - tanh(u)² at a large u is all rounding: tanh(u) is a whole number of ulps from ±1, which the
    magnitude of the contraction's terms cannot see, and a step can leave it where it is."""
    k = len(lower.wrt_groups) if lower is not None else 0

    def reference(evaluator: Evaluator) -> float:
        if lower is None:
            return float(np.sum(weight * evaluator(result.expr)))
        return _contract(lower, evaluate_shown(lower, point, evaluator), weight, directions[:k], point)

    def contraction(evaluator: Evaluator) -> float:
        return _contract(result, evaluate_shown(result, point, evaluator), weight, directions, point)

    with np.errstate(all="ignore"):
        try:
            exact = reference(Evaluator(point.values, point.sizes))
            for _ in range(ROUNDINGS):
                moved_reference = reference(_Rounding(point, rng))
                moved_shown = contraction(_Rounding(point, rng))
                noise = abs(moved_reference - exact) / STEP + abs(moved_shown - shown)
                if not np.isfinite(noise) or noise >= 0.1 * discrepancy:
                    return True
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError):
            return True
    return False


class _Rounding(Evaluator):
    """An evaluation in which every value is off by up to ROUNDING relative, at random."""

    def __init__(self, point: Point, rng: np.random.Generator):
        super().__init__(point.values, point.sizes)
        self.rng = rng

    def __call__(self, node: n.Node) -> np.ndarray:
        value = super().__call__(node)
        return value * (1 + ROUNDING * self.rng.uniform(-1, 1, np.shape(value)))


def _difference(
    expr: n.Node,
    lower: Derivative | None,
    wrt: str,
    weight: np.ndarray,
    directions: list[np.ndarray],
    k: int,
    point: Point,
    step: float,
) -> tuple[float, float]:
    """The central difference along directions[k] of the order-k result's contraction, and the
    contraction's magnitude there: the sum of its terms' absolute values, which sets its rounding
    (Σ U ⊙ σ(z) for a saturated σ cancels to a small number with the rounding of its large terms)."""

    def contraction(values: dict) -> tuple[float, float]:
        moved = Point(values, point.sizes)
        if lower is None:
            value = _evaluate(expr, moved)
            return float(np.sum(weight * value)), float(np.sum(np.abs(weight * value)))
        value = evaluate_shown(lower, moved)
        return (
            _contract(lower, value, weight, directions, moved),
            _contract(lower, np.abs(value), np.abs(weight), [np.abs(d) for d in directions], moved),
        )

    forward, backward = dict(point.values), dict(point.values)
    forward[wrt] = point.values[wrt] + step * directions[k]
    backward[wrt] = point.values[wrt] - step * directions[k]
    (ahead, ahead_size), (behind, behind_size) = contraction(forward), contraction(backward)
    return (ahead - behind) / (2 * step), max(ahead_size, behind_size)


def _contract(
    result: Derivative, value: np.ndarray, weight: np.ndarray, directions: list[np.ndarray], point: Point
) -> float:
    """Σ result[free] U[out axes] V_1[first variable axes] ... as one number."""
    letters = {index: chr(ord("a") + k) for k, index in enumerate(result.free)}
    operands = [np.asarray(value)]
    subscripts = ["".join(letters[i] for i in result.free)]
    for axes, array in ((result.out_axes, weight), *zip(result.wrt_groups, directions)):
        operands.append(array.reshape([d for d in array.shape if d != 1]) if axes else array.reshape(()))
        subscripts.append("".join(letters[i] for i in axes))
    return float(np.einsum(",".join(subscripts) + "->", *operands))


def _agrees(shown: float, difference: float, noise: float) -> bool:
    """A close agreement with one central difference (its h² error is far below the tolerance)."""
    return bool(
        np.isfinite(shown)
        and np.isfinite(difference)
        and abs(shown - difference) <= TOLERANCE / 10 * max(abs(difference), noise)
        and max(abs(difference), noise) > 0
    )


def _size(dim, point: Point) -> int:
    return point.sizes.get(dim, dim) if isinstance(dim, int) else point.sizes[dim]


def _assumptions_hold(result: Derivative, point: Point) -> bool:
    """Whether every matrix the result inverts is safely invertible at the point."""
    with np.errstate(all="ignore"):
        for matrix in result.invertible:
            value = _evaluate(matrix, point)
            if not np.all(np.isfinite(value)) or np.linalg.cond(value) > MAX_CONDITION:
                return False
    return True


def _evaluate(expr: n.Node, point: Point) -> np.ndarray:
    return evaluate_numeric(expr, point.values, point.sizes)


def _why_unevaluable(result: Derivative) -> str:
    from ..render.text import expression_text

    if result.invertible:
        names = " and ".join(expression_text(m, unicode=True) for m in result.invertible)
        return (
            f"the result assumes {names} invertible, and no random point was found where "
            f"{'they are' if len(result.invertible) > 1 else 'it is'}"
        )
    return "the result could not be evaluated at any random point"


def internal_error(result: Derivative, source: str, report: CheckReport) -> SelfCheckError:
    variable = result.wrt.name
    return SelfCheckError(
        f"internal error: matcalc's derivative of {source} by {variable} (order {result.order}, "
        f"{result.layout.value} layout) disagrees with finite differences of the function itself "
        f"(max rel. error {report.max_error:.1e} at {report.points} random points), so it is not shown",
        hint="this is a bug in matcalc, not in your input; please report it with the command you ran",
    )
