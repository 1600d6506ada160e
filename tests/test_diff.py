"""Derivatives checked against finite differences that never touch the differentiator.

The reference side uses only `matcalc.numeric.evaluate.evaluate` on the parsed
expression (the NumPy meaning of each node), central differences at random
points with distinct dimension sizes (n=3, m=4, k=5, l=6), and its own
arrangement of the full Jacobian for each layout, written from SPEC §3's
table. The checked side is `result.numpy`, evaluated under SPEC §4's array
contract (scalars as floats, vectors 1-D, matrices 2-D), and `result.shape`.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from reference import LAYOUTS, arrange, as_arrays, assert_close, expected_shape, jacobian, kind

from matcalc import nodes
from matcalc.api import diff, parse
from matcalc.cli import cli
from matcalc.errors import ShapeError
from matcalc.numeric.evaluate import evaluate

SIZES = {"n": 3, "m": 4, "k": 5, "l": 6}
LET = ("a: scalar, b: scalar, x: vector(n), y: vector(n), z: vector(m), u: vector(k), "
       "A: matrix(n, n), B: matrix(n, m), C: matrix(m, n), X: matrix(n, m), D: matrix(m, k), F: matrix(k, l), "
       "P: posdef(n), S: symmetric(n)")


# ---------------------------------------------------------------- the reference side


def dimension_sizes(expr) -> dict[str, int]:
    """A distinct size for every dimension name in the tree: n=3, m=4, k=5, l=6, others 7, 8, ..."""
    names: dict[str, None] = {}  # ordered set
    for sub in nodes.walk(expr):
        dims = [sub.shape.rows, sub.shape.cols] + ([sub.name] if isinstance(sub, nodes.DimSize) else [])
        names.update((dim, None) for dim in dims if isinstance(dim, str))
    sizes = {name: SIZES[name] for name in names if name in SIZES}
    spare = iter(range(7, 100))
    for name in names:
        sizes.setdefault(name, next(spare))
    assert len(set(sizes.values())) == len(sizes)
    return sizes


def size(dim, sizes) -> int:
    return dim if isinstance(dim, int) else sizes[dim]


def needs_positive(source: str) -> bool:
    return bool(re.search(r"log|sqrt", source))


def sample(parsed, sizes, rng, domain: str = "auto") -> dict[str, np.ndarray]:
    """Random 2-D values: normal entries, square + size*I, posdef M M' + I, symmetric (M + M')/2 + size*I.

    domain "positive" draws entries from U(0.5, 1.5) (log, sqrt, division), "unit" from U(-0.5, 0.5)
    (arcsin, arccos, tan); "auto" is "positive" when the expression has a log or a square root.
    """
    if domain == "auto":
        domain = "positive" if needs_positive(parsed.source) else "normal"
    values = {}
    for name, shape in parsed.shapes().items():
        rows, cols = size(shape.rows, sizes), size(shape.cols, sizes)
        decl = parsed.env.decls.get(name)
        kind = decl.kind if decl else ""
        if domain == "positive":
            value = rng.uniform(0.5, 1.5, size=(rows, cols))
        elif domain == "unit":
            value = rng.uniform(-0.5, 0.5, size=(rows, cols))
        else:
            value = rng.normal(size=(rows, cols))
        if kind == "posdef":
            value = value @ value.T + np.eye(rows)
        elif kind == "symmetric":
            value = (value + value.T) / 2 + rows * np.eye(rows)
        elif rows == cols and rows > 1:
            value = value + rows * np.eye(rows)
        values[name] = value
    return values


def run_numpy(result, parsed, values) -> np.ndarray:
    return np.asarray(eval(result.numpy, {"np": np}, as_arrays(parsed, values)), dtype=float)


def check_against_fd(source: str, wrt: str, let: str = LET, layout: str = "numerator", domain: str = "auto",
                     points: int = 2, seed: int = 0):
    """diff() and check shape and numbers against finite differences at random points; return the result."""
    parsed = parse(source, let)
    result = diff(source, wrt, let, layout)
    out, var = parsed.shape, parsed.shapes()[wrt]
    sizes = dimension_sizes(parsed.expr)
    assert result.shape == expected_shape(out, var, layout)
    rng = np.random.default_rng(seed)
    for _ in range(points):
        values = sample(parsed, sizes, rng, domain)
        want = arrange(jacobian(parsed.expr, values, sizes, wrt), layout, out.rows == 1 and out.cols == 1)
        assert_close(run_numpy(result, parsed, values), want)
        # numpy drops exactly the unit axes of result.shape
        assert want.shape == tuple(size(d, sizes) for d in result.shape if d != 1)
    return result


def hessian_fd(expr, values, sizes, wrt: str, step: float = 1e-4) -> np.ndarray:
    """Second differences of `evaluate`: H[i, j] = d2 f / dv_i dv_j for a vector (or scalar) v."""
    base = values[wrt].ravel()
    count = base.size

    def f(vector):
        return evaluate(expr, {**values, wrt: vector.reshape(values[wrt].shape)}, sizes).item()

    hess = np.zeros((count, count))
    unit = np.eye(count) * step
    for i in range(count):
        for j in range(count):
            hess[i, j] = (f(base + unit[i] + unit[j]) - f(base + unit[i] - unit[j])
                          - f(base - unit[i] + unit[j]) + f(base - unit[i] - unit[j])) / (4 * step**2)
    return hess


# ---------------------------------------------------------------- every construct of SPEC §2


def case(source, wrt, domain="auto", let=LET, id=None, marks=()):
    return pytest.param(source, wrt, domain, let, id=id or f"{source} by {wrt}", marks=marks)


CONSTRUCTS = [
    # sums, differences and scalar expansion
    case("(x - y)'(x + a)", "x"),
    case("(x - y)'(x + a)", "a"),
    case("x + a", "a"),
    case("X - a + B", "a"),
    case("A - b + a A", "A"),
    # scalar times anything, juxtaposition
    case("a * x", "x"),
    case("a x", "a"),
    case("a b X", "X"),
    case("a^2 * B", "a"),
    case("pi a x + e", "a"),
    # matrix products: x'y, Xw, xy', AB, @
    case("x'y", "x"),
    case("x'A y", "A"),
    case("X z", "X"),
    case("X z", "z"),
    case("x z'", "x"),
    case("x z'", "z"),
    case("A B", "A"),
    case("A B", "B"),
    case("A @ x", "x"),
    case("x' @ A @ x", "A"),
    case("B @ D", "D"),
    case("D F", "F"),
    case("D u", "D"),
    # elementwise products: * between two vectors of one shape, .*, ⊙, ./
    case("x*y", "x"),
    case("x .* y", "x"),
    case("X .* X", "X"),
    case("sum(x ⊙ y)", "y"),
    case("x ./ y", "y", domain="positive"),
    case("B ./ X", "X", domain="positive"),
    case("X ./ B", "X", domain="positive"),
    # division by a scalar
    case("x / a", "a", domain="positive"),
    case("X / a", "X", domain="positive"),
    case("sum(X) / (a b)", "b", domain="positive"),
    # unary minus
    case("-x'A x", "x"),
    case("-(A x)", "A"),
    case("-X", "X"),
    # scalar power
    case("a^3 - 4a", "a"),
    case("(x'x)^3", "x"),
    case("a^1.5", "a", domain="positive"),
    case("(x'y)^-1", "y", domain="positive"),
    # integer power of a square matrix
    case("A^2", "A"),
    case("A^3", "A"),
    case("A^-1", "A"),
    case("A^-2", "A"),
    case("x'A^2 x", "x"),
    case("tr(A^3)", "A"),
    case("A^2 x", "x"),
    # elementwise power
    case("x^2", "x"),
    case("x .^ 3", "x"),
    case("X .^ 2", "X"),
    case("2 .^ x", "x"),
    case("sum(x .^ a)", "a", domain="positive"),
    case("a .^ x", "a", domain="positive"),
    # transposes
    case("A'x", "A"),
    case("X^T y", "X"),
    case("x.T A x", "x"),
    case("(A B)'", "B"),
    case("X'", "X"),
    case("x'", "x"),
    # inverse
    case("inv(A)", "A"),
    case("inv(A) x", "x"),
    case("inv(A) x", "A"),
    case("x' inv(P) x", "P"),
    case("inv(a A)", "a"),
    # trace, determinant, log-determinant
    case("tr(A)", "A"),
    case("trace(X' A X)", "X"),
    case("tr(a A)", "a"),
    case("det(A)", "A"),
    case("det(a A)", "a"),
    case("det(A) x", "A"),
    case("logdet(P)", "P"),
    case("logdet(P + a a I)", "a"),
    case("logdet(X'X + I)", "X"),
    # norms
    case("||x||", "x"),
    case("||x||^2", "x"),
    case("||x||_1", "x"),
    case("||x||_2", "x"),
    case("||X||_F", "X"),
    case("norm(X)", "X"),
    case("norm1(x - y)", "y"),
    case("norm2(A x)", "A"),
    case("‖a x‖", "a"),
    case("||A x - y||^2", "A"),
    # absolute value
    case("|x|", "x"),
    case("abs(X)", "X"),
    case("sum(|A x|)", "A"),
    case("|a|", "a"),
    # sum and mean
    case("sum(X)", "X"),
    case("sum(x z')", "z"),
    case("mean(x .* y)", "x"),
    case("mean(A)", "A"),
    # diag of a vector, diagonal of a matrix
    case("diag(x) A", "x"),
    case("x' diag(y) x", "y"),
    case("diag(x)", "x"),
    case("diag(A)", "A"),
    case("diag(A)'x", "A"),
    case("diag(X C)", "X"),
    # inner product
    case("dot(x, y)", "x"),
    case("dot(x, A y)", "A"),
    case("dot(a x, y)", "a"),
    # elementwise functions
    case("exp(A x)", "x"),
    case("exp(X)", "X"),
    case("sum(log(x))", "x"),
    case("log(X)", "X"),
    case("log(a)", "a"),
    case("sin(X)", "X"),
    case("sin(a x)", "a"),
    case("cos(a x)", "x"),
    case("cos(X z)", "X"),
    case("tan(x)", "x", domain="unit"),
    case("tan(a)", "a", domain="unit"),
    case("tanh(A)", "A"),
    case("tanh(x'y)", "y"),
    case("arcsin(x)", "x", domain="unit"),
    case("arcsin(X)", "X", domain="unit"),
    case("arccos(a x)", "a", domain="unit"),
    case("arccos(x)'y", "x", domain="unit"),
    case("arctan(X z)", "z"),
    case("arctan(a)", "a"),
    case("sqrt(x)", "x"),
    case("sqrt(x'x)", "x"),
    case("sqrt(X)", "X"),
    case("sigmoid(X'y)", "X"),
    case("sigmoid(a)", "a"),
    case("relu(A x)", "A"),
    case("relu(x)", "x"),
    case("sign(x) .* x", "x"),
    case("sign(a) a", "a"),
    # max and min, including against 0
    case("max(x, y)", "x"),
    case("min(x, y)", "y"),
    case("max(0, A x)", "x"),
    case("min(0, X)", "X"),
    case("max(a, b)", "a"),
    case("min(a x, y)", "a"),
    case("max(0, w'x + b)", "w", let="w: vector(n), x: vector(n), b: scalar"),
    # softmax and logsumexp along a vector
    case("softmax(x)", "x"),
    case("softmax(a x)", "a"),
    case("softmax(A x)", "A"),
    case("logsumexp(x)", "x"),
    case("logsumexp(X z)", "X"),
    case("logsumexp(a x)", "a"),
    # identity, ones, constant vectors and matrices
    case("x'(A + I)x", "x"),
    case("(A - 2 I) x", "A"),
    case("a eye(n) + A", "a"),
    case("ones(n)'A x", "A"),
    case("a ones(n) + x", "a"),
    case("x'vector(1)", "x"),
    case("x .* vector(3)", "x"),
    case("matrix(2) .* X", "X"),
    case("X + matrix(a)", "a"),
    case("1/(2n) ||y - X z||^2", "z"),
    # a variable named like a Python keyword
    case("lambda ||x||^2", "lambda", let="lambda: scalar, x: vector(n)"),
    case("lambda ||x||^2", "x", let="lambda: scalar, x: vector(n)"),
    # symmetric and posdef variables: their entries are treated as independent
    case("x'S x", "S"),
    case("x'S x", "x"),
    case("tr(S A)", "S"),
    case("tr(P^-1 A)", "P"),
    # regressions: each was once wrong
    case("tr(diag(x))", "x"),  # δ_ii of an index used elsewhere is 1, not the size n
    case("diag(diag(x))", "x"),
    case("sign(X)", "X"),  # a zero result of order 4 is still an array of the result shape
    case("X - X", "X"),
    case("A a A", "A"),  # the transpose of a scaling whose scalar is on the right
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("source, wrt, domain, let", CONSTRUCTS)
def test_construct_matches_finite_differences(source, wrt, domain, let, layout):
    check_against_fd(source, wrt, let, layout, domain)


def test_constructs_cover_all_nine_cells_of_the_shape_table():
    cells = set()
    for param in CONSTRUCTS:
        source, wrt, _, let = param.values
        parsed = parse(source, let)
        cells.add((kind(parsed.shape), kind(parsed.shapes()[wrt])))
    assert cells == {(out, var) for out in ("scalar", "vector", "matrix") for var in ("scalar", "vector", "matrix")}


def test_reference_side_alone_gives_the_known_jacobian_of_A_x():
    """The finite differences and the arrangement, without the differentiator: ∂(Ax)/∂x = A (m×n) in
    numerator layout and A' in denominator layout; ∂(x'x)/∂x = 2x' squeezed to 2x in both."""
    parsed, sizes, values, _ = point("A x", "A: matrix(m, n), x: vector(n)")
    jac = jacobian(parsed.expr, values, sizes, "x")
    assert jac.shape == (4, 1, 3, 1)
    assert_close(arrange(jac, "numerator", False), values["A"])
    assert_close(arrange(jac, "denominator", False), values["A"].T)
    assert_close(arrange(jac, "mixed", False), values["A"])
    parsed, sizes, values, _ = point("x'x", "x: vector(n)")
    for layout in LAYOUTS:
        assert_close(arrange(jacobian(parsed.expr, values, sizes, "x"), layout, True), 2 * values["x"][:, 0])


def test_expected_shape_helper_follows_the_table():
    """The test's own table, spelled out (scalar by X: matrix(n, k) is (k, n) in numerator layout)."""
    from matcalc.shapes import Shape

    scalar, vec_n, mat_nk, vec_m, mat_ml = Shape(1, 1), Shape("n", 1), Shape("n", "k"), Shape("m", 1), Shape("m", "l")
    assert expected_shape(scalar, mat_nk, "numerator") == ("k", "n")
    assert expected_shape(scalar, mat_nk, "denominator") == ("n", "k")
    assert expected_shape(scalar, mat_nk, "mixed") == ("n", "k")
    assert expected_shape(scalar, vec_n, "numerator") == (1, "n")
    assert expected_shape(scalar, vec_n, "denominator") == ("n", 1)
    assert expected_shape(vec_m, vec_n, "mixed") == ("m", "n")
    assert expected_shape(vec_m, mat_nk, "numerator") == ("m", "k", "n")
    assert expected_shape(mat_ml, mat_nk, "denominator") == ("n", "k", "l", "m")
    assert expected_shape(mat_ml, scalar, "mixed") == ("m", "l")


# ---------------------------------------------------------------- worked examples from the course notes


def point(source: str, let=None, seed: int = 0, domain: str = "auto"):
    """The parsed expression, its dimension sizes, random 2-D values and the same values as arrays."""
    parsed = parse(source, let)
    sizes = dimension_sizes(parsed.expr)
    values = sample(parsed, sizes, np.random.default_rng(seed), domain)
    return parsed, sizes, values, as_arrays(parsed, values)


def test_gradient_of_A_x_is_A_transposed():
    # ∂(Ax)/∂x = A in numerator layout, so A' in denominator layout (n×m for A: m×n)
    let = "A: matrix(m, n), x: vector(n)"
    result = check_against_fd("A x", "x", let, "denominator")
    assert result.text == "A'"
    assert result.shape == ("n", "m")
    _, _, _, arrays = point("A x", let)
    assert_close(eval(result.numpy, {"np": np}, arrays), arrays["A"].T)


def test_gradient_of_x_transposed_A_is_A():
    # ∂(x'A)/∂x = A' in numerator layout, so A itself in denominator layout
    let = "A: matrix(n, m), x: vector(n)"
    result = check_against_fd("x'A", "x", let, "denominator")
    assert result.text == "A"
    _, _, _, arrays = point("x'A", let)
    assert_close(eval(result.numpy, {"np": np}, arrays), arrays["A"])


def test_quadratic_form_x_A_x():
    # ∂(x'Ax)/∂x = x'(A + A') (numerator), (A + A')x (denominator); 2Ax when A is symmetric
    let = "x: vector(n), A: matrix(n, n)"
    numerator = check_against_fd("x'Ax", "x", let, "numerator")
    denominator = check_against_fd("x'Ax", "x", let, "denominator")
    assert numerator.text == "x'(A + A')"
    assert denominator.text == "(A + A')x"
    _, _, _, arrays = point("x'Ax", let)
    x, A = arrays["x"], arrays["A"]
    assert_close(eval(denominator.numpy, {"np": np}, arrays), (A + A.T) @ x)

    symmetric = check_against_fd("x'Ax", "x", "x: vector(n), A: symmetric(n)", "denominator")
    assert symmetric.text == "2A x"
    _, _, _, arrays = point("x'Ax", "x: vector(n), A: symmetric(n)")
    assert_close(eval(symmetric.numpy, {"np": np}, arrays), 2 * arrays["A"] @ arrays["x"])


def test_squared_norm_of_a_vector():
    # ∇ ||x||^2 = 2x
    result = check_against_fd("||x||^2", "x", "x: vector(n)", "denominator")
    assert result.text == "2x"
    _, _, _, arrays = point("||x||^2", "x: vector(n)")
    assert_close(eval(result.numpy, {"np": np}, arrays), 2 * arrays["x"])


def test_squared_frobenius_norm():
    # ∇ ||X||_F^2 = 2X, the shape of X in denominator layout
    result = check_against_fd("||X||_F^2", "X", "X: matrix(n, m)", "denominator")
    assert result.text == "2X"
    assert result.shape == ("n", "m")
    _, _, _, arrays = point("||X||_F^2", "X: matrix(n, m)")
    assert_close(eval(result.numpy, {"np": np}, arrays), 2 * arrays["X"])


def test_scalar_polynomial_at_one():
    # d/dx (3x^2 - 4x) = 6x - 4, which is 2 at x = 1
    result = check_against_fd("3x^2 - 4x", "x", "x: scalar")
    assert result.shape == (1,)
    assert eval(result.numpy, {"np": np}, {"x": 1.0}) == pytest.approx(2.0)
    assert eval(result.numpy, {"np": np}, {"x": 2.5}) == pytest.approx(11.0)


def test_sum_of_an_affine_elementwise_model():
    # sum(w*x + b) with w*x elementwise: d/dw = x' (numerator), d/db = n (b is expanded to n entries)
    let = "w: vector(n), x: vector(n), b: scalar"
    by_w = check_against_fd("sum(w*x + b)", "w", let)
    assert by_w.text == "x'"
    by_b = check_against_fd("sum(w*x + b)", "b", let)
    assert by_b.text == "n"
    _, sizes, _, arrays = point("sum(w*x + b)", let)
    assert sizes["n"] == 3
    assert_close(eval(by_w.numpy, {"np": np}, arrays), arrays["x"])
    assert float(eval(by_b.numpy, {"np": np}, arrays)) == pytest.approx(3.0)


def test_relu_neuron_states_its_subgradient():
    # d/dw max(0, w'x + b) = step(w'x + b) x'; at the kink any convex combination is a subgradient
    let = "w: vector(n), x: vector(n), b: scalar"
    result = check_against_fd("max(0, w'x + b)", "w", let, points=4, seed=3)
    assert result.notes, "the kink at w'x + b = 0 must be noted"
    assert any(re.search(r"subgradient|subdifferential|not differentiable|kink", note) for note in result.notes)
    # on the active side the derivative is x', on the inactive side 0
    parsed, _, values, arrays = point("max(0, w'x + b)", let)
    for b in (100.0, -100.0):
        arrays["b"] = b
        want = arrays["x"] if b > 0 else np.zeros(3)
        assert_close(eval(result.numpy, {"np": np}, arrays), want)


def test_least_squares_with_bias():
    # L = 1/2 ||y - Xw - b||^2: ∇_w L = -X'(y - Xw - b), ∂L/∂b = -sum(y - Xw - b)
    source = "1/2 ||y - Xw - b||^2"
    by_w = check_against_fd(source, "w", None, "denominator")
    by_b = check_against_fd(source, "b", None, "denominator")
    assert by_w.shape == ("m", 1) and by_b.shape == (1,)
    _, _, _, arrays = point(source)
    y, X, w, b = arrays["y"], arrays["X"], arrays["w"], arrays["b"]
    residual = y - X @ w - b
    assert_close(eval(by_w.numpy, {"np": np}, arrays), -X.T @ residual)
    assert_close(eval(by_b.numpy, {"np": np}, arrays), np.asarray(-residual.sum()))


def softmax(o):
    exps = np.exp(o - o.max())
    return exps / exps.sum()


def test_cross_entropy_of_softmax():
    # ∇_o -y' log(softmax(o)) = sum(y) softmax(o) - y, which is softmax(o) - y for a one-hot y
    source = "-y' log(softmax(o))"
    result = check_against_fd(source, "o", None, "denominator", domain="normal")
    assert result.shape == ("n", 1)
    _, _, _, arrays = point(source, domain="normal")
    o, y = arrays["o"], arrays["y"]
    assert_close(eval(result.numpy, {"np": np}, arrays), softmax(o) * y.sum() - y)
    one_hot = np.eye(3)[1]
    assert_close(eval(result.numpy, {"np": np}, {"o": o, "y": one_hot}), softmax(o) - one_hot)


def test_log_det():
    # ∇_X log det X = X^-T (denominator layout)
    result = check_against_fd("log(det(X))", "X", None, "denominator", domain="normal")
    _, _, values, arrays = point("log(det(X))", domain="normal")
    assert np.linalg.det(values["X"]) > 0
    assert_close(eval(result.numpy, {"np": np}, arrays), np.linalg.inv(arrays["X"]).T)


def test_trace_of_a_product():
    # ∇_X tr(AXB) = A'B' (denominator layout), the shape of X
    let = "A: matrix(n, m), X: matrix(m, k), B: matrix(k, n)"
    result = check_against_fd("tr(A X B)", "X", let, "denominator")
    assert result.shape == ("m", "k")
    _, _, _, arrays = point("tr(A X B)", let)
    assert_close(eval(result.numpy, {"np": np}, arrays), arrays["A"].T @ arrays["B"].T)


def test_vector_by_matrix_is_written_in_index_notation():
    # y = A X b: ∂y_i/∂X_jk = A_ij b_k, a 3-D result of shape (n, k, m) in numerator layout
    let = "A: matrix(n, m), X: matrix(m, k), b: vector(k)"
    result = check_against_fd("A X b", "X", let)
    assert result.shape == ("n", "k", "m")
    assert "∂" in result.text and "_" in result.text
    _, _, _, arrays = point("A X b", let)
    want = np.einsum("ir,c->icr", arrays["A"], arrays["b"])  # [i, column of X, row of X]
    assert_close(eval(result.numpy, {"np": np}, arrays), want)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_matrix_by_itself_is_the_identity_of_order_four(layout):
    # ∂X_ij/∂X_kl = δ_ik δ_jl, arranged (n, m, m, n) in every layout for X: n×m
    result = check_against_fd("X", "X", "X: matrix(n, m)", layout)
    assert result.shape == ("n", "m", "m", "n")
    _, _, _, arrays = point("X", "X: matrix(n, m)")
    got = np.asarray(eval(result.numpy, {"np": np}, arrays))
    delta = np.einsum("ik,jl->ijkl", np.eye(3), np.eye(4))  # [out row, out col, wrt row, wrt col]
    want = delta.transpose(0, 1, 3, 2)
    assert_close(got, want.transpose(3, 2, 1, 0) if layout == "denominator" else want)


# ---------------------------------------------------------------- Hessians


def check_hessian(source: str, wrt: str, let=None, seed: int = 0, domain: str = "auto"):
    parsed = parse(source, let)
    result = diff(source, wrt, let, order=2)
    sizes = dimension_sizes(parsed.expr)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        values = sample(parsed, sizes, rng, domain)
        want = hessian_fd(parsed.expr, values, sizes, wrt)
        want = want.reshape(()) if want.size == 1 else want
        assert_close(run_numpy(result, parsed, values), want)
    return result


def test_hessian_of_a_quadratic_form():
    # ∇²(x'Ax) = A + A', and 2A for a symmetric A
    result = check_hessian("x'Ax", "x", "x: vector(n), A: matrix(n, n)")
    assert result.shape == ("n", "n")
    _, _, _, arrays = point("x'Ax", "x: vector(n), A: matrix(n, n)")
    assert_close(eval(result.numpy, {"np": np}, arrays), arrays["A"] + arrays["A"].T)

    symmetric = check_hessian("x'Ax", "x", "x: vector(n), A: symmetric(n)")
    assert symmetric.shape == ("n", "n")
    assert "2A" in symmetric.text


def test_hessian_of_least_squares():
    # ∇²_w 1/2 ||Xw - y||^2 = X'X
    let = "X: matrix(m, n), w: vector(n), y: vector(m)"
    result = check_hessian("1/2 ||Xw - y||^2", "w", let)
    assert result.shape == ("n", "n")
    _, _, _, arrays = point("1/2 ||Xw - y||^2", let)
    assert_close(eval(result.numpy, {"np": np}, arrays), arrays["X"].T @ arrays["X"])


def test_hessian_of_logsumexp():
    # ∇² logsumexp(x) = diag(p) - p p' with p = softmax(x)
    result = check_hessian("logsumexp(x)", "x", "x: vector(n)")
    assert result.shape == ("n", "n")
    _, _, _, arrays = point("logsumexp(x)", "x: vector(n)")
    p = softmax(arrays["x"])
    assert_close(eval(result.numpy, {"np": np}, arrays), np.diag(p) - np.outer(p, p))


@pytest.mark.parametrize("source, wrt, let, shape", [
    ("-y' log(softmax(o))", "o", None, ("n", "n")),
    ("||x||", "x", None, ("n", "n")),
    ("sum(log(x))", "x", None, ("n", "n")),
    ("log(1 + exp(-y (w'x)))", "w", "y: scalar, w: vector(n), x: vector(n)", ("n", "n")),
    ("x' inv(A) x", "x", "x: vector(n), A: matrix(n, n)", ("n", "n")),
    ("sum(x)", "x", None, ("n", "n")),
    ("exp(a) sin(a)", "a", None, (1,)),
    ("lambda ||x||^2", "lambda", "lambda: scalar, x: vector(n)", (1,)),
], ids=["cross-entropy", "norm", "sum-log", "logistic-loss", "inverse-quadratic", "linear", "scalar",
        "keyword"])
def test_more_hessians_match_second_differences(source, wrt, let, shape):
    assert check_hessian(source, wrt, let).shape == shape


# ---------------------------------------------------------------- the command line


def test_cli_json_has_the_spec_fields(runner):
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    for field in ("expression", "wrt", "layout", "shapes", "assumed", "result_shape", "derivative", "latex",
                  "numpy", "notes"):
        assert field in data, field
    assert data["expression"] == "x'Ax" and data["wrt"] == "x" and data["layout"] == "numerator"
    assert data["shapes"] == {"x": ["n"], "A": ["n", "n"]}
    assert data["assumed"] == ["x", "A"]
    assert data["result_shape"] == [1, "n"]
    assert data["derivative"] == "x'(A + A')"
    assert data["notes"] == []
    x, A = np.array([1.0, 2.0, -1.0]), np.arange(9.0).reshape(3, 3)
    assert_close(eval(data["numpy"], {"np": np}, {"x": x, "A": A}), x @ (A + A.T))


def test_cli_verify_checks_at_more_points(runner):
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--verify"], catch_exceptions=False)
    assert result.exit_code == 0
    assert any(line.startswith("checked: 10 points") for line in result.stdout.splitlines()), result.stdout


def test_cli_expression_starting_with_minus(runner):
    result = runner.invoke(cli, ["diff", "-y' log(softmax(o))", "--wrt", "o", "--layout", "denominator",
                                 "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["expression"] == "-y' log(softmax(o))"
    assert data["result_shape"] == ["n", 1]


def test_cli_unknown_variable_suggests_one(runner):
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "q"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "did you mean x?" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("source, wrt, let, layout", [
    ("x'Ax", "x", "x: vector(n), A: matrix(n, n)", "numerator"),
    ("tr(A X B)", "X", "A: matrix(n, m), X: matrix(m, k), B: matrix(k, n)", "denominator"),
    ("lambda ||x||^2 + x'y", "x", "lambda: scalar, x: vector(n), y: vector(n)", "mixed"),
], ids=["quadratic", "trace", "keyword"])
def test_cli_numpy_format_defines_the_derivative(runner, source, wrt, let, layout):
    result = runner.invoke(cli, ["diff", source, "--wrt", wrt, "--let", let, "--layout", layout,
                                 "--format", "numpy"], catch_exceptions=False)
    assert result.exit_code == 0
    namespace: dict = {}
    exec(result.stdout, namespace)
    parsed, sizes, values, arrays = point(source, let)
    want = arrange(jacobian(parsed.expr, values, sizes, wrt), layout, parsed.shape.is_scalar)
    assert_close(namespace["derivative"](**arrays), want)


def test_a_constant_with_no_size_from_its_context_is_refused():
    # vector(a) alone has no size that NumPy code could read off an array
    with pytest.raises(ShapeError):
        diff("vector(a)", "a", "a: scalar")


def test_a_sum_whose_factors_all_cancel_counts_its_terms():
    """Σ_i (1 ⊘ s_i) s_i (1 ⊘ s_i) s_i is n, not 1: the second derivative of Σ log(softmax(x))²,
    worked by hand with l = log softmax(x), s = softmax(x), L = Σ l:
    H = 2I - 2𝟏sᵀ - 2s𝟏ᵀ - 2L(diag(s) - ssᵀ) + 2n ssᵀ (the self-check caught the lost n)."""
    result = diff("sum(log(softmax(x)).^2)", "x", "x: vector(n)", order=2)
    x = np.array([0.3, -0.5, 0.9, 0.1])
    s = softmax(x)
    total = np.log(s).sum()
    ones = np.ones(4)
    want = 2 * np.eye(4) - 2 * np.outer(ones, s) - 2 * np.outer(s, ones) - 2 * total * (np.diag(s) - np.outer(s, s)) \
        + 2 * 4 * np.outer(s, s)
    assert_close(eval(result.numpy, {"np": np}, {"x": x}), want)


@pytest.mark.parametrize("source", ["inv(S^T)^-2", "inv(S')^-3", "(S')^-2"])
def test_negative_powers_of_a_symmetric_variable_are_differentiated_as_written(source):
    """A symmetric variable's derivative is the unconstrained one (its entries independent), so what is
    differentiated may not be simplified by the symmetry: inv(Sᵀ)^-2 is (Sᵀ)², whose derivative by S is not
    that of S² (exploring profile: it was, and the self-check refused it). Checked against finite differences."""
    result = diff(source, "S", "S: symmetric(n)")
    assert result.check.holds and result.check.points > 0
