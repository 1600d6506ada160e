"""Numbers for checking derivatives: sample points, finite differences, evaluated results.

Finite differences use only `evaluate`, the NumPy meaning of the expression,
so a check never trusts the differentiator. Dimensions get distinct sizes
(3, 4, 5, ...) so that a missing transpose cannot pass by luck; samples lie in
the functions' domains (positive definite matrices for `posdef`, well
conditioned square matrices, and positive entries where a first try hits a
logarithm or square root of a negative number).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import nodes as n
from .decls import Env
from .errors import InputError, UnsupportedError
from .evaluate import MAX_ELEMENTS, Evaluator, SingularMatrixError, evaluate, invertible
from .layout import Layout, arrange
from .result import TOLERANCE, Derivative
from .shapes import Dim, Shape

FIRST_SIZE = 3
STEP = 1e-6
SMOOTH_STEP = 1e-3  # and half of it, Richardson-extrapolated, where there is no kink to cross
LARGEST_SAMPLED = 8  # a declared integer dimension above this is sampled at a small size: checks stay cheap
LARGEST_EXACT = 16  # ...unless the size matters as a number too; then it is sampled as it is, up to this
WELL_CONDITIONED = 1e8  # a sample point where a matrix to be inverted is worse than this is redrawn


def dimension_sizes(expr: n.Node, first: int = FIRST_SIZE, small: bool = True) -> dict[str | int, int]:
    """A distinct size for each dimension name: 3, 4, 5, ... in order of first use. With `small`, a
    declared integer dimension larger than LARGEST_SAMPLED (matrix(30000, 30000)) gets a small distinct size
    too, the same one wherever it appears, under its integer key; smaller integers (and 1) stay what they
    are. Only where the values do not depend on that size otherwise (see stand_in_is_exact)."""
    sizes: dict[str | int, int] = {}
    for sub in n.walk(expr):
        for dim in (sub.shape.rows, sub.shape.cols):
            if (isinstance(dim, str) or (small and dim > LARGEST_SAMPLED)) and dim not in sizes:
                sizes[dim] = first + len(sizes)
        if isinstance(sub, n.DimSize) and sub.name not in sizes:
            sizes[sub.name] = first + len(sizes)
    return sizes


def large_dimensions(exprs: list[n.Node]) -> set[int]:
    """The integer dimensions above LARGEST_SAMPLED that the expressions use."""
    return {
        dim
        for expr in exprs
        for sub in n.walk(expr)
        for dim in (sub.shape.rows, sub.shape.cols)
        if isinstance(dim, int) and dim > LARGEST_SAMPLED
    }


def stand_in_is_exact(exprs: list[n.Node], large: set[int]) -> bool:
    """Whether the expressions (and their derivatives) have the same meaning at small stand-in sizes for the
    large integer dimensions: true unless a large size also enters as a number, through a mean (1/n), a
    constant vector or identity matrix of that size (sum(ones(n)) = n), scalar expansion (d/da sum(x + a) =
    n), or a number the user wrote that is a multiple or divisor of it (sum(x)/30000)."""

    def involves(node: n.Node) -> bool:
        return node.shape.rows in large or node.shape.cols in large

    for expr in exprs:
        for node in n.walk(expr):
            if isinstance(node, n.Mean) and involves(node.operand):
                return False
            if isinstance(node, (n.Fill, n.Identity)) and involves(node):
                return False
            if (
                isinstance(node, (n.Add, n.Maximum, n.Minimum))
                and node.left.shape.is_scalar != node.right.shape.is_scalar
                and involves(node)
            ):
                return False
            if isinstance(node, n.Number) and any(
                _related(part, size) for size in large for part in (node.value.numerator, node.value.denominator)
            ):
                return False
    return True


def _related(number: int, size: int) -> bool:
    number = abs(number)
    return number > LARGEST_SAMPLED and (number % size == 0 or size % number == 0)


def size_of(dim: Dim, sizes: Mapping[str | int, int]) -> int:
    if isinstance(dim, int):
        return sizes.get(dim, dim)
    if dim not in sizes:
        raise InputError(f"no value fixes the size {dim}: give a variable of that size a value")
    return sizes[dim]


def sample(
    shapes: Mapping[str, Shape], env: Env, sizes: Mapping[str, int], rng: np.random.Generator, positive: bool = False
) -> dict[str, np.ndarray]:
    """Random values for the variables, as 2-D arrays."""
    values = {}
    for name, shape in shapes.items():
        rows, cols = size_of(shape.rows, sizes), size_of(shape.cols, sizes)
        kind = env.decls[name].kind if name in env.decls else ""
        if kind == "posdef":
            m = rng.normal(size=(rows, rows))
            values[name] = m @ m.T + rows * np.eye(rows)
        elif kind == "onehot":
            values[name] = np.eye(rows)[:, [int(rng.integers(rows))]]
        elif kind == "simplex":
            weights = rng.uniform(0.5, 1.5, size=(rows, 1))
            values[name] = weights / weights.sum()
        elif kind == "symmetric":
            m = rng.normal(size=(rows, rows))
            values[name] = (m + m.T) / 2 + (rows * np.eye(rows) if positive else 0)
        elif positive:
            values[name] = rng.uniform(0.5, 1.5, size=(rows, cols))
        else:
            values[name] = rng.normal(size=(rows, cols))
        if rows == cols and rows > 1 and kind not in ("posdef", "symmetric"):
            # well conditioned with a positive determinant, and scaled so that its eigenvalues are about 1:
            # powers (B^20) and determinants stay small, so finite differences do not lose their digits
            values[name] = (values[name] + rows * np.eye(rows)) / rows
    return values


@dataclass
class Point:
    values: dict[str, np.ndarray]
    sizes: dict[str, int]


KINK_DISTANCE = 1e-3  # a sample this close to a kink of abs, relu, sign, max or min is redrawn


def sample_point(
    exprs: n.Node | list[n.Node],
    env: Env,
    rng: np.random.Generator,
    tries: int = 30,
    first: int = FIRST_SIZE,
    differentiated: list[n.Node] | None = None,
    symbolic_derivatives: bool = True,
) -> Point:
    """A point where every expression is finite, every matrix it inverts is well conditioned, and the
    differentiated ones (by default all) are away from kinks. With symbolic_derivatives (a derivative
    formula will be evaluated there, not only finite differences), the arguments of det and logdet in the
    differentiated ones are well conditioned too: their derivatives invert them. Mixed signs first, then
    positive entries."""
    exprs = exprs if isinstance(exprs, list) else [exprs]
    differentiated = exprs if differentiated is None else differentiated
    sizes: dict[str | int, int] = {}
    shapes: dict[str, Shape] = {}
    large = large_dimensions(exprs)
    small = not large or stand_in_is_exact(exprs, large)
    if not small and max(large) > LARGEST_EXACT:
        raise UnsupportedError(
            f"the declared size {max(large)} is too large to check numerically, and small sizes cannot stand in "
            "for it here (it enters as a number: a mean, ones or eye of that size, scalar expansion, or a number "
            "written in the expression); declare the dimension with a name, as in vector(n), to check it"
        )
    for expr in exprs:
        for name, size in dimension_sizes(expr, first + len(sizes), small).items():
            sizes.setdefault(name, size)
        for name, shape in n.variables(expr).items():
            shapes.setdefault(name, shape)
    inverted = _inverted_operands(exprs, differentiated if symbolic_derivatives else [])
    singular: SingularMatrixError | None = None
    for attempt in range(tries):
        values = sample(shapes, env, sizes, rng, positive=attempt >= tries // 2)
        with np.errstate(all="ignore"):
            try:
                finite = all(np.all(np.isfinite(evaluate_numeric(expr, values, sizes))) for expr in exprs)
                _check_conditioning(inverted, values, sizes)
            except SingularMatrixError as error:
                singular = error
                continue
            except (np.linalg.LinAlgError, ZeroDivisionError, OverflowError, FloatingPointError):
                continue
            if finite and kink_distance(differentiated, values, sizes) > KINK_DISTANCE:
                return Point(values, sizes)
    if singular is not None:
        raise UnsupportedError(
            f"no random point found where the matrices this needs to invert are invertible: a {singular.size}×"
            f"{singular.size} one had rank {singular.rank} at every point tried, so it looks singular for "
            "all values (the result assumes it is invertible); it cannot be checked numerically"
        )
    raise UnsupportedError(
        "no random point found where the expression is defined and away from kinks, so it cannot be checked numerically"
    )


def _inverted_operands(exprs: list[n.Node], differentiated: list[n.Node]) -> list[n.Node]:
    """The matrices that the expressions or their derivatives invert: arguments of inverses and negative
    matrix powers anywhere, and of det and logdet where a derivative is taken."""
    found: dict[n.Node, None] = {}
    for expr in exprs:
        for node in n.walk(expr):
            if isinstance(node, n.Inverse) or (isinstance(node, n.MatPower) and node.exponent < 0):
                operand = node.operand if isinstance(node, n.Inverse) else node.base
                if n.variables(operand):
                    found[operand] = None
    for expr in differentiated:
        for node in n.walk(expr):
            if isinstance(node, (n.Det, n.LogDet)) and n.variables(node.operand):
                found[node.operand] = None
    return list(found)


def _check_conditioning(
    operands: list[n.Node], values: Mapping[str, np.ndarray], sizes: Mapping[str | int, int]
) -> None:
    for operand in operands:
        matrix = evaluate_numeric(operand, values, sizes)
        if not invertible(matrix, WELL_CONDITIONED):
            rank = int(np.linalg.matrix_rank(matrix)) if np.all(np.isfinite(matrix)) else matrix.shape[0]
            raise SingularMatrixError("badly conditioned", rank, matrix.shape[0])


def kink_distance(exprs: list[n.Node], values: Mapping[str, np.ndarray], sizes: Mapping[str, int]) -> float:
    """How far the point is from the nearest kink of abs, relu, sign, max, min or a norm (inf if none)."""
    nearest = np.inf
    for expr in exprs:
        for node in n.walk(expr):
            if not isinstance(node, (n.Apply, n.Maximum, n.Minimum, n.Norm)) or not n.variables(node):
                continue  # a kink of a constant stays where it is: relu(eye(m)) is fine
            if isinstance(node, n.Apply) and node.function in ("abs", "relu", "sign", "step"):
                gap = evaluate_numeric(node.operand, values, sizes)
            elif isinstance(node, (n.Maximum, n.Minimum)):
                gap = evaluate_numeric(node.left, values, sizes) - evaluate_numeric(node.right, values, sizes)
            elif isinstance(node, n.Norm) and node.p == "1":  # |u_i| summed: a kink where any entry is 0
                gap = evaluate_numeric(node.operand, values, sizes)
            elif isinstance(node, n.Norm):  # a norm has its kink at 0
                gap = evaluate_numeric(node, values, sizes)
            else:
                continue
            nearest = min(nearest, float(np.min(np.abs(gap))))
    return nearest


class _NumericEvaluator(Evaluator):
    """Evaluation in which a derivative is computed by finite differences of its operand."""

    def _derivative(self, node: n.Derivative) -> np.ndarray:
        point = Point(dict(self.values), dict(self.sizes))
        if node.wrt.name not in n.variables(node.operand):  # d/da of what does not hold a: zero
            return np.zeros(self.shape(node.shape))
        if node.order > 1 and node.wrt.shape.is_scalar:
            value = arrange_array(
                kth_difference(node.operand, node.wrt.name, point, node.order)[..., None, None],
                node.operand.shape,
                node.wrt.shape,
                Layout(node.layout),
            )
        elif node.order == 2:
            value = second_difference(node.operand, node.wrt.name, point)
        else:
            value = finite_difference(node.operand, node.wrt.name, point, Layout(node.layout))
        return value.reshape(self.shape(node.shape))


def evaluate_numeric(node: n.Node, values: Mapping[str, np.ndarray], sizes: Mapping[str, int]) -> np.ndarray:
    """Like evaluate, but derivatives inside the expression are finite differences: the ground truth."""
    return _NumericEvaluator(values, sizes)(node)


def finite_difference(expr: n.Node, wrt: str, point: Point, layout: Layout, step: float = STEP) -> np.ndarray:
    """∂expr/∂wrt by central differences, with the axes in layout order and unit axes dropped.

    Where the expression has no kinks, by Richardson extrapolation of two larger steps (error O(h⁴)), so
    that rounding, eps·|expr|/h, stays small even when the values are large (sum(B^20) next to what
    depends on wrt); next to a kink (abs, relu, max, norms, ...) by one small step that cannot cross it."""
    if _has_kinks(expr):
        return _central_difference(expr, wrt, point, layout, step)
    coarse = _central_difference(expr, wrt, point, layout, SMOOTH_STEP)
    fine = _central_difference(expr, wrt, point, layout, SMOOTH_STEP / 2)
    extrapolated = (4 * fine - coarse) / 3
    if np.all(np.isfinite(extrapolated)):
        return extrapolated
    return _central_difference(expr, wrt, point, layout, step)  # the larger steps left the domain (log near 0)


def _has_kinks(expr: n.Node) -> bool:
    return any(
        (isinstance(node, n.Apply) and node.function in ("abs", "relu", "sign", "step"))
        or isinstance(node, (n.Maximum, n.Minimum, n.Norm))
        for node in n.walk(expr)
    )


def _central_difference(expr: n.Node, wrt: str, point: Point, layout: Layout, step: float) -> np.ndarray:
    base = point.values[wrt]
    out_shape = evaluate_numeric(expr, point.values, point.sizes).shape
    jacobian = np.zeros(out_shape + base.shape)
    for index in np.ndindex(base.shape):
        forward, backward = dict(point.values), dict(point.values)
        forward[wrt], backward[wrt] = base.copy(), base.copy()
        forward[wrt][index] += step
        backward[wrt][index] -= step
        difference = evaluate_numeric(expr, forward, point.sizes) - evaluate_numeric(expr, backward, point.sizes)
        jacobian[(...,) + index] = difference / (2 * step)
    return arrange_array(jacobian, expr.shape, _variable_shape(expr, wrt), layout)


def kth_difference(expr: n.Node, wrt: str, point: Point, order: int) -> np.ndarray:
    """The order-th derivative by a scalar, by a central difference stencil at two steps combined by
    Richardson extrapolation (error O(h⁴); the step balances it against rounding, eps / h^order)."""
    base = point.values[wrt]
    step = float(np.finfo(float).eps ** (1 / (order + 4)))

    def stencil(h: float) -> np.ndarray:
        total = 0.0
        for j in range(order + 1):
            values = dict(point.values)
            values[wrt] = base + (order / 2 - j) * h
            total = total + (-1) ** j * math.comb(order, j) * evaluate_numeric(expr, values, point.sizes)
        return total / h**order

    return (4 * stencil(step / 2) - stencil(step)) / 3


def second_difference(expr: n.Node, wrt: str, point: Point, step: float = 1e-4) -> np.ndarray:
    """The Hessian of a scalar by a scalar or vector, by central second differences."""
    base = point.values[wrt]
    size = base.size
    hessian = np.zeros((size, size))

    def at(shift: np.ndarray) -> float:
        values = dict(point.values)
        values[wrt] = base + shift.reshape(base.shape)
        return evaluate_numeric(expr, values, point.sizes).item()

    unit = np.eye(size) * step
    for a in range(size):
        for b in range(size):
            hessian[a, b] = (
                at(unit[a] + unit[b]) - at(unit[a] - unit[b]) - at(unit[b] - unit[a]) + at(-unit[a] - unit[b])
            ) / (4 * step * step)
    return hessian if size > 1 else hessian.reshape(())


def _variable_shape(expr: n.Node, name: str) -> Shape:
    return n.variables(expr)[name]


def arrange_array(jacobian: np.ndarray, out: Shape, wrt: Shape, layout: Layout) -> np.ndarray:
    """Reorder a (out rows, out cols, wrt rows, wrt cols) array for a layout, unit axes dropped."""
    labels = ["out_rows", "out_cols", "wrt_rows", "wrt_cols"]
    kept = [label for label, dim in zip(labels, (out.rows, out.cols, wrt.rows, wrt.cols)) if dim != 1]
    squeezed = jacobian.reshape([jacobian.shape[labels.index(label)] for label in kept])
    out_labels = tuple(label for label in kept if label.startswith("out"))
    wrt_labels = tuple(label for label in kept if label.startswith("wrt"))
    order = [label for label in arrange(out_labels, wrt_labels, layout, out.is_scalar) if label is not None]
    return np.transpose(squeezed, [kept.index(label) for label in order]) if order else squeezed.reshape(())


def einsum_letters(result: Derivative, used: list[str]) -> dict[str, str]:
    """A letter for each index the result uses (einsum takes 52 at most), free ones first."""
    ordered = dict.fromkeys([*result.free, *used])
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(ordered) > len(letters):
        raise UnsupportedError("this derivative has more indices than can be evaluated numerically")
    return dict(zip(ordered, letters))


def evaluate_terms(result: Derivative, point: Point) -> np.ndarray:
    """The index form evaluated with einsum: axes are result.free, in order."""
    letters = einsum_letters(result, [i for term in result.terms for f in term.factors for i in f.indices])
    total = _zeros([size_of(result.dims[i], point.sizes) for i in result.free])
    output = "".join(letters[i] for i in result.free)
    for term in result.terms:
        operands, subscripts = [], []
        for f in term.factors:
            if f.is_delta:
                operands.append(np.eye(size_of(result.dims[f.indices[0]], point.sizes)))
            else:
                value = evaluate(f.node, point.values, point.sizes)
                operands.append(
                    value.reshape(
                        [value.shape[k] for k, d in enumerate((f.node.shape.rows, f.node.shape.cols)) if d != 1]
                    )
                )
            subscripts.append("".join(letters[i] for i in f.indices))
        total = total + float(term.coefficient) * _einsum(subscripts, operands, output, total.shape)
    return total


def evaluate_shown(result: Derivative, point: Point, evaluator: Evaluator | None = None) -> np.ndarray:
    """The shown form (matrix notation, or index notation with its pieces) evaluated, where-names included."""
    if evaluator is None:
        evaluator = Evaluator(point.values, point.sizes)  # one for all: each where-name adds a value
    for name, node in result.where:
        evaluator.values[name] = evaluator(node)
    if result.matrix is not None:
        value = evaluator(result.matrix)
        return value.reshape([size_of(d, point.sizes) for d in result.shape if d != 1])  # unit axes of the shape
    letters = einsum_letters(
        result, [i for term in result.index_form or [] for piece in term.pieces for i in piece.indices]
    )
    output = "".join(letters[i] for i in result.free)
    total = _zeros([size_of(result.dims[i], point.sizes) for i in result.free])
    for term in result.index_form or []:
        scale = float(term.coefficient)
        for scalar in term.scalars:
            scale *= evaluator(scalar).item()
        operands, subscripts = [], []
        for piece in term.pieces:
            value = evaluator(_product(piece.elements))
            operands.append(value.reshape(-1) if len(piece.indices) < 2 else value)
            subscripts.append("".join(letters[i] for i in piece.indices))
        total = total + scale * _einsum(subscripts, operands, output, total.shape)
    return total


def _zeros(shape: list[int] | tuple[int, ...]) -> np.ndarray:
    """An array of zeros, refused when it is larger than matcalc evaluates."""
    if float(np.prod(shape, dtype=float)) > MAX_ELEMENTS:
        raise UnsupportedError(
            f"a result of {' × '.join(map(str, shape))} entries is more than matcalc "
            f"evaluates ({MAX_ELEMENTS:,} at most)"
        )
    return np.zeros(shape)


def _einsum(subscripts: list[str], operands: list[np.ndarray], output: str, shape: tuple) -> np.ndarray:
    """einsum, where a free index that no operand carries means the value is the same along it."""
    _zeros(shape)  # its size is checked
    for letter, size in zip(output, shape):
        if not any(letter in sub for sub in subscripts):
            subscripts, operands = subscripts + [letter], operands + [np.ones(size)]
    if not operands:
        return np.ones(shape)
    return np.einsum(",".join(subscripts) + "->" + output, *operands)


def _product(elements: list[n.Node]) -> n.Node:
    node = elements[0]
    for element in elements[1:]:
        node = n.MatMul(node, element, shape=Shape(node.shape.rows, element.shape.cols))
    return node


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    return float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0


@dataclass
class Comparison:
    max_error: float
    counterexample: str = ""


def compare_sides(lhs: n.Node, rhs: n.Node, env: Env, seed: int, points: int) -> Comparison:
    """The largest relative difference of two expressions at random points (derivatives by finite
    differences), and, if they differ, a counterexample at the smallest sizes."""
    rng = np.random.default_rng(seed)
    # only where finite differences are taken does a kink matter
    differentiated = [node.operand for side in (lhs, rhs) for node in n.walk(side) if isinstance(node, n.Derivative)]
    worst = 0.0
    for _ in range(points):
        point = sample_point([lhs, rhs], env, rng, differentiated=differentiated, symbolic_derivatives=False)
        worst = max(worst, _difference(lhs, rhs, point))
    if worst <= TOLERANCE:
        return Comparison(worst)
    small = sample_point([lhs, rhs], env, rng, first=2, differentiated=differentiated, symbolic_derivatives=False)
    return Comparison(worst, _describe_counterexample(lhs, rhs, small, worst))


def _difference(lhs: n.Node, rhs: n.Node, point: Point) -> float:
    with np.errstate(all="ignore"):
        left = evaluate_numeric(lhs, point.values, point.sizes)
        right = evaluate_numeric(rhs, point.values, point.sizes)
    left, right = np.broadcast_arrays(left, right)
    scale = max(1.0, float(np.max(np.abs(left))), float(np.max(np.abs(right))))
    return float(np.max(np.abs(left - right))) / scale


def _describe_counterexample(lhs: n.Node, rhs: n.Node, point: Point, worst: float) -> str:
    left, right = np.broadcast_arrays(
        evaluate_numeric(lhs, point.values, point.sizes), evaluate_numeric(rhs, point.values, point.sizes)
    )
    sizes = ", ".join(
        f"{name}={size}" if isinstance(name, str) else f"{name} checked at size {size}"
        for name, size in point.sizes.items()
    )
    values = "; ".join(f"{name} = {_short(value)}" for name, value in point.values.items())
    where = f" with {sizes}" if sizes else ""
    return (
        f"largest relative difference {worst:.2g}; for example{where}: {values} gives "
        f"left {_short(left)}, right {_short(right)}"
    )


def _short(value: np.ndarray) -> str:
    value = np.asarray(value)
    if value.size == 1:
        return f"{value.item():.3g}"
    rows = value.reshape(value.shape[0], -1) if value.ndim > 1 else value.reshape(1, -1)
    if value.ndim > 1 and value.shape[1] == 1:
        rows = value.reshape(1, -1)
        return "[" + ", ".join(f"{v:.3g}" for v in rows[0]) + "]ᵀ"
    return "[" + "; ".join(", ".join(f"{v:.3g}" for v in row) for row in rows) + "]"


def point_from(
    assignments: Mapping[str, object], shapes: Mapping[str, Shape], dimension_names: set[str] = frozenset()
) -> Point:
    """A point from given values (numbers and nested lists), checked against the variables' shapes;
    the values fix the sizes of the dimensions."""
    unknown = sorted(set(assignments) - set(shapes))
    if unknown:
        raise InputError(f"{unknown[0]} is not a variable of the expression")
    sizes: dict[str, int] = {}
    values: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name not in assignments:
            raise InputError(f"no value given for {name} ({shape.kind})")
        array = np.array(assignments[name], dtype=float)
        wanted_ndim = 0 if shape.is_scalar else 1 if shape.is_vector else 2
        if array.ndim != wanted_ndim:
            raise InputError(
                f"{name} is a {shape.kind}, so its value is "
                + ("a number" if wanted_ndim == 0 else "a list of numbers" if wanted_ndim == 1 else "a list of rows")
            )
        matrix = (
            array.reshape(1, 1)
            if wanted_ndim == 0
            else array.reshape(-1, 1)
            if shape.is_column
            else array.reshape(1, -1)
            if wanted_ndim == 1
            else array
        )
        for dim, size in zip((shape.rows, shape.cols), matrix.shape):
            if isinstance(dim, int) and dim != size:
                raise InputError(f"{name} has {size} where its shape {shape} needs {dim}")
            if isinstance(dim, str) and sizes.setdefault(dim, size) != size:
                raise InputError(f"the values disagree on the size {dim}: {sizes[dim]} and {size} (for {name})")
        values[name] = matrix
    missing = sorted(dimension_names - set(sizes))
    if missing:
        raise InputError(f"no value fixes the size {missing[0]}")
    return Point(values, sizes)


def as_plain(value: np.ndarray) -> float | list:
    """A number or nested lists, for JSON; a value that is not finite (an overflow, a point outside the
    function's domain) is an InputError, as JSON has no Infinity or NaN."""
    value = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(value)):
        raise InputError(
            "the value is not finite at this point (it overflows, or the point is outside the "
            "domain of a function in it)"
        )
    return float(value) if value.ndim == 0 else value.tolist()
