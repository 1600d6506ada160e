"""The Python API in a notebook (issue 13): short reprs, a callable NumPy function, the CLI's outputs."""

import json

import numpy as np

from matcalc import diff, parse
from matcalc.cli import cli


def test_repr_is_one_short_line():
    result = diff("x'Ax", "x", layout="denominator")
    assert repr(result) == "<Derivative ∂(x'Ax)/∂x = (A + A')x, shape (n, 1), denominator>"
    hessian = diff("x'Ax", "x", order=2)
    assert repr(hessian) == "<Derivative ∂²(x'Ax)/∂x² = A + A', shape (n, n), numerator>"
    assert repr(parse("x'Ax")) == "<Parsed x' A x, scalar ()>"


def test_function_computes_the_derivative_by_hand():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([1.0, 2.0])
    numerator = diff("x'Ax", "x").function()
    assert np.allclose(numerator(x=x, A=A), x @ (A + A.T))  # d/dx x'Ax = x'(A + A'), here [12, 21]
    assert np.allclose(numerator(x, A), [12.0, 21.0])  # positional, in the order the variables appear
    by_matrix = diff("tr(A X)", "X", layout="denominator").function()
    X = np.array([[0.5, -1.0], [2.0, 0.0]])
    assert np.allclose(by_matrix(A=A, X=X), A.T)  # d/dX tr(AX) = A' (denominator layout)


def test_to_json_and_numpy_code_are_what_the_cli_prints(runner):
    result = diff("tanh(W x)", "x")
    printed = runner.invoke(cli, ["diff", "tanh(W x)", "--wrt", "x", "--format", "json"]).stdout
    wanted = json.loads(printed)
    got = result.to_json()
    got["checked"]["max_relative_error"] = wanted["checked"]["max_relative_error"]  # noise of the BLAS
    assert got == wanted
    assert result.numpy_code() == runner.invoke(cli, ["diff", "tanh(W x)", "--wrt", "x", "--format", "numpy"]).stdout


def test_several_results_have_json_and_code_too():
    results = diff("w'x + b", ["w", "b"])
    assert [item["wrt"] for item in results.to_json()] == ["w", "b"]
    namespace: dict = {}
    exec(results.code("numpy"), namespace)  # our generated code
    value, (by_w, by_b) = namespace["f_and_grad"](w=np.array([1.0, 2.0]), x=np.array([3.0, -1.0]), b=0.5)
    assert float(value) == 1.5 and by_w.tolist() == [3.0, -1.0] and float(by_b) == 1.0
