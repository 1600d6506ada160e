"""SPEC §2 products: a scalar scales, conforming inner dimensions multiply as matrices, two vectors
of one length multiply elementwise, and anything else is an error that suggests what conforms."""

import pytest

from matcalc import parse
from matcalc.cli import cli
from matcalc.errors import ShapeError

TWO_BY_THREE = "A: matrix(2, 3), B: matrix(2, 3)"


@pytest.mark.parametrize("text", ["A B", "A * B", "AB"])
def test_two_matrices_of_one_shape_do_not_multiply_silently(text):
    with pytest.raises(ShapeError) as info:
        parse(text, TWO_BY_THREE)
    error = info.value
    assert error.message == "shapes do not conform for a product"
    assert error.column() == 1
    # 2×3 times 2×3: elementwise, or A'B (3×2 times 2×3 = 3×3), or AB' (2×3 times 3×2 = 2×2)
    assert error.hint == "A is 2×3, B is 2×3\ndid you mean A .* B (elementwise), A' B (3×3) or A B' (2×2)?"


def test_what_the_hint_suggests_parses():
    for text, shape in [("A .* B", [2, 3]), ("A' B", [3, 3]), ("A B'", [2, 2])]:
        assert parse(text, TWO_BY_THREE).shape.dims() == shape


def test_two_vectors_of_different_lengths_suggest_the_outer_product():
    with pytest.raises(ShapeError) as info:
        parse("x z", "x: vector(n), z: vector(m)")
    assert info.value.hint == "x is n×1, z is m×1\ndid you mean x z' (n×m)?"


def test_two_rows_of_different_lengths_suggest_the_outer_product():
    with pytest.raises(ShapeError) as info:
        parse("x' z'", "x: vector(n), z: vector(m)")
    assert info.value.hint.endswith("did you mean x z' (n×m)?")


def test_elementwise_product_of_matrices_that_conform_suggests_at():
    with pytest.raises(ShapeError) as info:
        parse("A .* C", "A: matrix(2, 3), C: matrix(3, 4)")
    assert info.value.message == "shapes do not conform for an elementwise product"
    assert "did you mean A @ C (the matrix product, 2×4)?" in info.value.hint


def test_a_sum_of_a_column_and_a_row_suggests_the_transpose():
    with pytest.raises(ShapeError) as info:
        parse("x + y'", "x: vector(n), y: vector(n)")
    assert info.value.hint == "x is n×1, y' is 1×n\ndid you mean x + y?"


def test_a_vector_times_a_matrix_keeps_the_spec_message():
    with pytest.raises(ShapeError) as info:
        parse("x*A + b", "x: vector(n), A: matrix(n, n)")
    assert info.value.hint == "x is n×1, A is n×n"


@pytest.mark.parametrize("text, let, canonical, shape", [
    ("x * y", "x: vector(n), y: vector(n)", "x .* y", ["n"]),  # two columns of one length
    ("x' y'", "x: vector(n), y: vector(n)", "x' .* y'", [1, "n"]),  # two rows of one length
    ("x'y", "x: vector(n), y: vector(n)", "x' y", []),
    ("x y'", "x: vector(n), y: vector(m)", "x y'", ["n", "m"]),
    ("A B", "A: matrix(2, 3), B: matrix(3, 4)", "A B", [2, 4]),
    ("a A", "a: scalar, A: matrix(2, 3)", "a A", [2, 3]),
    ("w*x", None, "w .* x", ["n"]),  # Parr & Howard
    ("A B", None, "A B", ["n", "k"]),  # undeclared matrices conform
])
def test_products_that_conform(text, let, canonical, shape):
    parsed = parse(text, let)
    assert parsed.canonical == canonical
    assert parsed.shape.dims() == shape


def test_square_matrices_of_one_size_multiply_as_matrices():
    parsed = parse("A B", "A: matrix(n, n), B: matrix(n, n)")
    assert parsed.expr.kind == "matmul"


def test_cli_refuses_two_by_three_matrices_with_exit_2(runner):
    result = runner.invoke(cli, ["parse", "A B", "--let", TWO_BY_THREE])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: shapes do not conform for a product (column 1)\n"
        "  A B\n"
        "  ^^^\n"
        "  A is 2×3, B is 2×3\n"
        "  did you mean A .* B (elementwise), A' B (3×3) or A B' (2×2)?\n"
    )
