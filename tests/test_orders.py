"""Derivatives of any order (SPEC §3): shapes per layout, index notation, identity files."""

import json

import numpy as np
import pytest

from matcalc import diff, parse
from matcalc.batch import FALSE, check_identity, read_identities
from matcalc.cli import cli


@pytest.mark.parametrize("expression, wrt, let, layout, order, shape", [
    # a scalar by X (p×q) twice: (q, p, q, p) in numerator layout, every axis reversed in denominator
    ("tr(X'X)", "X", "X: matrix(p, q)", "numerator", 2, ("q", "p", "q", "p")),
    ("tr(X'X)", "X", "X: matrix(p, q)", "denominator", 2, ("p", "q", "p", "q")),
    ("tr(X'X)", "X", "X: matrix(p, q)", "mixed", 2, ("p", "q", "p", "q")),
    # y (m) by x (n) twice: (m, n, n); denominator (n, n, m); mixed keeps numerator for a vector y
    ("A x", "x", "A: matrix(m, n), x: vector(n)", "numerator", 2, ("m", "n", "n")),
    ("A x", "x", "A: matrix(m, n), x: vector(n)", "denominator", 2, ("n", "n", "m")),
    ("A x", "x", "A: matrix(m, n), x: vector(n)", "mixed", 2, ("m", "n", "n")),
    # a scalar by a vector three times, a vector by a scalar twice, a scalar by a scalar four times
    ("sum(exp(x))", "x", "x: vector(n)", "numerator", 3, ("n", "n", "n")),
    ("t^2 x", "t", "t: scalar, x: vector(n)", "numerator", 2, ("n", 1)),
    ("t^2 x", "t", "t: scalar, x: vector(n)", "denominator", 2, (1, "n")),
    ("exp(2t)", "t", "t: scalar", "numerator", 4, (1,)),
])
def test_shapes_of_higher_orders(expression, wrt, let, layout, order, shape):
    assert diff(expression, wrt, let, layout, order).shape == shape


def test_a_third_derivative_by_hand():
    """d³/dx³ sum(exp(x)) is exp(x_i) where i = j = k, and 0 elsewhere."""
    result = diff("sum(exp(x))", "x", "x: vector(n)", order=3)
    x = np.array([0.1, -0.2, 0.3])
    got = eval(result.numpy, {"np": np}, {"x": x})
    want = np.zeros((3, 3, 3))
    for i in range(3):
        want[i, i, i] = np.exp(x[i])
    assert np.allclose(got, want)


def test_a_fourth_derivative_of_a_scalar():
    result = diff("exp(2t)", "t", "t: scalar", order=4)
    assert np.isclose(eval(result.numpy, {"np": np}, {"t": 0.5}), 16 * np.exp(1.0))


def test_index_notation_names_each_differentiation():
    result = diff("tr(X'X)", "X", "X: matrix(p, q)", order=2)
    assert result.text.startswith("∂²y/∂X_ij ∂X_kl = ")
    assert result.text.endswith("= 2 delta_ik delta_jl") and result.check.holds  # ∂²tr(XᵀX) = 2 δ_ik δ_jl


def test_cli_order_three_in_json(runner):
    out = runner.invoke(cli, ["diff", "sum(exp(A x))", "--wrt", "x", "--order", "3", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["order"] == 3 and data["result_shape"] == ["m", "m", "m"] and data["checked"]["holds"]


def test_order_out_of_range_is_a_usage_error(runner):
    assert runner.invoke(cli, ["diff", "x'x", "--wrt", "x", "--order", "0"]).exit_code == 2
    assert runner.invoke(cli, ["diff", "x'x", "--wrt", "x", "--order", "7"]).exit_code == 2


def test_dk_over_dvk_is_a_derivative_not_a_product_of_names():
    parsed = parse("d3/dt3 t^4", "t: scalar")
    assert parsed.canonical == "d3/dt3 t^4"
    assert parsed.shape.is_scalar and set(parsed.shapes()) == {"t"}


def test_identity_files_take_any_order_whose_result_is_a_matrix_at_most():
    text = ("let t: scalar, x: vector(n), Y: matrix(n, m)\n"
            "d3/dt3 t^4 = 24t\n"                      # true
            "d4/dt4 exp(2t) = 16 exp(2t)\n"           # true
            "d3/dt3 sin(t) x = -cos(t) x\n"           # true (numerator: n×1)
            "d3/dt3 t^4 = 24t^2\n"                    # false
            "d2/dY2 sum(Y) = 0\n")                    # four axes: a whole side may have any rank (SPEC §5)
    results = [item if not hasattr(item, "env") else check_identity(item) for item in read_identities(text)]
    assert [r.holds for r in results[:3]] == [True, True, True], [r.detail for r in results]
    assert results[3].status == FALSE and results[4].holds
