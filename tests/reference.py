"""The reference side of the derivative tests: finite differences that never touch the differentiator.

`jacobian` differences `matcalc.numeric.evaluate.evaluate` on the parsed expression (the NumPy meaning of each
node); `arrange` and `expected_shape` lay a Jacobian out by SPEC §3's table, written from the table and
not from matcalc's code; `as_arrays` is SPEC §4's array contract; `mixed_difference` and `contraction`
check derivatives of any order along random directions.
"""

from __future__ import annotations

import keyword
from itertools import product

import numpy as np
from hypothesis import assume
from strategies import SIZES

from matcalc.numeric.evaluate import evaluate

STEP = 1e-6
RTOL = 1e-5
LAYOUTS = ["numerator", "denominator", "mixed"]


def jacobian(expr, values, sizes, wrt: str, step: float = STEP) -> np.ndarray:
    """J[out_row, out_col, wrt_row, wrt_col] by central differences of `evaluate`."""
    out = evaluate(expr, values, sizes)
    base = values[wrt]
    jac = np.zeros(out.shape + base.shape)
    for index in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += step
        minus[index] -= step
        jac[(..., *index)] = (evaluate(expr, {**values, wrt: plus}, sizes)
                              - evaluate(expr, {**values, wrt: minus}, sizes)) / (2 * step)
    return jac


def arrange(jac: np.ndarray, layout: str, out_is_scalar: bool) -> np.ndarray:
    """SPEC §3: numerator is the output's axes, then the variable's axes reversed; denominator
    reverses every axis of that; mixed is denominator for a scalar output. Size-1 axes are left
    out (SPEC §4); every named dimension here is at least 3, so only unit axes are dropped."""
    numerator = jac.transpose(0, 1, 3, 2)
    reverse = layout == "denominator" or (layout == "mixed" and out_is_scalar)
    arranged = numerator.transpose(3, 2, 1, 0) if reverse else numerator
    return arranged.reshape([axis for axis in arranged.shape if axis != 1])


def kind(shape) -> str:
    """scalar, vector or matrix, as the rows and columns of SPEC §3's table (a row vector is a vector)."""
    units = (shape.rows == 1) + (shape.cols == 1)
    return ["matrix", "vector", "scalar"][units]


def expected_shape(out, wrt, layout: str) -> tuple:
    """SPEC §3's table, written out: y is scalar, vector (m) or matrix (m, l); x scalar, vector (n)
    or matrix (n, k)."""
    m, l = (out.rows, out.cols) if out.rows != 1 else (out.cols, out.rows)
    n, k = (wrt.rows, wrt.cols) if wrt.rows != 1 else (wrt.cols, wrt.rows)
    numerator = {
        ("scalar", "scalar"): (1,), ("scalar", "vector"): (1, n), ("scalar", "matrix"): (k, n),
        ("vector", "scalar"): (m, 1), ("vector", "vector"): (m, n), ("vector", "matrix"): (m, k, n),
        ("matrix", "scalar"): (m, l), ("matrix", "vector"): (m, l, n), ("matrix", "matrix"): (m, l, k, n),
    }[kind(out), kind(wrt)]
    reverse = layout == "denominator" or (layout == "mixed" and kind(out) == "scalar")
    return numerator[::-1] if reverse else numerator


def as_arrays(parsed, values) -> dict[str, object]:
    """SPEC §4's array contract: scalars as floats, column vectors 1-D, matrices 2-D; keywords get a '_'."""
    arrays = {}
    for name, shape in parsed.shapes().items():
        value = values[name]
        if shape.rows == 1 and shape.cols == 1:
            value = float(value[0, 0])
        elif shape.cols == 1:
            value = value[:, 0].copy()
        arrays[name + "_" if keyword.iskeyword(name) else name] = value
    return arrays


def assert_close(got, want) -> None:
    got = np.asarray(got, dtype=float)
    assert got.shape == want.shape, f"shape {got.shape}, finite differences {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    error = float(np.max(np.abs(got - want), initial=0.0))
    assert error <= RTOL * scale, f"largest difference {error:.3g} (scale {scale:.3g})\ngot\n{got}\nwant\n{want}"


def evaluate_code(result, parsed, values) -> np.ndarray:
    """The derivative's NumPy code at the values; assume(False) where it inverts a singular matrix,
    which its notes state it assumes invertible (det(x y') for vectors of length > 1)."""
    with np.errstate(all="ignore"):
        try:
            return np.asarray(eval(result.numpy, {"np": np, **SIZES}, as_arrays(parsed, values)), dtype=float)
        except np.linalg.LinAlgError:
            assert result.derivative.invertible, result.text
            assume(False)


def axis_labels(out_shape, var_shape, layout: str, order: int) -> list:
    """SPEC §3: the output's axes, then for each differentiation the variable's axes reversed;
    denominator reverses all of it, mixed does for a scalar output. Unit axes are left out."""
    out = [("out", axis) for axis, dim in (("rows", out_shape.rows), ("cols", out_shape.cols)) if dim != 1]
    var = [axis for axis, dim in (("rows", var_shape.rows), ("cols", var_shape.cols)) if dim != 1]
    numerator = out + [(k, axis) for k in range(order) for axis in reversed(var)]
    reverse = layout == "denominator" or (layout == "mixed" and out_shape.rows == out_shape.cols == 1)
    return numerator[::-1] if reverse else numerator


def contraction(value: np.ndarray, labels: list, weight: np.ndarray, directions: list) -> float:
    """Σ value[labels] U[out axes] V_k[axes of differentiation k]."""
    letters = {label: chr(ord("a") + position) for position, label in enumerate(labels)}
    operands, subscripts = [value], ["".join(letters[label] for label in labels)]
    for owner, array in [("out", weight), *enumerate(directions)]:
        axes = [(owner, axis) for axis, size in zip(("rows", "cols"), array.shape) if size != 1]
        operands.append(array.reshape([size for size in array.shape if size != 1]))
        subscripts.append("".join(letters[label] for label in axes))
    return float(np.einsum(",".join(subscripts) + "->", *operands))


def mixed_difference(g, base: np.ndarray, directions: list, step: float) -> float:
    order = len(directions)
    total = 0.0
    for signs in product((1, -1), repeat=order):
        shift = sum(sign * d for sign, d in zip(signs, directions))
        total += np.prod(signs) * g(base + step * shift)
    return total / (2 * step) ** order
