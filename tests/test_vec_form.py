"""The vec/Kronecker form of derivatives with more than two axes, against finite differences.

The reference is written here with NumPy alone: vec stacks columns (order="F"), and column c of
∂vec(F)/∂vec(X)ᵀ is the central difference of vec(F) along the c-th entry of vec(X). Sizes are all
distinct, so a Kronecker product with its factors swapped, or a missing transpose or K, has the wrong
shape or the wrong values.
"""

import numpy as np
import pytest

from matcalc import nodes as n
from matcalc.api import parse
from matcalc.algebra.builder import Builder
from matcalc.numeric.evaluate import commutation_matrix, evaluate
from matcalc.layout import Layout
from matcalc.render.text import vec_text
from matcalc.calculus.differentiate import differentiate
from matcalc.calculus.vec import applies, vec_form

SIZES = {"m": 2, "n": 3, "k": 4, "l": 5}
STEP = 1e-6


def vec(a):
    return np.asarray(a).reshape(-1, 1, order="F")


def jacobian(function, x):
    """∂vec(F)/∂vec(X)ᵀ by central differences over the entries of X in column-major order."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    flat = vec(x).ravel()
    columns = []
    for c in range(flat.size):
        step = np.zeros_like(flat)
        step[c] = STEP
        plus = function(step_to(flat + step, x.shape))
        minus = function(step_to(flat - step, x.shape))
        columns.append((vec(plus) - vec(minus)).ravel() / (2 * STEP))
    return np.array(columns).T


def step_to(flat, shape):
    return flat.reshape(shape, order="F")


def hessian(function, x, step=1e-4):
    """∂²f/∂vec(X)∂vec(X)ᵀ by central second differences."""
    x = np.asarray(x, dtype=float)
    flat = vec(x).ravel()
    size = flat.size
    result = np.zeros((size, size))
    for a in range(size):
        for b in range(size):
            ea, eb = np.zeros(size), np.zeros(size)
            ea[a], eb[b] = step, step
            total = 0.0
            for sa, sb, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                total += sign * function(step_to(flat + sa * ea + sb * eb, x.shape))
            result[a, b] = total / (4 * step * step)
    return result


def derive(source, wrt, let, order=1, layout=Layout.NUMERATOR):
    parsed = parse(source, let)
    variable = next(v for v in n.walk(parsed.expr) if isinstance(v, n.Var) and v.name == wrt)
    result = differentiate(parsed.expr, variable, parsed.env, layout, order)
    assert applies(result)
    return vec_form(result, Builder())


def values_for(let_shapes, rng):
    return {name: rng.normal(size=shape) for name, shape in let_shapes.items()}


def shown(form):
    return vec_text(form.matrix, unicode=True)


# (expression, variable, declarations, the textbook form, NumPy F(X) given the other values)
FIRST_DERIVATIVES = [
    ("A X B", "X", "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)", "Bᵀ ⊗ A", lambda v, X: v["A"] @ X @ v["B"]),
    ("A X", "X", "A: matrix(m, n), X: matrix(n, k)", "I_k ⊗ A", lambda v, X: v["A"] @ X),
    ("X B", "X", "X: matrix(n, k), B: matrix(k, l)", "Bᵀ ⊗ I_n", lambda v, X: X @ v["B"]),
    ("X'", "X", "X: matrix(m, n)", "K(m, n)", lambda v, X: X.T),
    ("inv(X)", "X", "X: matrix(n, n)", "-(X⁻ᵀ ⊗ X⁻¹)", lambda v, X: np.linalg.inv(X)),
    ("X X", "X", "X: matrix(n, n)", "Xᵀ ⊗ I_n + I_n ⊗ X", lambda v, X: X @ X),
    ("A X b", "X", "A: matrix(m, n), X: matrix(n, k), b: vector(k)", "bᵀ ⊗ A", lambda v, X: v["A"] @ X @ v["b"]),
    ("X' a", "X", "X: matrix(n, k), a: vector(n)", "I_k ⊗ aᵀ", lambda v, X: X.T @ v["a"]),
    ("x b'", "x", "x: vector(n), b: vector(k)", "b ⊗ I_n", lambda v, x: x @ v["b"].T),
    ("a x'", "x", "a: vector(m), x: vector(n)", "I_n ⊗ a", lambda v, x: v["a"] @ x.T),
    ("exp(x) x'", "x", "x: vector(n)", "x ⊗ diag(exp(x)) + I_n ⊗ exp(x)", lambda v, x: np.exp(x) @ x.T),
    ("x exp(x)'", "x", "x: vector(n)", "exp(x) ⊗ I_n + diag(exp(x)) ⊗ x", lambda v, x: x @ np.exp(x).T),
    ("tr(X) X", "X", "X: matrix(n, n)", "vec(X) vec(I_n)ᵀ + tr(X) I_nn", lambda v, X: np.trace(X) * X),
    ("sum(X .^ 2) X", "X", "X: matrix(n, k)", None, lambda v, X: np.sum(X**2) * X),
    (
        "A X diag(b)",
        "X",
        "A: matrix(m, n), X: matrix(n, k), b: vector(k)",
        None,
        lambda v, X: v["A"] @ X @ np.diag(v["b"].ravel()),
    ),
    ("X' A X", "X", "A: matrix(n, n), X: matrix(n, k)", None, lambda v, X: X.T @ v["A"] @ X),
    (
        "A X' B",
        "X",
        "A: matrix(m, k), X: matrix(n, k), B: matrix(n, l)",
        "(Bᵀ ⊗ A) K(n, k)",
        lambda v, X: v["A"] @ X.T @ v["B"],
    ),
    ("X' A", "X", "A: matrix(n, l), X: matrix(n, k)", "(Aᵀ ⊗ I_k) K(n, k)", lambda v, X: X.T @ v["A"]),
    (
        "tr(A X) B",
        "X",
        "A: matrix(k, n), X: matrix(n, k), B: matrix(m, l)",
        "vec(B) vec(Aᵀ)ᵀ",
        lambda v, X: np.trace(v["A"] @ X) * v["B"],
    ),
]


def sample(let, rng):
    """Values for each declared name at SIZES."""
    values = {}
    for declaration in _declarations(let):
        name, kind, dims = declaration
        shape = tuple(SIZES[d] for d in dims) if kind == "matrix" else (SIZES[dims[0]], 1)
        values[name] = rng.normal(size=shape)
    return values


def _declarations(let):
    text = let
    while text:
        name, rest = text.split(":", 1)
        kind, rest = rest.strip().split("(", 1)
        inside, rest = rest.split(")", 1)
        yield name.strip(), kind, [d.strip() for d in inside.split(",")]
        text = rest.lstrip(", ")


@pytest.mark.parametrize(
    "source, wrt, let, textbook, function", FIRST_DERIVATIVES, ids=[c[0] for c in FIRST_DERIVATIVES]
)
def test_first_derivatives_match_finite_differences_of_vec(source, wrt, let, textbook, function):
    form = derive(source, wrt, let)
    assert form is not None, "no Kronecker form"
    if textbook is not None:
        assert shown(form) == textbook
    rng = np.random.default_rng(7)
    values = sample(let, rng)
    if source in ("inv(X)",):
        values["X"] = values["X"] + 3 * np.eye(SIZES["n"])
    computed = evaluate(form.matrix, values, SIZES)
    others = {name: value for name, value in values.items() if name != wrt}
    expected = jacobian(lambda x: function(others, x), values[wrt])
    assert computed.shape == expected.shape
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)


def test_the_denominator_layout_is_the_transpose():
    let = "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)"
    numerator = derive("A X B", "X", let)
    denominator = derive("A X B", "X", let, layout=Layout.DENOMINATOR)
    assert shown(denominator) == "B ⊗ Aᵀ"
    values = sample(let, np.random.default_rng(1))
    np.testing.assert_allclose(evaluate(denominator.matrix, values, SIZES), evaluate(numerator.matrix, values, SIZES).T)
    transposed = derive("X'", "X", "X: matrix(m, n)", layout=Layout.DENOMINATOR)
    assert shown(transposed) == "K(n, m)"


HESSIANS = [
    ("tr(X' A X)", "A: matrix(n, n), X: matrix(n, k)", "I_k ⊗ (A + Aᵀ)", lambda v, X: np.trace(X.T @ v["A"] @ X)),
    ("logdet(X)", "X: matrix(n, n)", None, lambda v, X: np.log(np.linalg.det(X))),
    ("tr(X B X')", "B: matrix(k, k), X: matrix(n, k)", None, lambda v, X: np.trace(X @ v["B"] @ X.T)),
    (
        "tr(A X B X)",
        "A: matrix(k, n), B: matrix(k, n), X: matrix(n, k)",
        None,
        lambda v, X: np.trace(v["A"] @ X @ v["B"] @ X),
    ),
]


@pytest.mark.parametrize("source, let, textbook, function", HESSIANS, ids=[c[0] for c in HESSIANS])
def test_hessians_by_a_matrix_match_second_differences(source, let, textbook, function):
    form = derive(source, "X", let, order=2)
    assert form is not None, "no Kronecker form"
    if textbook is not None:
        assert shown(form) == textbook
    values = sample(let, np.random.default_rng(3))
    if source == "logdet(X)":
        values["X"] = values["X"] @ values["X"].T + np.eye(SIZES["n"])
    others = {name: value for name, value in values.items() if name != "X"}
    expected = hessian(lambda x: function(others, x), values["X"])
    computed = evaluate(form.matrix, values, SIZES)
    np.testing.assert_allclose(computed, expected, rtol=1e-5, atol=1e-5)


def test_a_term_with_an_index_in_two_pieces_has_no_kronecker_form():
    form = derive("X .* A", "X", "X: matrix(m, n), A: matrix(m, n)")
    assert form is None


def test_the_commutation_matrix_permutes_vec_into_vec_of_the_transpose():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(commutation_matrix(2, 3) @ vec(x), vec(x.T))


# The command line: --notation vec


def run(*args):
    from click.testing import CliRunner

    from matcalc.cli import cli

    return CliRunner().invoke(cli, ["diff", *args])


def test_diff_notation_vec_prints_the_kronecker_form_its_shape_and_its_check():
    result = run(
        "A X B", "--wrt", "X", "--let", "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)", "--notation", "vec"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "∂vec(F)/∂vec(X)ᵀ = Bᵀ ⊗ A    (F = A X B)"
    assert lines[1] == "shape: (m·l, n·k) (numerator layout; vec stacks columns)"
    assert lines[-1].startswith("checked: 3 points")


def test_diff_notation_vec_in_latex_and_json():
    latex = run("inv(X)", "--wrt", "X", "--let", "X: matrix(n, n)", "--notation", "vec", "--format", "latex")
    assert latex.output.strip().endswith(r"= -(X^{-\top} \otimes X^{-1})")
    assert r"\operatorname{vec}(X)^\top" in latex.output
    import json

    data = json.loads(
        run("X'", "--wrt", "X", "--let", "X: matrix(m, n)", "--notation", "vec", "--format", "json").output
    )
    assert (data["notation"], data["derivative"], data["latex"]) == ("vec", "K(m, n)", "K_{mn}")
    assert data["result_shape"] == ["n·m", "m·n"]  # Xᵀ is n×m


def test_a_hessian_in_denominator_layout_and_an_identity_with_its_size_in_latex():
    result = run(
        "tr(X'A X)",
        "--wrt",
        "X",
        "--let",
        "A: matrix(n, n), X: matrix(n, k)",
        "--order",
        "2",
        "--notation",
        "vec",
        "--format",
        "latex",
        "--layout",
        "denominator",
    )
    assert result.output.strip().endswith(r"= I_{k} \otimes (A + A^\top)")


def test_a_result_without_a_kronecker_form_keeps_index_notation_and_says_so():
    result = run("X .* A", "--wrt", "X", "--let", "X: matrix(m, n), A: matrix(m, n)", "--notation", "vec")
    assert result.exit_code == 0
    assert "∂Y_ij/∂X_kl = A_ij δ_ik δ_jl" in result.output
    assert "no Kronecker form" in result.output


def test_results_with_two_axes_keep_their_matrix_form():
    result = run("x'A x", "--wrt", "x", "--notation", "vec")
    assert result.output.splitlines()[0] == "∂/∂x x'A x = xᵀ(A + Aᵀ)"


def numpy_values(values):
    """SPEC §4's arrays: a vector 1-D."""
    return {name: value.ravel() if value.shape[1] == 1 else value for name, value in values.items()}


@pytest.mark.parametrize(
    "source, wrt, let, textbook, function", FIRST_DERIVATIVES, ids=[c[0] for c in FIRST_DERIVATIVES]
)
def test_the_json_numpy_field_is_the_jacobian_of_vec(source, wrt, let, textbook, function):
    import json

    output = run(source, "--wrt", wrt, "--let", let, "--notation", "vec", "--format", "json").output
    field = json.loads(output)["numpy"]
    rng = np.random.default_rng(11)
    values = sample(let, rng)
    if source == "inv(X)":
        values["X"] = values["X"] + 3 * np.eye(SIZES["n"])
    computed = eval(field, {"np": np, **numpy_values(values)})  # the printed expression, as a user runs it
    others = {name: value for name, value in values.items() if name != wrt}
    expected = jacobian(lambda x: function(others, x), values[wrt])
    assert computed.shape == expected.shape
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)


def test_the_json_numpy_field_of_a_hessian():
    import json

    let = "A: matrix(n, n), X: matrix(n, k)"
    output = run("tr(X'A X)", "--wrt", "X", "--let", let, "--order", "2", "--notation", "vec", "--format", "json")
    field = json.loads(output.output)["numpy"]
    values = sample(let, np.random.default_rng(5))
    computed = eval(field, {"np": np, **values})
    expected = hessian(lambda x: np.trace(x.T @ values["A"] @ x), values["X"])
    np.testing.assert_allclose(computed, expected, rtol=1e-5, atol=1e-5)


LET_AXB = "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)"


def test_a_wrong_kronecker_form_is_never_shown(monkeypatch):
    from matcalc.calculus import vec as module
    monkeypatch.setattr(module, "_kron", lambda left, right: n.Kron(right, left, shape=left.shape))  # swapped
    result = run(
        "A X B", "--wrt", "X", "--let", "A: matrix(n, n), X: matrix(n, n), B: matrix(n, n)", "--notation", "vec"
    )
    assert result.exit_code == 4
    assert "disagrees with its index form" in result.output
    assert "⊗" not in result.output


def test_a_wrong_numpy_field_is_never_shown(monkeypatch):
    from matcalc.numeric import vec_check as vec_notation
    monkeypatch.setattr(vec_notation, "vec_numpy_expression", lambda result, matrix: "np.kron(A, B.T)")
    result = run(
        "A X B",
        "--wrt",
        "X",
        "--let",
        "A: matrix(n, n), X: matrix(n, n), B: matrix(n, n)",
        "--notation",
        "vec",
        "--format",
        "json",
    )
    assert result.exit_code == 4
    assert "np.kron" not in result.output


# A property: over generated matrix-valued expressions in a square X, the vec form equals finite differences


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SQUARE = "X: matrix(n, n), A: matrix(n, n), B: matrix(n, n)"
LEAVES = {"X": lambda v: v["X"], "A": lambda v: v["A"], "B": lambda v: v["B"]}


def expressions():
    """(source, NumPy function of the values) pairs: products, sums, transposes and inverses of X, A and B."""
    leaf = st.sampled_from(sorted(LEAVES)).map(lambda name: (name, LEAVES[name]))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(
                lambda p: (f"({p[0][0]}) ({p[1][0]})", lambda v, f=p[0][1], g=p[1][1]: f(v) @ g(v))
            ),
            st.tuples(inner, inner).map(
                lambda p: (f"({p[0][0]}) + ({p[1][0]})", lambda v, f=p[0][1], g=p[1][1]: f(v) + g(v))
            ),
            inner.map(lambda p: (f"({p[0]})'", lambda v, f=p[1]: f(v).T)),
            inner.map(lambda p: (f"2 ({p[0]})", lambda v, f=p[1]: 2 * f(v))),
        ),
        max_leaves=4,
    ).filter(lambda pair: "X" in pair[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_the_vec_form_of_generated_expressions_matches_finite_differences(pair):
    source, function = pair
    form = derive(source, "X", SQUARE)
    if form is None:  # no Kronecker form: index notation kept, nothing to compare
        return
    values = sample(SQUARE, np.random.default_rng(2))
    computed = evaluate(form.matrix, values, SIZES)
    expected = jacobian(lambda x: function({**values, "X": x}), values["X"])
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)
    from matcalc.api import diff

    field = diff(source, "X", SQUARE, notation="vec").to_json()["numpy"]  # checked against the form as it is made
    printed = eval(field, {"np": np, **values})
    np.testing.assert_allclose(printed, expected, rtol=1e-6, atol=1e-6)


def test_the_python_api_gives_the_vec_form():
    from matcalc.api import diff

    result = diff("A X B", "X", LET_AXB, notation="vec")
    assert result.text == "kron(B', A)"
    assert result.report()[0] == "∂vec(F)/∂vec(X)ᵀ = Bᵀ ⊗ A    (F = A X B)"
    assert (
        result.latex == r"\frac{\partial \operatorname{vec}(F)}{\partial \operatorname{vec}(X)^\top} = B^\top \otimes A"
    )
    assert result.to_json()["result_shape"] == ["m·l", "n·k"]
    assert diff("A X B", "X", LET_AXB).vec is None  # index notation unless asked


def test_an_unknown_notation_is_an_input_error():
    from matcalc.api import diff
    from matcalc.errors import InputError

    with pytest.raises(InputError, match="index or vec"):
        diff("A X B", "X", LET_AXB, notation="kronecker")


def test_shapes_notation_vec_gives_the_shapes_diff_gives():
    from click.testing import CliRunner

    from matcalc.api import diff
    from matcalc.cli import cli

    table = CliRunner().invoke(cli, ["shapes", "--notation", "vec"]).output
    assert "(m·l, n·k)" in table and "(m, n·k)" in table and "(m·l, n)" in table
    assert "(k, n)" in table and "(m, n)" in table  # at most two axes: as in index notation
    let = "Y: matrix(m, l), X: matrix(n, k), y: vector(m), x: vector(n)"
    assert tuple(diff("tr(X'X) Y", "X", let, notation="vec").vec.shape) == ("m·l", "n·k")
    assert tuple(diff("x y'", "x", let, notation="vec").vec.shape) == ("n·m", "n")
    denominator = CliRunner().invoke(cli, ["shapes", "--notation", "vec", "--layout", "denominator"]).output
    assert "(n·k, m·l)" in denominator


def test_several_variables_in_vec_notation():
    from matcalc.api import diff

    results = diff("A X B", ["X", "A"], LET_AXB, notation="vec")
    assert results[0].text == "kron(B', A)"
    assert results[1].text == "kron((X B)', I_m)"  # d(A X B) = dA X B: ((X B)' ⊗ I) vec(dA)
    assert results[1].vec.shape == ("m·l", "m·n")
    assert r"B^\top \otimes A" in results.latex


def test_the_latex_of_every_vec_form_compiles(tmp_path, pdflatex_available):
    from helpers import pdflatex

    from matcalc.api import diff

    texts = [diff(source, wrt, let, notation="vec").latex for source, wrt, let, _, _ in FIRST_DERIVATIVES]
    texts += [diff(source, "X", let, order=2, notation="vec").latex for source, let, _, _ in HESSIANS]
    texts.append(diff("X", "X", "X: matrix(m1, n)", notation="vec").latex)  # I_{m_1 · n}
    assert all(any(mark in text for mark in (r"\otimes", "K_", "I_{", r"\operatorname{vec}(B)")) for text in texts)
    compiled, log = pdflatex(texts, tmp_path)
    assert compiled, log[-2000:]


def test_a_zero_hessian_and_negative_terms():
    import json

    args = ["sum(X)", "--wrt", "X", "--let", "X: matrix(n, k)", "--order", "2", "--notation", "vec", "--format", "json"]
    zero = json.loads(run(*args).output)
    assert zero["derivative"] == "0"
    assert zero["result_shape"] == ["n·k", "n·k"]
    value = eval(zero["numpy"], {"np": np, "X": np.ones((SIZES["n"], SIZES["k"]))})
    assert value.shape == (12, 12) and not np.any(value)
    text = run("logdet(X' X)", "--wrt", "X", "--let", "X: matrix(n, k)", "--order", "2", "--notation", "vec").output
    assert " - 2" in text.splitlines()[0] and "+ -" not in text
