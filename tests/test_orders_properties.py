"""Property: derivatives of orders 1 to 3, in every layout, agree with finite differences.

The expressions are tests/strategies.py's generated ones, plus templates that put scalar
expansion, `mean`, `sum`, `diag`, `eye` and norms around generated pieces (the class of
bugs where a broadcast scalar lost its count, 𝟏ᵀ𝟏 read as 1, lived only above order 1).

The reference never uses matcalc's differentiator: for random weights U on the
function's axes and random directions V_1..V_K on the variable, the K-th
derivative contracted with them equals the mixed central difference of
g = <U, f> (evaluated by `matcalc.numeric.evaluate`):

    Σ over signs ε in {±1}^K of (Π ε_k) g(X + h Σ ε_k V_k) / (2h)^K

Richardson-extrapolated over h and 2h. The derivative is read from its NumPy
code (SPEC §4's array contract), arranged as SPEC §3 says, written out again here.

A long exploring run: MATCALC_EXAMPLES=20000 pytest --hypothesis-profile explore tests/test_orders_properties.py
"""

import os

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import LAYOUTS, axis_labels, contraction, evaluate_code, mixed_difference
from strategies import ANY, DECLS, SCALAR, SHAPES, SIZES, M, N, draw_point, expressions

from matcalc import diff
from matcalc.errors import UnsupportedError
from matcalc.numeric.evaluate import SingularMatrixError, evaluate
from matcalc.numeric.differences import kink_distance

STEPS = {1: 1e-5, 2: 1e-3, 3: 4e-3}
TOLERANCE = {1: 1e-6, 2: 1e-5, 3: 1e-4}

# Scalar expansion, reductions and norms around generated pieces: (template, shapes of the holes, shape)
BROADCAST_TEMPLATES = [
    ("mean(({0} - mean({0})).^2)", [(N, 1)], SCALAR),
    ("||{0} - mean({0})||^2", [(N, 1)], SCALAR),
    ("||{0} - {1}||^2", [(N, 1), SCALAR], SCALAR),
    ("||{0} - {1}||_F^2", [(N, M), SCALAR], SCALAR),
    ("sum(diag({0} + {1}))", [(N, 1), SCALAR], SCALAR),
    ("mean(diag({0} + {1}))", [(N, 1), SCALAR], SCALAR),
    ("sum(({0} + {1}) .* {0})", [(N, 1), SCALAR], SCALAR),
    ("{1} * ({0} - {1})", [(N, 1), SCALAR], (N, 1)),
    ("tr(eye(n) + {0} {1})", [(N, N), SCALAR], SCALAR),
    ("sum(exp({0} - {1}))", [(M, 1), SCALAR], SCALAR),
    ("({0} + {1}) ./ ({1} .^ 2 + 1)", [(N, 1), SCALAR], (N, 1)),
    ("max({0}, {1}) .* {0}", [(N, 1), SCALAR], (N, 1)),
    ("mean({0} + {1}) * norm({0})", [(N, M), SCALAR], SCALAR),
]


@st.composite
def shallow_expressions(draw) -> tuple[str, tuple]:
    """Generated expressions of depth ≤ 3: a third derivative by a matrix of a depth-4 one is
    more terms than a test should wait for."""
    shape = draw(st.sampled_from(SHAPES))
    return draw(expressions(ANY, shape, depth=3)), shape


@st.composite
def broadcast_expressions(draw) -> tuple[str, tuple]:
    template, holes, shape = draw(st.sampled_from(BROADCAST_TEMPLATES))
    parts = [draw(expressions(ANY, hole, depth=2)) for hole in holes]
    return template.format(*(f"({part})" for part in parts)), shape


@settings(max_examples=int(os.environ.get("MATCALC_EXAMPLES", 120)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(st.one_of(shallow_expressions(), broadcast_expressions()), st.sampled_from(LAYOUTS),
       st.sampled_from([1, 2, 2, 3]), st.data())
def test_derivatives_of_orders_one_to_three_match_finite_differences(case, layout, order, data):
    text, parsed, wrt, values = draw_point(case, data)
    step = STEPS[order]
    # every sample of the difference stays on one side of each kink of abs, relu, max, ...
    assume(kink_distance([parsed.expr], values, SIZES) > 20 * order * step)
    try:
        result = diff(text, wrt, DECLS, layout, order, check=False)
    except UnsupportedError:
        assume(False)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="directions"))
    weight = rng.normal(size=evaluate(parsed.expr, values, SIZES).shape)
    directions = [rng.normal(size=values[wrt].shape) for _ in range(order)]

    def g(at: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(weight * evaluate(parsed.expr, {**values, wrt: at}, SIZES)))

    try:
        fine = mixed_difference(g, values[wrt], directions, step)
        coarse = mixed_difference(g, values[wrt], directions, 2 * step)
    except (SingularMatrixError, np.linalg.LinAlgError):
        assume(False)  # a step left the domain: a matrix to invert became singular
    want = (4 * fine - coarse) / 3
    scale = max(1.0, abs(want))
    # the extrapolation changed the difference by far less than the tolerance: differences are reliable here
    assume(np.isfinite(want) and abs(fine - want) <= TOLERANCE[order] * scale / 10)
    shown = evaluate_code(result, parsed, values)
    assume(np.all(np.isfinite(shown)))
    labels = axis_labels(parsed.shape, parsed.shapes()[wrt], layout, order)
    assert shown.shape == tuple(SIZES[d] if isinstance(d, str) else d for d in result.shape if d != 1)
    got = contraction(shown, labels, weight, directions)
    if abs(got - want) > TOLERANCE[order] * scale:
        # the formula may be right but lose its digits here (1 - tanh(u)² at a large u): then moving
        # the point by a relative 1e-9 moves its value by as much as the discrepancy
        jittered = {name: value * (1 + 1e-9 * rng.standard_normal(value.shape)) for name, value in values.items()}
        moved = contraction(evaluate_code(result, parsed, jittered), labels, weight, directions)
        assume(abs(moved - got) < 0.1 * abs(got - want))
        # or the formula's digits are rounding (sqrt(1 - tanh(u)²) at a large u): in extended precision
        # its value moves by as much as the discrepancy
        extended = {name: value.astype(np.longdouble) for name, value in values.items()}
        precise = contraction(evaluate_code(result, parsed, extended).astype(float), labels, weight, directions)
        assume(abs(precise - got) < 0.1 * abs(got - want))
    assert abs(got - want) <= TOLERANCE[order] * scale, (text, wrt, layout, order, result.text, got, want)


def test_the_broadcast_bugs_of_issue_9():
    """Each answer was what 𝟏ᵀ𝟏 = 1 would give; the right values, worked by hand."""
    n, m = 3, 4
    x = np.array([[1.0], [2.0], [4.0]])
    at = {"x": x, "n": n}
    # d²/dx² mean((x - mean(x)).^2) = (2/n)(I - 𝟏𝟏ᵀ/n)
    hessian = diff("mean((x - mean(x)).^2)", "x", "x: vector(n)", order=2)
    assert np.allclose(eval(hessian.numpy, {"np": np}, at), (2 / n) * (np.eye(n) - np.ones((n, n)) / n))
    # d²/dt² ||x - t||^2 = 2n and d²/dt² ||X - t||_F^2 = 2nk
    assert np.isclose(eval(diff("||x - t||^2", "t", "x: vector(n), t: scalar", order=2).numpy,
                           {"np": np}, {"x": x, "t": 0.5}), 2 * n)
    X = np.ones((n, m))
    assert np.isclose(eval(diff("||X - t||_F^2", "t", "X: matrix(n, k), t: scalar", order=2).numpy,
                           {"np": np}, {"X": X, "t": 0.5}), 2 * n * m)
    # d/da sum(diag(x + a)) = n; d/da mean(diag(x + a)) = 1/n (the matrix is n×n)
    assert np.isclose(eval(diff("sum(diag(x + a))", "a", "x: vector(n)").numpy, {"np": np},
                           {"x": x, "a": 0.3}), n)
    assert np.isclose(eval(diff("mean(diag(x + a))", "a", "x: vector(n)").numpy, {"np": np},
                           {"x": x, "a": 0.3}), 1 / n)
