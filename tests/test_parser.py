"""Every construct of SPEC §2 parses, with the meaning and shape the checker gives it."""

import pytest

from matcalc import parse
from matcalc.errors import ParseError, TokenizeError, UnknownSymbolError

DECLS = "a: scalar, x: vector(n), y: vector(n), z: vector(m), A: matrix(n, n), B: matrix(n, m), " \
        "C: matrix(m, n), S: symmetric(n), P: posdef(n)"

# (expression, expected canonical text, expected shape as SPEC §4 writes it)
CONSTRUCTS = [
    ("x + y", "x + y", ["n"]),
    ("x - y", "x - y", ["n"]),
    ("x + a", "x + a", ["n"]),  # scalar expansion
    ("a - A", "a - A", ["n", "n"]),
    ("a * x", "a x", ["n"]),
    ("a x", "a x", ["n"]),
    ("A x", "A x", ["n"]),
    ("Ax", "A x", ["n"]),  # an undeclared name splits into declared ones
    ("x'y", "x' y", []),
    ("xy'", "x y'", ["n", "n"]),
    ("x * y", "x .* y", ["n"]),  # no inner conformance, same shape: elementwise
    ("A @ x", "A x", ["n"]),
    ("B C", "B C", ["n", "n"]),
    ("C B", "C B", ["m", "m"]),
    ("x .* y", "x .* y", ["n"]),
    ("x ⊙ y", "x .* y", ["n"]),
    ("x ./ y", "x ./ y", ["n"]),
    ("x / a", "x / a", ["n"]),
    ("-x", "-x", ["n"]),
    ("a^2", "a^2", []),
    ("A^3", "A^3", ["n", "n"]),
    ("x^2", "x^2", ["n"]),  # elementwise power of a vector
    ("A.^2", "A.^2", ["n", "n"]),
    ("x'", "x'", [1, "n"]),
    ("x^T", "x'", [1, "n"]),
    ("x.T", "x'", [1, "n"]),
    ("xᵀ", "x'", [1, "n"]),
    ("B'", "B'", ["m", "n"]),
    ("A^-1", "A^-1", ["n", "n"]),
    ("inv(A)", "A^-1", ["n", "n"]),
    ("A⁻¹", "A^-1", ["n", "n"]),
    ("‖x‖", "||x||", []),
    ("||x||", "||x||", []),
    ("norm(x)", "||x||", []),
    ("||x||_1", "||x||_1", []),
    ("||x||_2", "||x||", []),
    ("||B||_F", "||B||", []),
    ("norm1(x)", "||x||_1", []),
    ("norm2(x)", "||x||", []),
    ("|x|", "abs(x)", ["n"]),
    ("abs(x)", "abs(x)", ["n"]),
    ("sum(B)", "sum(B)", []),
    ("mean(x)", "mean(x)", []),
    ("tr(A)", "tr(A)", []),
    ("trace(A)", "tr(A)", []),
    ("det(A)", "det(A)", []),
    ("logdet(P)", "logdet(P)", []),
    ("diag(x)", "diag(x)", ["n", "n"]),
    ("diag(A)", "diag(A)", ["n"]),
    *[(f"{f}(x)", f"{f}(x)", ["n"]) for f in
      ("exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "sqrt", "sigmoid", "relu", "sign")],
    ("max(x, y)", "max(x, y)", ["n"]),
    ("min(0, x)", "min(0, x)", ["n"]),
    ("softmax(z)", "softmax(z)", ["m"]),
    ("logsumexp(z)", "logsumexp(z)", []),
    ("dot(x, y)", "x' y", []),
    ("A + I", "A + eye(n)", ["n", "n"]),
    ("eye(n) x", "eye(n) x", ["n"]),
    ("ones(n)' x", "ones(n)' x", []),
    ("x + vector(1)", "x + ones(n)", ["n"]),
    ("x + vector(2)", "x + vector(2)", ["n"]),
    ("A + matrix(2)", "A + matrix(2)", ["n", "n"]),
    ("0 + x", "0 + x", ["n"]),
    ("2.5 pi e", "2.5 pi e", []),
    ("(x + y)' A", "(x + y)' A", [1, "n"]),
]


@pytest.mark.parametrize("text, canonical, shape", CONSTRUCTS, ids=[c[0] for c in CONSTRUCTS])
def test_construct_parses_with_its_meaning_and_shape(text, canonical, shape):
    parsed = parse(text, DECLS)
    assert parsed.canonical == canonical
    assert parsed.shape.dims() == shape


# SPEC §2's six (eight) examples, with the shapes a person derives by hand.
EXAMPLES = [
    ("||y - Xw||^2", None, {"y": ["r"], "X": ["r", "c"], "w": ["c"]}),
    ("sum(w*x + b)", None, {"w": ["r"], "x": ["r"], "b": []}),
    ("x'Ax", None, {"x": ["r"], "A": ["r", "r"]}),
    ("1/(2n) ||y - Xw - b||^2", "X: matrix(n, d)", {"y": ["n"], "X": ["n", "d"], "w": ["d"], "b": []}),
    ("-y' log(softmax(o))", None, {"y": ["r"], "o": ["r"]}),
    ("max(0, w'x + b)", None, {"w": ["r"], "x": ["r"], "b": []}),
    ("tr(A X B)", None, {"A": ["r", "c"], "X": ["c", "k"], "B": ["k", "r"]}),
    ("log(det(X))", None, {"X": ["r", "r"]}),
]


def _same_pattern(actual: dict, expected: dict) -> bool:
    """Shapes agree up to a consistent renaming of the inferred dimension names."""
    renaming = {}
    if actual.keys() != expected.keys():
        return False
    for name, dims in expected.items():
        if len(actual[name]) != len(dims):
            return False
        for want, got in zip(dims, actual[name]):
            if want in ("n", "d") and got != want:  # declared dimensions keep their names
                return False
            if renaming.setdefault(want, got) != got:
                return False
    return len(set(renaming.values())) == len(renaming)


@pytest.mark.parametrize("text, let, shapes", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_spec_examples_parse_as_scalars_with_unified_shapes(text, let, shapes):
    parsed = parse(text, let)
    assert parsed.shape.kind == "scalar"
    actual = {name: shape.dims() for name, shape in parsed.shapes().items()}
    assert _same_pattern(actual, shapes), actual


def test_assumptions_follow_matrixcalculus_org_defaults():
    parsed = parse("alpha x + lambda B w + c")
    kinds = {name: decl.kind for name, decl in parsed.assumed.items()}
    assert kinds == {"alpha": "scalar", "x": "vector", "lambda": "scalar", "B": "matrix", "w": "vector", "c": "scalar"}


def test_declared_names_are_not_assumed():
    parsed = parse("x'Ax", "A: symmetric(k)")
    assert list(parsed.assumed) == ["x"]
    assert str(parsed.assumed["x"]) == "vector(k)"


def test_dimension_name_is_a_scalar():
    parsed = parse("x / n", "x: vector(n)")
    assert parsed.canonical == "x / n"
    assert parsed.shape.dims() == ["n"]


@pytest.mark.parametrize("text, canonical", [
    ("x'Ax", "x' A x"),
    ("W1x", "W1 x"),
    ("2n", "2 n"),
    ("Xw - y", "X w - y"),
    ("alpha x", "alpha x"),
    ("Xtheta", "X theta"),  # thetax, all lowercase, is one name
])
def test_undeclared_names_split_into_pieces(text, canonical):
    assert parse(text, "n: scalar" if text == "2n" else None).canonical == canonical


def test_a_declared_multiletter_name_is_not_split():
    assert parse("Xw + y", "Xw: vector(n)").canonical == "Xw + y"


@pytest.mark.parametrize("text, canonical", [
    ("-x^2", "-x^2"),  # power binds tighter than minus
    ("a - b - c", "a - b - c"),
    ("a - (b - c)", "a - (b - c)"),
    ("a / b c", "a / b c"),  # (a / b) c
    ("a^b^c", "a^b^c"),  # right-associative
    ("(a^b)^c", "(a^b)^c"),
    ("x'A'x", "x' A' x"),
    ("A x + B z", "A x + B z"),
    ("-(a b)", "-(a b)"),
])
def test_precedence(text, canonical):
    assert parse(text, DECLS + ", b: scalar, c: scalar").canonical == canonical


@pytest.mark.parametrize("text, wrt, order, shape", [
    ("d/dx x'Ax", "x", 1, [1, "n"]),
    ("d2/dx2 x'Ax", "x", 2, ["n", "n"]),
    ("d(x'Ax)/dx", "x", 1, [1, "n"]),
    ("d/dA tr(A B C)", "A", 1, ["n", "n"]),
    ("d/dz A B z", "z", 1, ["n", "m"]),
    ("d/da a^3", "a", 1, []),
])
def test_derivatives_parse_with_their_numerator_shape(text, wrt, order, shape):
    parsed = parse(text, DECLS)
    assert parsed.expr.wrt.name == wrt and parsed.expr.order == order
    assert parsed.shape.dims() == shape


def test_derivative_takes_everything_to_its_right():
    parsed = parse("d/dx x'x + a x'y", DECLS)
    assert parsed.canonical == "d/dx x' x + a x' y"
    assert parsed.expr.operand.kind == "add"


def test_derivative_shape_follows_the_layout():
    assert parse("d/dx a x'y", DECLS, layout="denominator").shape.dims() == ["n"]
    assert parse("d/dB x'B z", DECLS, layout="numerator").shape.dims() == ["m", "n"]
    assert parse("d/dB x'B z", DECLS, layout="mixed").shape.dims() == ["n", "m"]


@pytest.mark.parametrize("text, error, column", [
    ("", ParseError, 1),
    ("   ", ParseError, 4),
    ("(x + y", ParseError, 1),
    ("x + (y", ParseError, 5),
    ("x + y)", ParseError, 6),
    ("||x", ParseError, 1),
    ("a + |x", ParseError, 5),
    ("x +", ParseError, 4),
    ("x ++ * y", ParseError, 6),
    ("sum()", ParseError, 5),
    ("max(x)", ParseError, 1),
    ("tr A", ParseError, 1),
    ("x # y", TokenizeError, 3),
    ("sofmax(x)", UnknownSymbolError, 1),
    ("2 lamda", UnknownSymbolError, 3),
])
def test_syntax_errors_point_at_their_column(text, error, column):
    with pytest.raises(error) as info:
        parse(text)
    assert info.value.column() == column


@pytest.mark.parametrize("text", [
    "IXw",  # eye(n) names a dimension that inferred dimensions must not reuse
    "norm(Xw)/dx",  # dx after '/' is a product d x unless it closes a derivative
    "lambda - logdet(X)/dx",
    "d(x'x)/dx + d/dy y'y",
    "||x - ||y|| x||",
    "a - -b",
    "x .* -y",
])
def test_canonical_text_parses_back_to_the_same_tree(text):
    parsed = parse(text)
    assert parse(parsed.canonical).expr == parsed.expr
