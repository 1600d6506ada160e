"""Printed code is checked before it is shown, and the code that once went out wrong now computes values
worked out by hand.

Every format (the NumPy, PyTorch and JAX modules, the JSON `numpy` field, `numpy_function_code()`, the SymPy
code) through the command line as a user runs it, then run here at a point chosen by hand. A printer bug
planted in a test must end in exit status 4, and `--no-check` must print the code unchecked.
"""

from __future__ import annotations

import json
import math
import re
import tracemalloc

import numpy as np
import pytest

from matcalc import diff
from matcalc.numeric import codecheck
from matcalc.cli import cli
from matcalc.nodes import MatMul, Transpose, Var
from matcalc.render import numpy as numpy_printer
from matcalc.render import python as python_code
from matcalc.shapes import Shape

MODULES = ("numpy", "torch", "jax")


def printed(runner, source: str, wrt: str, fmt: str, *options: str) -> str:
    result = runner.invoke(cli, ["diff", source, "--wrt", wrt, "--format", fmt, *options])
    assert result.exit_code == 0, result.output
    return result.stdout


def module(runner, source: str, wrt: str, fmt: str, *options: str) -> dict:
    namespace: dict = {}
    exec(printed(runner, source, wrt, fmt, *options), namespace)  # matcalc's generated code
    return namespace


def run_module(runner, source, wrt, fmt, *options, **inputs):
    """(expression, derivative) of a printed module at the inputs; jax's is compiled only (not installed)."""
    text = printed(runner, source, wrt, fmt, *options)
    if fmt == "jax":
        compile(text, "<jax module>", "exec")
        pytest.importorskip("jax")
    namespace: dict = {}
    exec(text, namespace)  # matcalc's generated code
    if fmt == "torch":
        import torch

        inputs = {name: torch.tensor(value, dtype=torch.float64) for name, value in inputs.items()}
    value, grad = namespace["expression"](**inputs), namespace["derivative"](**inputs)
    return np.asarray(value, dtype=float), np.asarray(grad, dtype=float)


def json_field(runner, source: str, wrt: str, *options: str) -> str:
    return json.loads(printed(runner, source, wrt, "json", *options))["numpy"]


# -- what went out wrong, computed by hand


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
@pytest.mark.parametrize("a, by_b", [(3.0, 9.0), (-2.0, 0.0)])
def test_a_power_of_relu_binds_as_a_power(runner, fmt, a, by_b):
    """d/db relu(a)^2 b = relu(a)^2: 9 at a = 3 (the modules said 1.5, (a + |a|)/2**2), 0 at a = -2."""
    value, grad = run_module(runner, "relu(a)^2 b", "b", fmt, a=a, b=2.0)
    assert float(grad) == pytest.approx(by_b) and float(value) == pytest.approx(2 * by_b)


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_a_quotient_by_max_and_a_power_of_min(runner, fmt):
    """b / max(a, 1) at a = 3, b = 6 is 2, and its derivative by b 1/3; min(a, 0)^2 b at a = -3 by b is 9."""
    value, grad = run_module(runner, "b / max(a, 1)", "b", fmt, a=3.0, b=6.0)
    assert float(value) == pytest.approx(2.0) and float(grad) == pytest.approx(1 / 3)
    value, grad = run_module(runner, "min(a, 0)^2 b", "b", fmt, a=-3.0, b=2.0)
    assert float(value) == pytest.approx(18.0) and float(grad) == pytest.approx(9.0)


def test_the_json_field_and_the_sympy_code_of_a_power_of_relu(runner):
    field = json_field(runner, "relu(a)^2 b", "b")
    assert eval(field, {"np": np, "a": 3.0, "b": 2.0}) == pytest.approx(9.0)  # matcalc's generated code
    namespace: dict = {}
    exec(printed(runner, "relu(a)^2 b", "b", "sympy"), namespace)  # matcalc's generated code
    import sympy as sp

    a = sp.Symbol("a", real=True)
    assert float(namespace["d_b"].subs(a, 3)) == 9.0 and float(namespace["d_b"].subs(a, -2)) == 0.0


@pytest.mark.parametrize("fmt", [*MODULES, "sympy", "json"])
def test_latex_input_with_a_backslash_is_held_in_the_docstring_exactly(runner, fmt):
    r"""\xi made the docstring "\xi ..." a SyntaxError (a truncated \x escape)."""
    source = r"\xi \mathbf{x}^\top \mathbf{x}"
    text = printed(runner, source, "x", fmt)
    if fmt == "json":
        assert eval(json.loads(text)["numpy"], {"np": np, "xi": 2.0, "x": np.array([1.0, 2.0])}).tolist() == [4.0, 8.0]
        return
    compile(text, "<printed>", "exec")
    if fmt == "sympy":
        assert text.startswith(f"# {source} and its derivative by x")
        return
    assert text.startswith(f'r"""{source}: its value')
    if fmt != "jax":
        _, grad = run_module(runner, source, "x", fmt, xi=2.0, x=np.array([1.0, 2.0]))
        assert grad.tolist() == [4.0, 8.0]  # d/dx xi x'x = 2 xi x'


@pytest.mark.parametrize("fmt", [*MODULES, "sympy"])
def test_an_expression_with_a_line_break_stays_in_its_docstring_or_comment(runner, fmt):
    source = "x'x +\n a"
    text = printed(runner, source, "x", fmt)
    compile(text, "<printed>", "exec")
    assert "x'x +\\n a" in text.splitlines()[0]
    if fmt == "sympy":
        namespace: dict = {}
        exec(text, namespace)  # matcalc's generated code
        assert str(namespace["d_x"]) == "2*x.T"


def test_a_fifth_derivative_of_softmax_compiles_and_is_right(runner):
    """softmax(v) at order 5 was "too many nested parentheses". At v = 0 with n = 2, softmax_1 = σ(v1 - v2),
    whose fifth derivative at 0 is 5!/480 = 1/4 (σ(t) = 1/2 + t/4 - t³/48 + t⁵/480 - ...): the entry
    by v1 five times is 1/4, by v2 five times -1/4; softmax_2 = 1 - softmax_1, so its entries are the
    negatives."""
    text = printed(runner, "softmax(v)", "v", "numpy", "--order", "5")
    assert "\n    _1 = " in text  # the long sum is named in parts
    namespace: dict = {}
    exec(text, namespace)  # matcalc's generated code
    d5 = namespace["derivative"](v=np.zeros(2))
    assert d5.shape == (2,) * 6
    assert d5[0, 0, 0, 0, 0, 0] == pytest.approx(1 / 4) and d5[0, 1, 1, 1, 1, 1] == pytest.approx(-1 / 4)
    assert d5[1, 0, 0, 0, 0, 0] == pytest.approx(-1 / 4)
    field = json_field(runner, "softmax(v)", "v", "--order", "5")
    by_field = eval(field, {"np": np, "v": np.zeros(2)})  # matcalc's generated code
    assert np.allclose(by_field, d5)


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_max_of_two_numbers_in_pytorch(runner, fmt):
    """a max(10, 1) called torch.abs on an int; d/da a max(10, 1) = 10."""
    value, grad = run_module(runner, "a max(10, 1)", "a", fmt, a=0.5)
    assert float(grad) == 10.0 and float(value) == 5.0
    assert eval(json_field(runner, "a max(10, 1)", "a"), {"np": np, "a": 0.5}) == 10.0  # matcalc's code


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_sixth_derivatives_compile_and_stay_small(runner, fmt):
    """Orders 4 to 6 once built tensor products of gigabytes to terabytes. d⁶/dx⁶ 1'exp(A x) is
    Σ_p exp(A x)_p A_pi A_pj ... A_pn: at A = I and x = 0 it is 1 where all six indices are equal, else 0.
    d⁶/da⁶ sin(a) x = -sin(a) x."""
    tracemalloc.start()
    _, grad = run_module(runner, "sum(exp(A x))", "x", fmt, "--order", "6", A=np.eye(3), x=np.zeros(3))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert grad.shape == (3,) * 6 and peak < 50e6
    expected = np.zeros((3,) * 6)
    for i in range(3):
        expected[(i,) * 6] = 1.0
    assert np.array_equal(grad, expected)
    _, grad = run_module(runner, "sin(a) x", "a", fmt, "--order", "6", a=0.5, x=np.array([1.0, 2.0]))
    assert grad == pytest.approx([-math.sin(0.5), -2 * math.sin(0.5)])


def test_sixth_derivatives_compile_in_every_format(runner):
    for fmt in (*MODULES, "sympy"):
        compile(printed(runner, "x'A x", "A", fmt, "--order", "6"), "<printed>", "exec")


@pytest.mark.parametrize("name", ["numpy", "np", "torch", "jnp", "math", "jax"])
@pytest.mark.parametrize("fmt", ["numpy", "torch", "json"])
def test_a_variable_named_like_a_module_is_bound_with_an_underscore(runner, name, fmt):
    """A variable numpy hid the module NumPy; d/dx v x'x + sin(v) = 2 v x', [6, 12] at v = 3, x = [1, 2]."""
    source, let = f"{name} x'x + sin({name})", f"{name}: scalar"
    x = np.array([1.0, 2.0])
    if fmt == "json":
        field = json_field(runner, source, "x", "--let", let)
        assert eval(field, {"np": np, f"{name}_": 3.0, "x": x}).tolist() == [6.0, 12.0]  # matcalc's code
        return
    _, grad = run_module(runner, source, "x", fmt, "--let", let, **{f"{name}_": 3.0, "x": x})
    assert grad.tolist() == [6.0, 12.0]


def test_sympy_names_are_not_hidden_by_a_variable(runner):
    """A matrix named E or Trace hid SymPy's E and Trace in --format sympy; d/da tr(E) a + e a = tr(E) + e."""
    namespace: dict = {}
    exec(printed(runner, "tr(E) a + e a", "a", "sympy", "--let", "E: matrix(n, n)"), namespace)  # matcalc's code
    import sympy as sp

    value = namespace["d_a"].xreplace({namespace["E_"]: sp.ImmutableMatrix([[1, 2], [3, 4]])}).doit()
    assert float(value) == pytest.approx(5 + math.e)


def test_float32_stays_float32(runner):
    import torch

    namespace = module(runner, "tanh(W x)", "x", "torch")
    W, x = torch.ones((2, 3), dtype=torch.float32), torch.ones(3, dtype=torch.float32)
    assert namespace["derivative"](W=W, x=x).dtype == torch.float32
    namespace = module(runner, "sum(exp(A x)) + x'x", "x", "numpy", "--order", "3")
    third = namespace["derivative"](A=np.ones((2, 3), dtype=np.float32), x=np.ones(3, dtype=np.float32))
    assert third.dtype == np.float32


def test_a_diagonal_matrix_is_not_built_to_multiply_by_it(runner):
    text = printed(runner, "tanh(W x)", "x", "numpy")
    assert "np.diag(" not in text.split("def derivative")[1].split("def sizes")[0]
    assert "[:, None] * W" in text


GAUSSIAN = ("-1/2 logdet(S) - 1/2 (x - mu)' inv(S) (x - mu)", "S", "--let", "S: posdef(n), mu: vector(n)")
TWO_LAYERS = ("tanh(W2 tanh(W1 x))", "x")


def derivative_body(text: str) -> str:
    return text.split("def derivative(")[1].split("def sizes")[0]


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_a_repeated_subexpression_is_computed_once(runner, fmt):
    gaussian = derivative_body(printed(runner, *GAUSSIAN[:2], fmt, *GAUSSIAN[2:]))
    assert gaussian.count("linalg.inv(") == 1  # S⁻¹ appears three times in the derivative
    layers = derivative_body(printed(runner, *TWO_LAYERS, fmt))
    assert layers.count("tanh(W1 @ x)") == 1  # inside tanh(W2 tanh(W1 x)) and in 1 - tanh(W1 x)^2


def test_the_gaussian_log_likelihood_by_its_covariance_is_computed_right(runner):
    namespace = module(runner, *GAUSSIAN[:2], "numpy", *GAUSSIAN[2:])
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    x, mu = np.array([1.0, -1.0]), np.array([0.5, 0.5])
    inverse = np.array([[1.0, -0.5], [-0.5, 2.0]]) / 1.75  # det S = 1.75
    u = inverse @ (x - mu)
    by_hand = 0.5 * (np.outer(u, u) - inverse)  # d/dS: -1/2 S⁻¹ + 1/2 S⁻¹(x-μ)(x-μ)'S⁻¹, S symmetric
    np.testing.assert_allclose(namespace["derivative"](S=S, x=x, mu=mu), by_hand, rtol=1e-12)


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_an_outer_product_is_never_multiplied_by_a_matrix(runner, fmt):
    for source, wrt, *options in [GAUSSIAN, ("x' A A' x", "A", "--layout", "denominator")]:
        body = derivative_body(printed(runner, source, wrt, fmt, *options))
        assert "outer(" in body
        assert re.search(r"outer\((?:[^()]|\([^()]*\))*\) @", body) is None, body


@pytest.mark.parametrize("fmt", ["numpy", "torch"])
def test_a_factor_of_an_outer_product_scales_its_vector_not_the_matrix(runner, fmt):
    source, let = "||W2 tanh(W1 x) - y||^2", "W1: matrix(m, n), W2: matrix(k, m)"
    body = derivative_body(printed(runner, source, "W1,W2", fmt, "--let", let, "--layout", "denominator"))
    assert body.count("outer(2 * ") == 2, body  # not 2 * np.outer(...): a second pass over an n×n array
    assert re.search(r"[\d)] \* (np|torch)\.outer", body) is None, body


def test_an_outer_product_times_a_matrix_or_vector_is_regrouped_and_right():
    rng = np.random.default_rng(5)
    values = {"a": rng.normal(size=3), "b": rng.normal(size=3), "c": rng.normal(size=3), "M": rng.normal(size=(3, 3))}
    a, b, c, M = (Var(name, shape=Shape(3, 3 if name == "M" else 1)) for name in "abcM")
    outer = MatMul(a, Transpose(b, shape=Shape(1, 3)), shape=Shape(3, 3))
    c_row = Transpose(c, shape=Shape(1, 3))
    products = {  # each product and its value computed as written, the n×n outer product built
        "(a b')M": (MatMul(outer, M, shape=Shape(3, 3)), np.outer(values["a"], values["b"]) @ values["M"]),
        "M(a b')": (MatMul(M, outer, shape=Shape(3, 3)), values["M"] @ np.outer(values["a"], values["b"])),
        "(a b')c": (MatMul(outer, c, shape=Shape(3, 1)), np.outer(values["a"], values["b"]) @ values["c"]),
        "c'(a b')": (MatMul(c_row, outer, shape=Shape(1, 3)), values["c"] @ np.outer(values["a"], values["b"])),
    }
    for name, (product, wanted) in products.items():
        text = numpy_printer.NumpyPrinter().text(product)
        assert "np.outer(a, b)" not in text, (name, text)
        np.testing.assert_allclose(eval(text, {"np": np, **values}), wanted, rtol=1e-12, err_msg=name)


# -- the check itself


def plant_a_power_bug(monkeypatch):
    """** binding as loosely as +: (a + b) ** 2 printed a + b ** 2."""
    operators = dict(python_code.OPERATORS)
    operators["**"] = (python_code.Level.POWER, python_code.Level.SUM, python_code.Level.UNARY)
    monkeypatch.setattr(python_code, "OPERATORS", operators)


@pytest.mark.parametrize("fmt", [*MODULES, "json"])
def test_a_printer_bug_is_an_internal_error_and_no_check_skips_the_check(runner, monkeypatch, fmt):
    plant_a_power_bug(monkeypatch)
    result = runner.invoke(cli, ["diff", "(a + b)^2 c", "--wrt", "c", "--format", fmt])
    assert result.exit_code == 4 and result.stdout == ""
    assert "internal error" in result.stderr and "as matcalc wrote it, is wrong" in result.stderr
    result = runner.invoke(cli, ["diff", "(a + b)^2 c", "--wrt", "c", "--format", fmt, "--no-check"])
    assert result.exit_code == 0 and "a + b ** 2" in result.stdout  # unchecked, as asked


def test_numpy_function_code_is_checked_too(monkeypatch):
    plant_a_power_bug(monkeypatch)
    from matcalc.errors import ExitStatus, MatcalcError

    with pytest.raises(MatcalcError) as caught:
        diff("(a + b)^2 c", "c").numpy_function_code()
    assert caught.value.exit_code == ExitStatus.INTERNAL
    assert "a + b ** 2" in diff("(a + b)^2 c", "c", check=False).numpy_function_code()


def test_sympy_code_that_builds_another_object_is_an_internal_error(runner, monkeypatch):
    from matcalc.render import sympy as sympy_printer

    monkeypatch.setattr(sympy_printer._Builder, "_print_Transpose", lambda self, expr: self._print(expr.arg))
    result = runner.invoke(cli, ["diff", "x'A x", "--wrt", "x", "--format", "sympy"])
    assert result.exit_code == 4 and "the expression it builds is not the object matcalc built" in result.stderr


def test_where_the_framework_is_missing_the_module_says_so_and_its_numpy_twin_is_run(runner, monkeypatch):
    real_import = codecheck.importlib.import_module

    def without_torch(name, *args):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args)

    monkeypatch.setattr(codecheck.importlib, "import_module", without_torch)
    text = printed(runner, "tanh(W x)", "x", "torch")
    assert "torch is not installed there" in text and "NumPy twin" in text
    plant_a_power_bug(monkeypatch)  # a bug in the formulas both print
    result = runner.invoke(cli, ["diff", "(a + b)^2 c", "--wrt", "c", "--format", "torch"])
    assert result.exit_code == 4 and "the NumPy twin of the PyTorch module" in result.stderr


def test_a_module_that_does_not_compile_is_an_internal_error(monkeypatch):
    monkeypatch.setattr(numpy_printer.NumpyPrinter, "_call", lambda self, f, *a: python_code.Code(f"np.{f}((("))
    from matcalc.errors import ExitStatus, MatcalcError

    with pytest.raises(MatcalcError) as caught:
        diff("tanh(W x)", "x").code("numpy")
    assert caught.value.exit_code == ExitStatus.INTERNAL and "does not compile" in str(caught.value)


def test_the_user_text_never_runs():
    """The code that runs has the user's expression replaced by a placeholder; the code shown must be the same
    program (else it is not shown)."""
    shown = '"""x\'x"""\nimport numpy as np\n'
    codecheck.run(codecheck.Printed(shown, f'"""{codecheck.PLACEHOLDER}"""\nimport numpy as np\n', "test code"))
    with pytest.raises(codecheck.CodeCheckError, match="differs from the code checked"):
        codecheck.run(codecheck.Printed('"""x"""\nimport os\n', '"""y"""\nimport numpy\n', "test code"))


def test_the_sizes_printed_code_reads_off_arrays_are_those_the_self_check_samples_small():
    """An integer size above numeric.LARGEST_SAMPLED is sampled small by the self-check, so printed code
    reads it off an array (A.shape[0]) rather than writing 30000; the two bounds are one."""
    from matcalc.numeric.differences import LARGEST_SAMPLED

    assert numpy_printer.LITERAL_SIZES == LARGEST_SAMPLED
    result = diff("sum(A x)", "x", "A: matrix(30000, 30000), x: vector(30000)")
    assert "30000" not in result.numpy and "A.shape[" in result.code("numpy").split("def derivative")[1]


def test_a_named_constant_is_a_tensor_in_pytorch(runner):
    """t1 = n / 5 was a float, and torch.minimum takes tensors only (found by the fuzzer's autograd oracle).
    d/da relu(min(a^2, n/5) n/5) / (1 + logsumexp(x)) at a = 0.5, x = 0 (n = 3): a^2 = 0.25 < n/5 = 0.6 and the
    relu's argument is positive, so it is 2a (0.6) / (1 + log 3)."""
    source = "relu(min(a^2, n / (1 + 2^2)) (n / (1 + 2^2))) / (1 + logsumexp(x))"
    text = printed(runner, source, "a", "torch", "--let", "a: scalar, x: vector(n)")
    assert "t1 = torch.as_tensor(n / (1 + 2 ** 2)" in text
    _, grad = run_module(runner, source, "a", "torch", "--let", "a: scalar, x: vector(n)", a=0.5, x=np.zeros(3))
    assert float(grad) == pytest.approx(0.6 / (1 + math.log(3)))


def test_a_module_has_an_example_point_where_no_point_is_away_from_kinks(runner):
    """||relu(y - n).^2||^2 is 0 wherever y is drawn, at a norm's kink: the self-check cannot check it, and the
    module still gets a POINT for its check_gradient() (the module was refused, exit 3). The function is
    sum relu(y_i - n)^4, whose derivative is 4 relu(y_i - n)^3: 32 at y = [4, 0] with n = 2."""
    namespace = module(runner, "||relu(y - n) .^ 2||^2", "y", "numpy", "--let", "y: vector(n)")
    assert set(namespace["POINT"]) == {"y"} and namespace["check_gradient"]()["y"] == 0.0
    assert namespace["derivative"](y=np.array([4.0, 0.0])).tolist() == [32.0, 0.0]


def test_sympy_code_that_sympy_cannot_evaluate_in_time_says_so():
    """SymPy's comparisons in a Min of sums of numbers took minutes and ended in a RecursionError."""
    source = "min(n / (1 + (0.5 / (1 + b^2))^2), 2 / (1 + (a / max(n, 1))^2)) (2 / (1 + (a / max(n, 1))^2))"
    code = diff(source, "a", "a: scalar, b: scalar, x: vector(n)").sympy_code()
    assert "but not evaluated: SymPy takes more than 1 s of CPU time" in code
    compile(code, "<sympy code>", "exec")


def test_a_deeply_nested_expression_is_printed_in_named_parts(runner):
    """sin(sin(...sin(a))) sixty deep: its derivative nests deeper than Python reads in one expression
    (200 parentheses). By the chain rule it is the product of cos(s_j), s_0 = a, s_(j+1) = sin(s_j)."""
    source = "sin(" * 60 + "a" + ")" * 60
    expected, s = 1.0, 0.3
    for _ in range(60):
        expected, s = expected * math.cos(s), math.sin(s)
    field = json_field(runner, source, "a")
    assert field.startswith("[_1 := ")
    assert eval(field, {"np": np, "a": 0.3}) == pytest.approx(expected, rel=1e-12)  # matcalc's generated code
    for fmt in ("numpy", "torch"):
        assert "\n    _1 = " in printed(runner, source, "a", fmt)
        _, grad = run_module(runner, source, "a", fmt, a=0.3)
        assert float(grad) == pytest.approx(expected, rel=1e-12)
