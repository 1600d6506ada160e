"""SPEC §1: the letter's kind gives way to use, and a dimension name used in an expression is
that size, a scalar."""

import pytest

from matcalc import nodes, parse
from matcalc.cli import cli
from matcalc.errors import ShapeError


def kinds(parsed) -> dict[str, str]:
    return {name: decl.kind for name, decl in parsed.assumed.items()}


def test_beta_becomes_a_vector_where_the_expression_needs_one():
    # beta is Greek, a scalar by its letter; X beta would then be a matrix and y - X beta has no
    # shape. As a vector, X beta is X's rows long like y.
    parsed = parse("||y - X beta||^2")
    assert kinds(parsed) == {"y": "vector", "X": "matrix", "beta": "vector"}
    assert parsed.assumed_text() == "y: vector(n), X: matrix(n, m), beta: vector(m)"
    assert parsed.shape.dims() == []


def test_two_greek_names_become_vectors_one_after_the_other():
    # y - X beta has a shape once beta is a vector; then - Z gamma needs gamma to be one too.
    # (y a scalar would also give the whole a shape, as a matrix: not what the letters say.)
    parsed = parse("y - X beta - Z gamma")
    assert kinds(parsed) == {"y": "vector", "X": "matrix", "beta": "vector", "Z": "matrix", "gamma": "vector"}
    assert parsed.shape.dims() == ["n"]


def test_a_scalar_letter_that_must_be_a_vector():
    parsed = parse("sum(log(sigmoid(X b)) - y)")  # b: a scalar by its letter; X b - y needs a vector
    assert kinds(parsed)["b"] == "vector"


def test_a_vector_letter_that_must_be_a_scalar():
    parsed = parse("x - t A x")  # t A x: a vector t times a matrix has no shape; t is a step size
    assert kinds(parsed) == {"x": "vector", "t": "scalar", "A": "matrix"}


def test_the_letter_kind_stands_where_it_gives_a_shape():
    parsed = parse("y - X beta", "y: matrix(m, n), X: matrix(m, n)")
    assert kinds(parsed) == {"beta": "scalar"}


def test_a_declared_kind_never_changes():
    with pytest.raises(ShapeError) as info:
        parse("||y - X beta||^2", "beta: scalar, X: matrix(m, n), y: vector(m)")
    assert info.value.message == "shapes do not conform for a difference"


def test_when_no_kind_gives_a_shape_the_first_error_stands():
    with pytest.raises(ShapeError) as info:
        parse("x + A + softmax(A)", "x: vector(n), A: matrix(n, n)")
    assert info.value.message == "shapes do not conform for a sum"


@pytest.mark.parametrize("text", ["tr(eye(n)) + n", "n + tr(eye(n))", "ones(n)' ones(n) / n"])
def test_a_dimension_name_in_the_expression_is_that_size(text):
    parsed = parse(text)
    assert parsed.assumed == {}
    assert parsed.shape.dims() == []
    assert any(isinstance(node, nodes.DimSize) for node in nodes.walk(parsed.expr))


def test_a_dimension_name_next_to_inferred_names():
    parsed = parse("x'x / n + sum(ones(n))", "x: vector(n)")
    assert parsed.assumed == {}


def test_cli_prints_the_kind_taken_from_use(runner):
    result = runner.invoke(cli, ["parse", "||y - X beta||^2"])
    assert result.exit_code == 0
    assert "assumed: y: vector(n), X: matrix(n, m), beta: vector(m)" in result.stdout


def test_cli_dimension_name(runner):
    result = runner.invoke(cli, ["parse", "tr(eye(n)) + n"])
    assert result.exit_code == 0
    assert result.stdout == "expression: tr(eye(n)) + n\nshape: scalar\n"
