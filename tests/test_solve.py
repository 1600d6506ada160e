"""`matcalc solve` and `diff --at`: closed forms checked by the gradient vanishing there."""

import json

import numpy as np
import pytest

from matcalc.api import parse, solve
from matcalc.cli import cli
from matcalc.numeric.evaluate import evaluate


def gradient_by_differences(source, let, values, sizes, wrt, step=1e-6):
    """∇f by central differences of the function itself."""
    expr = parse(source, let).expr
    base = values[wrt]
    gradient = np.zeros(base.shape)
    for index in np.ndindex(base.shape):
        up, down = dict(values), dict(values)
        up[wrt], down[wrt] = base.copy(), base.copy()
        up[wrt][index] += step
        down[wrt][index] -= step
        gradient[index] = (evaluate(expr, up, sizes) - evaluate(expr, down, sizes)).item() / (2 * step)
    return gradient


def solution_values(result, values):
    """The closed form evaluated by its NumPy code (SPEC §4's arrays: vectors 1-D)."""
    arrays = {("lambda_" if name == "lambda" else name): (value.item() if value.size == 1 and name in "a lambda"
                                                          else value.ravel() if value.shape[1] == 1 else value)
              for name, value in values.items()}
    return np.asarray(eval(result.numpy, {"np": np}, arrays), dtype=float)


CASES = [
    # least squares: w* = (X'X)^-1 X'y
    ("||y - Xw||^2", None, "w = (X'X)^-1 X'y"),
    # ridge: w* = (X'X + λI)^-1 X'y
    ("||y - Xw||^2 + lambda ||w||^2", None, "w = (X'X + lambda I)^-1 X'y"),
    # a positive definite quadratic: x* = A^-1 b
    ("1/2 x'A x - b'x", "A: posdef(n), b: vector(n), x: vector(n)", "x = A^-1 b"),
    # the same with the 1/2 of the course's least squares
    ("1/2 ||X w - y||^2", None, "w = (X'X)^-1 X'y"),
]


@pytest.mark.parametrize("source, let, text", CASES, ids=[c[0] for c in CASES])
def test_the_closed_form_makes_the_gradient_vanish(source, let, text):
    result = solve(source, "w" if "w" in source else "x", let)
    assert result.text == text
    rng = np.random.default_rng(0)
    sizes = {"n": 5, "m": 3}  # more samples than features
    wrt = result.wrt
    values = {"X": rng.normal(size=(5, 3)), "y": rng.normal(size=(5, 1)), "lambda": np.array([[0.7]]),
              "b": rng.normal(size=(5, 1))}
    m = rng.normal(size=(5, 5))
    values["A"] = m @ m.T + np.eye(5)
    expr_vars = parse(source, let).shapes()
    values = {name: value for name, value in values.items() if name in expr_vars}
    point = solution_values(result, values)
    values[wrt] = point.reshape(-1, 1)
    gradient = gradient_by_differences(source, let, values, sizes, wrt)
    assert np.max(np.abs(gradient)) < 1e-5
    # and the gradient at another point does not vanish, so the check can fail
    values[wrt] = values[wrt] + 0.1
    assert np.max(np.abs(gradient_by_differences(source, let, values, sizes, wrt))) > 1e-3


def test_a_scalar_quadratic():
    # 3x² - 4x has its minimum where 6x - 4 = 0
    assert solve("3x^2 - 4x", "x", "x: scalar").text == "x = 2/3"


def test_a_gradient_that_is_not_affine_has_no_closed_form(runner):
    result = runner.invoke(cli, ["solve", "sum(exp(Xw))", "--wrt", "w"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "no closed form found: the gradient is not affine in w" in result.stderr


def test_a_linear_function_has_no_stationary_point(runner):
    result = runner.invoke(cli, ["solve", "a'x + 3", "--wrt", "x", "--let", "a: vector(n)"])
    assert result.exit_code == 1
    assert "linear in x" in result.stderr


def test_solve_in_every_format(runner):
    base = ["solve", "||y - Xw||^2 + lambda ||w||^2", "--wrt", "w"]
    data = json.loads(runner.invoke(cli, base + ["--format", "json"], catch_exceptions=False).stdout)
    assert data["solution"] == "(X'X + lambda I)^-1 X'y"
    assert data["numpy"] == "np.linalg.inv(X.T @ X + lambda_ * np.eye(X.shape[1])) @ X.T @ y"
    assert data["shapes"]["w"] == ["m"] and data["result_shape"] == ["m"]
    latex = runner.invoke(cli, base + ["--format", "latex"]).stdout
    assert latex == "\\mathbf{w} = (X^\\top X + \\lambda I)^{-1} X^\\top \\mathbf{y}\n"
    assert "(XᵀX + λ I)⁻¹ Xᵀy" in runner.invoke(cli, base + ["--format", "table"]).stdout
    assert runner.invoke(cli, base).stdout.startswith("w = (XᵀX + λ I)⁻¹ Xᵀy\n")


def test_diff_at_a_point(runner):
    # the course's tangent: f(x) = 3x² - 4x has slope 2 at x = 1
    result = runner.invoke(cli, ["diff", "3x^2 - 4x", "--wrt", "x", "--let", "x: scalar", "--at", "x=1",
                                 "--format", "json"], catch_exceptions=False)
    assert json.loads(result.stdout)["value"] == 2.0
    # ∇ x'Ax = (A + A')x: with A = [[1, 2], [3, 4]] and x = [1, 2], (A + A')x = [[2, 5], [5, 8]] [1, 2] = [12, 21]
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--layout", "denominator",
                                 "--at", "x=[1, 2]; A=[[1, 2], [3, 4]]", "--format", "json"])
    assert json.loads(result.stdout)["value"] == [12.0, 21.0]
    text = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--at", "x=[1, 2], A=[[1, 2], [3, 4]]"]).stdout
    assert "at x=[1, 2], A=[[1, 2], [3, 4]]: [12.0, 21.0]" in text


@pytest.mark.parametrize("at, message", [
    ("x=[1, 2", "the value of x is not a number"),
    ("x=[1, 2], A=[[1, 2, 3], [3, 4, 5]]", "the values disagree on the size n"),
    ("x=[1, 2]", "no value given for A"),
    ("x=[1, 2], A=[[1, 2], [3, 4]], q=1", "q is not a variable of the expression"),
    ("x=__import__('os')", "the value of x is not a number"),
])
def test_bad_values_are_refused_cleanly(runner, at, message):
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--at", at])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_gaussian_mean_is_the_point_itself():
    # the log-density -(x - mu)ᵀΣ⁻¹(x - mu)/2 is largest at mu = x: the Hessian -Σ⁻¹ inverted is -Σ,
    # and -(-Σ)Σ⁻¹x is x (no -(-Σ⁻¹)⁻¹Σ⁻¹x left standing)
    let = "Sigma: posdef(n), x: vector(n), mu: vector(n)"
    assert solve("-(x - mu)' inv(Sigma) (x - mu) / 2", "mu", let).text == "mu = x"
    # a scalar mean of every entry: 𝟏ᵀΣ⁻¹x / 𝟏ᵀΣ⁻¹𝟏 (generalised least squares), its divisor's sign cancelled
    let = "Sigma: posdef(n), x: vector(n), mu: scalar"
    assert solve("-(x - mu)' inv(Sigma) (x - mu) / 2", "mu", let).text == "mu = (1 / (1'Sigma^-1 1)) 1'Sigma^-1 x"
