"""Generated code: `--format numpy|torch|jax` modules run and agree with finite differences.

Expected values come from central finite differences of the function computed by matcalc.numeric.differences's
evaluator (evaluate.py, which shares no code with the differentiator or the printers), at a point drawn
in the functions' domains: every cell of SPEC §3's shape table, in two layouts, a Hessian, and a
two-layer network with several variables. The module's own check_gradient() must pass too.
"""

import numpy as np
import pytest

from matcalc import diff
from matcalc.cli import cli
from matcalc.layout import Layout
from matcalc.numeric.differences import evaluate_numeric, finite_difference, sample_point

# (expression, variable, declarations): each cell of the shape table, y by x
CELLS = [
    ("a^2 + sin(a)", "a", "a: scalar"),                                          # scalar by scalar
    ("x'Ax", "x", "x: vector(n), A: matrix(n, n)"),                              # scalar by vector
    ("log(det(X)) + tr(B X)", "X", "X: matrix(n, n), B: matrix(n, n)"),          # scalar by matrix
    ("exp(a) x", "a", "a: scalar, x: vector(n)"),                                 # vector by scalar
    ("tanh(W x)", "x", "W: matrix(m, n), x: vector(n)"),                         # vector by vector
    ("A X b", "X", "A: matrix(m, n), X: matrix(n, k), b: vector(k)"),            # vector by matrix
    ("a A + a^2 B", "a", "a: scalar, A: matrix(m, n), B: matrix(m, n)"),         # matrix by scalar
    ("x x'", "x", "x: vector(n)"),                                               # matrix by vector
    ("A X B", "X", "A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)"),         # matrix by matrix
]
CELL_IDS = ["scalar-scalar", "scalar-vector", "scalar-matrix", "vector-scalar", "vector-vector",
            "vector-matrix", "matrix-scalar", "matrix-vector", "matrix-matrix"]
NETWORK = ("-y' log(softmax(W2 tanh(W1 x + b1) + b2))", ["W1", "b1", "W2", "b2"],
           "W1: matrix(m, k), b1: vector(m), W2: matrix(n, m), b2: vector(n), x: vector(k), y: vector(n)")


def module(result, backend: str) -> dict:
    namespace: dict = {}
    exec(result.code(backend), namespace)  # our generated code, not user text
    return namespace


def spec_arrays(result, point) -> dict:
    """The point as SPEC §4 arrays: scalars as floats, vectors 1-D, matrices 2-D."""
    arrays = {}
    for name, shape in result.parsed.shapes().items():
        value = np.asarray(point.values[name], dtype=float)
        arrays[name] = value.item() if shape.is_scalar else value.ravel() if shape.is_column else value
    return arrays


def expected(result, point, wrt: str, layout: str) -> np.ndarray:
    return finite_difference(result.parsed.expr, wrt, point, Layout(layout))


def assert_close(actual, wanted, tolerance=1e-6):
    actual, wanted = np.asarray(actual, dtype=float), np.asarray(wanted, dtype=float)
    assert actual.shape == wanted.shape, (actual.shape, wanted.shape)
    assert np.max(np.abs(actual - wanted), initial=0) <= tolerance * max(1.0, np.max(np.abs(wanted), initial=0))


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("source, wrt, let", CELLS, ids=CELL_IDS)
def test_numpy_module_agrees_with_finite_differences(source, wrt, let, layout):
    result = diff(source, wrt, let, layout)
    namespace = module(result, "numpy")
    point = sample_point(result.parsed.expr, result.parsed.env, np.random.default_rng(7))
    arrays = spec_arrays(result, point)
    value, grad = namespace["f_and_grad"](**arrays)
    assert_close(grad, expected(result, point, wrt, layout))
    assert_close(namespace["derivative"](**arrays), grad)
    assert_close(value, np.squeeze(evaluate_numeric(result.parsed.expr, point.values, point.sizes)))
    errors = namespace["check_gradient"]()
    assert set(errors) == {wrt} and errors[wrt] < 1e-5


@pytest.mark.parametrize("source, wrt, let", CELLS, ids=CELL_IDS)
def test_torch_module_agrees_with_finite_differences(source, wrt, let):
    import torch  # in the test extra, so never skipped: a missing torch fails
    result = diff(source, wrt, let)
    namespace = module(result, "torch")
    point = sample_point(result.parsed.expr, result.parsed.env, np.random.default_rng(7))
    arrays = {name: torch.tensor(value, dtype=torch.float64) for name, value in spec_arrays(result, point).items()}
    value, grad = namespace["f_and_grad"](**arrays)
    assert isinstance(grad, torch.Tensor) and grad.dtype == torch.float64
    assert_close(grad.numpy(), expected(result, point, wrt, "numerator"))
    assert namespace["check_gradient"]()[wrt] < 1e-5


def test_torch_gradient_agrees_with_autograd():
    import torch
    source, wrt, let = NETWORK
    results = diff(source, wrt, let, layout="denominator")  # the gradients have the variables' shapes
    namespace = module(results, "torch")
    arrays = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
              for name, value in namespace["POINT"].items()}
    value, grads = namespace["f_and_grad"](**arrays)
    value.backward()
    for name, grad in zip(wrt, grads):
        assert_close(grad.detach().numpy(), arrays[name].grad.numpy(), 1e-10)


def test_jax_module_agrees_with_finite_differences():
    jax = pytest.importorskip("jax")  # an optional extra, not installed in CI
    source, wrt, let = NETWORK
    results = diff(source, wrt, let)
    namespace = module(results, "jax")
    errors = namespace["check_gradient"]()
    assert set(errors) == set(wrt) and max(errors.values()) < 1e-5
    assert jax is not None


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_two_layer_network_by_four_variables_in_one_function(backend):
    source, wrt, let = NETWORK
    results = diff(source, wrt, let)
    namespace = module(results, backend)
    point = sample_point(results[0].parsed.expr, results[0].parsed.env, np.random.default_rng(3))
    arrays = spec_arrays(results[0], point)
    if backend == "torch":
        import torch
        arrays = {name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}
    value, grads = namespace["f_and_grad"](**arrays)
    assert len(grads) == 4
    for name, grad in zip(wrt, grads):
        assert_close(np.asarray(grad), expected(results[0], point, name, "numerator"))
    # the named subexpressions are computed once, in the one function
    code = results.code(backend)
    assert code.count("def derivative(") == 1 and "    t1 = " in code


def test_a_hessian_and_a_third_derivative():
    for order in (2, 3):
        result = diff("sum(exp(A x))", "x", "A: matrix(m, n), x: vector(n)", order=order)
        namespace = module(result, "numpy")
        errors = namespace["check_gradient"]()
        assert errors["x"] < 1e-3
    A = np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.2]])
    x = np.array([0.2, -0.1])
    hessian = module(diff("sum(exp(A x))", "x", "A: matrix(m, n), x: vector(n)", order=2), "numpy")
    by_hand = A.T @ np.diag(np.exp(A @ x)) @ A  # d²/dx² 1'exp(Ax) = A' diag(exp(Ax)) A
    assert_close(hessian["derivative"](A=A, x=x), by_hand)


def test_shapes_are_asserted():
    namespace = module(diff("x'Ax", "x"), "numpy")
    with pytest.raises(AssertionError, match="A has shape"):
        namespace["f_and_grad"](x=np.ones(3), A=np.ones((4, 4)))


def test_a_keyword_variable_is_bound_with_an_underscore():
    namespace = module(diff("lambda ||w||^2", "w", "lambda: scalar, w: vector(n)"), "torch")
    import torch
    value, grad = namespace["f_and_grad"](lambda_=torch.tensor(2.0, dtype=torch.float64),
                                          w=torch.tensor([1.0, -2.0], dtype=torch.float64))
    assert float(value) == pytest.approx(10.0) and grad.tolist() == pytest.approx([4.0, -8.0])


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_cli_prints_a_module(runner, fmt):
    result = runner.invoke(cli, ["diff", "tanh(W2 tanh(W1 x))", "--wrt", "W1,W2", "--format", fmt],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    namespace: dict = {}
    exec(result.stdout, namespace)
    assert set(namespace["check_gradient"]()) == {"W1", "W2"}


def test_an_unspecified_function_is_called_by_name_and_bound_by_the_caller():
    result = diff("sum(f(W x))", "W", "f: function, W: matrix(m, n), x: vector(n)")
    namespace = module(result, "numpy")
    assert namespace["f"] is None and namespace["f_prime"] is None  # to bind
    namespace["f"], namespace["f_prime"] = np.tanh, lambda t: 1 - np.tanh(t) ** 2
    assert namespace["check_gradient"]()["W"] < 1e-5
    W, x = np.array([[1.0, -0.5], [0.2, 0.3], [0.0, 1.0]]), np.array([0.4, -1.2])
    # d/dW 1'tanh(W x) = x tanh'(W x)' in numerator layout (n×m), by hand
    assert_close(namespace["derivative"](W=W, x=x), np.outer(x, 1 - np.tanh(W @ x) ** 2))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("source, wrt, let", [
    ("sigmoid(W x)", "W", "W: matrix(m, n), x: vector(n)"),  # a diagonal of a contraction (order 5 array)
    ("A B", "B", "A: matrix(m, n), B: matrix(n, k)"),  # linear: the second derivative is 0
    ("a x'y", "a", "a: scalar, x: vector(n), y: vector(n)"),  # a constant 0 by a scalar
])
def test_second_derivatives_agree_with_second_differences(source, wrt, let, backend):
    result = diff(source, wrt, let, order=2)
    namespace = module(result, backend)
    assert namespace["check_gradient"]()[wrt] < 1e-3
    point = sample_point(result.parsed.expr, result.parsed.env, np.random.default_rng(4))
    arrays = spec_arrays(result, point)
    if backend == "torch":
        import torch

        arrays = {name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}
    got = np.asarray(namespace["derivative"](**arrays))
    shown = result.function()(**spec_arrays(result, point))  # matcalc's own evaluator of the shown form
    assert_close(got, shown, 1e-9)
