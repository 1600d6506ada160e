"""SPEC §2 name splitting, calls and superscripts: nothing is reinterpreted silently."""

import pytest

from matcalc import parse
from matcalc.cli import cli
from matcalc.errors import MatcalcError, ParseError, UnknownSymbolError


def kinds(parsed) -> dict[str, str]:
    return {name: decl.kind for name, decl in parsed.assumed.items()}


# A run of letters that is not declared, not a function and does not mix upper- and lowercase
# is one name; its kind comes from its first letter (a-g or Greek: scalar, h-z: vector).
@pytest.mark.parametrize("text, canonical, expected", [
    ("weights'x", "weights' x", {"weights": "vector", "x": "vector"}),
    ("theta + 1", "theta + 1", {"theta": "scalar"}),
    ("theta'x", "theta' x", {"theta": "vector", "x": "vector"}),  # written transposed: no scalar
    ("b1 x", "b1 x", {"b1": "scalar", "x": "vector"}),
    ("thetax + 1", "thetax + 1", {"thetax": "vector"}),  # one name: neither theta nor x is declared
    ("betas + logits", "betas + logits", {"betas": "scalar", "logits": "vector"}),  # words, not typos
])
def test_a_run_of_letters_of_one_case_is_one_name(text, canonical, expected):
    parsed = parse(text)
    assert parsed.canonical == canonical
    assert kinds(parsed) == expected


def test_weights_is_not_read_as_a_product_of_letters():
    parsed = parse("weights'x")
    assert parsed.shape.dims() == []  # w'x: an inner product of two vectors of one length
    assert parsed.assumed_text() == "weights: vector(n), x: vector(n)"


@pytest.mark.parametrize("text, canonical", [
    ("Xw", "X w"),
    ("x'Ax", "x' A x"),
    ("W1x", "W1 x"),
    ("XtX", "X t X"),
    ("Xbeta", "X beta"),  # a Greek name is a piece of a mixed run
])
def test_a_run_that_mixes_cases_is_split_into_letters(text, canonical):
    assert parse(text).canonical == canonical


def test_a_run_of_declared_names_is_split_into_them():
    assert parse("xy'", "x: vector(n), y: vector(m)").canonical == "x y'"
    assert parse("W1x1", "W1: matrix(m, n), x1: vector(n)").canonical == "W1 x1"


@pytest.mark.parametrize("name", ["Sigma", "Lambda1", "Pi", "Omega"])
def test_capitalized_greek_is_one_name_a_matrix(name):
    parsed = parse(f"x'{name} x")
    assert kinds(parsed) == {"x": "vector", name: "matrix"}


def test_undeclared_name_that_looks_like_a_product_of_declared_ones_says_so():
    with pytest.raises(UnknownSymbolError) as info:
        parse("xy'", "x: vector(n)")
    assert "looks like the product x y" in info.value.message
    assert "x is declared" in info.value.message
    assert "x y" in info.value.hint and "declare xy" in info.value.hint
    assert info.value.column() == 1


def test_a_word_that_mixes_cases_is_refused_rather_than_read_as_letters():
    with pytest.raises(UnknownSymbolError) as info:
        parse("Weights x")
    assert "W e i g h t s" in info.value.message
    assert "declare Weights" in info.value.hint


def test_a_function_name_without_parentheses_is_refused():
    with pytest.raises(UnknownSymbolError) as info:
        parse("trA + 1")
    assert "tr(A)" in info.value.hint


@pytest.mark.parametrize("text, suggestion, column", [
    ("2 lamda", "lambda", 3),
    ("sigmod(x)", "sigmoid", 1),
    ("sofmax(o)", "softmax", 1),
])
def test_misspelt_names_suggest_the_nearest(text, suggestion, column):
    with pytest.raises(UnknownSymbolError) as info:
        parse(text)
    assert f"'{suggestion}'" in info.value.hint
    assert info.value.column() == column


# f(x): a call, never a product


@pytest.mark.parametrize("text, column", [("f(x)", 1), ("x'A(x + y)", 3), ("2 + g(t)", 5), ("W1(x)", 1)])
def test_a_letter_written_like_a_call_is_an_error_with_its_column(text, column):
    with pytest.raises(UnknownSymbolError) as info:
        parse(text)
    assert "written like a call" in info.value.message
    assert "function" in info.value.hint
    assert info.value.column() == column


def test_a_space_or_a_star_makes_it_a_product():
    assert parse("a (x + y)").canonical == "a (x + y)"
    assert parse("a*(x + y)").canonical == "a (x + y)"


def test_a_declared_variable_written_like_a_call_is_a_product():
    parsed = parse("A(x + y)", "A: matrix(n, n), x: vector(n), y: vector(n)")
    assert parsed.canonical == "A (x + y)"
    assert parsed.shape.dims() == ["n"]


def test_function_declarations_are_read():
    parsed = parse("x'x", "f: function, x: vector(n)")
    assert str(parsed.env.decls["f"]) == "function"
    assert parsed.env.functions == {"f"}


@pytest.mark.parametrize("text, canonical", [("f(x)", "f(x)"), ("sum(f(W x))", "sum(f(W x))"),
                                             ("f'(x) + 1", "f'(x) + 1")])
def test_a_declared_function_applies_elementwise(text, canonical):
    parsed = parse(text, "f: function, W: matrix(n, n), x: vector(n)")
    assert parsed.canonical == canonical and parsed.shape == parse(text.replace("f'", "exp").replace("f", "exp"),
                                                                   "W: matrix(n, n), x: vector(n)").shape


def test_a_declared_function_needs_its_argument():
    with pytest.raises(ParseError) as info:
        parse("f + 1", "f: function")
    assert info.value.message == "f is declared a function: write f(...)"


def test_cli_exit_statuses_for_calls(runner):
    refused = runner.invoke(cli, ["parse", "f(x)"])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(
        "error: f(...) is written like a call of a function f, which is not declared (column 1)")
    assert "Traceback" not in refused.stderr
    declared = runner.invoke(cli, ["diff", "sum(f(x))", "--wrt", "x", "--let", "f: function"])
    assert declared.exit_code == 0 and "f'(x)" in declared.stdout


# Superscripts


@pytest.mark.parametrize("text, canonical, shape", [
    ("‖x‖²", "||x||^2", []),
    ("x³", "x^3", ["n"]),
    ("Xᵀy", "X' y", ["m"]),
    ("A⁻¹ x", "A^-1 x", ["n"]),
    ("A⁻² x", "A^-2 x", ["n"]),
    ("x'A²x", "x' A^2 x", []),
    ("(2‖x‖)²", "(2 ||x||)^2", []),
])
def test_superscripts(text, canonical, shape):
    parsed = parse(text, "x: vector(n), y: vector(n), X: matrix(n, m), A: matrix(n, n)")
    assert parsed.canonical == canonical
    assert parsed.shape.dims() == shape


def test_inverse_transpose_superscript():
    parsed = parse("A⁻ᵀ x", "A: matrix(n, n), x: vector(n)")
    assert parsed.expr == parse("A^-T x", "A: matrix(n, n), x: vector(n)").expr


def test_stray_superscript_is_one_clear_error():
    with pytest.raises(MatcalcError) as info:
        parse("² x")
    assert info.value.column() == 1


def test_a_name_close_to_a_declared_one_is_a_typo():
    with pytest.raises(UnknownSymbolError) as info:
        parse("weight'x", "weights: vector(n), x: vector(n)")
    assert info.value.hint.startswith("did you mean 'weights'?")
