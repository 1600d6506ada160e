"""SPEC §3's self-check: every shown derivative has been compared with finite differences first."""

import json

from matcalc import diff
from matcalc.cli import cli
from matcalc.build import number
from matcalc import rules


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
