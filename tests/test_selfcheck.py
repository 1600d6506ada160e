"""SPEC §3's self-check: every shown derivative has been compared with finite differences first."""

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from matcalc import diff
from matcalc.calculus import rules
from matcalc.algebra.builder import number
from matcalc.cli import cli
from matcalc.numeric.selfcheck import SelfCheckError


def break_the_exp_rule(monkeypatch):
    """d exp(u) = 2 exp(u) du: a deliberately wrong rule."""
    original = rules.elementwise_slope

    def wrong(build, node):
        slope = original(build, node)
        return build.scale(number(2), slope) if node.function == "exp" else slope

    monkeypatch.setattr(rules, "elementwise_slope", wrong)


def test_a_broken_rule_is_caught_and_nothing_is_printed_as_an_answer(runner, monkeypatch):
    break_the_exp_rule(monkeypatch)
    for fmt in ("text", "json", "latex", "numpy", "table"):
        result = runner.invoke(cli, ["diff", "sum(exp(A x))", "--wrt", "x", "--format", fmt])
        assert result.exit_code == 4, (fmt, result.output)
        assert result.stdout == ""
        assert "internal error" in result.stderr and "sum(exp(A x))" in result.stderr
        assert "report" in result.stderr


def test_the_check_is_what_catches_it(runner, monkeypatch):
    """With --no-check the broken rule's answer goes out: the check above is not a coincidence."""
    break_the_exp_rule(monkeypatch)
    result = runner.invoke(cli, ["diff", "sum(exp(A x))", "--wrt", "x", "--no-check"])
    assert result.exit_code == 0
    assert "2" in result.stdout.splitlines()[0] and "checked" not in result.stdout


def test_a_broken_rule_is_caught_at_order_two(runner, monkeypatch):
    break_the_exp_rule(monkeypatch)
    result = runner.invoke(cli, ["diff", "exp(a) + a^3", "--wrt", "a", "--order", "2"])
    assert result.exit_code == 4 and result.stdout == ""


def test_a_right_result_says_it_was_checked(runner):
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith("checked: 3 points, max rel. error ")
    data = json.loads(runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--format", "json"]).stdout)
    assert data["checked"]["points"] == 3 and data["checked"]["holds"] is True
    assert data["checked"]["max_relative_error"] < 1e-6
    unchecked = json.loads(runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--format", "json", "--no-check"]).stdout)
    assert unchecked["checked"] is None


def test_latex_output_says_nothing_extra(runner):
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--format", "latex"])
    assert result.exit_code == 0 and result.output.count("\n") == 1 and "checked" not in result.output


def test_a_structurally_singular_inverse_is_stated_and_not_checked(runner):
    """det(z z') is 0 for every z of length > 1; its derivative's formula needs (z z')⁻¹."""
    result = runner.invoke(cli, ["diff", "det(z z')", "--wrt", "z"])
    assert result.exit_code == 0, result.output
    assert "note: assumes z zᵀ invertible" in result.stdout
    last = result.stdout.splitlines()[-1]
    assert last.startswith("not checked:") and "invertible" in last


def test_the_api_checks_by_default():
    assert diff("x'Ax", "x").check.holds
    assert diff("x'Ax", "x", check=False).check is None


def test_rounding_of_a_cancelling_sum_is_not_a_wrong_result():
    """Σ U ⊙ σ(z) for a saturated σ cancels to a small number; its rounding is that of its large terms.
    The self-check refused this right derivative (fuzz test); finite differences agree to 1e-10 by hand."""
    result = diff("sigmoid(||tr(A) ones(n)||^2 exp(tanh(A x)))", "A", "a: scalar")
    assert result.check.holds


def test_a_malformed_shown_form_is_refused_not_left_unchecked(runner, monkeypatch):
    """A rule that leaves shapes that do not conform (W W for an m×n W) makes the shown form impossible to
    evaluate: that is a wrong result (exit 4), never a point the check skips as unreliable."""
    import matcalc.simplify as simplify_package
    from matcalc import nodes as n

    def malformed(node, build, keep=frozenset()):
        return n.MatMul(node, node, shape=node.shape) if node.shape.is_matrix else node

    monkeypatch.setattr(simplify_package, "RULES", (malformed,))
    result = runner.invoke(cli, ["diff", "W x", "--wrt", "x", "--let", "W: matrix(m, n), x: vector(n)"])
    assert result.exit_code == 4, result.output
    assert "internal error" in result.stderr


def test_rounding_inside_the_lower_formula_is_not_a_wrong_result():
    """At the check's second point dot(p .* p, p) is -12.8, where 1 - tanh² is 3e-11 and tanh a whole number of
    ulps from -1: differences of the first derivative count those ulps, and at steps h and h/2 counted them in
    the ratio 2, agreeing with each other while both were 0.5% off (exit 4 for a right answer). The Hessian,
    by hand: (1 - t²)(6 diag(p) - 18 t (p ⊙ p)(p ⊙ p)ᵀ) with t = tanh(Σ p³)."""
    result = diff("tanh(dot(p .* p, p))", "p", order=2)
    assert result.check.holds and result.check.points == 3
    p = np.array([0.3, -0.7, 0.9])
    t = np.tanh(np.sum(p**3))
    by_hand = (1 - t**2) * (6 * np.diag(p) - 18 * t * np.outer(p * p, p * p))
    assert np.allclose(eval(result.numpy, {"np": np}, {"p": p}), by_hand, rtol=1e-12)


def test_a_slightly_wrong_slope_is_still_refused_where_it_saturates(monkeypatch):
    """The third step excuses rounding, not a wrong result: tanh's slope off by 0.1% is refused."""
    original = rules.elementwise_slope

    def wrong(build, node):
        slope = original(build, node)
        return build.scale(number(Fraction(1001, 1000)), slope) if node.function == "tanh" else slope

    monkeypatch.setattr(rules, "elementwise_slope", wrong)
    with pytest.raises(SelfCheckError):
        diff("tanh(dot(p .* p, p))", "p", order=2)


def test_a_product_of_powers_of_one_sum_is_over_the_sum_of_their_powers():
    """The self-check's one right refusal of a fuzz run, the 5th derivative of (((r'r)^2+1)^-1)^(1/3): the
    simplifier wrote -3(a + 1)⁻⁴(a + 1)⁻¹ - (a + 1)⁻²(a + 1)⁻³ over (a + 1)⁴, the largest power of one
    factor, instead of (a + 1)⁵, the power of the product."""
    assert diff("(a+1)^-3 (a+1)^-1", "a").text == "-4 / (a + 1)^5"  # d(a + 1)⁻⁴ = -4(a + 1)⁻⁵
    assert diff("((a+1)^-1)^2", "a", order=3).text == "-24 / (a + 1)^5"  # -2·-3·-4
    a = sp.Symbol("a")
    for order in (3, 5):
        result = diff("((a^2+1)^-1)^(1/3)", "a", order=order)
        want = float(sp.diff(((a**2 + 1) ** -1) ** sp.Rational(1, 3), a, order).subs(a, 0.7))
        assert np.isclose(eval(result.numpy, {"np": np}, {"a": 0.7}), want, rtol=1e-10)


@pytest.mark.parametrize("source", ["tanh(sum(exp(2 x)))", "tanh(dot(x .* x, x))", "sigmoid(sum(x .^ 3))"])
@pytest.mark.parametrize("order", [2, 3])
def test_a_saturated_function_is_never_refused_at_any_seed(source, order):
    """Where the sum saturates tanh, 1 - tanh² is a few ulps of 1: the first derivative's value is mostly
    rounding, and a step may not move tanh off its ulp at all, so its difference missed the slope of 1 - tanh²
    while both steps agreed (right Hessians refused, max rel. error 1.0). Rounding in the formulas is measured
    by evaluating them with every value moved by a few ulps: where it is as large as the discrepancy, the point
    is not one to judge by, and a point nearer 0 is taken. The old check refused 47 of these 360."""
    from matcalc.api import _variable, parse
    from matcalc.layout import Layout
    from matcalc.calculus.differentiate import differentiate
    from matcalc.numeric.selfcheck import self_check

    parsed = parse(source, "x: vector(n)")
    variable = _variable(parsed, "x")
    orders = [differentiate(parsed.expr, variable, parsed.env, Layout.NUMERATOR, k) for k in range(1, order + 1)]
    refused = [seed for seed in range(60) if not self_check(orders, parsed.env, seed=seed).holds]
    assert refused == []


def test_a_point_scaled_towards_0_keeps_a_onehot_label():
    """A 3-layer ReLU classifier's gradient uses 1'y = 1 (softmax(z) - y). Where finite differences could not
    judge at full scale, the check scaled every variable towards 0, the one-hot label too, and so refused
    this right answer (exit 4). The answer is compared here with central differences written by hand."""
    let = "y: onehot(n), b1: vector(m), b2: vector(k), b3: vector(n)"
    expression = "-y' log(softmax(W3 relu(W2 relu(W1 x + b1) + b2) + b3))"
    gradient = diff(expression, "W1", let=let, layout="denominator").function()  # raised SelfCheckError
    rng = np.random.default_rng(5)
    n, m, k, l = 3, 4, 5, 6
    v = {"W1": rng.normal(size=(m, l)), "W2": rng.normal(size=(k, m)), "W3": rng.normal(size=(n, k))}
    v |= {"x": rng.normal(size=l), "b1": rng.normal(size=m), "b2": rng.normal(size=k), "b3": rng.normal(size=n)}
    v["y"] = np.eye(n)[1]

    def loss(W1):
        z = v["W3"] @ np.maximum(v["W2"] @ np.maximum(W1 @ v["x"] + v["b1"], 0) + v["b2"], 0) + v["b3"]
        return -v["y"] @ (z - z.max() - np.log(np.exp(z - z.max()).sum()))

    step = 1e-6
    expected = np.zeros((m, l))
    for index in np.ndindex(m, l):
        bump = np.zeros((m, l))
        bump[index] = step
        expected[index] = (loss(v["W1"] + bump) - loss(v["W1"] - bump)) / (2 * step)
    assert np.allclose(gradient(**v), expected, atol=1e-7)
