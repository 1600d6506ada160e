"""The presentation rules of matcalc/simplify: a fixture per rule, worked by hand, and a
property that no rule changes a value.

Each fixture goes through `diff`, which also self-checks the shown result against finite
differences; each expected form is the textbook's (the source is named).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import DECLS, SIZES, numeric_scale, random_values, typed_expressions

from matcalc import diff, parse
from matcalc.algebra.builder import Builder
from matcalc.errors import MatcalcError
from matcalc.numeric.evaluate import evaluate
from matcalc.render.text import expression_text
from matcalc.simplify import RULES, simplify
from matcalc.simplify.transposes import flipped, marks

LAYER = "W: matrix(m, n), b: vector(m)"

FIXTURES = [
    # like terms: two chain-rule paths reach z (x - M'z)'S, associated differently (Cookbook (88))
    ("(x - M'z)'S(x - M'z)", "M", "S: symmetric(n)", "denominator", 1, "-2z(x - M'z)'S"),
    # a scalar factor of every term written once (PRML (4.88) twice)
    ("sigmoid(a)", "a", "a: scalar", "numerator", 2, "sigmoid(a)(1 - sigmoid(a))(1 - 2sigmoid(a))"),
    # a number is all coefficient: x + (x + 2) is 2x + 2 (exploring profile: it was 2x + 4)
    ("sum((x + 2) .* x)", "x", "x: vector(n)", "denominator", 1, "2x + 2"),
    # like terms whatever form their numbers take: ½(α w) and (α/2) w are one term (PRML (3.55))
    ("beta/2 ||t - Phi w||^2 + alpha/2 w'w", "w", "", "denominator", 1, "alpha w - beta Phi'(t - Phi w)"),
    # and wherever their scalar factors stand: z zᵀ(zᵀz) and (zᵀz) z zᵀ are one term; the NumPy code of
    # z(zᵀz) as a product of a vector and a 1×1 matrix was wrong (exploring profile)
    ("(z z') ((z z') z)", "z", "z: vector(m)", "numerator", 1, "(z'z)^2 I + 4z z'(z'z)"),
    # sum of entries: ∂ sum(x z)/∂z = sum(x) (P&H §4.3); the bias of a squared error (d2l §3.1.1)
    ("sum(x z)", "z", "x: vector(n), z: scalar", "numerator", 1, "sum(x)"),
    ("1/2 ||X w + b - y||^2", "b", "b: scalar", "denominator", 1, "sum(X w + b - y)"),
    # 1'W stays a row (not a scalar): ∂ sum(W x)/∂x (P&H §4.3)
    ("sum(W x)", "x", "W: matrix(m, n)", "numerator", 1, "1'W"),
    # backpropagation: the error first, the slope of the activation after it (DL §6.5.4, d2l §5.3)
    ("1/2 ||relu(W x + b) - y||^2", "b", LAYER, "denominator", 1, "(relu(W x + b) - y) .* step(W x + b)"),
    ("1/2 ||relu(W x + b) - y||^2", "W", LAYER, "denominator", 1, "((relu(W x + b) - y) .* step(W x + b))x'"),
    ("1/2 ||V tanh(W x) - t||^2", "W", "", "denominator", 1, "((V'(V tanh(W x) - t)) .* (1 - tanh(W x)^2))x'"),
    ("1/2 ||V tanh(W x) - t||^2", "x", "", "denominator", 1, "W'((V'(V tanh(W x) - t)) .* (1 - tanh(W x)^2))"),
    ("sum(tanh(x))", "x", "", "denominator", 2, "-2diag(tanh(x) .* (1 - tanh(x)^2))"),
    # and second in a dot product: the bias of a ReLU regression (P&H §6)
    ("1/N ||y - relu(X w + b)||^2", "b", "b: scalar, N: scalar", "numerator", 1,
     "-(2/N)(y - relu(X w + b))'step(X w + b)"),
    # a factor every term has, written once (DL §6.5.4: a softmax output layer over a tanh layer)
    ("logsumexp(V tanh(W x)) - t'V tanh(W x)", "W", "", "denominator", 1,
     "((V'(softmax(V tanh(W x)) - t)) .* (1 - tanh(W x)^2))x'"),
    # a multiple of a slope written as the slope: logistic regression's Hessian (PRML (4.97), ESL (4.25))
    ("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", "", "numerator", 2,
     "-X'diag(sigmoid(X w) .* (1 - sigmoid(X w))) X"),
    # eᵘ/(1 + eᵘ) = σ(u) inside products and powers: the softplus's second derivative (DL §3.10) and
    # the Hessian of the logistic log-likelihood written with log(1 + eᵘ) (ESL (4.22))
    ("log(1 + exp(a))", "a", "a: scalar", "numerator", 2, "sigmoid(a)(1 - sigmoid(a))"),
    ("y'X w - sum(log(1 + exp(X w)))", "w", "", "denominator", 2, "-X'diag(sigmoid(X w) .* (1 - sigmoid(X w))) X"),
    # rows multiplied out as columns are: the gradient of the negative log-likelihood as a row (PRML (4.91))
    ("-(y'log(sigmoid(X w)) + (1 - y)'log(1 - sigmoid(X w)))", "w", "", "numerator", 1, "(sigmoid(X w) - y)'X"),
    # the first factor of products shared, however they associate (PRML (4.106) by the chain rule)
    ("U'softmax(K q)", "q", "", "numerator", 1, "U'(diag(softmax(K q)) - softmax(K q) softmax(K q)') K"),
    # terms that differ in one place inside a linear context are one term: the error carried back once
    # (DL §6.5.4, Algorithm 6.4: δ = W3ᵀ(ŷ - y), then (W2ᵀ(δ ⊙ g′))...)
    ("1/2||W3 tanh(W2 tanh(W1 x)) - y||^2", "W1", "", "denominator", 1,
     "((W2'((W3'(W3 t1 - y)) .* (1 - t1^2))) .* (1 - tanh(W1 x)^2))x'"),
    ("-y' log(softmax(W2 tanh(W1 x)))", "W1", "y: onehot(n)", "denominator", 1,
     "((W2'(softmax(W2 tanh(W1 x)) - y)) .* (1 - tanh(W1 x)^2))x'"),
    # the function's own sums are written as the user wrote them (Cookbook (119): D X E + F E stays)
    ("tr((D X E + F E)(D X E + F E)')", "X", "D: matrix(n, m), X: matrix(m, k), E: matrix(k, l), F: matrix(n, k)",
     "denominator", 1, "2D'(D X E + F E) E'"),
    # a number every term in a bracket has stands in front (DL (5.11); M&N ch. 11, the Rayleigh quotient)
    ("w'X'X w - 2w'X'y + y'y", "w", "", "denominator", 1, "2X'(X w - y)"),
    ("x'S x/(x'x)", "x", "S: symmetric(n)", "denominator", 1, "2(S x - (x'S x) x / (x'x)) / (x'x)"),
    # a sum whose terms are all negative inside a product: the sign in front (Cookbook (125))
    ("tr((X'C X)^-1 H)", "X", "C: symmetric(n), X: matrix(n, m), H: matrix(m, m)", "denominator", 1,
     "-C X(X'C X)^-1(H + H')(X'C X)^-1"),
    # scalar factors: equal ones a power, symbols and polynomials before functions (PRML (1.46))
    ("exp(-a^2/2)", "a", "a: scalar", "denominator", 1, "-a exp(-a^2 / 2)"),
    ("exp(-a^2/2)", "a", "a: scalar", "denominator", 2, "(a^2 - 1)exp(-a^2 / 2)"),
    ("log(sin(a^3)^2)", "a", "a: scalar", "denominator", 1, "6a^2 cos(a^3) / sin(a^3)"),  # P&H §4.5.1
    # the logistic sigmoid written as 1/(1 + e⁻ᵘ) (PRML (4.59)); σ(u)e⁻ᵘ = σ(-u); σ(-u) beside σ(u) is 1 - σ(u)
    ("1/(1 + exp(-a))", "a", "a: scalar", "denominator", 1, "sigmoid(a)(1 - sigmoid(a))"),
    ("log(1 + exp(-a))", "a", "a: scalar", "denominator", 1, "-sigmoid(-a)"),  # DL (3.40)
    ("log(1 + exp(-s w'x))", "w", "s: scalar, w: vector(n), x: vector(n)", "denominator", 2,
     "s^2 sigmoid(s w'x)(1 - sigmoid(s w'x))x x'"),  # ESL §4.4, labels ±1
    # a factor every elementwise term has, the other term's rest 1: (P&H §4.1, product rule)
    ("x .* exp(x)", "x", "x: vector(n)", "numerator", 1, "diag((1 + x) .* exp(x))"),
    # a polynomial in σ that its slope divides: σ'' = σ ⊙ (1 - σ) ⊙ (1 - 2σ), also in index notation (DL (3.40));
    # and a function's slope after it among scalar factors: tanh'' = -2tanh(1 - tanh²)
    ("sum(log(1 + exp(x)))", "x", "x: vector(n)", "numerator", 3,
     "∂³y/∂x_i ∂x_j ∂x_k = (sigmoid(x) .* (1 - sigmoid(x)) .* (1 - 2sigmoid(x)))_i delta_ij delta_ik"),
    ("log(1 + exp(x))", "x", "x: vector(n)", "numerator", 2,
     "∂²y_i/∂x_j ∂x_k = (sigmoid(x) .* (1 - sigmoid(x)))_i delta_ij delta_ik"),
    ("tanh(a)", "a", "a: scalar", "numerator", 2, "-2tanh(a)(1 - tanh(a)^2)"),
    # elementwise fractions over their one denominator where that is shorter, a whole number out of the
    # diagonal (B&V exercise 9.30, the log barrier's Hessian: 4x² ⊘ (1 - x²)² + 2 ⊘ (1 - x²))
    ("-sum(log(1 - A x)) - sum(log(1 - x^2))", "x", "A: matrix(m, n), x: vector(n)", "denominator", 2,
     "2diag((1 + x^2) ./ (1 - x^2)^2) + A'diag(1 ./ (1 - A x)^2) A"),
    # a whole number joins an elementwise quotient's numerator (B&V ex. 9.30's gradient)
    ("-sum(log(1 - A x)) - sum(log(1 - x^2))", "x", "A: matrix(m, n), x: vector(n)", "denominator", 1,
     "A'(1 ./ (1 - A x)) + 2x ./ (1 - x^2)"),
    # a diagonal at the end of an index-notation factor opens: (diag(s) U)_ji = s_j U_ji (PRML (4.106), keys)
    ("U'softmax(K q)", "K", "U: matrix(n, p), K: matrix(n, m), q: vector(m)", "numerator", 1,
     "∂y_i/∂K_jk = softmax(K q)_j U_ji q_k - (U' softmax(K q))_i softmax(K q)_j q_k"),
    # a diagonal times a matrix is a Jacobian and stays: ∂ relu(W x)/∂x = diag(step(W x)) W
    ("relu(W x)", "x", "", "numerator", 1, "diag(step(W x)) W"),
    # divisions: the Mahalanobis norm (Cookbook (81) and the chain rule), ∂√a (d2l §2.4.1), ‖Ax - b‖ (MC (129))
    ("sqrt(x'P x)", "x", "P: symmetric(n)", "denominator", 1, "P x / sqrt(x'P x)"),
    ("sqrt(a)", "a", "", "numerator", 1, "1 / (2sqrt(a))"),
    ("||A x - b||", "x", "", "denominator", 1, "A'(A x - b) / ||A x - b||"),
    ("sqrt(x)", "x", "x: vector(n)", "numerator", 1, "diag(1 ./ (2sqrt(x)))"),  # P&H §4.5.2
    # a divisor every term has, written once: the normalised vector's Jacobian (Cookbook (129) and the
    # quotient rule), which is also the norm's Hessian
    ("x/||x||", "x", "x: vector(n)", "numerator", 1, "(I - x x' / ||x||^2) / ||x||"),
    ("||x||", "x", "x: vector(n)", "denominator", 2, "(I - x x' / ||x||^2) / ||x||"),
    # the logistic sigmoid out of a quotient: the logistic loss with labels ±1 (ESL §4.4)
    ("log(1 + exp(-s w'x))", "w", "s: scalar, w: vector(n), x: vector(n)", "denominator", 1, "-s sigmoid(-s w'x) x"),
    # a single symbol's reciprocal stays in front (d2l §3.1: (1/n) Xᵀ(Xw - y))
    ("1/(2n) ||X w - y||^2", "w", "n: scalar", "denominator", 1, "(1/n) X'(X w - y)"),
    # transposes out of a sum of transposes (d2l §4.1.2 as a row; Cookbook (107), (63))
    ("-y' log(softmax(o))", "o", "y: onehot(n)", "numerator", 1, "(softmax(o) - y)'"),
    ("tr(Q^2 B)", "Q", "Q: matrix(n, n), B: matrix(n, n)", "denominator", 1, "(Q B + B Q)'"),
    ("tr(A Q^-1 B)", "Q", "Q: matrix(n, n), A: matrix(m, n), B: matrix(n, m)", "denominator", 1,
     "-(Q^-1 B A Q^-1)'"),
    # two transposed factors stay (the Cookbook's (101): ∂tr(AXB)/∂X = AᵀBᵀ), and A + Aᵀ in that order
    ("tr(A X B)", "X", "A: matrix(n, m), X: matrix(m, k), B: matrix(k, n)", "denominator", 1, "A'B'"),
    ("x'A x", "x", "", "denominator", 2, "A + A'"),
]


@pytest.mark.parametrize("source, wrt, let, layout, order, text", FIXTURES)
def test_each_rule_writes_the_textbook_form(source, wrt, let, layout, order, text):
    result = diff(source, wrt, let or None, layout, order)
    assert result.text == text


def test_flipped_moves_transposes_in():
    parsed = parse("A x + B'y", let="A: matrix(m, n), B: matrix(n, m), x: vector(n), y: vector(n)")
    assert expression_text(flipped(parsed.expr, Builder())) == "x'A' + y'B"
    assert marks(flipped(parsed.expr, Builder())) == 3


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(typed_expressions(), st.integers(0, 2**32 - 1))
def test_no_rule_changes_a_value(case, seed):
    """Every rule, and all of them in order, applied to a generated expression: the same values."""
    text, _ = case
    parsed = parse(text, let=DECLS)
    values = random_values(seed)
    scale = numeric_scale(parsed.expr, values)
    assume(scale is not None and scale < 1e6)
    build = Builder(frozenset({"S"}))
    with np.errstate(all="ignore"):
        before = np.asarray(evaluate(parsed.expr, values, SIZES), dtype=float)
        for rewrite in (*RULES, simplify):
            after = np.asarray(evaluate(rewrite(parsed.expr, build), values, SIZES), dtype=float)
            assert after.shape == before.shape
            np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-9 * scale)


def test_a_rule_keeps_the_shape_of_what_it_rewrites():
    """B - (B - 2) is 2 broadcast to B's shape: like terms must not leave the number 2 (exploring profile)."""
    result = diff("sum(max(B, B - 2)')", "B", "B: matrix(n, m)", "numerator")
    assert result.shape == ("m", "n")
    assert result.check.holds


def unsimplified(text: str, wrt: str, layout: str):
    """The collected result before the rules of simplify/ (what they are given), or None."""
    import matcalc.simplify as simplify_package

    saved, simplify_package.RULES = simplify_package.RULES, ()
    try:
        return diff(text, wrt, DECLS, layout, check=False).derivative.inline_matrix
    except MatcalcError:
        return None
    finally:
        simplify_package.RULES = saved


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(typed_expressions(), st.sampled_from(["numerator", "denominator"]), st.data())
def test_no_rule_changes_the_value_of_a_derivative(case, layout, data):
    """Every rule applied to what it is really given: generated expressions' derivatives, collected.
    (A context rebuilt by identity replaced both sides of u ⊙ u: found by the fuzz test.)"""
    text, _ = case
    parsed = parse(text, let=DECLS)
    variables = sorted(parsed.shapes())
    assume(variables)
    wrt = data.draw(st.sampled_from(variables), label="wrt")
    node = unsimplified(text, wrt, layout)
    assume(node is not None)
    values = random_values(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    build = Builder(frozenset({"S"}))
    with np.errstate(all="ignore"):
        try:
            before = np.asarray(evaluate(node, values, SIZES), dtype=float)
        except (MatcalcError, np.linalg.LinAlgError):
            assume(False)
        assume(np.all(np.isfinite(before)) and np.max(np.abs(before), initial=0) < 1e6)
        # rounding is relative to the largest intermediate value (a saturated softmax of huge powers
        # leaves 64 where the exact value is 0), not to the result
        intermediate = numeric_scale(node, values)
        assume(intermediate is not None and intermediate < 1e6)
        scale = max(1.0, float(np.max(np.abs(before), initial=0)), intermediate)
        for rewrite in (*RULES, simplify):
            after = np.asarray(evaluate(rewrite(node, build), values, SIZES), dtype=float)
            np.testing.assert_allclose(after.reshape(before.shape), before, rtol=1e-8, atol=1e-8 * scale,
                                       err_msg=f"{rewrite.__name__} on d/d{wrt} {text}")


def test_a_context_with_the_same_part_twice():
    """u ⊙ u with one u differing from the other term's: only that one is replaced (fuzz test)."""
    result = diff("(a^2 - 1) exp(-1a^2n/2)  (a^2 - 1) exp(-1a^2n/2)", "a", "a: scalar, n: vector(m)")
    assert result.check.holds


def test_terms_that_cancel_inside_a_context_leave_nothing_malformed():
    """C[a] - C[a] inside an index-notation factor: the two terms go, not C[0] with a scalar 0 where a
    matrix belongs (its value could not be computed; exploring profile)."""
    from matcalc.numeric.differences import Point, evaluate_shown, evaluate_terms

    result = diff("(||log(exp(z x'))||) * (x'x)", "x", DECLS, "numerator", 3)
    point = Point(random_values(0), dict(SIZES))
    shown, truth = evaluate_shown(result.derivative, point), evaluate_terms(result.derivative, point)
    np.testing.assert_allclose(shown.reshape(truth.shape), truth, rtol=1e-9, atol=1e-9)
    assert result.check.holds
