"""The textbook corpus (examples/textbook-corpus.txt): every textbook form is right (checked against
finite differences of the expression itself, never matcalc's differentiator), every matcalc result is
numerically the textbook form, and matcalc's exact-form count never drops. How the checks work is in
tests/corpus.py, which the held-out corpus's test shares.
"""

import re

import pytest
from corpus import (ENTRIES, TOLERANCE, check_agrees, check_entry, check_parses, report)

from matcalc import parse

EXACT_FLOOR = 278  # the exact-form count of scripts/corpus_report.py (191 when this test was written); it may only rise


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"line{e.line}")
def test_textbook_form_is_the_derivative(entry):
    error = check_entry(entry)
    assert error < TOLERANCE[entry.order], \
        f"line {entry.line}: {entry.form} differs from finite differences of {entry.expr} by {error:.1e}"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"line{e.line}")
def test_entry_parses(entry):
    check_parses(entry)


def test_the_corpus_is_large_and_covers_the_shape_table():
    assert len(ENTRIES) >= 150
    assert {e.layout for e in ENTRIES} == {"numerator", "denominator"}
    assert {e.order for e in ENTRIES} >= {1, 2, 3, 4}
    cells = set()
    for e in ENTRIES:
        parsed = parse(e.expr, e.let)
        kind = {"scalar": "scalar", "vector": "vector"}.get(parsed.shape.kind, "matrix")
        var = parsed.shapes()[e.wrt]
        var_kind = "scalar" if var.is_scalar else "vector" if 1 in (var.rows, var.cols) else "matrix"
        cells.add((kind, var_kind))
    assert len(cells) == 9, sorted(cells)


def test_a_wrong_form_fails():
    """The check is strict enough to see a missing transpose (the sizes are distinct)."""
    entry = next(e for e in ENTRIES if e.expr == "tr(D X E)" and e.layout == "denominator")
    wrong = type(entry)(**{**entry.__dict__, "form": "E D"})
    with pytest.raises(AssertionError):
        assert check_entry(wrong) < TOLERANCE[1]
    entry = next(e for e in ENTRIES if e.expr == "x'A x" and e.order == 1 and e.layout == "denominator")
    wrong = type(entry)(**{**entry.__dict__, "form": "2A x"})
    assert check_entry(wrong) > 1e-3


def test_the_report_runs_and_the_exact_count_does_not_drop(capsys):
    assert report.main([]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"textbook corpus: {len(ENTRIES)} entries; ")
    exact = int(re.search(r"entries; (\d+) ", printed).group(1))
    assert exact >= EXACT_FLOOR, f"the exact-form count dropped from {EXACT_FLOOR} to {exact}"


def test_normalisation():
    n = report.normalise
    assert n("Xᵀ(X w - y)") == n("X'(X w - y)") == "X'(Xw-y)"
    assert n("((A + A')x)") == "(A+A')x"
    assert n("(A + A')(B + B')") == "(A+A')(B+B')"
    assert n("ones(n)'W") == n("𝟏ᵀW")
    assert n("∂y_i/∂X_jk = x_k delta_ij") == n("∂y_i/∂X_jk = δ_ij x_k")
    assert n("0.5 P x") != n("1/2 P x")
    assert n("∂X_ij/∂X_kl = delta_ki delta_lj") == n("∂Y_ij/∂X_kl = delta_ik delta_jl")
    assert n("2eye(n)") == "2I"
    # scalar factors commute, and only they: matcalc's own shape check says which are scalars
    assert n("2cos(z^2) z", "z: scalar") == n("2z cos(z^2)", "z: scalar")
    let = "x: vector(n), A: matrix(n, n)"
    assert n("I(x'x) + 2x x'", let) == n("(x'x)I + 2x x'", let)
    assert n("A x (x'x)", let) == n("(x'x)A x", let)
    assert n("x'A", let) != n("A x'", let)
    assert n("2x x' + I(x'x)", let) != n("(x'x)I + 2x x'", let)  # terms are not reordered
    let = "X: matrix(m, n), w: vector(n), y: vector(m), lambda: scalar"
    assert n("(1 / m) X'(X w - y)", let, True) == n("1/m X'(X w - y)", let, True)  # matcalc's canonical text
    assert n("2lambda(1/2)w", let, True) != n("lambda w", let, True)  # ...which keeps the tree as written
    assert n("X'(X w - y)", let, True) != n("X'X w - X'y", let, True)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"line{e.line}")
def test_matcalc_agrees_with_the_textbook(entry):
    """Every matcalc result is numerically the textbook form (the form may differ, the value may not)."""
    check_agrees(entry)


# ------------------------------------------------------------------------------------------ LaTeX


def test_every_corpus_result_sets_in_latex_on_an_article_page(tmp_path, pdflatex_available):
    """matcalc's LaTeX for every corpus entry compiles with pdflatex on an article page (the
    packages SPEC §4 allows), with no overfull box over 1 pt; one entry a source line, so pdflatex's
    line numbers name the entry."""
    import subprocess

    from matcalc import diff

    lines = []
    for entry in ENTRIES:
        result = diff(entry.expr, entry.wrt, entry.let or None, entry.layout, entry.order, check=False)
        lines.append((entry, rf"\[ {result.latex} \]"))
    preamble = ["\\documentclass{article}", "\\usepackage{amsmath,amssymb}", "\\begin{document}"]
    source = preamble + [text for _, text in lines] + ["\\end{document}"]
    (tmp_path / "corpus.tex").write_text("\n".join(source) + "\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "corpus.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    log = (tmp_path / "corpus.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    overfull = []
    for match in re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\).*?lines? (\d+)", log):
        if float(match[1]) > 1.0:
            entry, text = lines[int(match[2]) - len(preamble) - 1]
            overfull.append(f"corpus line {entry.line}: {match[1]} pt: {text}")
    assert not overfull, "\n".join(overfull)
