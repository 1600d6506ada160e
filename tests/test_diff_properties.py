"""Property: the derivative of any generated well-shaped expression agrees with finite differences.

Expressions come from the typed generator of tests/strategies.py (depth ≤ 4, every
construct of SPEC §2, scalar, vector and matrix variables, values in the functions'
domains); the variable and the layout are drawn too. The reference is tests/reference.py's
finite-difference Jacobian of the expression itself, arranged from SPEC §3's table,
and the derivative is evaluated through its NumPy code (SPEC §4's array contract).
"""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import LAYOUTS, arrange, assert_close, evaluate_code, expected_shape, jacobian
from strategies import DECLS, SIZES, draw_point, typed_expressions

from matcalc import diff
from matcalc.errors import UnsupportedError
from matcalc.numeric.evaluate import SingularMatrixError
from matcalc.numeric.differences import kink_distance


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(typed_expressions(), st.sampled_from(LAYOUTS), st.data())
def test_derivative_of_a_generated_expression_matches_finite_differences(case, layout, data):
    text, parsed, wrt, values = draw_point(case, data)
    assume(kink_distance([parsed.expr], values, SIZES) > 1e-3)  # not at a kink of abs, relu, max, ...
    try:
        result = diff(text, wrt, DECLS, layout)
    except UnsupportedError:
        assume(False)  # e.g. matrix powers above 12 or the spectral norm
    out, var = parsed.shape, parsed.shapes()[wrt]
    assert result.shape == expected_shape(out, var, layout)
    want = arrange(jacobian(parsed.expr, values, SIZES, wrt), layout, out.is_scalar)
    coarser = arrange(jacobian(parsed.expr, values, SIZES, wrt, step=2e-6), layout, out.is_scalar)
    # where two step sizes disagree, finite differences are not accurate enough to judge
    assume(np.max(np.abs(want - coarser)) <= 1e-7 * max(1.0, float(np.max(np.abs(want)))))
    got = evaluate_code(result, parsed, values)
    # arcsin(tanh(u)) at a large u: the formula's 0 · ∞ cannot be evaluated in floating point
    assume(np.all(np.isfinite(got)))
    assert_close(got, want)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(typed_expressions(), st.data())
def test_shown_result_and_its_index_form_agree(case, data):
    """What is shown (matrix or index notation, with named subexpressions) equals the index form."""
    from matcalc.numeric.differences import Point, evaluate_shown, evaluate_terms, relative_error

    text, parsed, wrt, values = draw_point(case, data)
    try:
        result = diff(text, wrt, DECLS).derivative
    except UnsupportedError:
        assume(False)
    point = Point(values, dict(SIZES))
    with np.errstate(all="ignore"):
        try:
            shown, terms = evaluate_shown(result, point), evaluate_terms(result, point)
        except (np.linalg.LinAlgError, SingularMatrixError):
            assert result.invertible, text  # a result that assumes a singular matrix invertible (det(z z'),
            assume(False)  # stated in its notes); found by the exploring profile
    assume(np.all(np.isfinite(terms)))
    assert relative_error(shown.reshape(terms.shape), terms) < 1e-8
