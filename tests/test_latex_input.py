r"""LaTeX input (SPEC §2, §5): formulas as papers print them parse to the tree of their plain form.

Sources of the formulas: the Matrix Cookbook (Petersen & Pedersen, 2012, equation numbers in the
ids), Dive into Deep Learning (d2l.ai, §3.1 and §4.1), The Elements of Statistical Learning (ESL,
Hastie et al., eq. 3.43) and Bishop's Pattern Recognition and Machine Learning (PRML, eq. 2.43).

Property: every LaTeX expression matcalc prints parses back, as LaTeX, to an equal expression,
and so does a derivative printed in matrix notation. LaTeX does not show where a minus sign sits in
a product (matcalc prints -(a b) and (-a) b alike, as -a b, and reads it as the plain language does,
(-a) b), so the trees are compared with minus signs moved out of products.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import DECLS, typed_expressions

from helpers import reads_back, sized, zero_matrix

from matcalc.api import diff, parse
from matcalc.cli import cli
from matcalc.errors import ParseError, ShapeError, UnknownSymbolError, UnsupportedError
from matcalc.language.latex import is_latex, translate
from matcalc.render.latex import latex_expression

sys.path.insert(0, str(Path(__file__).parent))

LET = "a: scalar, x: vector(n), y: vector(n), w: vector(m), X: matrix(n, m), A: matrix(n, n), " \
      "B: matrix(n, n), P: posdef(n)"


def same(latex: str, plain: str, let: str = LET) -> None:
    assert is_latex(latex)
    assert parse(latex, let).expr == parse(plain, let).expr, translate(latex).text


# (LaTeX as the source prints it, the plain form, declarations)
PAPERS = [
    pytest.param(r"\frac{\partial \mathbf{x}^T \mathbf{a}}{\partial \mathbf{x}}", "d(x'a)/dx",
                 "x: vector(n), a: vector(n)", id="Cookbook (69)"),
    pytest.param(r"\frac{\partial \mathbf{x}^T \mathbf{B} \mathbf{x}}{\partial \mathbf{x}}", "d(x'B x)/dx", LET,
                 id="Cookbook (81)"),
    pytest.param(r"\frac{\partial}{\partial \mathbf{X}} \text{Tr}(\mathbf{X}\mathbf{A})", "d/dX tr(X A)",
                 "X: matrix(n, n), A: matrix(n, n)", id="Cookbook (100)"),
    pytest.param(r"\frac{\partial \ln|\det(\mathbf{X})|}{\partial \mathbf{X}}", "d(log(abs(det(X))))/dX",
                 "X: matrix(n, n)", id="Cookbook (57)"),
    pytest.param(r"\frac{\partial \mathbf{a}^T\mathbf{X}^{-1}\mathbf{b}}{\partial \mathbf{X}}",
                 "d(a' X^-1 b)/dX", "a: vector(n), b: vector(n), X: matrix(n, n)", id="Cookbook (61)"),
    pytest.param(r"\frac{1}{2}\|\mathbf{y} - \mathbf{X}\mathbf{w}\|^2", "0.5 ||y - X w||^2", LET,
                 id="d2l 3.1 squared loss"),
    pytest.param(r"-\mathbf{y}^\top \log \operatorname{softmax}(\mathbf{o})", "-y' log(softmax(o))",
                 "y: vector(q), o: vector(q)", id="d2l cross-entropy"),
    pytest.param(r"\mathbf{W}_2 \sigma(\mathbf{W}_1 \mathbf{x} + \mathbf{b}_1) + \mathbf{b}_2",
                 "W2 sigmoid(W1 x + b1) + b2",
                 "x: vector(n), W1: matrix(h, n), b1: vector(h), W2: matrix(q, h), b2: vector(q)", id="d2l 4.1 MLP"),
    pytest.param(r"(\mathbf{y} - \mathbf{X}\beta)^T(\mathbf{y} - \mathbf{X}\beta) + \lambda\beta^T\beta",
                 "(y - X beta)'(y - X beta) + lambda beta' beta", "y: vector(n), X: matrix(n, p), beta: vector(p)",
                 id="ESL (3.43) ridge"),
    pytest.param(r"-\frac{1}{2}\log\det\Sigma - \frac{1}{2}(\mathbf{x}-\boldsymbol{\mu})^\top\Sigma^{-1}"
                 r"(\mathbf{x}-\boldsymbol{\mu})", "-0.5 logdet(Sigma) - 0.5 (x - mu)' Sigma^-1 (x - mu)",
                 "x: vector(n), mu: vector(n), Sigma: posdef(n)", id="PRML (2.43) Gaussian log-density"),
]


@pytest.mark.parametrize("latex, plain, let", PAPERS)
def test_formulas_as_papers_print_them(latex, plain, let):
    same(latex, plain, let)


# The constructs one by one: (LaTeX, plain form)
CONSTRUCTS = [
    (r"\mathbf{x}^\top A \mathbf{x}", "x'A x"),
    (r"\bm{x}^{\top} A \bm{x}", "x'A x"),
    (r"\boldsymbol{x}^T A x", "x'A x"),
    (r"\mathbf{x}^{T}\mathbf{y}", "x'y"),
    (r"\frac{1}{2}\|\mathbf{y} - X\mathbf{w}\|_2^2", "0.5 ||y - X w||_2^2"),
    (r"\tfrac{1}{2}\lVert \mathbf{y} - X\mathbf{w} \rVert^2", "0.5 ||y - X w||^2"),
    (r"\dfrac{a}{2}\left\| \mathbf{x} \right\|_1", "a / 2 ||x||_1"),
    (r"\left\lVert A \right\rVert_F^{2}", "||A||_F^2"),
    (r"\|A - B\|_{F}", "||A - B||_F"),
    (r"\|A - B\|_\mathrm{F}", "||A - B||_F"),
    (r"\lvert a \rvert + |a|", "|a| + |a|"),
    (r"\operatorname{tr}(A B)", "tr(A B)"),
    (r"\mathrm{tr}\left(A^{\top} B\right)", "tr(A' B)"),
    (r"\operatorname{Tr} A B", "tr(A) B"),
    (r"\log\det P", "logdet(P)"),
    (r"\log \det(P^{-1})", "logdet(P^-1)"),
    (r"\det A", "det(A)"),
    (r"\ln \det P + \exp a", "logdet(P) + exp(a)"),
    (r"\log\left(\det\left(P\right)\right)", "log(det(P))"),
    (r"A^{-1} \mathbf{x}", "A^-1 x"),
    (r"A^{-\top} \mathbf{x}", "A^-T x"),
    (r"\mathbf{x} \odot \mathbf{y}", "x .* y"),
    (r"\mathbf{x} \circ \mathbf{y}", "x .* y"),
    (r"\mathbf{x} \oslash \mathbf{y}", "x ./ y"),
    (r"a \cdot \mathbf{x}", "a * x"),
    (r"\mathbf{x}^{\circ 2}", "x .^ 2"),
    (r"\sigma(\mathbf{x})", "sigmoid(x)"),
    (r"\sigma\left(X \mathbf{w}\right)", "sigmoid(X w)"),
    (r"\tanh(A\mathbf{x})", "tanh(A x)"),
    (r"\operatorname{diag}(\mathbf{x}) A", "diag(x) A"),
    (r"\max(0, A \mathbf{x})", "max(0, A x)"),
    (r"\operatorname{softmax}(\mathbf{x})", "softmax(x)"),
    (r"\operatorname{ReLU}(\mathbf{x})", "relu(x)"),
    (r"\sqrt{a} + \sqrt{\mathbf{x}^\top\mathbf{x}}", "sqrt(a) + sqrt(x'x)"),
    (r"\lambda \mathbf{x} + \alpha \mathbf{y}", "lambda x + alpha y"),
    (r"\mathbf{1}^\top \mathbf{x}", "vector(1)' x"),
    (r"\mathbf{x} + \mathbf{1}", "x + vector(1)"),
    (r"A + \lambda I", "A + lambda I"),
    (r"(A^\top A + \lambda I_n)^{-1} A^\top \mathbf{y}", "(A'A + lambda eye(n))^-1 A'y"),
    (r"\big( A + B \big) \mathbf{x}", "(A + B) x"),
    (r"\Big[ A + B \Big] \mathbf{x}", "(A + B) x"),
    (r"{A + B} \mathbf{x}", "(A + B) x"),
    (r"\mathbf{x}^\top \! A \, \mathbf{x} \; + \quad a", "x'A x + a"),
    (r"$\mathbf{x}^\top A \mathbf{x}$", "x'A x"),
    (r"$$\mathbf{x}^\top A \mathbf{x}.$$", "x'A x"),
    (r"\[ \mathbf{x}^\top A \mathbf{x} \]", "x'A x"),
    (r"\mathbf{W}_{1} \mathbf{x}", "W1 x"),
    (r"W_{\mathrm{out}} \mathbf{x}", "W_out x"),
    (r"\hat{\mathbf{y}} - \mathbf{y}", "y_hat - y"),
    (r"e^{a} + \pi", "e^a + pi"),
]


@pytest.mark.parametrize("latex, plain", CONSTRUCTS, ids=[c[0] for c in CONSTRUCTS])
def test_each_construct_reads_as_its_plain_form(latex, plain):
    same(latex, plain, LET + ", W1: matrix(k, n), W_out: matrix(k, n), y_hat: vector(n)")


# The property: LaTeX output parses back


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_expressions())
def test_every_latex_expression_reads_back(case):
    text, _ = case
    expr = parse(text, DECLS).expr
    latex = latex_expression(expr)
    assume(not zero_matrix(expr) and sized(latex, DECLS))
    reads_back(expr, latex, DECLS)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(typed_expressions(), st.data())
def test_every_derivative_in_matrix_notation_reads_back(case, data):
    text, _ = case
    names = sorted(parse(text, DECLS).shapes())
    assume(names)
    result = diff(text, data.draw(st.sampled_from(names)), DECLS, check=False)
    derivative = result.derivative
    assume(derivative.matrix is not None and not derivative.where and not zero_matrix(derivative.matrix))
    latex = result.latex_text("rhs")
    assume(sized(latex, DECLS))
    reads_back(derivative.matrix, latex, DECLS)


# Derivatives as the course and the Cookbook write them: (LaTeX, plain form of the derivative side)
DERIVATIVES = [
    (r"\frac{\partial}{\partial \mathbf{x}} \mathbf{x}^\top A \mathbf{x}", "d/dx x'A x"),
    (r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}}", "d(x'A x)/dx"),
    (r"\frac{\partial f}{\partial \mathbf{x}} + \mathbf{x}^\top", "d(f)/dx + x'"),
    (r"\frac{\partial \log\det P}{\partial P}", "d(logdet(P))/dP"),
    (r"\frac{\partial}{\partial X} \operatorname{tr}(X^\top A X)", "d/dX tr(X' A X)"),
    (r"\frac{\partial^2}{\partial \mathbf{x}^2} \mathbf{x}^\top A \mathbf{x}", "d2/dx2 x'A x"),
    (r"\frac{\partial^{2} \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x} \partial \mathbf{x}^\top}",
     "d2/dx2 (x'A x)"),
    (r"\frac{d}{da} a^2", "d/da a^2"),
    (r"\frac{\mathrm{d}}{\mathrm{d} a} a^2", "d/da a^2"),
    (r"\frac{da^2}{da}", "d(a^2)/da"),
    (r"\frac{\partial \|\boldsymbol{\beta}\|_2^2}{\partial \boldsymbol{\beta}}", "d(||beta||_2^2)/dbeta"),
]


@pytest.mark.parametrize("latex, plain", DERIVATIVES, ids=[d[0] for d in DERIVATIVES])
def test_derivative_sides(latex, plain):
    same(latex, plain, LET + ", f: scalar, beta: vector(n)")


def test_the_derivative_of_a_latex_expression():
    result = diff(r"\mathbf{x}^\top A \mathbf{x}", "x", LET)
    assert result.text == "x'(A + A')"
    assert result.latex_text("rhs") == r"\mathbf{x}^\top (A + A^\top)"


def test_sigma_is_the_sigmoid_unless_declared():
    assert parse(r"\sigma(a)", LET).canonical == "sigmoid(a)"
    assert parse(r"\sigma(a)", LET + ", sigma: scalar").canonical == "sigma a"
    same(r"\sigma^2 I + A", "sigma^2 I + A")


def test_a_function_without_parentheses_takes_one_factor_with_its_scripts():
    assert translate(r"\log \det P + \exp a").text == "logdet(P)+exp(a)"
    assert translate(r"\log\det P \mathbf{x}").text == "logdet(P)x"
    assert translate(r"\operatorname{tr} A B - \sin a \cos a").text == "tr(A)B-sin(a)cos(a)"
    assert translate(r"\log x^2 + \exp -a").text == "log(x^(2))+exp(-a)"
    assert translate(r"\ln|\det(X)| + \log \sigma(a)").text == "log(|det(X)|)+log(sigmoid(a))"


def test_what_is_not_latex_stays_plain():
    assert not is_latex("x'Ax + ||y - Xw||^2")
    assert is_latex(r"\mathbf{x}") and is_latex("$x$") and is_latex("x^{2}")


# Errors point into the LaTeX


ERRORS = [
    (r"\oparatorname{tr}(X)", UnknownSymbolError,
     "error: unknown LaTeX command \\oparatorname (column 1)\n"
     "  \\oparatorname{tr}(X)\n"
     "  ^^^^^^^^^^^^^\n"
     "  did you mean \\operatorname?"),
    (r"\operatorname{tarce}(A)", UnknownSymbolError,
     "error: unknown function \\operatorname{tarce} (column 1)\n"
     "  \\operatorname{tarce}(A)\n"
     "  ^^^^^^^^^^^^^^^^^^^^\n"
     "  did you mean \\operatorname{trace}?"),
    (r"\frac{1}{2}\|\mathbf{y} - X\mathbf{w}", ParseError,
     "error: unclosed '||' (column 12)\n"
     "  \\frac{1}{2}\\|\\mathbf{y} - X\\mathbf{w}\n"
     "             ^^\n"
     "  expected '||' before end of input"),
    (r"\mathbf{x}^\top A \mathbf{z}", ShapeError,
     "error: shapes do not conform for a product (column 1)\n"
     "  \\mathbf{x}^\\top A \\mathbf{z}\n"
     "  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
     "  \\mathbf{x}^\\top A is 1×n, \\mathbf{z} is m×1"),
    (r"\mathbf{x}^\top A \mathbf{x} }", ParseError,
     "error: unmatched '}' (column 30)\n"
     "  \\mathbf{x}^\\top A \\mathbf{x} }\n"
     "                               ^"),
]


@pytest.mark.parametrize("latex, kind, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_point_into_the_latex(latex, kind, message):
    with pytest.raises(kind) as info:
        parse(latex, "x: vector(n), z: vector(m), A: matrix(n, n), X: matrix(n, n)")
    assert str(info.value) == message
    assert info.value.exit_code == 2


UNSUPPORTED = [
    (r"\sum_{i=1}^n x_i", 1, "a sum with limits is not supported"),
    (r"\nabla_{\mathbf{x}} f", 1, "the gradient \\nabla is not supported"),
    (r"A \otimes B", 3, "the Kronecker product is not supported"),
    (r"\operatorname{vec}(A)", 1, "vec is not supported"),
    (r"A^{\dagger}", 2, "the superscript \\dagger is not supported"),
]


@pytest.mark.parametrize("latex, column, message", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_well_formed_but_unsupported_latex_exits_3(latex, column, message):
    with pytest.raises(UnsupportedError) as info:
        parse(latex, LET)
    assert info.value.message.startswith(message)
    assert info.value.column() == column
    assert info.value.exit_code == 3


# The command line


def test_cli_diff_reads_latex(runner):
    result = runner.invoke(cli, ["diff", r"\mathbf{x}^\top A \mathbf{x}", "--wrt", "x", "--let", LET,
                                 "--format", "latex"])
    assert (result.exit_code, result.stdout) == (
        0, r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + A^\top)" + "\n")


def test_cli_errors_in_latex(runner):
    result = runner.invoke(cli, ["parse", r"\oparatorname{tr}(X)"])
    assert result.exit_code == 2
    assert "  \\oparatorname{tr}(X)\n  ^^^^^^^^^^^^^\n" in result.stderr
    result = runner.invoke(cli, ["diff", r"\sum_{i=1}^n x_i", "--wrt", "x"])
    assert result.exit_code == 3


IDENTITIES = r"""# the course's and the Matrix Cookbook's identities, as they print them
let x: vector(n), A: matrix(n, n), B: matrix(n, n), X: matrix(n, n), P: posdef(n)
layout denominator
\frac{\partial}{\partial \mathbf{x}} \mathbf{x}^\top A \mathbf{x} = (A + A^\top)\mathbf{x}
\frac{\partial \operatorname{tr}(X B)}{\partial X} = B^\top
$\operatorname{tr}(AB) = \operatorname{tr}(BA)$
\frac{\partial \log\det P}{\partial P} = P^{-\top}
\frac{\partial}{\partial \mathbf{x}} \tfrac{1}{2}\|\mathbf{x}\|^2 = \mathbf{x}
"""


def test_identity_files_in_latex(runner, tmp_path):
    path = tmp_path / "identities.txt"
    path.write_text(IDENTITIES)
    result = runner.invoke(cli, ["check", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = __import__("json").loads(result.stdout)
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [row["line"] for row in rows] == [4, 5, 6, 7, 8]
    assert all(row["status"] in ("proved", "holds") for row in rows), rows


def test_a_false_latex_identity_is_false(runner):
    result = runner.invoke(cli, ["check", "-"], input="let A: matrix(n, n), B: matrix(n, n)\n"
                                                      "\\operatorname{tr}(A B) = \\operatorname{tr}(A^\\top B)\n")
    assert result.exit_code == 1


def test_the_variable_may_be_written_in_latex_too(runner):
    """--wrt '\\mathbf{x}' names x; the header shows the expression in plain text, not the LaTeX source."""
    from matcalc.cli import cli

    out = runner.invoke(cli, ["diff", r"\mathbf{x}^\top A \mathbf{x}", "--wrt", r"\mathbf{x}"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0] == "∂/∂x x' A x = xᵀ(A + Aᵀ)"
    beta = runner.invoke(cli, ["diff", r"\|\mathbf{y} - X\boldsymbol{\beta}\|^2", "--wrt", r"\boldsymbol{\beta}",
                               "--layout", "denominator"])
    assert beta.exit_code == 0 and beta.stdout.splitlines()[0].endswith("= -2Xᵀ(y - X β)")
