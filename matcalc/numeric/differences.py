"""Numbers for checking derivatives: sample points, finite differences, evaluated results.

Finite differences use only `evaluate`, the NumPy meaning of the expression,
so a check never trusts the differentiator. Dimensions get distinct sizes
(3, 4, 5, ...) so that a missing transpose cannot pass by luck; samples lie in
the functions' domains (positive definite matrices for `posdef`, well
conditioned square matrices, and positive entries where a first try hits a
logarithm or square root of a negative number).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from .. import nodes as n
from ..calculus.differentiate import TOLERANCE, Derivative
from ..errors import InputError, UnsupportedError
from ..language.decls import UNIT_SUM, Env
from ..layout import Layout, arrange, arrange_order, derivative_shape
from ..shapes import Dim, DimVar, Shape
from .evaluate import MAX_ELEMENTS, Evaluator, SingularMatrixError, evaluate, invertible

Sizes = Mapping[str | int, int]  # a dimension's size by its name, or by a large integer size sampled smaller

FIRST_SIZE = 3
STEP = 1e-6
SMOOTH_STEP = 1e-3  # and half of it, Richardson-extrapolated, where there is no kink to cross
LARGEST_SAMPLED = 8  # a declared integer dimension above this is sampled at a small size: checks stay cheap
LARGEST_EXACT = 16  # ...unless the size matters as a number too; then it is sampled as it is, up to this
WELL_CONDITIONED = 1e8  # a sample point where a matrix to be inverted is worse than this is redrawn
MARGIN_CONDITION = 1e4  # ...and worse than this, where a point keeps a margin from the edges of domains


def dimension_sizes(expr: n.Node, first: int = FIRST_SIZE, small: bool = True) -> dict[str | int, int]:
    """A distinct size for each dimension name: 3, 4, 5, ... in order of first use. With `small`, a
    declared integer dimension larger than LARGEST_SAMPLED (matrix(30000, 30000)) gets a small distinct size
    too, the same one wherever it appears, under its integer key; smaller integers (and 1) stay what they
    are. Only where the values do not depend on that size otherwise (see stand_in_is_exact)."""
    return _dimension_sizes(n.walk(expr), first, small)


def _dimension_sizes(nodes: Iterable[n.Node], first: int, small: bool) -> dict[str | int, int]:
    sizes: dict[str | int, int] = {}
    for sub in nodes:
        for dim in (sub.shape.rows, sub.shape.cols):
            if isinstance(dim, str) and "·" in dim:  # a product of dimensions (kron, vec, K): sized by its factors
                for part in dim.split("·"):
                    if not part.isdigit() and part not in sizes:
                        sizes[part] = first + len(sizes)
                continue
            if (
                isinstance(dim, str) or (small and isinstance(dim, int) and dim > LARGEST_SAMPLED)
            ) and dim not in sizes:
                sizes[dim] = first + len(sizes)
        if isinstance(sub, n.DimSize) and sub.name not in sizes:
            sizes[sub.name] = first + len(sizes)
    return sizes


def _walked(exprs: Iterable[n.Node]) -> list[n.Node]:
    """Every node of the expressions, in order: read once where several questions are asked of them."""
    return [sub for expr in exprs for sub in n.walk(expr)]


def large_dimensions(exprs: list[n.Node]) -> set[int]:
    """The integer dimensions above LARGEST_SAMPLED that the expressions use."""
    return _large_dimensions(_walked(exprs))


def _large_dimensions(nodes: Iterable[n.Node]) -> set[int]:
    return {
        dim
        for sub in nodes
        for dim in (sub.shape.rows, sub.shape.cols)
        if isinstance(dim, int) and dim > LARGEST_SAMPLED
    }


def stand_in_is_exact(exprs: list[n.Node], large: set[int]) -> bool:
    """Whether the expressions (and their derivatives) have the same meaning at small stand-in sizes for the
    large integer dimensions: true unless a large size also enters as a number, through a mean (1/n), a
    constant vector or identity matrix of that size (sum(ones(n)) = n), scalar expansion (d/da sum(x + a) =
    n), or a number the user wrote that is a multiple or divisor of it (sum(x)/30000)."""
    return _stand_in_is_exact(_walked(exprs), large)


def _stand_in_is_exact(nodes: Iterable[n.Node], large: set[int]) -> bool:
    def involves(node: n.Node) -> bool:
        return node.shape.rows in large or node.shape.cols in large

    for node in nodes:
        if isinstance(node, n.Mean) and involves(node.operand):
            return False
        if isinstance(node, (n.Fill, n.Identity)) and involves(node):
            return False
        if (
            isinstance(node, (n.Add, n.Maximum, n.Minimum))
            and node.left.shape.is_scalar != node.right.shape.is_scalar
            and involves(node)
        ):
            return False
        if isinstance(node, n.Number) and any(
            _related(part, size) for size in large for part in (node.value.numerator, node.value.denominator)
        ):
            return False
    return True


def _related(number: int, size: int) -> bool:
    number = abs(number)
    return number > LARGEST_SAMPLED and (number % size == 0 or size % number == 0)


def size_of(dim: Dim, sizes: Sizes) -> int:
    if isinstance(dim, int):
        return sizes.get(dim, dim)
    if isinstance(dim, str) and "·" in dim:  # a product of dimensions (nodes.product_dim)
        return int(np.prod([size_of(int(part) if part.isdigit() else part, sizes) for part in dim.split("·")]))
    assert not isinstance(dim, DimVar), "a typed tree's dimensions are all resolved"
    if dim not in sizes:
        raise InputError(f"no value fixes the size {dim}: give a variable of that size a value")
    return sizes[dim]


def sample(
    shapes: Mapping[str, Shape],
    env: Env,
    sizes: Sizes,
    rng: np.random.Generator,
    positive: bool = False,
    scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Random values for the variables, as 2-D arrays; those of no constrained kind (posdef, onehot,
    simplex) multiplied by `scale`."""
    values = {}
    scaled_identities: dict[int, np.ndarray] = {}  # rows × I, made once per size (a long sum has many matrices)
    for name, shape in shapes.items():
        rows, cols = size_of(shape.rows, sizes), size_of(shape.cols, sizes)
        kind = env.decls[name].kind if name in env.decls else ""
        if kind == "posdef":
            m = rng.normal(size=(rows, rows))
            values[name] = m @ m.T + rows * np.eye(rows)
        elif kind == "onehot":
            values[name] = np.eye(rows)[:, [int(rng.integers(rows))]]
        elif kind == "simplex":
            weights = rng.uniform(0.5, 1.5, size=(rows, 1))
            values[name] = weights / weights.sum()
        elif kind == "symmetric":
            m = rng.normal(size=(rows, rows))
            values[name] = (m + m.T) / 2 + (rows * np.eye(rows) if positive else 0)
        elif positive:
            values[name] = rng.uniform(0.5, 1.5, size=(rows, cols))
        else:
            values[name] = rng.normal(size=(rows, cols))
        if rows == cols and rows > 1 and kind not in ("posdef", "symmetric"):
            # well conditioned with a positive determinant, and scaled so that its eigenvalues are about 1:
            # powers (B^20) and determinants stay small, so finite differences do not lose their digits
            if rows not in scaled_identities:
                scaled_identities[rows] = rows * np.eye(rows)
            values[name] = (values[name] + scaled_identities[rows]) / rows
        if scale != 1 and kind not in ("posdef", *UNIT_SUM):
            values[name] = scale * values[name]
    return values


@dataclass
class Point:
    values: dict[str, np.ndarray]
    sizes: dict[str | int, int]  # dimension names, and integer sizes sampled at a stand-in size


KINK_DISTANCE = 1e-3  # a sample this close to a kink of abs, relu, sign, max or min is redrawn


def sample_point(
    exprs: n.Node | list[n.Node],
    env: Env,
    rng: np.random.Generator,
    tries: int = 30,
    first: int = FIRST_SIZE,
    differentiated: list[n.Node] | None = None,
    symbolic_derivatives: bool = True,
    margin: float = 0.0,
    scale: float = 1.0,
    descending: bool = False,
) -> Point:
    """A point where every expression is finite, every matrix it inverts is well conditioned, and the
    differentiated ones (by default all) are away from kinks. With symbolic_derivatives (a derivative
    formula will be evaluated there, not only finite differences), the arguments of det and logdet in the
    differentiated ones are well conditioned too: their derivatives invert them. Mixed signs first, then
    positive entries.

    With a margin, the point also keeps that distance from the edges of the functions' domains (see
    domain_distance), and the matrices inverted, and those of det and logdet, are better conditioned
    (MARGIN_CONDITION): finite differences stay accurate there. `scale` multiplies the unconstrained
    samples (a smaller scale finds the domain of log(1 - x)); with `descending` the dimensions get their
    sizes in the reverse order (X'X with X n×k is invertible only where k ≤ n)."""
    exprs = exprs if isinstance(exprs, list) else [exprs]
    differentiated = exprs if differentiated is None else differentiated
    plan = _sampling_plan(tuple(exprs), tuple(differentiated), first, symbolic_derivatives or bool(margin))
    sizes = dict(plan.sizes)
    if descending:
        sizes = dict(zip(sizes, sorted(sizes.values(), reverse=True)))
    condition = MARGIN_CONDITION if margin else WELL_CONDITIONED
    singular: SingularMatrixError | None = None
    for attempt in range(tries):
        values = sample(plan.shapes, env, sizes, rng, positive=attempt >= tries // 2, scale=scale)
        with np.errstate(all="ignore"):
            try:
                finite = all(np.all(np.isfinite(evaluate_numeric(expr, values, sizes))) for expr in exprs)
                _check_conditioning(plan.inverted, values, sizes, condition)
            except SingularMatrixError as error:
                singular = error
                continue
            except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, FloatingPointError):
                continue
            if (
                finite
                and _nearest_kink(plan.kinks, values, sizes) > KINK_DISTANCE
                and (not margin or domain_distance(exprs, values, sizes) >= margin)
            ):
                return Point(values, sizes)
    if singular is not None:
        raise UnsupportedError(
            f"no random point found where the matrices this needs to invert are invertible: a {singular.size}×"
            f"{singular.size} one had rank {singular.rank} at every point tried, so it looks singular for "
            "all values (the result assumes it is invertible); it cannot be checked numerically"
        )
    raise UnsupportedError(
        "no random point found where the expression is defined and away from kinks, so it cannot be checked numerically"
    )


@dataclass(frozen=True)
class _SamplingPlan:
    """What sample_point reads off the expressions before drawing values: the same for every draw, and for
    every point sampled on the same expressions (a check samples several), so it is read once."""

    sizes: dict[str | int, int]
    shapes: dict[str, Shape]
    inverted: list[n.Node]  # the matrices that must be well conditioned
    kinks: list[n.Node]  # the nodes of the differentiated expressions whose kinks a point keeps away from


@functools.lru_cache(maxsize=16)
def _sampling_plan(
    exprs: tuple[n.Node, ...], differentiated: tuple[n.Node, ...], first: int, inverses_of_derivatives: bool
) -> _SamplingPlan:
    sizes: dict[str | int, int] = {}
    shapes: dict[str, Shape] = {}
    each = [list(n.walk(expr)) for expr in exprs]
    nodes = [sub for expr_nodes in each for sub in expr_nodes]
    same = len(differentiated) == len(exprs) and all(d is e for d, e in zip(differentiated, exprs))
    differentiated_nodes = nodes if same else _walked(differentiated)
    large = _large_dimensions(nodes)
    small = not large or _stand_in_is_exact(nodes, large)
    if not small and max(large) > LARGEST_EXACT:
        raise UnsupportedError(
            f"the declared size {max(large)} is too large to check numerically, and small sizes cannot stand in "
            "for it here (it enters as a number: a mean, ones or eye of that size, scalar expansion, or a number "
            "written in the expression); declare the dimension with a name, as in vector(n), to check it"
        )
    for expr_nodes in each:
        for name, size in _dimension_sizes(expr_nodes, first + len(sizes), small).items():
            sizes.setdefault(name, size)
    for sub in nodes:
        if isinstance(sub, n.Var):
            shapes.setdefault(sub.name, sub.shape)
    inverted = _inverted_operands(nodes, differentiated_nodes if inverses_of_derivatives else [])
    return _SamplingPlan(sizes, shapes, inverted, _kink_nodes(differentiated_nodes))


def _inverted_operands(nodes: list[n.Node], differentiated: list[n.Node]) -> list[n.Node]:
    """The matrices that the expressions or their derivatives invert (given their nodes, _walked):
    arguments of inverses and negative matrix powers anywhere, and of det and logdet where a derivative
    is taken."""
    found: dict[n.Node, None] = {}
    for node in nodes:
        if isinstance(node, n.Inverse) or (isinstance(node, n.MatPower) and node.exponent < 0):
            operand = node.operand if isinstance(node, n.Inverse) else node.base
            if n.variables(operand):
                found[operand] = None
    for node in differentiated:
        if isinstance(node, (n.Det, n.LogDet)) and n.variables(node.operand):
            found[node.operand] = None
    return list(found)


def _check_conditioning(
    operands: list[n.Node],
    values: Mapping[str, np.ndarray],
    sizes: Sizes,
    condition: float = WELL_CONDITIONED,
) -> None:
    for operand in operands:
        matrix = evaluate_numeric(operand, values, sizes)
        if not invertible(matrix, condition):
            rank = int(np.linalg.matrix_rank(matrix)) if np.all(np.isfinite(matrix)) else matrix.shape[0]
            raise SingularMatrixError("badly conditioned", rank, matrix.shape[0])


def kink_distance(exprs: list[n.Node], values: Mapping[str, np.ndarray], sizes: Sizes) -> float:
    """How far the point is from the nearest kink of abs, relu, sign, max, min or a norm (inf if none)."""
    return _nearest_kink(_kink_nodes(_walked(exprs)), values, sizes)


def _kink_nodes(nodes: Iterable[n.Node]) -> list[n.Node]:
    """Those of the nodes with a kink that moves with the variables: a kink of a constant stays where it is
    (relu(eye(m)) is fine)."""
    return [
        node
        for node in nodes
        if (
            (isinstance(node, n.Apply) and node.function in ("abs", "relu", "sign", "step"))
            or isinstance(node, (n.Maximum, n.Minimum, n.Norm))
        )
        and n.variables(node)
    ]


def _nearest_kink(kinks: list[n.Node], values: Mapping[str, np.ndarray], sizes: Sizes) -> float:
    nearest = np.inf
    for node in kinks:
        if isinstance(node, n.Apply):
            gap = evaluate_numeric(node.operand, values, sizes)
        elif isinstance(node, (n.Maximum, n.Minimum)):
            gap = evaluate_numeric(node.left, values, sizes) - evaluate_numeric(node.right, values, sizes)
        elif isinstance(node, n.Norm) and node.p == "1":  # |u_i| summed: a kink where any entry is 0
            gap = evaluate_numeric(node.operand, values, sizes)
        else:  # a norm has its kink at 0
            gap = evaluate_numeric(node, values, sizes)
        nearest = min(nearest, float(np.min(np.abs(gap))))
    return nearest


def domain_distance(exprs: list[n.Node], values: Mapping[str, np.ndarray], sizes: Sizes) -> float:
    """How far the point is from the nearest edge of a function's domain, in the units of the function's
    argument (inf if none): the argument of log or sqrt, a divisor and the base of a negative or fractional
    power from 0, the argument of arcsin or arccos from ±1, that of tan from a pole. Not finite: 0."""
    nearest = np.inf
    for expr in exprs:
        for node in n.walk(expr):
            argument = _domain_argument(node)
            if argument is None or not n.variables(argument):
                continue
            with np.errstate(all="ignore"):
                gap = _domain_gap(node, evaluate_numeric(argument, values, sizes))
            nearest = min(nearest, float(np.min(gap)) if np.all(np.isfinite(gap)) else 0.0)
    return nearest


def _domain_argument(node: n.Node) -> n.Node | None:
    """The operand whose values have a domain to keep away from the edge of (see domain_distance)."""
    if isinstance(node, n.Apply) and node.function in ("log", "sqrt", "arcsin", "arccos", "tan"):
        return node.operand
    if isinstance(node, n.Divide):
        return node.right
    if isinstance(node, n.Power):
        exponent = n.constant_value(node.exponent)
        return None if exponent is not None and exponent.denominator == 1 and exponent >= 0 else node.base
    return None


def _domain_gap(node: n.Node, argument: np.ndarray) -> np.ndarray:
    if isinstance(node, n.Apply) and node.function in ("arcsin", "arccos"):
        return 1 - np.abs(argument)
    if isinstance(node, n.Apply) and node.function == "tan":
        return np.abs(np.cos(argument))
    if isinstance(node, n.Divide):
        return np.abs(argument)
    if isinstance(node, n.Power) and (exponent := n.constant_value(node.exponent)) is not None:
        return np.abs(argument) if exponent.denominator == 1 else argument
    return argument  # log, sqrt, a power with a fractional or variable exponent: positive


class _NumericEvaluator(Evaluator):
    """Evaluation in which a derivative is computed by finite differences of its operand."""

    def _derivative(self, node: n.Derivative) -> np.ndarray:
        point = Point(dict(self.values), dict(self.sizes))
        if node.wrt.name not in n.variables(node.operand):  # d/da of what does not hold a: zero
            return np.zeros(self.shape(node.shape))
        if node.order > 1 and node.wrt.shape.is_scalar:
            value = arrange_array(
                kth_difference(node.operand, node.wrt.name, point, node.order)[..., None, None],
                node.operand.shape,
                node.wrt.shape,
                Layout(node.layout),
            )
        elif node.order == 2:
            value = second_difference(node.operand, node.wrt.name, point)
        else:
            value = finite_difference(node.operand, node.wrt.name, point, Layout(node.layout))
        return value.reshape(self.shape(node.shape))


def evaluate_numeric(node: n.Node, values: Mapping[str, np.ndarray], sizes: Sizes) -> np.ndarray:
    """Like evaluate, but derivatives inside the expression are finite differences: the ground truth."""
    return _NumericEvaluator(values, sizes)(node)


def finite_difference(expr: n.Node, wrt: str, point: Point, layout: Layout, step: float = STEP) -> np.ndarray:
    """∂expr/∂wrt by central differences, with the axes in layout order and unit axes dropped.

    Where the expression has no kinks, by Richardson extrapolation of two larger steps (error O(h⁴)), so
    that rounding, eps·|expr|/h, stays small even when the values are large (sum(B^20) next to what
    depends on wrt); next to a kink (abs, relu, max, norms, ...) by one small step that cannot cross it."""
    if _has_kinks(expr):
        return _central_difference(expr, wrt, point, layout, step)
    coarse = _central_difference(expr, wrt, point, layout, SMOOTH_STEP)
    fine = _central_difference(expr, wrt, point, layout, SMOOTH_STEP / 2)
    extrapolated = (4 * fine - coarse) / 3
    if np.all(np.isfinite(extrapolated)):
        return extrapolated
    return _central_difference(expr, wrt, point, layout, step)  # the larger steps left the domain (log near 0)


def _has_kinks(expr: n.Node) -> bool:
    return any(
        (isinstance(node, n.Apply) and node.function in ("abs", "relu", "sign", "step"))
        or isinstance(node, (n.Maximum, n.Minimum, n.Norm))
        for node in n.walk(expr)
    )


def _central_difference(expr: n.Node, wrt: str, point: Point, layout: Layout, step: float) -> np.ndarray:
    base = point.values[wrt]
    out_shape = evaluate_numeric(expr, point.values, point.sizes).shape
    jacobian = np.zeros(out_shape + base.shape)
    for index in np.ndindex(base.shape):
        forward, backward = dict(point.values), dict(point.values)
        forward[wrt], backward[wrt] = base.copy(), base.copy()
        forward[wrt][index] += step
        backward[wrt][index] -= step
        difference = evaluate_numeric(expr, forward, point.sizes) - evaluate_numeric(expr, backward, point.sizes)
        jacobian[(...,) + index] = difference / (2 * step)
    return arrange_array(jacobian, expr.shape, _variable_shape(expr, wrt), layout)


def kth_difference(expr: n.Node, wrt: str, point: Point, order: int) -> np.ndarray:
    """The order-th derivative by a scalar, by a central difference stencil at two steps combined by
    Richardson extrapolation (error O(h⁴); the step balances it against rounding, eps / h^order)."""
    base = point.values[wrt]
    step = float(np.finfo(float).eps ** (1 / (order + 4)))

    def stencil(h: float) -> np.ndarray:
        total: float | np.ndarray = 0.0
        for j in range(order + 1):
            values = dict(point.values)
            values[wrt] = base + (order / 2 - j) * h
            total = total + (-1) ** j * math.comb(order, j) * evaluate_numeric(expr, values, point.sizes)
        return np.asarray(total / h**order)

    return (4 * stencil(step / 2) - stencil(step)) / 3


def second_difference(expr: n.Node, wrt: str, point: Point, step: float = 1e-4) -> np.ndarray:
    """The Hessian of a scalar by a scalar or vector, by central second differences."""
    base = point.values[wrt]
    size = base.size
    hessian = np.zeros((size, size))

    def at(shift: np.ndarray) -> float:
        values = dict(point.values)
        values[wrt] = base + shift.reshape(base.shape)
        return evaluate_numeric(expr, values, point.sizes).item()

    unit = np.eye(size) * step
    for a in range(size):
        for b in range(size):
            hessian[a, b] = (
                at(unit[a] + unit[b]) - at(unit[a] - unit[b]) - at(unit[b] - unit[a]) + at(-unit[a] - unit[b])
            ) / (4 * step * step)
    return hessian if size > 1 else hessian.reshape(())


def _variable_shape(expr: n.Node, name: str) -> Shape:
    return n.variables(expr)[name]


def arrange_array(jacobian: np.ndarray, out: Shape, wrt: Shape, layout: Layout) -> np.ndarray:
    """Reorder a (out rows, out cols, wrt rows, wrt cols) array for a layout, unit axes dropped."""
    labels = ["out_rows", "out_cols", "wrt_rows", "wrt_cols"]
    kept = [label for label, dim in zip(labels, (out.rows, out.cols, wrt.rows, wrt.cols)) if dim != 1]
    squeezed = jacobian.reshape([jacobian.shape[labels.index(label)] for label in kept])
    out_labels = tuple(label for label in kept if label.startswith("out"))
    wrt_labels = tuple(label for label in kept if label.startswith("wrt"))
    order = [label for label in arrange(out_labels, wrt_labels, layout, out.is_scalar) if label is not None]
    return np.transpose(squeezed, [kept.index(label) for label in order]) if order else squeezed.reshape(())


# The check's finite differences (matcalc check, SPEC §5): a derivative of any order and rank, each
# entry with an estimate of its own error, so that a verdict never rests on differences that cannot judge.

ROUNDING = 10  # a difference's rounding is taken as this many eps of the values it combines
REFINED_STEPS = 6  # the longer step sequence tried where two steps cannot decide
KINK_STEP = 1e-5  # the first-order step next to kinks (abs, relu, max, norms), which it must not cross
MAX_STENCIL_POINTS = 20_000  # evaluations for one derivative at one point; beyond, it is not differenced


@dataclass
class Estimate:
    """A value computed by finite differences, and a bound on its error estimated from the steps."""

    value: np.ndarray
    error: np.ndarray


def derivative_axes(node: n.Derivative) -> tuple[Dim, ...]:
    """The shape of a derivative of any rank in its layout (SPEC §3); in vec notation, a matrix."""
    if node.notation == "vec":
        return node.shape.rows, node.shape.cols
    return derivative_shape(node.operand.shape, node.wrt.shape, Layout(node.layout), node.order)


def is_tensor(node: n.Node) -> bool:
    """Whether the node is a derivative with more than two axes: it has no matrix shape."""
    return isinstance(node, n.Derivative) and len(derivative_axes(node)) > 2


def side_axes(side: n.Node) -> tuple[Dim, ...]:
    """The axes of a side of an identity: those of a derivative with more than two, else rows and columns."""
    if isinstance(side, n.Derivative) and is_tensor(side):
        return derivative_axes(side)
    return side.shape.rows, side.shape.cols


def side_estimate(side: n.Node, point: Point, refined: bool = False) -> Estimate:
    """One side of an identity at a point, its derivatives by finite differences (derivative_estimate)
    and their errors carried through the rest of the side to first order."""
    if isinstance(side, n.Derivative):
        return derivative_estimate(side, point, refined)
    found = list(dict.fromkeys(_outer_derivatives(side)))
    estimates = {node: derivative_estimate(node, point, refined) for node in found}
    given: dict[n.Node, np.ndarray] = {node: estimate.value for node, estimate in estimates.items()}
    value = _Given(point.values, point.sizes, given)(side)
    error = np.zeros(value.shape)
    for node, estimate in estimates.items():
        if not np.all(np.isfinite(estimate.error)):
            return Estimate(value, np.full(value.shape, np.inf))
        moved = [
            _Given(point.values, point.sizes, given | {node: estimate.value + sign * estimate.error})(side)
            for sign in (1, -1)
        ]
        error = error + np.maximum(np.abs(moved[0] - value), np.abs(moved[1] - value))
    return Estimate(value, error)


def _outer_derivatives(node: n.Node) -> Iterator[n.Derivative]:
    if isinstance(node, n.Derivative):
        yield node
        return
    for child in node.children():
        yield from _outer_derivatives(child)


class _Given(Evaluator):
    """Evaluation with the values of the derivatives given."""

    def __init__(self, values, sizes, given: dict[n.Node, np.ndarray]):
        super().__init__(values, sizes)
        self.given = given

    def _derivative(self, node: n.Derivative) -> np.ndarray:
        return self.given[node].reshape(self.shape(node.shape))


def derivative_estimate(node: n.Derivative, point: Point, refined: bool = False) -> Estimate:
    """The derivative at the point by central differences of its operand (evaluate_numeric, never the
    differentiator), with an estimate of each entry's error (_extrapolated). First a quick look (_steps:
    for orders 1 and 2 one step, whose error is not known); `refined`, a longer sequence of steps whose
    estimates count only where it converges. A derivative with more than two axes keeps them
    (derivative_axes); one with at most two is a 2-D array, as every other value is."""
    axes = derivative_axes(node) if is_tensor(node) else (node.shape.rows, node.shape.cols)
    shape = tuple(size_of(dim, point.sizes) for dim in axes)
    if node.wrt.name not in n.variables(node.operand):  # d/da of what does not hold a: zero
        return Estimate(np.zeros(shape), np.zeros(shape))
    steps = _steps(node, refined)
    _require_stencil_size(point.values[node.wrt.name].size, node.order, len(steps))
    differences = [_stencil(node.operand, node.wrt.name, node.order, point, step) for step in steps]
    if len(differences) == 1:  # a first look: its value only, its error unknown
        value, error = differences[0][0], np.full(differences[0][0].shape, np.inf)
    else:
        value, error = _extrapolated(differences, converging=refined)
    return Estimate(_arranged(value, node).reshape(shape), _arranged(error, node).reshape(shape))


def _steps(node: n.Derivative, refined: bool) -> list[float]:
    """Half the spacing of the stencil's points. A first look at orders 1 and 2: one step, where
    rounding (eps / h^K) balances truncation (h²), enough to see two sides agree. Otherwise a pair,
    or a longer sequence, from where rounding balances the extrapolated truncation (h⁴). Next to kinks,
    small enough not to cross one."""
    eps = float(np.finfo(float).eps)
    kinks = _has_kinks(node.operand)
    if not refined and node.order <= 2:
        step = eps ** (1 / (node.order + 2))
        return [min(step, KINK_STEP * 10 ** (node.order - 1)) if kinks else step]
    step = eps ** (1 / (node.order + 4))
    if kinks:
        step = min(step, KINK_STEP * 10 ** (node.order - 1))
    if refined:
        return [4 * step / 2**k for k in range(REFINED_STEPS)]
    return [step, step / 2]


def _require_stencil_size(entries: int, order: int, steps: int) -> None:
    points = math.comb(entries + order - 1, order) * 2**order * steps
    if points > MAX_STENCIL_POINTS:
        raise UnsupportedError(
            f"the derivative of order {order} by a variable of {entries} entries needs {points:,} evaluations "
            "of finite differences, more than matcalc spends on one"
        )


def _stencil(expr: n.Node, wrt: str, order: int, point: Point, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Every partial derivative of order K of expr by the entries of wrt, by products of central
    differences (each entry moved by ±step, divided by (2 step)^K), with the axes of expr then those of
    wrt once per differentiation; and the size of the terms each one sums, which sets its rounding."""
    base = point.values[wrt]
    evaluated: dict[tuple, np.ndarray] = {}

    def at(moves: tuple[tuple[int, int], ...]) -> np.ndarray:
        if moves not in evaluated:
            moved = base.copy().reshape(-1)
            for entry, multiple in moves:
                moved[entry] += multiple * step
            evaluated[moves] = evaluate_numeric(expr, {**point.values, wrt: moved.reshape(base.shape)}, point.sizes)
        return evaluated[moves]

    out = at(())
    shape = out.shape + base.shape * order
    _zeros(shape)  # its size is checked
    value, size = np.zeros(shape), np.zeros(shape)
    for entries in itertools.combinations_with_replacement(range(base.size), order):
        counts = Counter(entries)
        total, magnitude = np.zeros(out.shape), np.zeros(out.shape)
        for taken in itertools.product(*(range(count + 1) for count in counts.values())):
            weight = math.prod((-1) ** j * math.comb(c, j) for c, j in zip(counts.values(), taken))
            moves = tuple((e, c - 2 * j) for e, c, j in zip(counts, counts.values(), taken) if c != 2 * j)
            term = weight * at(moves)
            total, magnitude = total + term, magnitude + np.abs(term)
        for order_of_entries in set(itertools.permutations(entries)):
            index = tuple(i for entry in order_of_entries for i in np.unravel_index(entry, base.shape))
            value[(...,) + index] = total / (2 * step) ** order
            size[(...,) + index] = magnitude / (2 * step) ** order
    return value, size


def _extrapolated(
    differences: list[tuple[np.ndarray, np.ndarray]], converging: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Richardson's extrapolation R of each pair of successive steps (h, h/2: the h² error cancels), and
    for each entry the one whose error bound is smallest. Two steps: the bound |D(h/2) - D(h)| (several
    times the error of D(h/2), far more than that of R) plus rounding.

    A longer sequence (`converging`) gives a sharper bound where it is seen to converge: from a pair on,
    each step's change |D(h/2) - D(h)| is at most half the previous one (a quarter where h² rules) or
    lies within rounding; there the bound is how much R moved from the previous pair (about 15 times
    its error) plus rounding. Steps far larger than the function's own scale (sin(10⁶ a)) give small
    changes that do not shrink: they cannot judge, and their bound is infinite."""
    eps = float(np.finfo(float).eps)
    values, changes, roundings = [], [], []
    with np.errstate(all="ignore"):
        for (coarse, coarse_size), (fine, fine_size) in itertools.pairwise(differences):
            values.append((4 * fine - coarse) / 3)
            changes.append(np.abs(fine - coarse))
            roundings.append(ROUNDING * eps * (4 * fine_size + coarse_size) / 3)
        errors = [change + rounding for change, rounding in zip(changes, roundings)]
        if converging:
            errors = _converged_errors(values, changes, roundings)
        best_value, best_error = values[0], np.where(np.isfinite(values[0]), errors[0], np.inf)
        for value, error in zip(values[1:], errors[1:]):
            better = np.isfinite(value) & (error < best_error)
            best_value, best_error = np.where(better, value, best_value), np.where(better, error, best_error)
    return best_value, best_error


def _converged_errors(
    values: list[np.ndarray], changes: list[np.ndarray], roundings: list[np.ndarray]
) -> list[np.ndarray]:
    """The error bounds of a longer sequence (see _extrapolated): infinite before the sequence settles."""
    settled = [changes[0] <= roundings[0]]
    settled += [
        (change <= rounding) | (change <= before / 2)
        for change, rounding, before in zip(changes[1:], roundings[1:], changes)
    ]
    for j in range(len(settled) - 2, -1, -1):  # settled from this pair on
        settled[j] = settled[j] & settled[j + 1]
    moved = [changes[0]] + [np.abs(value - before) for value, before in zip(values[1:], values)]
    return [np.where(ok & np.isfinite(m), m + rounding, np.inf) for ok, m, rounding in zip(settled, moved, roundings)]


def _arranged(tensor: np.ndarray, node: n.Derivative) -> np.ndarray:
    """A (out rows, out cols, wrt rows, wrt cols, wrt rows, ...) array in the node's layout, unit axes
    dropped (layout.arrange_order: each differentiation appends the variable's axes, reversed)."""
    out, wrt = node.operand.shape, node.wrt.shape
    dims = [out.rows, out.cols] + [wrt.rows, wrt.cols] * node.order
    if node.notation == "vec":  # ∂vec(F)/∂vec(X)ᵀ: each side's axes flattened, the first running fastest
        rows = int(np.prod(tensor.shape[: len(tensor.shape) - 2]))
        jacobian = tensor.reshape((rows, -1), order="F")
        layout = Layout(node.layout)
        return jacobian.T if layout is Layout.DENOMINATOR or (layout is Layout.MIXED and out.is_scalar) else jacobian
    kept = [axis for axis, dim in enumerate(dims) if dim != 1]
    groups = tuple(tuple(a for a in (2 + 2 * k, 3 + 2 * k) if a in kept) for k in range(node.order))
    order = arrange_order(tuple(a for a in (0, 1) if a in kept), groups, Layout(node.layout), out.is_scalar)
    squeezed = tensor.reshape([tensor.shape[axis] for axis in kept])
    return np.transpose(squeezed, [kept.index(axis) for axis in order if axis is not None])


def einsum_letters(result: Derivative, used: list[str]) -> dict[str, str]:
    """A letter for each index the result uses (einsum takes 52 at most), free ones first."""
    ordered = dict.fromkeys([*result.free, *used])
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(ordered) > len(letters):
        raise UnsupportedError("this derivative has more indices than can be evaluated numerically")
    return dict(zip(ordered, letters))


def evaluate_terms(result: Derivative, point: Point) -> np.ndarray:
    """The index form evaluated with einsum: axes are result.free, in order."""
    letters = einsum_letters(result, [i for term in result.terms for f in term.factors for i in f.indices])
    total = _zeros([size_of(result.dims[i], point.sizes) for i in result.free])
    output = "".join(letters[i] for i in result.free)
    for term in result.terms:
        operands: list[np.ndarray] = []
        subscripts: list[str] = []
        for f in term.factors:
            if f.node is None:  # a Kronecker delta
                operands.append(np.eye(size_of(result.dims[f.indices[0]], point.sizes)))
            else:
                value = evaluate(f.node, point.values, point.sizes)
                operands.append(
                    value.reshape(
                        [value.shape[k] for k, d in enumerate((f.node.shape.rows, f.node.shape.cols)) if d != 1]
                    )
                )
            subscripts.append("".join(letters[i] for i in f.indices))
        total = total + float(term.coefficient) * _einsum(subscripts, operands, output, total.shape)
    return total


def evaluate_shown(result: Derivative, point: Point, evaluator: Evaluator | None = None) -> np.ndarray:
    """The shown form (matrix notation, or index notation with its pieces) evaluated, where-names included."""
    if evaluator is None:
        evaluator = Evaluator(point.values, point.sizes)  # one for all: each where-name adds a value
    for name, node in result.where:
        evaluator.values[name] = evaluator(node)
    if result.matrix is not None:
        value = evaluator(result.matrix)
        return value.reshape([size_of(d, point.sizes) for d in result.shape if d != 1])  # unit axes of the shape
    letters = einsum_letters(
        result, [i for term in result.index_form or [] for piece in term.pieces for i in piece.indices]
    )
    output = "".join(letters[i] for i in result.free)
    total = _zeros([size_of(result.dims[i], point.sizes) for i in result.free])
    for term in result.index_form or []:
        scale = float(term.coefficient)
        for scalar in term.scalars:
            scale *= evaluator(scalar).item()
        operands, subscripts = [], []
        for piece in term.pieces:
            value = evaluator(_product(piece.elements))
            operands.append(value.reshape(-1) if len(piece.indices) < 2 else value)
            subscripts.append("".join(letters[i] for i in piece.indices))
        total = total + scale * _einsum(subscripts, operands, output, total.shape)
    return total


def _zeros(shape: list[int] | tuple[int, ...]) -> np.ndarray:
    """An array of zeros, refused when it is larger than matcalc evaluates."""
    if float(np.prod(shape, dtype=float)) > MAX_ELEMENTS:
        raise UnsupportedError(
            f"a result of {' × '.join(map(str, shape))} entries is more than matcalc "
            f"evaluates ({MAX_ELEMENTS:,} at most)"
        )
    return np.zeros(shape)


def _einsum(subscripts: list[str], operands: list[np.ndarray], output: str, shape: tuple) -> np.ndarray:
    """einsum, where a free index that no operand carries means the value is the same along it."""
    _zeros(shape)  # its size is checked
    for letter, size in zip(output, shape):
        if not any(letter in sub for sub in subscripts):
            subscripts, operands = subscripts + [letter], operands + [np.ones(size)]
    if not operands:
        return np.ones(shape)
    return np.einsum(",".join(subscripts) + "->" + output, *operands)


def _product(elements: list[n.Node]) -> n.Node:
    node = elements[0]
    for element in elements[1:]:
        node = n.MatMul(node, element, shape=Shape(node.shape.rows, element.shape.cols))
    return node


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    return float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0


CHECK_TRIES = 60  # random points tried for each way of drawing them (the domain of -sum(log(b - A x)) is small)
DOMAIN_MARGIN = 0.05  # the distance from the edges of the functions' domains that the check's points keep
SHRUNK = 0.25  # the scale of the samples tried where none is found in the domain at full scale
VANISHING = 1e-3  # ...where no expression of the variables may be smaller than this everywhere


def check_point(
    exprs: list[n.Node],
    env: Env,
    rng: np.random.Generator,
    differentiated: list[n.Node],
    first: int = FIRST_SIZE,
) -> Point:
    """A point for `matcalc check` (SPEC §5): one that keeps DOMAIN_MARGIN from the edges of the
    functions' domains, drawn at the sampled scale, then at a smaller one (log(1 - A x)), then with the
    sizes in reverse order (X'X with X n×k); where none is, any point sample_point finds (the finite
    differences' own error estimate still guards it), and its error where there is none."""
    for options in ({}, {"scale": SHRUNK}, {"descending": True}):
        try:
            point = sample_point(
                exprs,
                env,
                rng,
                tries=CHECK_TRIES,
                first=first,
                differentiated=differentiated,
                symbolic_derivatives=False,
                margin=DOMAIN_MARGIN,
                **options,
            )
        except UnsupportedError:
            continue
        if "scale" not in options or not _vanishes(exprs, point):
            return point
    return sample_point(
        exprs, env, rng, tries=CHECK_TRIES, first=first, differentiated=differentiated, symbolic_derivatives=False
    )


def _vanishes(exprs: list[n.Node], point: Point) -> bool:
    """Whether an expression of the variables is all but 0 at the point: a smaller scale must not make
    both sides of an identity underflow to an agreement ((A + B)^4000)."""
    return any(
        n.variables(expr) and float(np.max(np.abs(evaluate_numeric(expr, point.values, point.sizes)))) < VANISHING
        for expr in exprs
    )


# The points of an identity (matcalc check, SPEC §5)

AGREE, DIFFER, UNCLEAR = "agree", "differ", "unclear"
SAFETY = 10  # a difference counts only beyond this many times the finite differences' estimated error


class Sampler:
    """Where an identity's points are drawn, from its own seed: sizes and values of its variables,
    finite where its derivatives' operands and the rest of each side are, off kinks where differences
    are taken, and a margin from the edges of the domains (check_point)."""

    def __init__(self, lhs: n.Node, rhs: n.Node, env: Env, seed: int):
        derivatives = [node for side in (lhs, rhs) for node in n.walk(side) if isinstance(node, n.Derivative)]
        self.differentiated = [node.operand for node in derivatives]  # only there does a kink matter
        self.parts = list(dict.fromkeys(part for side in (lhs, rhs) for part in _parts(side)))
        self.env = env
        self.rng = np.random.default_rng(seed)

    def point(self, first: int = FIRST_SIZE) -> Point:
        return check_point(self.parts, self.env, self.rng, self.differentiated, first)


def _parts(node: n.Node) -> Iterator[n.Node]:
    """What must be finite at a point: the largest pieces of a side without derivatives, and each
    derivative's operand and variable (which may not be in the operand: d/dx a is 0)."""
    if isinstance(node, n.Derivative):
        yield from (node.operand, node.wrt)
    elif not any(isinstance(sub, n.Derivative) for sub in n.walk(node)):
        yield node
    else:
        for child in node.children():
            yield from _parts(child)


@dataclass
class Reading:
    """The two sides at one point: whether they agree within the tolerance, differ beyond it and the
    finite differences' own error, or neither (unclear); and their largest relative difference."""

    point: Point
    verdict: str
    difference: float
    left: Estimate | None = None
    right: Estimate | None = None


def read_sides(lhs: n.Node, rhs: n.Node, point: Point, settle: bool = True) -> Reading:
    """The sides at a point. Where the first look at the differences does not show them agreeing, a
    longer sequence of steps, whose error estimates count only where it converges, settles the point
    (unless not `settle`: whoever only asks whether the sides agree needs the first look alone)."""
    reading = Reading(point, UNCLEAR, float("inf"))
    differenced = any(isinstance(node, n.Derivative) for side in (lhs, rhs) for node in n.walk(side))
    for refined in (False, True) if settle else (False,):
        try:
            left, right = side_estimate(lhs, point, refined), side_estimate(rhs, point, refined)
        except (SingularMatrixError, np.linalg.LinAlgError, ZeroDivisionError, OverflowError, FloatingPointError):
            return reading  # a moved point made a matrix singular: this point cannot judge
        reading = _judged(point, left, right)
        if reading.verdict == AGREE or not differenced:
            break
    if reading.verdict == DIFFER and not differenced:  # exact values, but how much rounding do they hold?
        rng = np.random.default_rng(0)
        left = Estimate(left.value, left.error + rounding_noise(lhs, point, rng))
        right = Estimate(right.value, right.error + rounding_noise(rhs, point, rng))
        reading = _judged(point, left, right)
    return reading


MCA_ROUNDING = 4 * float(np.finfo(float).eps)  # how far each value is moved in Monte Carlo arithmetic
MCA_RUNS = 3


def rounding_noise(expr: n.Node, point: Point, rng: np.random.Generator) -> np.ndarray:
    """How far the value of expr moves when every value in its evaluation is off by a few units of
    rounding at random (Monte Carlo arithmetic): (x'x + 1e17) - 1e17 is all rounding, which its
    value alone does not show."""
    exact = evaluate_numeric(expr, point.values, point.sizes)
    moved = [_Rounded(point.values, point.sizes, rng)(expr) for _ in range(MCA_RUNS)]
    with np.errstate(all="ignore"):
        noise = np.max([np.abs(value - exact) for value in moved], axis=0)
    return np.where(np.isfinite(noise), noise, np.inf)


class _Rounded(_NumericEvaluator):
    """An evaluation in which every value is off by up to MCA_ROUNDING relative, at random."""

    def __init__(self, values, sizes, rng: np.random.Generator):
        super().__init__(values, sizes)
        self.rng = rng

    def __call__(self, node: n.Node) -> np.ndarray:
        value = super().__call__(node)
        return value * (1 + MCA_ROUNDING * self.rng.uniform(-1, 1, np.shape(value)))


def _judged(point: Point, left: Estimate, right: Estimate) -> Reading:
    """AGREE within the tolerance (relative to the larger side, or absolute below 1); DIFFER where some
    entry differs by more than that and SAFETY times the sides' estimated errors; else UNCLEAR."""
    with np.errstate(all="ignore"):
        values = np.broadcast_arrays(left.value, right.value)
        errors = np.broadcast_arrays(left.error, right.error)
        if not all(np.all(np.isfinite(value)) for value in values):
            return Reading(point, UNCLEAR, float("inf"), left, right)
        scale = max(1.0, *(float(np.max(np.abs(value), initial=0.0)) for value in values))
        gap = np.abs(values[0] - values[1])
        difference = float(np.max(gap, initial=0.0)) / scale
        if difference <= TOLERANCE:
            verdict = AGREE
        elif np.any(gap > TOLERANCE * scale + SAFETY * (errors[0] + errors[1])):
            verdict = DIFFER
        else:
            verdict = UNCLEAR
    return Reading(point, verdict, difference, left, right)


def shown_apart(left: np.ndarray, right: np.ndarray) -> str:
    """`left [..], right [..]`: the two sides with as many significant digits (3 at least) as make them
    visibly differ; a side with more than two axes by its entry that differs most (counted from 1)."""
    left, right = np.broadcast_arrays(np.asarray(left, dtype=float), np.asarray(right, dtype=float))
    where = ""
    if left.ndim > 2:
        index = np.unravel_index(int(np.argmax(np.abs(left - right))), left.shape)
        where = "at entry (" + ", ".join(str(i + 1) for i in index) + ") "
        left, right = left[index], right[index]
    for digits in range(3, 18):
        shown = _short(left, digits), _short(right, digits)
        if shown[0] != shown[1]:
            break
    return f"{where}left {shown[0]}, right {shown[1]}"


def short(value: np.ndarray, digits: int = 3) -> str:
    """A value in a line of text: a number, [a, b]ᵀ for a column, [a, b; c, d] for a matrix."""
    return _short(value, digits)


def _short(value: np.ndarray, digits: int = 3) -> str:
    value = np.asarray(value, dtype=float) + 0.0  # -0 is 0
    if value.size == 1:
        return f"{value.item():.{digits}g}"
    rows = value.reshape(value.shape[0], -1) if value.ndim > 1 else value.reshape(1, -1)
    if value.ndim > 1 and value.shape[1] == 1:
        rows = value.reshape(1, -1)
        return "[" + ", ".join(f"{v:.{digits}g}" for v in rows[0]) + "]ᵀ"
    return "[" + "; ".join(", ".join(f"{v:.{digits}g}" for v in row) for row in rows) + "]"


def point_from(
    assignments: Mapping[str, object], shapes: Mapping[str, Shape], dimension_names: AbstractSet[str] = frozenset()
) -> Point:
    """A point from given values (numbers and nested lists), checked against the variables' shapes;
    the values fix the sizes of the dimensions."""
    unknown = sorted(set(assignments) - set(shapes))
    if unknown:
        raise InputError(f"{unknown[0]} is not a variable of the expression")
    sizes: dict[str | int, int] = {}
    values: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name not in assignments:
            raise InputError(f"no value given for {name} ({shape.kind})")
        array = np.array(assignments[name], dtype=float)
        wanted_ndim = 0 if shape.is_scalar else 1 if shape.is_vector else 2
        if array.ndim != wanted_ndim:
            raise InputError(
                f"{name} is a {shape.kind}, so its value is "
                + ("a number" if wanted_ndim == 0 else "a list of numbers" if wanted_ndim == 1 else "a list of rows")
            )
        matrix = (
            array.reshape(1, 1)
            if wanted_ndim == 0
            else array.reshape(-1, 1)
            if shape.is_column
            else array.reshape(1, -1)
            if wanted_ndim == 1
            else array
        )
        for dim, size in zip((shape.rows, shape.cols), matrix.shape):
            if isinstance(dim, int) and dim != size:
                raise InputError(f"{name} has {size} where its shape {shape} needs {dim}")
            if isinstance(dim, str) and sizes.setdefault(dim, size) != size:
                raise InputError(f"the values disagree on the size {dim}: {sizes[dim]} and {size} (for {name})")
        values[name] = matrix
    missing = sorted(dimension_names - set(sizes))
    if missing:
        raise InputError(f"no value fixes the size {missing[0]}")
    return Point(values, sizes)


def as_plain(value: np.ndarray) -> float | list:
    """A number or nested lists, for JSON; a value that is not finite (an overflow, a point outside the
    function's domain) is an InputError, as JSON has no Infinity or NaN."""
    value = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(value)):
        raise InputError(
            "the value is not finite at this point (it overflows, or the point is outside the "
            "domain of a function in it)"
        )
    return float(value) if value.ndim == 0 else value.tolist()
