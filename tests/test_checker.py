"""Shape checking and inference (SPEC §1, §2, §6): the full error text, caret included."""

import pytest

from matcalc import parse
from matcalc.errors import DeclarationError, MatcalcError, ShapeError, UnknownSymbolError, format_error


def error_text(text: str, let: str | None = None) -> str:
    with pytest.raises(MatcalcError) as info:
        parse(text, let)
    return format_error(info.value)


def test_product_error_names_both_operands_as_the_spec_shows():
    assert error_text("x*A + b", "x: vector(n), A: matrix(n, n)") == (
        "error: shapes do not conform for a product (column 1)\n"
        "  x*A + b\n"
        "  ^^^\n"
        "  x is n×1, A is n×n"
    )


def test_sum_error_underlines_the_whole_sum():
    assert error_text("a + x + B y", "x: vector(n), B: matrix(m, k), y: vector(k)") == (
        "error: shapes do not conform for a sum (column 1)\n"
        "  a + x + B y\n"
        "  ^^^^^^^^^^^\n"
        "  a + x is n×1, B y is m×1"
    )


def test_matrix_product_error_with_at():
    assert error_text("A@x", "A: matrix(m, n), x: vector(k)") == (
        "error: shapes do not conform for a matrix product (column 1)\n"
        "  A@x\n"
        "  ^^^\n"
        "  A is m×n, x is k×1"
    )


def test_inferred_names_get_their_dimensions_from_use():
    parsed = parse("||y - Xw||^2")
    y, X, w = (parsed.assumed[name].shape for name in "yXw")
    assert parsed.shape.kind == "scalar"
    assert y.rows == X.rows and X.cols == w.rows and X.rows != X.cols


def test_inference_is_reported_in_spec_syntax():
    assert parse("x'Ax").assumed_text() == "x: vector(n), A: matrix(n, n)"


def test_inferred_dimensions_avoid_names_in_use():
    parsed = parse("n x + A x", "n: scalar")
    assert parsed.assumed_text() == "x: vector(m), A: matrix(m, m)"


def test_undeclared_vector_never_collapses_to_a_scalar():
    # x y' is an outer product, x y elementwise: neither makes x or y 1×1
    assert parse("x y'").shape.dims() == ["n", "m"]
    assert parse("x y").shape.dims() == ["n"]


@pytest.mark.parametrize("text, let, message", [
    ("x + A", "x: vector(n), A: matrix(n, n)", "shapes do not conform for a sum"),
    ("x .* z", "x: vector(n), z: vector(m)", "shapes do not conform for an elementwise product"),
    ("x / y", "x: vector(n), y: vector(n)", "'/' divides by a scalar only"),
    ("tr(B)", "B: matrix(m, n)", "tr needs a square matrix"),
    ("det(x)", "x: vector(n)", "det needs a square matrix"),
    ("B^2", "B: matrix(m, n)", "a matrix power needs a square matrix"),
    ("A^0.5", "A: matrix(n, n)", "a matrix power needs an integer exponent"),
    ("a^x", "x: vector(n)", "the exponent of '^' must be a scalar"),
    ("softmax(A)", "A: matrix(n, n)", "softmax takes a vector"),
    ("diag(B)", "B: matrix(m, n)", "diag takes a vector or a square matrix"),
    ("dot(x, z)", "x: vector(n), z: vector(m)", "dot takes two operands of the same shape"),
    ("max(x, z)", "x: vector(n), z: vector(m)", "shapes do not conform for max"),
])
def test_shape_errors(text, let, message):
    with pytest.raises(ShapeError) as info:
        parse(text, let)
    assert info.value.message == message
    assert info.value.column() is not None


def test_wrt_must_appear_or_be_declared():
    with pytest.raises(UnknownSymbolError) as info:
        parse("d/dz x'Ax")
    assert "did you mean x" in info.value.hint


@pytest.mark.parametrize("let, message", [
    ("x: vectr(n)", "unknown shape 'vectr'"),
    ("x vector(n)", "expected ':' in the declarations, found 'vector'"),
    ("x: vector(0)", "a dimension is a name or a positive integer"),
    ("x: vector(n), n: scalar", "n is declared as a variable and used as a dimension"),
    ("x: vector(n), x: vector(m)", "x is declared twice, as vector(n) and as vector(m)"),
])
def test_declaration_errors(let, message):
    with pytest.raises(DeclarationError) as info:
        parse("x", let)
    assert info.value.message == message
    assert info.value.source == let


def test_declaration_short_forms_and_separators():
    parsed = parse("x'A x + a", ["x: vec(3); A: mat(3, 3)", "a: scalar"])
    assert parsed.shapes()["x"].dims() == [3]
    assert parsed.assumed == {}


def test_symmetric_and_posdef_are_square():
    parsed = parse("logdet(P) + x'S x", "P: posdef(n), S: symmetric(n)")
    assert parsed.shapes()["S"].dims() == ["n", "n"]
    assert parsed.env.is_symmetric("P") and parsed.env.is_symmetric("S")
