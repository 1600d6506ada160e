"""Unspecified functions (SPEC §1 `f: function`): the chain rule taught with f and g left abstract.

The expected values bind f, g to concrete functions (sin, exp, tanh) through the NumPy
code's f, f_prime, f_prime2 names (SPEC §4) and compare with their known derivatives.
"""

import numpy as np

from matcalc import diff
from matcalc.cli import cli

SCALAR = "f: function, g: function, x: scalar"


def numpy_value(result, **bindings):
    return np.asarray(eval(result.numpy, {"np": np}, bindings), dtype=float)


def test_chain_rule_of_two_scalar_functions():
    result = diff("f(g(x))", "x", SCALAR)
    assert result.text == "f'(g(x)) g'(x)"
    # f = sin, g = exp: d/dx sin(exp(x)) = cos(exp(x)) exp(x)
    x = 0.3
    got = numpy_value(result, x=x, f_prime=np.cos, g=np.exp, g_prime=np.exp)
    assert np.isclose(got, np.cos(np.exp(x)) * np.exp(x))
    assert result.check.holds


def test_second_derivative_of_a_composition():
    result = diff("f(g(x))", "x", SCALAR, order=2)
    # f = sin, g = x^3: (f∘g)'' = f''(g) g'^2 + f'(g) g''
    x = 0.7
    got = numpy_value(result, x=x, f_prime=np.cos, f_prime2=lambda u: -np.sin(u),
                      g=lambda t: t**3, g_prime=lambda t: 3 * t**2, g_prime2=lambda t: 6 * t)
    assert np.isclose(got, -np.sin(x**3) * (3 * x**2) ** 2 + np.cos(x**3) * 6 * x)


def test_vector_argument_gives_the_diagonal_jacobian():
    result = diff("f(W x)", "x", "f: function, W: matrix(m, n), x: vector(n)")
    assert result.text == "diag(f'(W x)) W"
    rng = np.random.default_rng(1)
    W, x = rng.normal(size=(4, 3)), rng.normal(size=3)
    got = numpy_value(result, W=W, x=x, f_prime=lambda u: 1 - np.tanh(u) ** 2)
    step = 1e-6
    want = np.stack([(np.tanh(W @ (x + step * e)) - np.tanh(W @ (x - step * e))) / (2 * step)
                     for e in np.eye(3)], axis=1)  # the Jacobian of tanh(Wx), m×n
    assert np.allclose(got, want, atol=1e-8)


def test_a_written_derivative_is_the_functions_derivative():
    """f'(x) may be written by the user; its derivative is f''."""
    assert diff("f'(x)", "x", "f: function, x: scalar").text == "f''(x)"


def test_steps_name_the_chain_rule(runner):
    out = runner.invoke(cli, ["diff", "f(g(x))", "--wrt", "x", "--let", SCALAR, "--steps"])
    assert out.exit_code == 0, out.output
    assert " 4. ∂y/∂x = ∂y/∂u ∂u/∂x = f'(u) g'(x)" in out.stdout and "single-variable chain rule" in out.stdout
    assert "∂/∂x f(g(x)) = f'(g(x)) g'(x)" in out.stdout


def test_an_undeclared_letter_call_is_still_an_error(runner):
    out = runner.invoke(cli, ["diff", "f(x)", "--wrt", "x"])
    assert out.exit_code == 2 and "function" in out.stderr
