"""`--format numpy|torch|jax` with `--notation vec`: the module's derivative(...) is the Jacobian matrix of
vec(F) by vec(X) (columns stacked), (rows·cols of F) × (rows·cols of X) in numerator layout and its
transpose in denominator layout, compared here with central differences written with NumPy alone
(test_vec_form.jacobian). Sizes are all distinct, so a Kronecker product with its factors swapped has the
wrong shape or the wrong values.
"""

import numpy as np
import pytest
from test_vec_form import FIRST_DERIVATIVES, SIZES, hessian, jacobian, numpy_values, run, sample

LAYOUTS = ["numerator", "denominator"]
# the cases with a Kronecker form (the others keep index notation, and their modules theirs)
KRONECKER = [case for case in FIRST_DERIVATIVES if case[3] is not None]
# one of each kind of factor: ⊗ of matrices and of vectors, K, a sum, a transposed vec, a vec outer product
FOR_EVERY_BACKEND = ["A X B", "X'", "inv(X)", "A X' B", "x b'", "X X", "tr(A X) B", "tr(X) X"]


def module(source, wrt, let, backend, *options):
    result = run(source, "--wrt", wrt, "--let", let, "--notation", "vec", "--format", backend, *options)
    assert result.exit_code == 0, result.output
    namespace: dict = {}
    exec(result.output, namespace)  # matcalc's generated code
    return namespace


def as_backend(values, backend):
    arrays = numpy_values(values)
    if backend == "torch":
        import torch

        return {name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}
    if backend == "jax":
        import jax.numpy as jnp

        return {name: jnp.asarray(value) for name, value in arrays.items()}
    return arrays


def to_numpy(value):
    return np.asarray(value.detach() if hasattr(value, "detach") else value, dtype=float)


def expected_jacobian(source, wrt, function, values, layout):
    if source == "inv(X)":
        values["X"] = values["X"] + 3 * np.eye(SIZES["n"])
    others = {name: value for name, value in values.items() if name != wrt}
    expected = jacobian(lambda x: function(others, x), values[wrt])
    return expected.T if layout == "denominator" else expected


def check_module(case, backend, layout):
    source, wrt, let, _, function = case
    code = module(source, wrt, let, backend, "--layout", layout)
    values = sample(let, np.random.default_rng(3))
    expected = expected_jacobian(source, wrt, function, values, layout)
    computed = to_numpy(code["derivative"](**as_backend(values, backend)))
    assert computed.shape == expected.shape
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)
    errors = code["check_gradient"]()
    assert errors[wrt] < 1e-5
    code["f_and_grad"](**as_backend(values, backend))  # its shape assertions hold


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", KRONECKER, ids=[c[0] for c in KRONECKER])
def test_the_numpy_module_returns_the_jacobian_of_vec(case, layout):
    check_module(case, "numpy", layout)


EVERY_BACKEND = [case for case in KRONECKER if case[0] in FOR_EVERY_BACKEND]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", EVERY_BACKEND, ids=[c[0] for c in EVERY_BACKEND])
def test_the_torch_module_returns_the_jacobian_of_vec(case, layout):
    pytest.importorskip("torch")
    check_module(case, "torch", layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", EVERY_BACKEND, ids=[c[0] for c in EVERY_BACKEND])
def test_the_jax_module_returns_the_jacobian_of_vec(case, layout):
    pytest.importorskip("jax")
    check_module(case, "jax", layout)


def test_every_backend_case_is_a_kronecker_case():
    assert len(EVERY_BACKEND) == len(FOR_EVERY_BACKEND)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_module_of_a_hessian_by_a_matrix(layout):
    let = "A: matrix(n, n), X: matrix(n, k)"
    code = module("tr(X'A X)", "X", let, "numpy", "--order", "2", "--layout", layout)
    values = sample(let, np.random.default_rng(5))
    expected = hessian(lambda x: np.trace(x.T @ values["A"] @ x), values["X"])
    computed = code["derivative"](**values)
    np.testing.assert_allclose(computed, expected, rtol=1e-5, atol=1e-5)
    assert code["check_gradient"]()["X"] < 1e-3


def test_float32_stays_float32():
    source, wrt, let, _, _ = KRONECKER[0]
    code = module(source, wrt, let, "numpy")
    values = {
        name: value.astype(np.float32) for name, value in numpy_values(sample(let, np.random.default_rng(1))).items()
    }
    assert code["derivative"](**values).dtype == np.float32


def test_a_module_of_several_variables_with_and_without_a_kronecker_form():
    let = "A: matrix(m, n), X: matrix(n, k), b: vector(k)"
    code = module("A X b", "X,b", let, "numpy")
    values = sample(let, np.random.default_rng(7))
    by_x, by_b = code["derivative"](**numpy_values(values))
    others = {name: value for name, value in values.items() if name != "X"}
    np.testing.assert_allclose(by_x, jacobian(lambda x: others["A"] @ x @ others["b"], values["X"]), atol=1e-6)
    np.testing.assert_allclose(by_b, values["A"] @ values["X"], atol=1e-12)  # a vector by a vector: A X
    assert set(code["check_gradient"]()) == {"X", "b"}


def test_a_wrong_module_is_never_shown(monkeypatch):
    from matcalc.render import module as writer
    from matcalc.render.python import Code

    monkeypatch.setattr(writer, "vec_module_code", lambda printer, matrix: Code("np.kron(A, B.T)"))  # swapped
    let = "A: matrix(n, n), X: matrix(n, n), B: matrix(n, n)"  # square: the swap has the right shape
    result = run("A X B", "--wrt", "X", "--let", let, "--notation", "vec", "--format", "numpy")
    assert result.exit_code == 4
    assert "is wrong" in result.output
    assert "def derivative" not in result.output


def test_sympy_and_at_still_take_index_notation():
    let = "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)"
    result = run("A X B", "--wrt", "X", "--let", let, "--notation", "vec", "--format", "sympy")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# Expressions with vec, ⊗ and K: the module computes the function itself (vec stacking columns) as well
VEC_OF = [
    ("vec(A X B)", "X", "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)", lambda v, X: v["A"] @ X @ v["B"]),
    ("vec(X')", "X", "X: matrix(m, n)", lambda v, X: X.T),
    ("vec(inv(X))", "X", "X: matrix(n, n)", lambda v, X: np.linalg.inv(X)),
    ("vec(x b')", "x", "x: vector(n), b: vector(k)", lambda v, x: x @ v["b"].T),
]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("source, wrt, let, function", VEC_OF, ids=[c[0] for c in VEC_OF])
def test_the_module_of_vec_of_a_function(source, wrt, let, function, layout, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    code = module(source, wrt, let, backend, "--layout", layout)
    values = sample(let, np.random.default_rng(9))
    expected = expected_jacobian(source, wrt, function, values, layout)
    inputs = as_backend(values, backend)
    np.testing.assert_allclose(to_numpy(code["derivative"](**inputs)), expected, rtol=1e-6, atol=1e-6)
    others = {name: value for name, value in values.items() if name != wrt}
    vec_of_f = function(others, values[wrt]).reshape(-1, order="F")  # vec stacks columns
    np.testing.assert_allclose(to_numpy(code["expression"](**inputs)), vec_of_f, rtol=1e-12, atol=1e-12)
    code["f_and_grad"](**inputs)
    assert code["check_gradient"]()[wrt] < 1e-5


# Scalars through vec and ⊗ (matrix notation): (expression, variable, declarations, f(values, X))
SCALARS = [
    ("tr(kron(A, X))", "X", "A: matrix(m, m), X: matrix(k, k)", lambda v, X: np.trace(np.kron(v["A"], X))),
    (
        "vec(A)' kron(X, B) vec(C)",
        "X",
        "A: matrix(m, k), X: matrix(k, l), B: matrix(m, n), C: matrix(n, l)",
        lambda v, X: v["A"].reshape(-1, order="F") @ np.kron(X, v["B"]) @ v["C"].reshape(-1, order="F"),
    ),
    ("vec(X)' K(m, m) vec(X)", "X", "X: matrix(m, m)", lambda v, X: np.sum(X * X.T)),
]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("source, wrt, let, function", SCALARS, ids=[c[0] for c in SCALARS])
def test_the_module_of_a_scalar_through_vec_and_kron(source, wrt, let, function, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    result = run(source, "--wrt", wrt, "--let", let, "--format", backend)
    assert result.exit_code == 0, result.output
    code: dict = {}
    exec(result.output, code)  # matcalc's generated code
    values = sample(let, np.random.default_rng(4))
    inputs = as_backend(values, backend)
    others = {name: value for name, value in values.items() if name != wrt}
    assert float(to_numpy(code["expression"](**inputs))) == pytest.approx(function(others, values[wrt]), rel=1e-12)
    assert code["check_gradient"]()[wrt] < 1e-5  # the module's own comparison with finite differences
