r"""LaTeX output: every result compiles with pdflatex, and hand-checked goldens pin the notation.

The compile test writes the LaTeX of every result below (both modes) into one
minimal amsmath/amssymb document and runs a real pdflatex on it. Outside CI it
is skipped when pdflatex is missing; in CI (`CI` set) it fails instead, and
`.ci/run` installs Debian's texlive-latex-base and texlive-latex-recommended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cases import COMPILE_CASES, GOLDEN
from helpers import pdflatex

from matcalc.api import diff, parse
from matcalc.errors import InputError
from matcalc.render.latex import (
    LINE_WIDTH,
    OPERATOR_FORM_ABOVE,
    _set_characters,
    latex_expression,
    latex_name,
    latex_text,
)
from matcalc.render.text import derivative_text

def latex_of(source, wrt, let, layout, order):
    return diff(source, wrt, let, layout, order).derivative


# ---------------------------------------------------------------- goldens


@pytest.mark.parametrize("source, wrt, let, layout, order, text, latex", GOLDEN)
def test_golden_latex_and_text(source, wrt, let, layout, order, text, latex):
    derivative = latex_of(source, wrt, let, layout, order)
    assert latex_text(derivative) == latex
    assert derivative_text(derivative, unicode=True) == text


def test_enough_goldens():
    assert len(GOLDEN) >= 20


@pytest.mark.parametrize("source, wrt, let, layout, order, text, latex", GOLDEN)
def test_rhs_mode_is_the_right_hand_side(source, wrt, let, layout, order, text, latex):
    derivative = latex_of(source, wrt, let, layout, order)
    rhs = latex_text(derivative, "rhs")
    if derivative.matrix is not None:  # the equation is the head, " = ", the right-hand side and its notes
        assert latex.split(r" \quad (")[0].endswith(" = " + rhs)
    else:  # index notation: the right-hand side, then what y stands for
        assert latex.split(" = ", 1)[1].startswith(rhs.split(r", \quad")[0])
        assert r"\partial" not in rhs and r"\text{where } \mathbf{y}" not in rhs


def test_an_unknown_mode_is_refused():
    with pytest.raises(InputError, match="equation, rhs"):
        latex_text(diff("x'x", "x").derivative, "inline")


@pytest.mark.parametrize("name, bold, expected", [
    ("x", True, r"\mathbf{x}"),
    ("A", False, "A"),
    ("W1", False, "W_{1}"),
    ("W_1", False, "W_{1}"),
    ("x_12", True, r"\mathbf{x}_{12}"),
    ("lambda", False, r"\lambda"),
    ("theta", True, r"\boldsymbol{\theta}"),
    ("α", False, r"\alpha"),
    ("θ2", True, r"\boldsymbol{\theta}_{2}"),
    ("Sigma", False, r"\Sigma"),
    ("loss", False, r"\mathit{loss}"),
    ("x_train", True, r"\mathbf{x}_{\mathrm{train}}"),
    ("W_alpha", False, r"W_{\alpha}"),
])
def test_names(name, bold, expected):
    assert latex_name(name, bold) == expected


@pytest.mark.parametrize("source, let, expected", [
    # inverse of a transpose, transpose of an inverse: one superscript, never X^\top^{-1}
    ("inv(X')", "X: matrix(n, n)", r"X^{-\top}"),
    ("inv(X)'", "X: matrix(n, n)", r"X^{-\top}"),
    # a transposed product transposed again needs its own parentheses
    ("((A B)')'", "A: matrix(n, m), B: matrix(m, k)", r"((A B)^\top)^\top"),
    ("((x')')' y", "x: vector(n), y: vector(n)",
     r"((\mathbf{x}^\top)^\top)^\top \mathbf{y}"),
    ("A^2 - (A^2)'", "A: matrix(n, n)", r"A^{2} - (A^{2})^\top"),
    ("ones(n)' x", "x: vector(n)", r"\mathbf{1}^\top \mathbf{x}"),
    ("x .^ 2 + 2^a", "x: vector(n), a: scalar", r"\mathbf{x}^{\circ 2} + 2^{a}"),
    ("||x||_2 + ||X||_F + ||x||_1", "x: vector(n), X: matrix(n, n)",
     r"\lVert \mathbf{x} \rVert_2 + \lVert X \rVert_F + \lVert \mathbf{x} \rVert_1"),
    ("|a| + sqrt(a) + exp(-a)", "a: scalar",
     r"\lvert a \rvert + \sqrt{a} + \exp(-a)"),
    ("2 * 3 a", "a: scalar", r"2 \cdot 3 a"),
    ("a - (-b)", "a: scalar, b: scalar", r"a - (-b)"),
    ("(x .* y) ./ z", "x: vector(n), y: vector(n), z: vector(n)",
     r"(\mathbf{x} \odot \mathbf{y}) \oslash \mathbf{z}"),
    ("A (x .* y)", "A: matrix(n, n), x: vector(n), y: vector(n)",
     r"A (\mathbf{x} \odot \mathbf{y})"),
    ("pi e x / 4", "x: vector(n)", r"\frac{\pi e \mathbf{x}}{4}"),
    ("tr(S) det(P) logdet(P)", "S: symmetric(n), P: posdef(n)",
     r"\operatorname{tr}(S) \det(P) \log\det P"),
    ("x + 0.25", "x: vector(n)", r"\mathbf{x} + \frac{1}{4}"),
    ("-0.5 x + 0.001", "x: vector(n)", r"-\frac{1}{2} \mathbf{x} + 0.001"),
    ("d/dx (x'x + 1)", "x: vector(n)", r"\frac{\partial}{\partial \mathbf{x}} (\mathbf{x}^\top \mathbf{x} + 1)"),
])
def test_expressions(source, let, expected):
    assert latex_expression(parse(source, let).expr) == expected


# ---------------------------------------------------------------- one line, compiles


def all_results():
    params = COMPILE_CASES + [pytest.param(*p.values[:5]) for p in GOLDEN]
    return [latex_of(*p.values) for p in params]


def all_latex() -> list[str]:
    return [latex_text(result, mode) for result in all_results() for mode in ("equation", "rhs")]


def test_the_compiled_results_cover_the_shape_table_and_are_many():
    results = all_results()
    assert len(results) >= 60
    cells = {(r.expr.shape.kind.replace("row vector", "vector"), r.wrt.shape.kind) for r in results}
    assert cells == {(out, var) for out in ("scalar", "vector", "matrix") for var in ("scalar", "vector", "matrix")}
    assert any(r.kinks for r in results) and any(r.where for r in results) and any(r.order == 2 for r in results)
    assert any(r.matrix is None for r in results)  # index notation


def test_latex_is_one_line_of_ascii_without_dollars():
    for text in all_latex():
        assert "\n" not in text and "\r" not in text, text
        assert "$" not in text, text
        assert text.isascii(), text
        assert text == text.strip() and text


def first_failure(texts: list[str], directory: Path) -> str:
    """Halve the list until one text is left that fails on its own (or the last candidate)."""
    while len(texts) > 1:
        half = texts[: len(texts) // 2]
        texts = half if not pdflatex(half, directory)[0] else texts[len(half):]
    return texts[0]


def test_every_latex_result_compiles_with_pdflatex(tmp_path, pdflatex_available):
    texts = all_latex()
    if not pdflatex(texts, tmp_path)[0]:
        culprit = first_failure(texts, tmp_path)
        _, culprit_log = pdflatex([culprit], tmp_path)
        errors = [line for line in culprit_log.splitlines() if line.startswith("!") or "Undefined" in line]
        pytest.fail(f"pdflatex failed on {culprit!r}: {errors or culprit_log[-2000:]}")


# ---------------------------------------------------------------- the function under the operator


@pytest.mark.parametrize("source, wrt, let, layout, order, expected", [
    # a fraction, however short, is never a numerator's numerator: d/da (a/2) = 1/2
    ("a/2", "a", "a: scalar", "numerator", 1,
     r"\frac{\partial}{\partial a} \left(\frac{a}{2}\right) = \frac{1}{2}"),
    # d²/da² (a³/6) = a
    ("a^3/6", "a", "a: scalar", "numerator", 2,
     r"\frac{\partial^{2}}{\partial a^{2}} \left(\frac{a^{3}}{6}\right) = a"),
    # ∇ (xᵀx / 3) = 2x/3
    ("x'x/3", "x", None, "denominator", 1,
     r"\frac{\partial}{\partial \mathbf{x}} \left(\frac{\mathbf{x}^\top \mathbf{x}}{3}\right) = \frac{2}{3} \mathbf{x}"),
    # wider than a quarter of a line (OPERATOR_FORM_ABOVE): d/da (eᵃ + sin a + cos a + a) = eᵃ + cos a + 1 - sin a
    ("exp(a) + sin(a) + cos(a) + a", "a", "a: scalar", "numerator", 1,
     r"\frac{\partial}{\partial a} \left(\exp(a) + \sin(a) + \cos(a) + a\right) = \exp(a) + \cos(a) + 1 - \sin(a)"),
    # narrower, and no fraction: over ∂ as before (the ReLU neuron: step(wᵀx + b) xᵀ)
    ("max(0, w'x + b)", "w", "w: vector(n), x: vector(n), b: scalar", "numerator", 1,
     r"\frac{\partial \max(0, \mathbf{w}^\top \mathbf{x} + b)}{\partial \mathbf{w}} = "
     r"\operatorname{step}(\mathbf{w}^\top \mathbf{x} + b) \mathbf{x}^\top"),
])
def test_a_long_or_fractional_function_follows_the_operator(source, wrt, let, layout, order, expected):
    assert latex_text(diff(source, wrt, let, layout, order).derivative, notes="none") == expected


def test_the_operator_form_threshold_is_a_quarter_of_a_line():
    assert OPERATOR_FORM_ABOVE == LINE_WIDTH / 4
    assert _set_characters(r"\max(0, \mathbf{w}^\top \mathbf{x} + b)") < OPERATOR_FORM_ABOVE
    assert _set_characters(r"\tanh(W_{2} \tanh(W_{1} \mathbf{x}))") > OPERATOR_FORM_ABOVE


def test_operator_forms_compile(tmp_path, pdflatex_available):
    sources = [("a/2", "a", "a: scalar", 1), ("a^3/6", "a", "a: scalar", 2), ("x'x/3", "x", None, 1),
               ("tanh(W2 tanh(W1 x))", "x", None, 1), ("-y' log(softmax(o))", "o", None, 1)]
    compiled, log = pdflatex([latex_text(diff(s, w, let, order=order).derivative) for s, w, let, order in sources],
                             tmp_path)
    assert compiled, log[-2000:]
