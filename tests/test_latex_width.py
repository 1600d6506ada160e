"""Long LaTeX results break across lines: an aligned block chosen by width, still one line
of text, that pdflatex sets on an article page with no overfull box."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cases import LONG

from matcalc import diff
from matcalc.cli import cli
from matcalc.render.latex import LINE_WIDTH, LatexPrinter, _factors, _packed, _set_characters, latex_text, set_width

def latex(runner, args, *extra):
    result = runner.invoke(cli, ["diff", *args, "--format", "latex", *extra])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # one line of text, whatever it sets as
    return result.stdout.strip()


@pytest.mark.parametrize("args", LONG)
def test_a_long_result_is_an_aligned_block(runner, args):
    text = latex(runner, args)
    assert text.startswith(r"\begin{aligned}") and text.endswith(r"\end{aligned}") and r"\\" in text
    assert not latex(runner, args, "--latex-width", "0").startswith(r"\begin{aligned}")


def test_a_short_result_stays_one_line(runner):
    assert latex(runner, ["x'Ax", "--wrt", "x"]) == \
        r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + A^\top)"


def test_long_results_set_without_an_overfull_box(runner, tmp_path, pdflatex_available):
    body = "\n".join(rf"\[ {latex(runner, args)} \]" for args in LONG)
    (tmp_path / "long.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                                       f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "long.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    log = (tmp_path / "long.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line]


# ------------------------------------------------------------------ the width estimate and the decision

# Widths pdflatex sets (\setbox0\hbox{$\displaystyle ...$}, \the\wd0, article at 10pt), measured by hand.
MEASURED = [
    (r"\mathbf{x}^\top A \mathbf{x}", 26.39),
    (r"\operatorname{softmax}(W \mathbf{x})", 59.18),
    (r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + A^\top)", 102.56),
]


@pytest.mark.parametrize("latex_source, points", MEASURED)
def test_the_estimate_is_near_what_pdflatex_sets(latex_source, points):
    assert abs(set_width(latex_source) - points) <= 0.06 * points


def test_the_estimate_counts_what_is_set_not_the_source():
    # a command is its glyph, a font switch its letters: \mathbf{x} is one letter, \operatorname{diag} four
    assert set_width(r"\mathbf{x}") < set_width("xy")
    assert set_width(r"\operatorname{diag}") < set_width("diagx")
    # a fraction is as wide as its wider part, not both
    assert set_width(r"\frac{a + b}{c}") < set_width("a + b + c")
    assert set_width(r"\frac{a + b}{c}") > set_width("a + b")
    # scripts are smaller, and stacked ones as wide as the wider
    assert set_width("x^{2}") < set_width("x2")
    assert set_width(r"\lVert \mathbf{x} \rVert_2^{2}") == pytest.approx(set_width(r"\lVert \mathbf{x} \rVert_2"))
    # spaces around a binary operator, none around a sign
    assert set_width("a - b") > set_width("a") + set_width("-") + set_width("b")
    assert set_width("-b") == pytest.approx(set_width("-") + set_width("b"))
    # a \text note is set in roman, its spaces counted
    assert set_width(r"\text{any value in } [0, 1]") > set_width(r"\text{anyvaluein}")


def test_the_estimate_is_near_what_pdflatex_sets_on_the_corpus(tmp_path, pdflatex_available):
    """Every corpus result's one-line form, measured by pdflatex: the estimate is within 6%."""
    report = sys.modules.get("corpus_report")  # as tests/corpus.py loads it, if it has
    if report is None:
        script = Path(__file__).parents[1] / "scripts" / "corpus_report.py"
        spec = importlib.util.spec_from_file_location("corpus_report", script)
        report = importlib.util.module_from_spec(spec)
        sys.modules["corpus_report"] = report  # dataclasses look their module up
        spec.loader.exec_module(report)
    texts = [diff(e.expr, e.wrt, e.let or None, e.layout, e.order, check=False).latex_text() for e in report.load()]
    boxes = [rf"\setbox0\hbox{{$\displaystyle {text}$}}\typeout{{WIDTH {i} \the\wd0}}" for i, text in enumerate(texts)]
    (tmp_path / "w.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                                    + "\n".join(boxes) + "\n\\end{document}\n")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "w.tex"],
                   cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    log = (tmp_path / "w.log").read_text(errors="replace")
    widths = {int(m[1]): float(m[2]) for m in re.finditer(r"WIDTH (\d+) ([\d.]+)pt", log)}
    assert len(widths) == len(texts)
    off = [(texts[i], set_width(texts[i]), points) for i, points in widths.items()
           if abs(set_width(texts[i]) - points) > 0.06 * points]
    assert not off, off[:5]


def test_the_line_width_is_an_article_line_with_room_for_the_estimate():
    assert 300 <= LINE_WIDTH * set_width("x") / _set_characters("x") <= 345


NETWORK = "a: vector(k), x: vector(n), W: matrix(m, n), V: matrix(k, m), t: vector(k)"


def rows(text: str) -> list[str]:
    assert text.startswith(r"\begin{aligned} ") and text.endswith(r" \end{aligned}")
    return text[len(r"\begin{aligned} "):-len(r" \end{aligned}")].split(r" \\ ")


def test_a_note_that_does_not_fit_after_the_formula_has_a_row_of_its_own():
    result = diff("max(0, w'x + b)", "w", "x: vector(n), w: vector(n), b: scalar", check=False)
    assert rows(result.latex) == [
        r"\frac{\partial \max(0, \mathbf{w}^\top \mathbf{x} + b)}{\partial \mathbf{w}} &= "
        r"\operatorname{step}(\mathbf{w}^\top \mathbf{x} + b) \mathbf{x}^\top",
        r"&(\text{subgradient where } \mathbf{w}^\top \mathbf{x} + b = 0\text{: weights } \tfrac{1}{2})"]
    # a short one stays on the line, after \quad
    assert diff("abs(a)", "a", "a: scalar", check=False).latex == (
        r"\frac{\partial \lvert a \rvert}{\partial a} = \operatorname{sign}(a) \quad "
        r"(\text{subgradient at } a = 0\text{: any value in } [-1, 1])")


def test_the_decision_measures_the_head_too():
    """The right-hand side alone fits; with the logistic regression's log-likelihood in the head it does
    not: the head becomes ∂f/∂w, f defined below."""
    source = "-(y'log(sigmoid(X w)) + (1 - y)'log(1 - sigmoid(X w))) + lambda/2 ||w||^2"
    result = diff(source, "w", "y: vector(m), X: matrix(m, n), w: vector(n), lambda: scalar", "denominator",
                  check=False)
    assert _set_characters(result.latex_text("rhs")) < LINE_WIDTH / 2
    assert rows(result.latex) == [
        r"\frac{\partial f}{\partial \mathbf{w}} &= X^\top (\sigma(X \mathbf{w}) - \mathbf{y}) + \lambda \mathbf{w}",
        r"&\text{where } f = -(\mathbf{y}^\top \log(\sigma(X \mathbf{w})) + (1 - \mathbf{y})^\top "
        r"\log(1 - \sigma(X \mathbf{w}))) + \frac{\lambda}{2} \lVert \mathbf{w} \rVert_2^{2}"]


def test_a_long_product_takes_the_short_head_then_breaks_between_its_factors():
    result = diff("logsumexp(V tanh(W x)) - t'V tanh(W x)", "W", NETWORK, "denominator", check=False)
    first, *_ = rows(result.latex)
    assert first.startswith(r"\frac{\partial y}{\partial W} &= ") and r"\\" not in first
    narrow = rows(result.latex_text("equation", 30))
    product = result.latex_text("rhs")
    broken = narrow[:next(i for i, row in enumerate(narrow) if row.startswith(r"&\text{where"))]
    assert len(broken) > 1 and all(row.startswith(r"&\quad ") for row in broken[1:])
    joined = " ".join([broken[0].split("&= ", 1)[1]] + [row[len(r"&\quad "):] for row in broken[1:]])
    assert joined == product  # the product as written, broken only between factors


def test_factors_are_split_only_where_the_product_writes_its_sides_side_by_side():
    result = diff("1/2 ||relu(W x + b) - y||^2", "W", "x: vector(n), W: matrix(m, n), b: vector(m), y: vector(m)",
                  "denominator", check=False)
    printer = LatexPrinter()
    factors = _factors(result.derivative.matrix, printer)
    assert "".join(factors) == printer.text(result.derivative.matrix)
    assert factors[0].startswith("((") and factors[-1] == r" \mathbf{x}^\top"  # (u ⊙ v) kept whole


@pytest.mark.parametrize("args", LONG)
def test_every_row_fits_the_width(args):
    source, *options = args
    wrt = options[options.index("--wrt") + 1]
    order = int(options[options.index("--order") + 1]) if "--order" in options else 1
    layout = options[options.index("--layout") + 1] if "--layout" in options else "numerator"
    result = diff(source, wrt, None, layout, order, check=False)
    text = result.latex_text("equation", LINE_WIDTH)
    table = rows(text)
    head = table[0].split("&", 1)[0]
    for row in table:
        assert _set_characters(head) + _set_characters(row.split("&", 1)[1]) <= LINE_WIDTH + 1, row


def test_short_results_are_as_before():
    assert latex_text(diff("x'Ax", "x").derivative, "equation", LINE_WIDTH) == \
        r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + A^\top)"


# ------------------------------------------------------------------ balanced rows


def test_rows_are_even_and_never_leave_a_short_piece_alone():
    terms = [f"a_{{{i}}}" for i in range(1, 10)]
    # four terms fit the first row and three each continued row (after \quad): filled in turn, the rows
    # would hold 4, 3 and 2; as few rows, evened out, they hold 3 each
    width = _set_characters(r"a_{1} + a_{2} + a_{3} + a_{4}") + 0.2
    assert _packed("", terms, width) == [
        r"a_{1} + a_{2} + a_{3}", r"&\quad + a_{4} + a_{5} + a_{6}", r"&\quad + a_{7} + a_{8} + a_{9}"]
    # a product's factors likewise: E, alone on its row as filled in turn, has company
    factors = ["A", " B", " C", " D", " E"]
    assert _packed("", factors, _set_characters("A B C D") + 0.1) == ["A B C", r"&\quad D E"]


def test_a_seven_term_sum_breaks_into_even_rows():
    """Filled in turn, the sum's last term, a_7 x^T A_7, was alone on the third row; the definition of y
    had five terms on its first row and two on its second. Now: the fewest rows, as even as they go."""
    source = " + ".join(f"a{i} x'A{i}x" for i in range(1, 8))
    table = rows(diff(source, "x", check=False).latex)
    terms = [rf"a_{{{i}}} \mathbf{{x}}^\top A_{{{i}}}" for i in range(1, 8)]
    # the first term, x^T (a_1 A_1 + ... + a_7 A_7)^T, is the simplifier's; the rows are the printer's
    assert table[0].startswith(r"\frac{\partial y}{\partial \mathbf{x}} &= \mathbf{x}^\top (a_{1} A_{1} + ")
    assert table[0].endswith(r")^\top + " + terms[0])
    assert table[1:] == [
        r"&\quad + " + " + ".join(terms[1:]),
        r"&\text{where } y = " + " + ".join(rf"{term} \mathbf{{x}}" for term in terms[:3]),
        r"&\quad + " + " + ".join(rf"{term} \mathbf{{x}}" for term in terms[3:]),
    ]


@pytest.mark.parametrize("args", LONG)
def test_no_continued_row_holds_one_piece_that_would_fit_on_the_row_before(args):
    source, *options = args
    wrt = options[options.index("--wrt") + 1]
    order = int(options[options.index("--order") + 1]) if "--order" in options else 1
    layout = options[options.index("--layout") + 1] if "--layout" in options else "numerator"
    table = rows(diff(source, wrt, None, layout, order, check=False).latex)
    head = _set_characters(table[0].split("&", 1)[0])
    for before, row in zip(table, table[1:]):
        if row.startswith(r"&\quad ") and not any(sign in row[7:] for sign in (" + ", " - ")):
            joined = before + " " + row[len(r"&\quad "):]
            assert head + _set_characters(joined.split("&", 1)[1]) > LINE_WIDTH, row
