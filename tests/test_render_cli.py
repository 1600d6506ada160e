"""Output formats of `matcalc diff` as users see them: through pipes, in terminals, in notebooks."""

import os
import subprocess
import sys

import pytest

from matcalc import diff
from matcalc.cli import cli

ESCAPE = "\x1b["


def run(*arguments, **environment):
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(environment)
    return subprocess.run([sys.executable, "-m", "matcalc", *arguments], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("expression, wrt", [("x'Ax", "x"), ("tanh(W2 tanh(W1 x))", "x"), ("A X b", "X")])
def test_latex_through_a_pipe_is_one_line_and_nothing_else(expression, wrt):
    result = run("diff", expression, "--wrt", wrt, "--format", "latex", "--verify", FORCE_COLOR="1")
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1 and result.stdout.endswith("\n")
    assert ESCAPE not in result.stdout and "$" not in result.stdout
    assert result.stderr.startswith("checked: 10 points")  # the verification goes to stderr, not into the paper


def test_latex_equation_and_right_hand_side(runner):
    equation = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--format", "latex"]).stdout.strip()
    rhs = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--format", "latex", "--latex", "rhs"]).stdout.strip()
    assert equation == r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = " + rhs
    assert rhs == r"\mathbf{x}^\top (A + A^\top)"


def test_text_through_a_pipe_has_no_escape_codes():
    result = run("diff", "x'Ax", "--wrt", "x")
    assert result.returncode == 0 and ESCAPE not in result.stdout
    assert result.stdout.startswith("∂/∂x x'Ax = xᵀ(A + Aᵀ)\n")


def test_text_on_a_terminal_is_styled_unless_no_color():
    styled = run("diff", "x'Ax", "--wrt", "x", FORCE_COLOR="1")
    assert ESCAPE in styled.stdout
    plain = run("diff", "x'Ax", "--wrt", "x", FORCE_COLOR="1", NO_COLOR="1")
    assert ESCAPE not in plain.stdout
    assert plain.stdout.splitlines()[0] == "∂/∂x x'Ax = xᵀ(A + Aᵀ)"


def test_table_format_shows_every_field(runner):
    result = runner.invoke(cli, ["diff", "max(0, w'x + b)", "--wrt", "w", "--format", "table"],
                           catch_exceptions=False)
    assert result.exit_code == 0
    for label in ("expression", "variable", "layout", "result shape", "derivative", "assumptions", "notes"):
        assert label in result.stdout
    assert "step(wᵀx + b) xᵀ" in result.stdout and "(1, n)" in result.stdout


def test_the_python_api_displays_as_math_in_jupyter():
    result = diff("x'Ax", "x", layout="denominator")
    assert result._repr_latex_() == f"$${result.latex}$$"
    assert result.latex.endswith(r"= (A + A^\top) \mathbf{x}")
    markdown = result._repr_markdown_()
    assert markdown.startswith("$$") and "denominator layout" in markdown and "assumed x: vector(n)" in markdown


def test_shell_completion_script_comes_from_click():
    env = dict(os.environ, _MATCALC_COMPLETE="bash_source")
    result = subprocess.run([sys.executable, "-m", "matcalc"], capture_output=True, text=True, env=env)
    assert result.returncode == 0
    assert "complete" in result.stdout and "_MATCALC_COMPLETE" in result.stdout
