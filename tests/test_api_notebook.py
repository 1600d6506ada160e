"""The Python API in a notebook: short reprs, math displays through IPython's own formatter, a callable
NumPy function, the CLI's outputs."""

import importlib.util
import json

import numpy as np
import pytest

from matcalc import check, diff, parse, plot, solve
from matcalc.cli import cli


def test_repr_is_one_short_line():
    result = diff("x'Ax", "x", layout="denominator")
    assert repr(result) == "<Derivative ∂(x'Ax)/∂x = (A + A')x, shape (n, 1), denominator>"
    hessian = diff("x'Ax", "x", order=2)
    assert repr(hessian) == "<Derivative ∂²(x'Ax)/∂x² = A + A', shape (n, n), numerator>"
    assert repr(parse("x'Ax")) == "<Parsed x' A x, scalar>"


def test_function_computes_the_derivative_by_hand():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([1.0, 2.0])
    numerator = diff("x'Ax", "x").function()
    assert np.allclose(numerator(x=x, A=A), x @ (A + A.T))  # d/dx x'Ax = x'(A + A'), here [12, 21]
    assert np.allclose(numerator(x, A), [12.0, 21.0])  # positional, in the order the variables appear
    by_matrix = diff("tr(A X)", "X", layout="denominator").function()
    X = np.array([[0.5, -1.0], [2.0, 0.0]])
    assert np.allclose(by_matrix(A=A, X=X), A.T)  # d/dX tr(AX) = A' (denominator layout)


def test_to_json_and_numpy_code_are_what_the_cli_prints(runner):
    result = diff("tanh(W x)", "x")
    printed = runner.invoke(cli, ["diff", "tanh(W x)", "--wrt", "x", "--format", "json"]).stdout
    wanted = json.loads(printed)
    got = result.to_json()
    got["checked"]["max_relative_error"] = wanted["checked"]["max_relative_error"]  # noise of the BLAS
    assert got == wanted
    assert result.numpy_code() == runner.invoke(cli, ["diff", "tanh(W x)", "--wrt", "x", "--format", "numpy"]).stdout


def test_several_results_have_json_and_code_too():
    results = diff("w'x + b", ["w", "b"])
    assert [item["wrt"] for item in results.to_json()] == ["w", "b"]
    namespace: dict = {}
    exec(results.code("numpy"), namespace)  # our generated code
    value, (by_w, by_b) = namespace["f_and_grad"](w=np.array([1.0, 2.0]), x=np.array([3.0, -1.0]), b=0.5)
    assert float(value) == 1.5 and by_w.tolist() == [3.0, -1.0] and float(by_b) == 1.0


# What a notebook shows: IPython's DisplayFormatter asks each object for its representations, as Jupyter does.


def displayed(value, lines: int = 1) -> dict[str, str]:
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    data, _ = formatter.format(value)
    shown = data["text/plain"].splitlines()  # the repr: one short line per result
    assert len(shown) == lines and all(len(line) < 200 for line in shown), shown
    return data


def math_of(data: dict[str, str]) -> str:
    """The display math of both mimetypes, which must agree that there is some; no environment a notebook's
    display math refuses (align*, tags)."""
    latex, markdown = data["text/latex"], data["text/markdown"]
    assert latex.startswith("$$") and latex.endswith("$$") and latex.count("$$") == 2
    assert markdown.count("$") % 2 == 0 and markdown.count("$") >= 2
    for mimetype in (latex, markdown):
        assert "align*" not in mimetype and "\\tag" not in mimetype
    return latex


def test_a_derivative_displays_as_its_equation():
    data = displayed(diff("x'Ax", "x", layout="denominator"))
    # d/dx x'Ax = (A + A')x, the gradient in the shape of x
    assert math_of(data) == (
        r"$$\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = (A + A^\top) \mathbf{x}$$"
    )
    assert "shape (n, 1), denominator layout" in data["text/markdown"]


def test_several_derivatives_display_as_equations_sharing_their_names():
    data = displayed(diff("sum(sigmoid(W x + b))", ["W", "b"]), lines=2)
    latex = math_of(data)
    # ∂/∂W = x t1' (numerator layout, W n×m: the derivative is m×n), ∂/∂b = sum(t1), t1 = σ'(W x + b)
    assert r"{\partial W} = \mathbf{x} \mathbf{t}_{1}^\top" in latex
    assert r"{\partial b} = \operatorname{sum}(\mathbf{t}_{1})" in latex
    assert r"\text{where } \mathbf{t}_{1} = \sigma(W \mathbf{x} + b) \odot (1 - \sigma(W \mathbf{x} + b))" in latex
    assert data["text/markdown"].count("$$") == 4  # one equation each


def test_a_derivation_displays_as_aligned_steps_with_their_rules():
    result = diff("max(0, w'x + b)", "w", steps=True)
    data = displayed(result.derivation)
    latex = math_of(data)
    assert latex.startswith("$$\\begin{aligned}\n") and latex.endswith("\n\\end{aligned}$$")
    assert r"u &= \mathbf{w}^\top \mathbf{x} + b" in latex
    assert r"\frac{\partial u}{\partial \mathbf{w}} &= \mathbf{x}^\top && \text{(sum rule, linear map rule)}" in latex
    assert latex.count("&&") == 5  # one rule for each of the 5 steps
    assert "*note:* at the kink a subgradient is chosen" in data["text/markdown"]
    # the result with its steps shows both: the derivation, then the answer
    shown = displayed(result)["text/markdown"]
    assert shown.startswith(data["text/markdown"]) and r"= \operatorname{step}(\mathbf{w}^\top" in shown


def test_a_parse_displays_as_the_expression():
    data = displayed(parse("||y - Xw||^2"))
    assert math_of(data) == r"$$\lVert \mathbf{y} - X \mathbf{w} \rVert_2^{2}$$"
    assert "scalar; assumed y: vector(n), X: matrix(n, m), w: vector(m)" in data["text/markdown"]


def test_a_solution_displays_as_its_equation():
    data = displayed(solve("||y - Xw||^2", "w"))
    # the normal equations X'X w = X'y
    assert math_of(data) == r"$$\mathbf{w} = (X^\top X)^{-1} X^\top \mathbf{y}$$"
    assert "the stationary point of \\|\\|y - Xw\\|\\|^2" in data["text/markdown"]  # | escaped in Markdown


def test_a_check_report_displays_its_identities_as_math():
    report = check("let A: matrix(n, k), B: matrix(k, n)\ntr(A B) = tr(B A)\ntr(A B) = tr(A) tr(B)")
    data = displayed(report)
    latex = math_of(data)
    assert r"2 & \operatorname{tr}(A B) = \operatorname{tr}(B A) & \text{proved}" in latex
    markdown = data["text/markdown"]
    assert markdown.startswith("**2 identities: 1 proved, 0 hold numerically, 0 false, 1 could not be read**")
    assert r"- line 2: $\operatorname{tr}(A B) = \operatorname{tr}(B A)$ **proved**" in markdown
    assert "- line 3: ` tr(A B) = tr(A) tr(B) ` **error**" in markdown  # tr of a non-square matrix


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="the plot extra is not installed")
def test_a_plot_displays_as_an_svg():
    data = displayed(plot("3x^2 - 4x", "x", 1, let="x: scalar"))
    assert data["image/svg+xml"].lstrip().startswith("<?xml") and "<svg" in data["image/svg+xml"]
