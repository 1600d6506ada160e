"""Property: the self-check (SPEC §3) refuses no right derivative by a symmetric or posdef variable.

A derivative by S: symmetric(n) or P: posdef(n) treats the entries as independent (the unconstrained
derivative), and its shown form may use the symmetry: d/dP logdet(P) is shown as P⁻¹ where the
unconstrained formula is P⁻ᵀ; the two agree at every symmetric point, where the result is evaluated.

Expressions come from a small grammar of what takes such matrices (logdet, det, inv, tr, quadratic
forms, products, sums), differentiated at orders 1 to 4 in both layouts. Each answer is judged
without the self-check and without the differentiator: the contraction of the answer's NumPy code
with a random weight U and random directions V_1..V_K (not symmetric: the entries are independent)
against the mixed central difference of <U, f> along them, f evaluated by `matcalc.numeric.evaluate`. A
refusal (SelfCheckError, exit 4) of an answer this confirms is a false refusal; a shown answer it
contradicts is a wrong answer; both fail.

A long exploring run: MATCALC_EXAMPLES=2000 pytest --hypothesis-profile explore tests/test_selfcheck_symmetric.py
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import axis_labels, contraction, evaluate_code, mixed_difference
from strategies import SIZES

from matcalc import diff, parse
from matcalc.errors import UnsupportedError
from matcalc.numeric.evaluate import SingularMatrixError, evaluate
from matcalc.numeric.selfcheck import SelfCheckError

DECLS = "S: symmetric(n), P: posdef(n), Q: posdef(n), A: matrix(n, n), x: vector(n), a: scalar"
SYMMETRIC = ("S", "P", "Q")
LAYOUTS = ["numerator", "denominator"]
STEPS = {1: 1e-5, 2: 1e-3, 3: 2e-3, 4: 4e-3}  # the mixed difference's step at each order (unit directions)
TOLERANCE = {1: 1e-6, 2: 1e-5, 3: 1e-4, 4: 1e-3}
POINTS = 4  # reference points tried before the reference gives up

# The grammar: for each kind, templates whose holes {0}, {1} are filled by the kinds listed.
# PD is a symmetric positive definite value (what logdet, inv and sqrt(det) may take), MAT any n×n.
PD, MAT, SCALAR = "pd", "matrix", "scalar"
LEAVES = {
    PD: ["P", "Q", "P + Q", "eye(n) + P"],
    MAT: ["S", "A", "P", "x x'", "S A"],
    SCALAR: ["a", "tr(S)", "logdet(P)", "x'S x", "det(Q)"],
}
RULES = {
    PD: [
        ("{0} + {1}", [PD, PD]),
        ("inv({0})", [PD]),
        ("({0})^-1", [PD]),
        ("{0} + S ({1}) S", [PD, PD]),
        ("{0} + ({1})'({1})", [PD, MAT]),
        ("{0} + x x'", [PD]),
        ("2({0})", [PD]),
        ("({0})^2", [PD]),
    ],
    MAT: [
        ("({0}) ({1})", [MAT, MAT]),
        ("{0} + {1}", [MAT, MAT]),
        ("{0} - ({1})", [MAT, MAT]),
        ("({0})'", [MAT]),
        ("({0}) ({1})", [SCALAR, MAT]),
        ("inv({0}) ({1})", [PD, MAT]),
        ("{0}", [PD]),
        ("({0})^2", [MAT]),
    ],
    SCALAR: [
        ("logdet({0})", [PD]),
        ("log(det({0}))", [PD]),
        ("det({0})", [MAT]),
        ("sqrt(det({0}))", [PD]),
        ("tr({0})", [MAT]),
        ("tr(({0}) ({1}))", [MAT, MAT]),
        ("tr(inv({0}) ({1}))", [PD, MAT]),
        ("x'({0})x", [MAT]),
        ("x'inv({0})x", [PD]),
        ("sum({0})", [MAT]),
        ("||{0}||_F^2", [MAT]),
        ("({0}) + ({1})", [SCALAR, SCALAR]),
        ("({0}) ({1})", [SCALAR, SCALAR]),
    ],
}


@st.composite
def expressions(draw, kind: str, depth: int) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES[kind]))
    template, holes = draw(st.sampled_from(RULES[kind]))
    return template.format(*(draw(expressions(hole, depth - 1)) for hole in holes))


@st.composite
def cases(draw) -> tuple[str, str, str, int]:
    """(expression, variable, layout, order): a scalar up to order 4, a matrix up to order 2 (a matrix by a
    matrix four times is 10 axes); shallower at higher orders, whose terms multiply."""
    order = draw(st.sampled_from([1, 2, 2, 3, 3, 4]))
    kind = draw(st.sampled_from([SCALAR, SCALAR, MAT])) if order <= 2 else SCALAR
    text = draw(expressions(kind, 3 if order <= 2 else 2))
    present = [name for name in SYMMETRIC if name in parse(text, DECLS).shapes()]
    assume(present)
    return text, draw(st.sampled_from(present)), draw(st.sampled_from(LAYOUTS)), order


def reference_values(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A point of the declarations' domains, drawn without matcalc: S symmetric, P and Q positive definite,
    all well conditioned (eigenvalues of magnitude 0.5 to 1.5 for S, at least 1 for P and Q), A near I."""
    n = SIZES["n"]

    def symmetric() -> np.ndarray:
        rotation, _ = np.linalg.qr(rng.normal(size=(n, n)))
        eigenvalues = rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)
        return rotation @ np.diag(eigenvalues) @ rotation.T

    def posdef() -> np.ndarray:
        m = rng.normal(size=(n, n))
        return m @ m.T / n + np.eye(n)

    return {
        "S": symmetric(),
        "P": posdef(),
        "Q": posdef(),
        "A": np.eye(n) + 0.3 * rng.normal(size=(n, n)),
        "x": rng.normal(size=(n, 1)),
        "a": rng.uniform(0.5, 1.5, size=(1, 1)),
    }


def unit(direction: np.ndarray) -> np.ndarray:
    return direction / np.linalg.norm(direction)


def independent_verdict(result, text: str, wrt: str, layout: str, order: int, seed: int) -> bool | None:
    """Whether the answer agrees with the mixed central difference of <U, f> along directions that are not
    symmetric, at the first of a few random points where the differences are reliable (Richardson over h and
    2h changes them by far less than the tolerance); None if no point is."""
    parsed = parse(text, DECLS)
    labels = axis_labels(parsed.shape, parsed.shapes()[wrt], layout, order)
    rng = np.random.default_rng(seed)
    for _ in range(POINTS):
        values = reference_values(rng)
        if not assumptions_hold(result, values):
            continue  # the answer states that it holds where these are invertible
        with np.errstate(all="ignore"):
            try:
                weight = rng.normal(size=evaluate(parsed.expr, values, SIZES).shape)
                directions = [unit(rng.normal(size=values[wrt].shape)) for _ in range(order)]

                def g(at: np.ndarray) -> float:
                    return float(np.sum(weight * evaluate(parsed.expr, {**values, wrt: at}, SIZES)))  # noqa: B023

                fine = mixed_difference(g, values[wrt], directions, STEPS[order])
                coarse = mixed_difference(g, values[wrt], directions, 2 * STEPS[order])
                shown = contraction(evaluate_code(result, parsed, values), labels, weight, directions)
            except (SingularMatrixError, np.linalg.LinAlgError):
                continue
        want = (4 * fine - coarse) / 3
        scale = max(1.0, abs(want))
        if not (np.isfinite(want) and np.isfinite(shown)) or abs(fine - want) > TOLERANCE[order] * scale / 10:
            continue
        return bool(abs(shown - want) <= TOLERANCE[order] * scale)
    return None


def assumptions_hold(result, values: dict[str, np.ndarray]) -> bool:
    """Whether the matrices that the answer assumes invertible (its notes say which) are well conditioned."""
    with np.errstate(all="ignore"):
        matrices = [evaluate(matrix, values, SIZES) for matrix in result.derivative.invertible]
    return all(np.all(np.isfinite(m)) and np.linalg.cond(m) < 1e8 for m in matrices)


def judged(text: str, wrt: str, layout: str, order: int, seed: int) -> tuple[bool, bool | None]:
    """(whether the self-check refused the answer, whether the independent reference confirms it)."""
    try:
        try:
            result, refused = diff(text, wrt, DECLS, layout, order), False
        except SelfCheckError:
            result, refused = diff(text, wrt, DECLS, layout, order, check=False), True
    except UnsupportedError:
        assume(False)  # more terms than matcalc works through
    return refused, independent_verdict(result, text, wrt, layout, order, seed)


@settings(
    max_examples=int(os.environ.get("MATCALC_EXAMPLES", 80)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
@given(cases(), st.integers(0, 2**32 - 1))
def test_the_self_check_refuses_no_right_derivative_by_a_symmetric_variable(case, seed):
    text, wrt, layout, order = case
    refused, right = judged(text, wrt, layout, order, seed)
    if refused:
        assert right is False, f"false refusal: {text} by {wrt}, order {order}, {layout} (independently right: {right})"
    else:
        assume(right is not None)
        assert right, f"wrong answer shown: {text} by {wrt}, order {order}, {layout}"


@pytest.mark.parametrize(
    ("text", "wrt", "layout", "order"),
    [
        ("logdet(P)", "P", "denominator", 2),
        ("det(P)", "P", "numerator", 2),
        ("inv(S)", "S", "numerator", 1),
        ("inv(S)", "S", "denominator", 2),
        ("logdet(Q) + logdet(P)", "P", "numerator", 3),
        ("x'inv(P)x logdet(P)", "P", "denominator", 4),
    ],
)
def test_the_refusals_of_the_fuzz_run_were_right_answers(text, wrt, layout, order):
    """The self-check refused these (exit 4); the independent reference confirms each answer."""
    refused, right = judged(text, wrt, layout, order, seed=1)
    assert right is True and not refused


def test_the_check_still_tells_the_transpose_of_an_unconstrained_derivative():
    """d²/dP² logdet(P) in index form is -(P⁻¹)_il (P⁻¹)_jk; the same with two indices swapped,
    -(P⁻¹)_ik (P⁻¹)_jl, agrees with it along every symmetric direction but is not the unconstrained
    derivative: the check differences the first derivative along directions that are not symmetric, so it
    refuses the swapped one."""
    from matcalc.api import _variable
    from matcalc.layout import Layout
    from matcalc.calculus.differentiate import differentiate
    from matcalc.numeric.selfcheck import self_check

    parsed = parse("logdet(P)", DECLS)
    variable = _variable(parsed, "P")
    orders = [differentiate(parsed.expr, variable, parsed.env, Layout.NUMERATOR, k) for k in (1, 2)]
    assert self_check(orders, parsed.env).holds
    (term,) = orders[1].index_form
    first, second = term.pieces
    swapped = type(term)(
        term.coefficient,
        term.scalars,
        (
            type(first)(first.elements, (first.indices[0], second.indices[1])),
            type(second)(second.elements, (second.indices[0], first.indices[1])),
        ),
    )
    orders[1].index_form = [swapped]
    orders[1].matrix = None
    report = self_check(orders, parsed.env)
    assert report.points and not report.holds


@pytest.mark.parametrize("order", [3, 4])
def test_a_symmetric_variable_is_differentiated_as_a_general_matrix_until_the_last_order(order):
    """||S S||_F² by S: the second derivative has 2 S_ik S_jl + 2 S_ki S_lj, equal at a symmetric S; merged into
    4 S_ik S_jl before the next differentiation, the third and fourth derivatives were wrong (the self-check
    refused the fourth). The function is a quartic, so its mixed central difference has no truncation error."""
    refused, right = judged("||S S||_F^2", "S", "numerator", order, seed=2)
    assert right is True and not refused


def test_where_the_unconstrained_lower_orders_are_too_large_the_result_stands_unchecked(monkeypatch):
    """The check differentiates the lower orders again by the variable declared a general matrix; where that
    is more than matcalc works through, the answer is shown as not checked, not refused and not lost."""
    import matcalc.numeric.selfcheck as selfcheck

    def too_large(*args, **kwargs):
        raise UnsupportedError("this derivative has more than 20,000 terms in index form")

    monkeypatch.setattr(selfcheck, "differentiate", too_large)
    result = diff("logdet(P)", "P", DECLS, "numerator", 2)
    assert result.check.points == 0 and "20,000 terms" in result.check.reason
