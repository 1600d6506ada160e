r"""The notation choices authors make, as options of the LaTeX output: σ or
\operatorname{sigmoid}, \frac{\partial f}{\partial \mathbf{w}} or \nabla_{\mathbf{w}} f (and the Hessian's
∂x ∂xᵀ or ∇²), italic or bold matrices, and the notes as \text, as % comments or none.

Each golden below was checked by hand; the comment above it says why it is right. Every option's
output compiles with pdflatex on an article page with no overfull box over 1 pt, and the default
style's output reads back, as LaTeX input, to the expression it prints.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from cases import COMPILE_CASES, GOLDEN, LONG
from helpers import normal, reads_back, sized, zero_matrix
from strategies import DECLS, typed_expressions

from matcalc import nodes as n
from matcalc.api import diff, parse
from matcalc.cli import cli
from matcalc.errors import InputError
from matcalc.render.latex import LINE_WIDTH, latex_expression


LET = "a: scalar, x: vector(n), y: vector(n), w: vector(n), A: matrix(n, n), X: matrix(m, n), S: symmetric(n)"


def latex(source, wrt, let=LET, layout="numerator", order=1, mode="equation", width=None, **options):
    return diff(source, wrt, let, layout, order, check=False).latex_text(mode, width, **options)


# ---------------------------------------------------------------- sigmoid


def test_the_sigmoid_is_sigma_by_default():
    # d σ(wᵀx) = σ(1 - σ) xᵀ dw: σ' = σ(1 - σ), a row in numerator layout; papers print the sigmoid σ.
    assert latex("sigmoid(w'x)", "w") == (
        r"\frac{\partial \sigma(\mathbf{w}^\top \mathbf{x})}{\partial \mathbf{w}} = \sigma(\mathbf{w}^\top "
        r"\mathbf{x}) (1 - \sigma(\mathbf{w}^\top \mathbf{x})) \mathbf{x}^\top")


def test_the_sigmoid_by_its_name():
    # the same derivative, the function spelt out as an operator name (upright, spaced as \log is)
    assert latex("sigmoid(w'x)", "w", sigmoid="name") == (
        r"\frac{\partial \operatorname{sigmoid}(\mathbf{w}^\top \mathbf{x})}{\partial \mathbf{w}} = "
        r"\operatorname{sigmoid}(\mathbf{w}^\top \mathbf{x}) (1 - \operatorname{sigmoid}(\mathbf{w}^\top "
        r"\mathbf{x})) \mathbf{x}^\top")


def test_a_variable_called_sigma_keeps_the_sigmoid_by_name():
    # with a variable sigma, \sigma(a) would read as sigma times a: d(σ sigmoid(a))/da = σ sigmoid'(a), the
    # symbol before the function as authors write it
    assert latex("sigma sigmoid(a)", "a", "sigma: scalar, a: scalar") == (
        r"\frac{\partial \sigma \operatorname{sigmoid}(a)}{\partial a} = \sigma \operatorname{sigmoid}(a) (1 - "
        r"\operatorname{sigmoid}(a))")
    assert latex_expression(parse("sigmoid(a) + σ", "σ: scalar, a: scalar").expr) == \
        r"\operatorname{sigmoid}(a) + \sigma"


# ---------------------------------------------------------------- derivative notation


def test_the_gradient_as_a_fraction_and_as_nabla():
    # ∇_w ||y - Xw||² = -2Xᵀ(y - Xw), a column in denominator layout: the gradient, with w's shape
    frac = r"\frac{\partial \lVert \mathbf{y} - X \mathbf{w} \rVert_2^{2}}{\partial \mathbf{w}}"
    nabla = r"\nabla_{\mathbf{w}} \lVert \mathbf{y} - X \mathbf{w} \rVert_2^{2}"
    rhs = r"-2 X^\top (\mathbf{y} - X \mathbf{w})"
    assert latex("||y - Xw||^2", "w", "X: matrix(m, n)", "denominator") == f"{frac} = {rhs}"
    assert latex("||y - Xw||^2", "w", "X: matrix(m, n)", "denominator", derivative="nabla") == f"{nabla} = {rhs}"


def test_nabla_in_numerator_layout_is_the_transposed_gradient():
    # numerator layout gives the row xᵀ(A + Aᵀ) = (∇_x xᵀAx)ᵀ: ∇ is the column (A + Aᵀ)x, so its transpose
    assert latex("x'Ax", "x", derivative="nabla") == \
        r"(\nabla_{\mathbf{x}} \mathbf{x}^\top A \mathbf{x})^\top = \mathbf{x}^\top (A + A^\top)"
    # by a matrix: ∂det(A)/∂A is det(A)A⁻¹ in numerator layout, ∇_A det(A) = det(A)A⁻ᵀ (Cookbook (49)); square
    # A has the same shape either way, so the layout, not the shape, decides the transpose
    assert latex("det(A)", "A", derivative="nabla", notes="none") == \
        r"(\nabla_{A} \det(A))^\top = \det(A) A^{-1}"
    assert latex("det(A)", "A", layout="denominator", derivative="nabla", notes="none") == \
        r"\nabla_{A} \det(A) = \det(A) A^{-\top}"
    # mixed layout gives a scalar's derivative the variable's shape: the gradient itself
    assert latex("x'Ax", "x", layout="mixed", derivative="nabla") == \
        r"\nabla_{\mathbf{x}} \mathbf{x}^\top A \mathbf{x} = (A + A^\top) \mathbf{x}"


def test_nabla_keeps_the_fraction_for_jacobians_and_scalar_variables():
    # ∂(Ax)/∂x = A is a Jacobian, not a gradient: \frac stays; so does d(a³)/da = 3a², a derivative by a scalar
    assert latex("A x", "x", derivative="nabla") == r"\frac{\partial A \mathbf{x}}{\partial \mathbf{x}} = A"
    assert latex("a^3", "a", derivative="nabla") == r"\frac{\partial a^{3}}{\partial a} = 3 a^{2}"


def test_hessians():
    # ∂²(xᵀAx)/∂x∂xᵀ = A + Aᵀ: entries ∂²f/∂x_i∂x_j, hence ∂x ∂xᵀ below (not ∂x², a power of a vector)
    assert latex("x'Ax", "x", order=2) == \
        r"\frac{\partial^{2} \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x} \, \partial \mathbf{x}^\top} = A + A^\top"
    assert latex("x'Ax", "x", order=2, derivative="nabla") == \
        r"\nabla^{2}_{\mathbf{x}} \mathbf{x}^\top A \mathbf{x} = A + A^\top"
    # by a scalar the second derivative is ∂²f/∂a² (d²a⁴/da² = 12a²), in both notations
    for derivative in ("frac", "nabla"):
        assert latex("a^4", "a", order=2, derivative=derivative) == \
            r"\frac{\partial^{2} a^{4}}{\partial a^{2}} = 12 a^{2}"
    # the logistic regression Hessian -Xᵀdiag(σ(1 - σ))X (Bishop (4.97)), a sum under ∇² in parentheses
    assert latex("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", "X: matrix(m, n)", order=2,
                 derivative="nabla") == (
        r"\nabla^{2}_{\mathbf{w}} (\mathbf{y}^\top \log(\sigma(X \mathbf{w})) + (1 - \mathbf{y})^\top \log(1 - "
        r"\sigma(X \mathbf{w}))) = -X^\top \operatorname{diag}(\sigma(X \mathbf{w}) \odot (1 - \sigma(X "
        r"\mathbf{w}))) X")


def test_index_notation_and_higher_orders_stay_as_they_are():
    # y = A X b: ∂y_i/∂X_jk = A_ij b_k (order 3) is written in index notation in either style
    for derivative in ("frac", "nabla"):
        assert latex("A X b", "X", "A: matrix(n, m), X: matrix(m, k), b: vector(k)", derivative=derivative) == \
            r"\frac{\partial y_{i}}{\partial X_{jk}} = A_{ij} b_{k}, \quad \text{where } \mathbf{y} = A X \mathbf{b}"
    # d³a⁴/da³ = 24a
    assert latex("a^4", "a", order=3, derivative="nabla") == r"\frac{\partial^{3} a^{4}}{\partial a^{3}} = 24 a"


# ---------------------------------------------------------------- matrices


def test_bold_matrices():
    # d(xᵀ(A + I)x) = xᵀ((A + I) + (A + I)ᵀ)dx; bold A and I (\mathbf{I}, as d2l and the Cookbook print them),
    # the vector bold as always
    assert latex("x'(A + I)x", "x", matrices="bold") == latex("x'(A + I)x", "x").replace(
        "A", r"\mathbf{A}").replace(" I", r" \mathbf{I}")
    assert latex("x'Ax", "x", matrices="bold") == \
        r"\frac{\partial \mathbf{x}^\top \mathbf{A} \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (\mathbf{A} " \
        r"+ \mathbf{A}^\top)"
    # a Greek matrix is \boldsymbol, subscripts stay upright digits, a scalar stays italic:
    # ∂(a xᵀΣ₁x)/∂a = xᵀΣ₁x
    assert latex("a x'Sigma_1 x", "a", "a: scalar, x: vector(n), Sigma_1: matrix(n, n)", matrices="bold") == (
        r"\frac{\partial a \mathbf{x}^\top \boldsymbol{\Sigma}_{1} \mathbf{x}}{\partial a} = \mathbf{x}^\top "
        r"\boldsymbol{\Sigma}_{1} \mathbf{x}")


def test_entries_stay_italic_with_bold_matrices():
    # ∂Y_ij/∂X_kl = A_ik B_lj for Y = A X B: the entries are scalars, italic; Y = AXB itself is bold
    assert latex("A X B", "X", "A: matrix(n, m), X: matrix(m, k), B: matrix(k, l)", matrices="bold") == (
        r"\frac{\partial Y_{ij}}{\partial X_{kl}} = A_{ik} B_{lj}, \quad \text{where } \mathbf{Y} = \mathbf{A} "
        r"\mathbf{X} \mathbf{B}")


# ---------------------------------------------------------------- notes


DET = r"\frac{\partial \det(A)}{\partial A} = \det(A) A^{-1}"


def test_notes_as_text_by_default():
    # ∂det(A)/∂A = det(A)A⁻¹ (numerator layout) exists only for an invertible A: the note says it is assumed
    assert latex("det(A)", "A") == DET + r" \quad (\text{assumes } A \text{ invertible})"
    # d(xᵀSx) = xxᵀ : dS taking S's n² entries as independent (the unconstrained derivative, not 2xxᵀ - diag)
    assert latex("x'Sx", "S", layout="denominator") == (
        r"\frac{\partial \mathbf{x}^\top S \mathbf{x}}{\partial S} = \mathbf{x} \mathbf{x}^\top \quad "
        r"(S \text{ symmetric, entries treated as independent})")
    # |a|' = sign(a) away from 0, where the subdifferential is [-1, 1]
    assert latex("|a|", "a") == (
        r"\frac{\partial \lvert a \rvert}{\partial a} = \operatorname{sign}(a) \quad (\text{subgradient at } a = "
        r"0\text{: any value in } [-1, 1])")


def test_notes_as_comments_or_none():
    # the comment is the text note in full, before the formula, so that \[ ... \] around it still closes
    assert latex("det(A)", "A", notes="comment") == "% assumes A invertible\n" + DET
    assert latex("det(A)", "A", notes="none") == DET
    # comments are ASCII: ≠ and ≤ spelt != and <=
    assert latex("||x||", "x", notes="comment").splitlines()[0] == \
        "% d||x|| = x'd(x) / ||x|| for x != 0; at x = 0: any g with ||g|| <= 1"


def test_the_right_hand_side_has_notes_only_when_asked():
    assert latex("det(A)", "A", mode="rhs") == r"\det(A) A^{-1}"
    assert latex("det(A)", "A", mode="rhs", notes="text") == \
        r"\det(A) A^{-1} \quad (\text{assumes } A \text{ invertible})"


def test_a_note_in_an_aligned_block_has_a_row_of_its_own():
    # max(0, u) with u = wᵀx + b: step(u) xᵀ, any convex combination of 0 and xᵀ at u = 0 (½ each is used)
    assert latex("max(0, w'x + b)", "w", "w: vector(n), x: vector(n), b: scalar", width=LINE_WIDTH) == (
        r"\begin{aligned} \frac{\partial \max(0, \mathbf{w}^\top \mathbf{x} + b)}{\partial \mathbf{w}} &= "
        r"\operatorname{step}(\mathbf{w}^\top \mathbf{x} + b) \mathbf{x}^\top \\ &(\text{subgradient where } "
        r"\mathbf{w}^\top \mathbf{x} + b = 0\text{: weights } \tfrac{1}{2}) \end{aligned}")


def test_unknown_choices_are_refused():
    result = diff("x'x", "x")
    for option, value in [("derivative", "del"), ("matrices", "roman"), ("sigmoid", "logistic"), ("step", "theta"),
                          ("notes", "footnote")]:
        with pytest.raises(InputError, match=value):
            result.latex_text(**{option: value})


# ---------------------------------------------------------------- the step


RELU_NEURON = "w: vector(n), x: vector(n), b: scalar"


def test_the_step_by_name_by_default():
    # relu' = step entrywise: the Jacobian of relu(x) is diag(step(x)); at 0 any value in [0, 1], ½ used
    assert latex("relu(x)", "x") == (
        r"\frac{\partial \operatorname{relu}(\mathbf{x})}{\partial \mathbf{x}} = "
        r"\operatorname{diag}(\operatorname{step}(\mathbf{x})) \quad (\text{subgradient at } \mathbf{x} = "
        r"0\text{: any value in } [0, 1]\text{, } \tfrac{1}{2} \text{ used})")


def test_the_step_as_heaviside():
    # H(u), Heaviside's step with H(0) = ½: the same function, so the note still names ½
    assert latex("max(0, w'x + b)", "w", RELU_NEURON, step="heaviside") == (
        r"\frac{\partial \max(0, \mathbf{w}^\top \mathbf{x} + b)}{\partial \mathbf{w}} = "
        r"H(\mathbf{w}^\top \mathbf{x} + b) \mathbf{x}^\top \quad (\text{subgradient where } "
        r"\mathbf{w}^\top \mathbf{x} + b = 0\text{: weights } \tfrac{1}{2})")


def test_the_step_as_an_indicator():
    # I[u > 0] is 0 at u = 0, which is a subgradient too (any value in [0, 1] is): the note names no ½.
    # amssymb has no double-struck 1 (\mathbb{1} sets as another glyph), so the indicator is \mathbb{I}.
    assert latex("relu(x)", "x", step="indicator") == (
        r"\frac{\partial \operatorname{relu}(\mathbf{x})}{\partial \mathbf{x}} = "
        r"\operatorname{diag}(\mathbb{I}[\mathbf{x} > 0]) \quad (\text{subgradient at } \mathbf{x} = "
        r"0\text{: any value in } [0, 1])")
    assert latex("max(0, w'x + b)", "w", RELU_NEURON, step="indicator") == (
        r"\frac{\partial \max(0, \mathbf{w}^\top \mathbf{x} + b)}{\partial \mathbf{w}} = "
        r"\mathbb{I}[\mathbf{w}^\top \mathbf{x} + b > 0] \mathbf{x}^\top \quad (\text{subgradient where } "
        r"\mathbf{w}^\top \mathbf{x} + b = 0)")


def test_a_variable_called_h_keeps_the_step_by_name():
    # H(x) would read as H times x: d(H relu(x))/dx = H diag(step(x))
    assert latex("H relu(x)", "x", "H: scalar, x: vector(n)", step="heaviside", notes="none") == (
        r"\frac{\partial H \operatorname{relu}(\mathbf{x})}{\partial \mathbf{x}} = "
        r"H \operatorname{diag}(\operatorname{step}(\mathbf{x}))")


# ---------------------------------------------------------------- the command line


def cli_latex(runner, *args):
    run = runner.invoke(cli, ["diff", *args, "--format", "latex", "--no-check"])
    assert run.exit_code == 0, run.output
    return run.stdout


def test_the_cli_flags(runner):
    args = ["sigmoid(w'Ax)", "--wrt", "w", "--layout", "denominator", "--let", "w: vector(n), A: matrix(n, n)"]
    # defaults: one line, σ, italic A, \frac
    assert cli_latex(runner, *args) == latex("sigmoid(w'Ax)", "w", layout="denominator", width=LINE_WIDTH) + "\n"
    flags = ["--latex-derivative", "nabla", "--latex-matrices", "bold", "--latex-sigmoid", "name"]
    assert cli_latex(runner, *args, *flags) == latex(
        "sigmoid(w'Ax)", "w", layout="denominator", width=LINE_WIDTH, derivative="nabla", matrices="bold",
        sigmoid="name") + "\n"
    assert cli_latex(runner, "det(A)", "--wrt", "A", "--latex-notes", "comment") == \
        "% assumes A invertible\n" + DET + "\n"
    assert cli_latex(runner, "det(A)", "--wrt", "A", "--latex-notes", "none") == DET + "\n"
    assert cli_latex(runner, "det(A)", "--wrt", "A", "--latex", "rhs") == r"\det(A) A^{-1}" + "\n"
    assert cli_latex(runner, "relu(x)", "--wrt", "x", "--latex-step", "heaviside") == latex(
        "relu(x)", "x", width=LINE_WIDTH, step="heaviside") + "\n"


def test_the_help_shows_the_flags_and_an_example(runner):
    text = runner.invoke(cli, ["diff", "--help"]).output
    for flag in ("--latex-derivative", "--latex-matrices", "--latex-sigmoid", "--latex-step", "--latex-notes"):
        assert flag in text
    assert "--latex-derivative nabla" in text


def test_json_latex_uses_the_defaults(runner):
    run = runner.invoke(cli, ["diff", "sigmoid(w'x)", "--wrt", "w", "--format", "json", "--no-check"])
    assert json.loads(run.stdout)["latex"] == latex("sigmoid(w'x)", "w", mode="rhs")
    assert r"\sigma(" in json.loads(run.stdout)["latex"]


# ---------------------------------------------------------------- reads back


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_expressions())
def test_expressions_in_either_matrix_style_read_back(case):
    text, _ = case
    expr = parse(text, DECLS).expr
    assume(not zero_matrix(expr))
    for matrices in ("italic", "bold"):
        printed = latex_expression(expr, matrices=matrices)
        assume(sized(printed, DECLS))
        reads_back(expr, printed, DECLS)


LOGISTIC = "y: vector(m), X: matrix(m, n), w: vector(n)"
SIGMOIDS = [  # derivatives whose LaTeX has σ in it: each must read back to the result it prints
    ("sigmoid(w'x)", "w", "w: vector(n), x: vector(n)", 1),
    ("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", LOGISTIC, 1),
    ("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", LOGISTIC, 2),
    ("sigmoid(A x)", "x", "A: matrix(n, n), x: vector(n)", 1),
    ("sum(log(sigmoid(a x)))", "a", "a: scalar, x: vector(n)", 2),
]


@pytest.mark.parametrize("source, wrt, let, order", SIGMOIDS)
@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_sigma_reads_back(source, wrt, let, order, layout):
    result = diff(source, wrt, let, layout, order, check=False)
    assert result.derivative.matrix is not None and not result.derivative.where
    rhs = result.latex_text("rhs")
    assert r"\sigma(" in rhs and "sigmoid" not in rhs
    reads_back(result.derivative.matrix, rhs, let)


def test_the_hessian_head_reads_back():
    # \frac{\partial^{2} f}{\partial \mathbf{x} \, \partial \mathbf{x}^\top} is read as d²f/dx²
    equation = latex("x'Ax", "x", order=2)
    head = equation.split(" = ")[0]
    assert normal(parse(head, LET).expr) == normal(parse("d2/dx2 (x'A x)", LET).expr)
    assert isinstance(parse(head, LET).expr, n.Derivative)


# ---------------------------------------------------------------- compiles, fits the page


STYLES = [  # each option's value, with the others at their defaults, then all the others together
    {},
    {"derivative": "nabla"},
    {"matrices": "bold"},
    {"sigmoid": "name"},
    {"notes": "comment"},
    {"notes": "none"},
    {"step": "indicator"},
    {"step": "heaviside"},
    {"derivative": "nabla", "matrices": "bold", "sigmoid": "name", "step": "indicator", "notes": "comment"},
]
NOTED = [  # results with notes, and long ones
    ("max(0, w'x + b)", "w", "w: vector(n), x: vector(n), b: scalar", "numerator", 1),
    ("relu(A x)", "A", "A: matrix(n, n), x: vector(n)", "numerator", 1),
    ("||X w - y||", "w", "X: matrix(m, n), w: vector(n), y: vector(m)", "denominator", 1),
    ("sum(abs(W2 tanh(W1 x)))", "W1", None, "denominator", 1),
    ("det(A)", "A", LET, "numerator", 1),
    ("logdet(P) + x'inv(P)x", "P", "P: posdef(n), x: vector(n)", "denominator", 1),
    ("x'Sx + sigmoid(a) tr(S)", "S", LET, "denominator", 1),
    ("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", None, "denominator", 2),
]


@cache
def derivatives():
    params = [p.values[:5] for p in COMPILE_CASES] + [p.values[:5] for p in GOLDEN]
    results = [diff(source, wrt, let, layout, order, check=False) for source, wrt, let, layout, order in params]
    results += [diff(*case, check=False) for case in NOTED]
    return results


def compile_and_measure(texts: list[str], directory: Path) -> tuple[str, dict[int, float]]:
    r"""pdflatex on the texts, each in \[ ... \] (comment lines and all); (the log, text number -> the
    widest overfull box it makes, in pt)."""
    lines, first_line = [], {}
    for number, text in enumerate(texts):
        first_line[number] = len(lines) + 4  # after the three lines of the preamble
        lines += rf"\[ {text} \]".splitlines()
    (directory / "notation.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                                            "\\begin{document}\n" + "\n".join(lines) + "\n\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "notation.tex"],
                         cwd=directory, capture_output=True, text=True, timeout=600, check=False)
    log_path = directory / "notation.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else run.stdout
    assert run.returncode == 0 and not any(line.startswith("!") for line in log.splitlines()), log[-3000:]
    overfull: dict[int, float] = {}
    for excess, line in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\) detected at line (\d+)", log):
        number = max(k for k, start in first_line.items() if start <= int(line))
        overfull[number] = max(overfull.get(number, 0.0), float(excess))
    return log, overfull


@pytest.mark.parametrize("style", STYLES, ids=lambda style: ",".join(f"{k}={v}" for k, v in style.items()) or "defaults")
def test_every_style_compiles_without_an_overfull_box(style, tmp_path, pdflatex_available, runner):
    results = derivatives()
    texts = [result.latex_text("equation", LINE_WIDTH, **style) for result in results]
    texts += [result.latex_text("rhs", LINE_WIDTH, **style) for result in results[-len(NOTED):]]
    flags = [f"--latex-{option}={value}" for option, value in style.items()]
    texts += [cli_latex(runner, *args, *flags).strip() for args in LONG]
    _, overfull = compile_and_measure(texts, tmp_path)
    # A result in index notation is one product that the width does not break (the index-notation printer's
    # business, not the notation options'): it must compile, and is left out of the width check.
    index_notation = {k for k, result in enumerate(results) if result.derivative.matrix is None}
    too_wide = {texts[k]: pt for k, pt in overfull.items() if pt > 1.0 and k not in index_notation}
    assert not too_wide, too_wide
