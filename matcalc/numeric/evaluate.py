"""Numeric evaluation of a typed tree with NumPy, independent of SymPy.

This is the ground truth that finite-difference checks are built on, so it
shares no code with the symbolic side: each node's meaning is written out
again here, directly in NumPy. Every value is a 2-D array (a scalar is 1×1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from .. import nodes as n
from ..errors import InputError, UnsupportedError
from ..shapes import Dim, Shape

MAX_ELEMENTS = 4_000_000  # entries of one value (32 MB): what --at can ask for stays within memory
SINGULAR_CONDITION = 1e13  # a matrix this badly conditioned is singular for every purpose of a check


class SingularMatrixError(InputError):
    """A matrix that the expression (or its derivative) inverts is singular at the point."""

    def __init__(self, message: str, rank: int, size: int, **kwargs):
        super().__init__(message, **kwargs)
        self.rank, self.size = rank, size


def invertible(matrix: np.ndarray, condition: float = SINGULAR_CONDITION) -> bool:
    """Whether a square matrix is invertible to working precision (its condition number is below `condition`)."""
    if not np.all(np.isfinite(matrix)):
        return True  # not finite: the caller's isfinite check rejects the point, not this one
    with np.errstate(all="ignore"):
        return bool(np.linalg.cond(matrix) < condition)


def _require_invertible(matrix: np.ndarray, node: n.Node) -> np.ndarray:
    if not invertible(matrix):
        rank = int(np.linalg.matrix_rank(matrix))
        size = matrix.shape[0]
        raise SingularMatrixError(
            f"a {size}×{size} matrix that must be inverted is singular at this point "
            f"(its rank is {rank}); the result assumes it is invertible",
            rank,
            size,
        )
    return matrix


_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sqrt": np.sqrt,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0),
    "sign": np.sign,
    "abs": np.abs,
    # step appears only in derivatives (of relu, max, min); step(0) = 1/2 lies in every subdifferential there
    "step": lambda a: np.heaviside(a, 0.5),
}


def stand_in(function: str, u: np.ndarray) -> np.ndarray:
    """An unspecified function f (and f', f'', ...) evaluated as a fixed smooth function of its own,
    f(u) = sin(a u + b) + c u², with its exact derivatives, so that numeric checks can test the
    structure of a chain rule through f without knowing f. Each name gets its own a, b, c."""
    name = function.rstrip("'")
    k = len(function) - len(name)
    seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(name))
    a, b, c = 0.7 + (seed % 7) / 10, (seed % 5) / 5, 0.1 + (seed % 3) / 10
    quadratic = c * u**2 if k == 0 else 2 * c * u if k == 1 else np.full_like(u, 2 * c) if k == 2 else 0 * u
    return a**k * np.sin(a * u + b + k * np.pi / 2) + quadratic


class Evaluator:
    def __init__(self, values: Mapping[str, npt.ArrayLike], sizes: Mapping[str | int, int]):
        self.values = {name: _as_matrix(value) for name, value in values.items()}
        self.sizes = sizes
        self._outermost = True
        # each shape's sizes, read once (evaluation is per node), by its two dimensions: a tuple of names and
        # numbers hashes in C, a Shape through a Python __hash__
        self._dims: dict[tuple[Dim, Dim], tuple[int, int]] = {}
        self._rules: dict[type, Callable[[n.Node], np.ndarray]] = {}  # each node class's method, looked up once

    def size(self, dim: Dim) -> int:
        # a large integer dimension may be sampled at a small size (differences.dimension_sizes)
        if isinstance(dim, int):
            return self.sizes.get(dim, dim)
        if isinstance(dim, str) and "·" in dim:  # a product of dimensions (n.product_dim): a Kronecker product's
            return int(np.prod([self.size(int(part) if part.isdigit() else part) for part in dim.split("·")]))
        if not isinstance(dim, str) or dim not in self.sizes:  # nor is a DimVar (a size never bound)
            raise InputError(f"no value fixes the size {dim}: give a variable of that size a value")
        return self.sizes[dim]

    def shape(self, shape: Shape) -> tuple[int, int]:
        return self.size(shape.rows), self.size(shape.cols)

    def __call__(self, node: n.Node) -> np.ndarray:
        shape = node.shape
        if (shape.rows, shape.cols) not in self._dims:  # a shape not seen yet: its sizes, checked once
            self._sizes_of(shape)
        rule = self._rules.get(type(node))
        if rule is None:
            rule = self._rules[type(node)] = getattr(self, f"_{node.kind}")
        if self._outermost:  # overflow and log(-1) give inf and nan, which callers check for: no warnings
            self._outermost = False
            try:
                with np.errstate(all="ignore"):
                    return rule(node)
            finally:
                self._outermost = True
        return rule(node)

    def _sizes_of(self, shape: Shape) -> tuple[int, int]:
        """The sizes of a shape, refused if a value of that shape would be too large to evaluate."""
        key = (shape.rows, shape.cols)
        dims = self._dims.get(key)
        if dims is None:
            rows, cols = dims = self.shape(shape)
            if rows * cols > MAX_ELEMENTS:  # never remembered: refused again wherever it appears
                raise UnsupportedError(
                    f"a value of {rows}×{cols} entries is more than matcalc evaluates ({MAX_ELEMENTS:,} at most)"
                )
            self._dims[key] = dims
        return dims

    def _var(self, node: n.Var) -> np.ndarray:
        value = self.values[node.name]
        dims = self._sizes_of(node.shape)
        return value if value.shape == dims else value.reshape(dims)  # a view shares the memory all the same

    def _number(self, node: n.Number) -> np.ndarray:
        return np.array([[float(node.value)]])

    def _const(self, node: n.Const) -> np.ndarray:
        return np.array([[np.pi if node.name == "pi" else np.e]])

    def _dimsize(self, node: n.DimSize) -> np.ndarray:
        return np.array([[float(self.size(node.name))]])

    def _identity(self, node: n.Identity) -> np.ndarray:
        return np.eye(self.size(node.shape.rows))

    def _fill(self, node: n.Fill) -> np.ndarray:
        return np.full(self.shape(node.shape), self(node.value).item())

    def _neg(self, node: n.Neg) -> np.ndarray:
        return -self(node.operand)

    def _add(self, node: n.Add) -> np.ndarray:
        return self(node.left) + self(node.right)  # NumPy broadcasting is scalar expansion here

    def _scalarmul(self, node: n.ScalarMul) -> np.ndarray:
        return self(node.left) * self(node.right)

    def _matmul(self, node: n.MatMul) -> np.ndarray:
        return self(node.left) @ self(node.right)

    def _hadamard(self, node: n.Hadamard) -> np.ndarray:
        return self(node.left) * self(node.right)

    def _divide(self, node: n.Divide) -> np.ndarray:
        return self(node.left) / self(node.right)

    def _power(self, node: n.Power) -> np.ndarray:
        return np.power(self(node.base), self(node.exponent))

    def _matpower(self, node: n.MatPower) -> np.ndarray:
        base = self(node.base)
        if node.exponent < 0:
            _require_invertible(base, node)
        return np.linalg.matrix_power(base, node.exponent)

    def _transpose(self, node: n.Transpose) -> np.ndarray:
        return self(node.operand).T

    def _inverse(self, node: n.Inverse) -> np.ndarray:
        return np.linalg.inv(_require_invertible(self(node.operand), node))

    def _trace(self, node: n.Trace) -> np.ndarray:
        return np.array([[np.trace(self(node.operand))]])

    def _det(self, node: n.Det) -> np.ndarray:
        return np.array([[np.linalg.det(self(node.operand))]])

    def _logdet(self, node: n.LogDet) -> np.ndarray:
        return np.array([[np.log(np.linalg.det(self(node.operand)))]])

    def _norm(self, node: n.Norm) -> np.ndarray:
        value = self(node.operand)
        if node.p == "1":
            return np.array([[np.abs(value).sum()]])
        if node.p == "spectral":
            raise UnsupportedError("the spectral norm ||A||_2 of a matrix is not supported yet", span=node.span)
        return np.array([[np.sqrt((value**2).sum())]])

    def _sum(self, node: n.Sum) -> np.ndarray:
        return np.array([[self(node.operand).sum()]])

    def _mean(self, node: n.Mean) -> np.ndarray:
        return np.array([[self(node.operand).mean()]])

    def _diagmatrix(self, node: n.DiagMatrix) -> np.ndarray:
        return np.diag(self(node.operand).ravel())

    def _diagof(self, node: n.DiagOf) -> np.ndarray:
        return np.diag(self(node.operand)).reshape(-1, 1)

    def _apply(self, node: n.Apply) -> np.ndarray:
        if n.is_unspecified(node.function):
            return stand_in(node.function, self(node.operand))
        return _FUNCTIONS[node.function](self(node.operand))

    def _maximum(self, node: n.Maximum) -> np.ndarray:
        return np.maximum(self(node.left), self(node.right))

    def _minimum(self, node: n.Minimum) -> np.ndarray:
        return np.minimum(self(node.left), self(node.right))

    def _softmax(self, node: n.Softmax) -> np.ndarray:
        value = self(node.operand)
        exps = np.exp(value - value.max())
        return exps / exps.sum()

    def _logsumexp(self, node: n.LogSumExp) -> np.ndarray:
        value = self(node.operand)
        top = value.max()
        return np.array([[top + np.log(np.exp(value - top).sum())]])

    def _kron(self, node: n.Kron) -> np.ndarray:
        return np.kron(self(node.left), self(node.right))

    def _vec(self, node: n.Vec) -> np.ndarray:
        return self(node.operand).reshape(-1, 1, order="F")  # columns stacked

    def _commutation(self, node: n.Commutation) -> np.ndarray:
        return commutation_matrix(self.size(node.m), self.size(node.n))

    def _derivative(self, node: n.Derivative) -> np.ndarray:
        raise UnsupportedError("a derivative inside an expression cannot be evaluated yet", span=node.span)


def _as_matrix(value: npt.ArrayLike) -> np.ndarray:
    """A value as a 2-D array of floats; one that is already (a sample point's are) is taken as it is, as
    asarray and atleast_2d would (an evaluation copies every value of a point: a long sum has a thousand)."""
    if type(value) is np.ndarray and value.ndim == 2 and value.dtype == np.float64:  # no subclass: np.matrix
        return value
    return np.atleast_2d(np.asarray(value, dtype=float))


def commutation_matrix(rows: int, cols: int) -> np.ndarray:
    """K(m, n) for m = rows, n = cols: the mn×mn permutation with K(m, n) vec(X) = vec(Xᵀ) for X m×n. The entry
    X[i, j] sits at i + m j in vec(X) and at j + n i in vec(Xᵀ)."""
    matrix = np.zeros((rows * cols, rows * cols))
    for i in range(rows):
        for j in range(cols):
            matrix[j + cols * i, i + rows * j] = 1.0
    return matrix


def evaluate(node: n.Node, values: Mapping[str, npt.ArrayLike], sizes: Mapping[str | int, int]) -> np.ndarray:
    """The value of the expression as a 2-D array, given variable values and dimension sizes.

    >>> from matcalc.api import parse
    >>> evaluate(parse("x'Ax").expr, {"x": [[1], [2]], "A": [[1, 0], [0, 3]]}, {"n": 2}).item()
    13.0
    """
    with np.errstate(all="ignore"):  # overflow and log(-1) give inf and nan, which callers check for
        return Evaluator(values, sizes)(node)
