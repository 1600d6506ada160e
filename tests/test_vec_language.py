"""vec(X), kron(A, B), A ⊗ B and K(m, n) in expressions and identity files, checked numerically."""

import numpy as np
import pytest
from click.testing import CliRunner

from matcalc.api import parse
from matcalc.cli import cli
from matcalc.errors import InputError, ParseError
from matcalc.numeric.evaluate import evaluate

LET = "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l), C: matrix(n, p), D: matrix(l, q)"
SIZES = {"m": 2, "n": 3, "k": 4, "l": 5, "p": 6, "q": 7}


def values(rng):
    shapes = {"A": ("m", "n"), "X": ("n", "k"), "B": ("k", "l"), "C": ("n", "p"), "D": ("l", "q")}
    return {name: rng.normal(size=(SIZES[r], SIZES[c])) for name, (r, c) in shapes.items()}


def vec(a):
    return a.reshape(-1, 1, order="F")


def test_vec_stacks_columns_and_kron_is_the_kronecker_product():
    v = values(np.random.default_rng(0))
    np.testing.assert_array_equal(evaluate(parse("vec(X)", LET).expr, v, SIZES), vec(v["X"]))
    np.testing.assert_array_equal(evaluate(parse("kron(A, B)", LET).expr, v, SIZES), np.kron(v["A"], v["B"]))
    np.testing.assert_array_equal(evaluate(parse("A ⊗ B", LET).expr, v, SIZES), np.kron(v["A"], v["B"]))


def test_the_commutation_matrix_turns_vec_x_into_vec_of_its_transpose():
    v = values(np.random.default_rng(1))
    np.testing.assert_array_equal(evaluate(parse("K(n, k) vec(X)", LET).expr, v, SIZES), vec(v["X"].T))


def test_shapes_are_products_of_dimensions():
    assert parse("kron(B', A)", LET).expr.shape.rows == "l·m"
    assert parse("vec(A X B)", LET).shape.dims() == ["l·m"]
    assert parse("K(m, n)", LET).shape.dims() == ["m·n", "m·n"]


def test_kron_has_the_precedence_of_a_product_left_to_right():
    v = values(np.random.default_rng(2))
    written = evaluate(parse("B' ⊗ A vec(X)", LET).expr, v, SIZES)  # (B' ⊗ A) vec(X)
    np.testing.assert_allclose(written, np.kron(v["B"].T, v["A"]) @ vec(v["X"]))
    np.testing.assert_allclose(written, vec(v["A"] @ v["X"] @ v["B"]))
    chained = evaluate(parse("A ⊗ B ⊗ C", LET).expr, v, SIZES)
    np.testing.assert_allclose(chained, np.kron(np.kron(v["A"], v["B"]), v["C"]))


def test_printing_reads_back():
    assert parse("(B' ⊗ A) vec(X)", LET).canonical == "kron(B', A) vec(X)"
    assert parse("K(n, k) vec(X)", LET).canonical == "K(n, k) vec(X)"


def test_operands_of_unknown_size_are_refused_with_the_column():
    with pytest.raises(InputError, match="vec needs the sizes of its operands") as caught:
        parse("vec(Y)")
    assert caught.value.span.start == 4
    with pytest.raises(ParseError, match="K\\(m, n\\) takes two dimensions"):
        parse("K(x)")


def test_a_declared_k_is_a_matrix():
    assert parse("K x", "K: matrix(n, n), x: vector(n)").shape.dims() == ["n"]


def test_vec_of_a_matrix_by_a_matrix_in_index_notation_is_refused_with_exit_3_pointing_to_vec_notation():
    result = CliRunner().invoke(cli, ["diff", "vec(X)", "--wrt", "X", "--let", "X: matrix(n, k)"])
    assert result.exit_code == 3
    assert "cannot write this derivative through vec or ⊗" in result.output
    assert "--notation vec" in result.output
    assert "Traceback" not in result.output


IDENTITIES = f"""let {LET}
vec(A X B) = kron(B', A) vec(X)
kron(A, B) kron(C, D) = kron(A C, B D)
(A ⊗ B)' = A' ⊗ B'
K(n, k) vec(X) = vec(X')
let S: matrix(n, n), T: matrix(n, n), Y: matrix(n, n)
vec(S Y T) = kron(S, T') vec(Y)
vec(S Y T) = kron(T, S) vec(Y)
vec(Y') = vec(Y)
kron(S, T) kron(Y, S) = kron(Y S, T S)
"""


def test_identities_with_kron_and_vec_are_checked(tmp_path):
    path = tmp_path / "kron.txt"
    path.write_text(IDENTITIES)
    result = CliRunner().invoke(cli, ["check", str(path), "--format", "json"])
    import json

    verdicts = [row["status"] for row in json.loads(result.output)["results"]]
    assert all(v in ("holds (numerically)", "proved") for v in verdicts[:4]), verdicts
    assert verdicts[4:] == ["FALSE"] * 4, verdicts  # swapped factors, a missing transpose, a missing K


# Magnus and Neudecker's vec(A ⊗ X) = (I_n ⊗ K(q, m) ⊗ I_p)(vec A ⊗ I_pq) vec X for A m×n, X p×q: the form that
# a derivative of kron(A, X) by X would take; with K(m, q) in its place (of the same size) it is false
KRON_OF_VEC = """let A: matrix(m, n), X: matrix(p, q)
vec(kron(A, X)) = kron(kron(eye(n), K(q, m)), eye(p)) kron(vec(A), kron(eye(q), eye(p))) vec(X)
vec(kron(A, X)) = kron(kron(eye(n), K(q, m)), eye(p)) kron(vec(A), vec(X))
vec(kron(A, X)) = kron(kron(eye(n), K(m, q)), eye(p)) kron(vec(A), kron(eye(q), eye(p))) vec(X)
"""


def test_vec_of_a_kronecker_product_in_magnus_and_neudeckers_form(tmp_path):
    import json

    path = tmp_path / "kron_of_vec.txt"
    path.write_text(KRON_OF_VEC)
    result = CliRunner().invoke(cli, ["check", str(path), "--format", "json"])
    verdicts = [row["status"] for row in json.loads(result.output)["results"]]
    assert verdicts == ["holds (numerically)", "holds (numerically)", "FALSE"], verdicts


NOTATION_VEC = """let A: matrix(m, n), X: matrix(n, k), B: matrix(k, l), Y: matrix(n, n), C: matrix(n, n)
notation vec
d/dX A X B = kron(B', A)
d/dX X' = K(n, k)
d/dY inv(Y) = -kron(inv(Y)', inv(Y))
d/dY Y Y = kron(Y', eye(n)) + kron(eye(n), Y)
d2/dX2 tr(X' C X) = kron(eye(k), C + C')
d/dX A X B = kron(A, B')
d/dX X' = eye(n) ⊗ eye(k)
d/dY inv(Y) = -kron(inv(Y), inv(Y)')
notation index
d/dX A X B = kron(B', A)
layout denominator
notation vec
d/dX A X B = kron(B, A')
notation kronecker
"""


def test_notation_vec_lines_make_derivatives_jacobians_of_vec(tmp_path):
    import json

    path = tmp_path / "vec.txt"
    path.write_text(NOTATION_VEC)
    rows = json.loads(CliRunner().invoke(cli, ["check", str(path), "--format", "json"]).output)["results"]
    verdicts = [row["status"] for row in rows]
    assert verdicts[:5] == ["holds (numerically)"] * 5, rows[:5]
    assert verdicts[5:8] == ["FALSE"] * 3  # swapped factors, a missing K, a missing transpose
    assert "matcalc's derivative in numerator layout: kron(B', A)" in rows[5]["detail"]
    assert verdicts[8] != "holds (numerically)"  # in index notation the sides have different shapes
    assert verdicts[9] == "holds (numerically)"  # denominator layout: the transpose
    assert verdicts[10] == "error" and "unknown notation" in rows[10]["detail"]


CORPUS = __import__("pathlib").Path(__file__).parent.parent / "examples" / "magnus-neudecker.txt"


def test_every_magnus_neudecker_result_holds():
    import json

    report = json.loads(CliRunner().invoke(cli, ["check", str(CORPUS), "--format", "json"]).output)
    assert report["summary"]["identities"] == 59
    bad = [row for row in report["results"] if row["status"] not in ("proved", "holds (numerically)")]
    assert not bad, bad


def corpus_derivatives():
    """(line, expression, variable, order, declarations, the book's form) for each derivative after `notation vec`."""
    import re

    lets, vec = [], False
    for number, line in enumerate(CORPUS.read_text().splitlines(), 1):
        text = line.split("#")[0].strip()
        if text.startswith("let "):
            lets.append(text[4:])
        elif text.startswith("notation "):
            vec = text.split()[1] == "vec"
        elif vec and (found := re.match(r"d(\d?)/d(\w+?)\1? (.*) = (.*)$", text)):
            yield number, found[3], found[2], int(found[1] or 1), "; ".join(lets), found[4]


def test_diff_notation_vec_reproduces_the_books_forms():
    """matcalc's form (the vec form, or the matrix form of a scalar's), in canonical text, against the book's:
    equal for at least 26 of the 35 (the others order their terms, place K or group a product otherwise; every
    one is checked numerically above, and each form matcalc gives by the self-check)."""
    from matcalc.api import diff
    from matcalc.render.canonical import canonical

    entries = list(corpus_derivatives())
    same = []
    for line, expr, wrt, order, let, form in entries:
        result = diff(expr, wrt, let, order=order, notation="vec")
        shown = result.vec.matrix if result.vec is not None else result.derivative.inline_matrix
        if canonical(shown) == parse(form, let).canonical:
            same.append(line)
    assert len(entries) == 35
    assert len(same) >= 26, same


def test_kron_has_no_sympy_form_and_says_so():
    result = CliRunner().invoke(
        cli, ["parse", "kron(A, B)", "--let", "A: matrix(m, n), B: matrix(p, q)", "--format", "sympy"]
    )
    assert result.exit_code == 3
    assert "kron has no SymPy form" in result.output
