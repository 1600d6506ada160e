"""The machinery of the textbook corpora's tests (tests/test_corpus.py, tests/test_heldout_corpus.py).

Each textbook form is checked numerically against central differences of the expression itself,
evaluated by `matcalc.numeric.evaluate` (the NumPy meaning of the expression, which shares no code with the
differentiator); matcalc's differentiator is never used for the goldens. The dimensions get distinct
sizes (n = 3, m = 4, k = 5, ...), so a missing transpose cannot pass; the points are drawn from a
fixed seed, so the test is the same on every run.

A K-th derivative T (the textbook form, arranged in its natural axis order: the function's axes,
then the variable's axes once per differentiation) is contracted with K random directions
u_1..u_K and compared with the mixed difference ∂^K/∂t_1..∂t_K f(v + Σ t_i u_i) at 0, nested
central differences Richardson-extrapolated; a wrong entry anywhere changes the contraction.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import zlib
from itertools import product
from pathlib import Path

import numpy as np
import pytest

from matcalc import parse
from matcalc.numeric.evaluate import SingularMatrixError, evaluate

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"n": 3, "m": 4, "k": 5}
STEPS = {1: 1e-4, 2: 1e-3, 3: 2e-3, 4: 1e-2}
TOLERANCE = {1: 1e-7, 2: 1e-6, 3: 1e-5, 4: 1e-4}


def _report_module():
    spec = importlib.util.spec_from_file_location("corpus_report", ROOT / "scripts" / "corpus_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_report"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


report = _report_module()
ENTRIES = report.load()


# ------------------------------------------------------------------------------------------ index forms

_HEADER = re.compile(r"^∂[²³⁴]?[A-Za-z]+(?:_(?P<out>[a-z]+))?/(?P<vars>.*)$")


def split_index_form(form: str) -> tuple[str, list[str], list[tuple[str, list[tuple[str, str]]]]]:
    """`∂y_i/∂X_jk = 2 A_ij b_k - ...` -> (output indices "i", ["jk"], [(coefficient, [(base, indices)])])."""
    head, _, body = form.partition(" = ")
    match = _HEADER.match(head.strip())
    assert match, f"not an index-notation header: {head}"
    wrt = [part.split("_", 1)[1] if "_" in part else "" for part in match["vars"].replace("∂", " ").split()]
    terms = []
    for term in report._split_top(body.replace(" - ", " + -"), "+"):
        term = term.lstrip("+").strip()
        sign = -1.0 if term.startswith("-") else 1.0
        coefficient, factors = sign, []
        for factor in report._index_factors(term.lstrip("-").strip()):
            if re.fullmatch(r"[0-9./]+", factor):
                numerator, _, denominator = factor.partition("/")
                coefficient *= float(numerator) / float(denominator or 1)
                continue
            base, _, indices = factor.rpartition("_")
            if base.startswith("-"):
                coefficient, base = -coefficient, base[1:]
            assert base and indices.isalpha(), f"not a factor BASE_ij: {factor}"
            factors.append((base, indices))
        terms.append((coefficient, factors))
    return match["out"] or "", wrt, terms


# ------------------------------------------------------------------------------------------ numbers

def sizes_for(let: str) -> dict[str, int]:
    sizes, fresh = dict(SIZES), 6
    for dim in re.findall(r"\(([^)]*)\)", let):
        for name in (d.strip() for d in dim.split(",")):
            if name and not name.isdigit() and name not in sizes:
                sizes[name], fresh = fresh, fresh + 1
    return sizes


def draw(parsed_list, wrt: str, sizes: dict[str, int], rng: np.random.Generator, mode: int) -> dict[str, np.ndarray]:
    """Values for every variable: mode 0 normal entries, 1 positive entries, 2 positive with a small variable."""
    values = {}
    for parsed in parsed_list:
        for name, shape in parsed.shapes().items():
            if name in values:
                continue
            rows, cols = (sizes.get(d, d) if isinstance(d, str) else d for d in (shape.rows, shape.cols))
            decl = parsed.env.decls.get(name)
            kind = decl.kind if decl else "matrix"
            base = rng.standard_normal((rows, cols))
            if mode:
                base = np.abs(base) + 0.5
            if kind == "onehot":
                value = np.eye(rows)[:, [rng.integers(rows)]]
            elif kind == "simplex":
                value = np.abs(base) + 0.1
                value = value / value.sum()
            elif kind == "posdef":
                value = base @ base.T / rows + np.eye(rows)
            elif kind == "symmetric":
                value = (base + base.T) / 2
            elif rows == cols and rows > 1:
                value = np.eye(rows) + 0.4 * rng.standard_normal((rows, cols))
            else:
                value = base
            if mode == 2 and name == wrt:
                value = value / 10
            values[name] = value
    return values


def value_of(node, values, sizes) -> np.ndarray:
    return np.asarray(evaluate(node, values, sizes), dtype=float)


def well_conditioned(values: dict[str, np.ndarray]) -> bool:
    """Square samples far from singular, so that differences of inverses and determinants keep their digits."""
    return all(np.linalg.cond(v) < 50 for v in values.values() if v.shape[0] == v.shape[1] > 1)


def seed(entry) -> int:
    """The entry's own seed: the same point wherever the entry stands in the file."""
    return zlib.crc32(f"{entry.expr}|{entry.wrt}|{entry.layout}|{entry.order}|{entry.form}".encode())


def inside(pieces, values, sizes, wrt: str, rng: np.random.Generator) -> bool:
    """Finite at the point and a little way around it along the variable (0.05 of a random direction
    each way): the differences below never reach the edge of a function's domain (log near 0)."""
    points = [values]
    for _ in range(2):
        u = 0.05 * rng.standard_normal(values[wrt].shape)
        points += [{**values, wrt: values[wrt] + u}, {**values, wrt: values[wrt] - u}]
    return all(finite(p.expr, point, sizes) for p in pieces for point in points)


def finite(node, values, sizes) -> bool:
    try:
        return bool(np.all(np.isfinite(value_of(node, values, sizes))))
    except SingularMatrixError:
        return False


def mixed_difference(node, values, sizes, wrt: str, directions: list[np.ndarray], step: float) -> np.ndarray:
    """∂^K/∂t_1..∂t_K of the expression at v + Σ t_i u_i, at t = 0: nested central differences."""
    total = 0.0
    for signs in product((1, -1), repeat=len(directions)):
        moved = dict(values)
        moved[wrt] = values[wrt] + step * sum(s * u for s, u in zip(signs, directions))
        total = total + np.prod(signs) * value_of(node, moved, sizes)
    return total / (2 * step) ** len(directions)


def extrapolated(node, values, sizes, wrt, directions, step) -> np.ndarray:
    coarse = mixed_difference(node, values, sizes, wrt, directions, step)
    fine = mixed_difference(node, values, sizes, wrt, directions, step / 2)
    return (4 * fine - coarse) / 3


def natural_axes(expr_shape: tuple[int, int], var_shape: tuple[int, int], order: int) -> list[int]:
    """The sizes of the derivative's axes in natural order: the function's, then the variable's K times
    (size-1 axes left out)."""
    return [s for s in expr_shape if s != 1] + [s for s in var_shape if s != 1] * order


def matrix_form_tensor(value: np.ndarray, entry, expr_shape, var_shape) -> np.ndarray:
    """A textbook form in matrix notation, in the layout's arrangement, as a tensor in natural order."""
    e = [i for i, s in enumerate(expr_shape) if s != 1]
    v = [i for i, s in enumerate(var_shape) if s != 1]
    positions = list(range(len(e)))
    order_numerator = positions[:]
    for d in range(entry.order):
        group = [len(e) + d * len(v) + j for j in range(len(v))]
        order_numerator += list(reversed(group))
    arrangement = order_numerator if entry.layout == "numerator" else list(reversed(order_numerator))
    natural = natural_axes(expr_shape, var_shape, entry.order)
    assert len(natural) <= 2, f"a result with {len(natural)} axes is written in index notation"
    if len(natural) == 2:
        expected = (natural[arrangement[0]], natural[arrangement[1]])
    elif len(natural) == 1:
        expected = expr_shape if e else (1, natural[0])
        if entry.layout != "numerator":
            expected = expected[::-1]
    else:
        expected = (1, 1)
    assert value.shape == tuple(expected), f"the textbook form is {value.shape}, the layout wants {expected}"
    tensor = value.reshape([natural[a] for a in arrangement])
    return np.transpose(tensor, np.argsort(arrangement))


def index_form_tensor(entry, values, sizes, expr_shape, var_shape) -> np.ndarray:
    out, wrt, terms = split_index_form(entry.form)
    natural = natural_axes(expr_shape, var_shape, entry.order)
    free = out + "".join(wrt)
    assert len(free) == len(natural) and len(wrt) == entry.order, \
        f"the header names {len(free)} indices, the derivative has {len(natural)} axes"
    size_of = dict(zip(free, natural))
    operands = []
    for _, factors in terms:
        for base, indices in factors:
            if base != "delta":
                array = value_of(parse(base, entry.let).expr, values, sizes)
                array = array.reshape([s for s in array.shape if s != 1]) if array.size > 1 or len(indices) else array
                assert array.ndim == len(indices), f"{base} has {array.ndim} axes, written with {indices}"
                size_of.update(zip(indices, array.shape))
                operands.append((base, indices, array))
    total = np.zeros(natural)
    for coefficient, factors in terms:
        arrays, subscripts = [], []
        for base, indices in factors:
            if base == "delta":
                arrays.append(np.eye(size_of[indices[0]]))
            else:
                arrays.append(next(a for b, i, a in operands if b == base and i == indices))
            subscripts.append(indices)
        if not factors:
            if coefficient:
                total = total + coefficient * np.ones(natural)
            continue
        total = total + coefficient * np.einsum(",".join(subscripts) + "->" + free, *arrays)
    return total


def contract(tensor: np.ndarray, directions: list[np.ndarray], expr_shape) -> np.ndarray:
    """Σ over the variable's axes of T times u_1 ⊗ ... ⊗ u_K: an array of the function's shape."""
    for u in reversed(directions):
        flat = u.reshape([s for s in u.shape if s != 1])
        tensor = np.tensordot(tensor, flat, axes=flat.ndim)
    return np.asarray(tensor).reshape(expr_shape)


def textbook_at_a_point(entry, rng: np.random.Generator):
    """A point in the functions' domains and, there, the textbook form's tensor (in its natural axis
    order), with the function's and the variable's shapes."""
    sizes = sizes_for(entry.let)
    expr = parse(entry.expr, entry.let)
    pieces = [expr] if entry.index_notation else [expr, parse(entry.form, entry.let)]
    for attempt in range(200):
        values = draw(pieces, entry.wrt, sizes, rng, attempt % 3)
        if well_conditioned(values) and inside(pieces, values, sizes, entry.wrt, rng):
            break
    else:
        pytest.fail("no point in the functions' domains")
    expr_shape = value_of(expr.expr, values, sizes).shape
    var_shape = values[entry.wrt].shape
    if entry.index_notation:
        tensor = index_form_tensor(entry, values, sizes, expr_shape, var_shape)
    else:
        tensor = matrix_form_tensor(value_of(pieces[1].expr, values, sizes), entry, expr_shape, var_shape)
    return values, sizes, expr, tensor, expr_shape, var_shape


def check_entry(entry) -> float:
    rng = np.random.default_rng(seed(entry))
    values, sizes, expr, tensor, expr_shape, var_shape = textbook_at_a_point(entry, rng)
    worst = 0.0
    for _ in range(2):
        directions = [rng.standard_normal(var_shape) for _ in range(entry.order)]
        expected = contract(tensor, directions, expr_shape)
        actual = extrapolated(expr.expr, values, sizes, entry.wrt, directions, STEPS[entry.order])
        scale = max(np.abs(expected).max(), np.abs(actual).max(), 1.0)
        worst = max(worst, float(np.abs(expected - actual).max() / scale))
    return worst


def arranged(tensor: np.ndarray, entry, expr_shape, var_shape) -> np.ndarray:
    """A tensor in natural order, arranged as the entry's layout orders the axes (size-1 axes left out)."""
    e = sum(s != 1 for s in expr_shape)
    v = sum(s != 1 for s in var_shape)
    order = list(range(e))
    for d in range(entry.order):
        order += list(reversed(range(e + d * v, e + (d + 1) * v)))
    if entry.layout != "numerator":
        order.reverse()
    return np.transpose(tensor, order) if order else tensor


def matcalc_value(entry, values: dict[str, np.ndarray]) -> np.ndarray:
    """matcalc's derivative at the point, through its NumPy code (SPEC §4's array contract)."""
    from matcalc import diff

    result = diff(entry.expr, entry.wrt, let=entry.let, layout=entry.layout, order=entry.order, check=False)
    names = {}
    for name, value in values.items():
        plain = value.item() if value.size == 1 else value[:, 0] if value.shape[1] == 1 else value
        names[name + "_" if name in ("lambda",) else name] = plain
    return np.asarray(eval(result.numpy, {"np": np, **names}), dtype=float)  # matcalc's own generated code


def check_parses(entry) -> None:
    """The expression, its canonical text and the textbook form (each factor of an index form) parse."""
    parsed = parse(entry.expr, entry.let)
    assert parse(parsed.canonical, entry.let).expr == parsed.expr
    assert entry.wrt in parsed.shapes(), f"{entry.wrt} does not occur in {entry.expr}"
    if entry.index_notation:
        for _, factors in split_index_form(entry.form)[2]:
            for base, _ in factors:
                if base != "delta":
                    parse(base, entry.let)
    else:
        parse(entry.form, entry.let)


def check_agrees(entry) -> None:
    """Every matcalc result is numerically the textbook form (the form may differ, the value may not)."""
    values, _, _, tensor, expr_shape, var_shape = textbook_at_a_point(entry, np.random.default_rng(seed(entry) + 1))
    expected = arranged(tensor, entry, expr_shape, var_shape)
    actual = matcalc_value(entry, values)
    assert actual.shape == expected.shape or actual.size == expected.size == 1
    scale = max(np.abs(expected).max(), 1.0)
    assert np.abs(actual.reshape(expected.shape) - expected).max() / scale < 1e-9, \
        f"line {entry.line}: matcalc's {entry.wrt}-derivative of {entry.expr} is not {entry.form}"
