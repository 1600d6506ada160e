"""A vec/Kronecker form as one NumPy expression: the (rows·cols of F) × (rows·cols of X) matrix.

Kronecker products are np.kron, the commutation matrix K(m, n) is the identity with its rows permuted
(row j + n i of K(m, n) is row i + m j of the identity), vec stacks columns (order="F"). Every factor
between them is an ordinary typed tree, written by render/numpy.py's printer and made 2-D (a column
n×1, a row 1×n), so that np.kron sees the shapes that ⊗ means.
"""

from __future__ import annotations

from fractions import Fraction

from .. import nodes as n
from ..calculus.differentiate import Derivative
from .numpy import TORCH, NumpyPrinter, code_names, dimension_sources, node_expression, read_off
from .python import Code


def vec_numpy_expression(result: Derivative, matrix: n.Node) -> str | None:
    """The expression, or None where a size it needs is read off no array of the function."""
    sources = dimension_sources(result.expr, names=code_names(result.expr))
    return _Writer(result.expr, sources).code(matrix)


def vec_module_code(printer: NumpyPrinter, matrix: n.Node) -> Code:
    """The form as code in a module's function: its factors and sizes written by the module's printer (its
    backend, the dtype of its inputs, its size names), the Kronecker products by that backend's kron."""
    return Code(_BackendWriter(printer)._code(matrix))


class _Unwritable(Exception):
    pass


class _Writer:
    def __init__(self, context: n.Node, sources: dict):
        self.context = context
        self.sources = sources

    def code(self, node: n.Node) -> str | None:
        try:
            return self._code(node)
        except _Unwritable:
            return None

    def _code(self, node: n.Node) -> str:
        if isinstance(node, n.Kron):
            return f"np.kron({self._code(node.left)}, {self._code(node.right)})"
        if isinstance(node, n.Commutation):
            m, k = self._size(node.m), self._size(node.n)
            return f'np.eye({m} * {k})[np.arange({m} * {k}).reshape(({m}, {k}), order="F").ravel()]'
        if isinstance(node, n.Vec):
            return f'np.reshape({self._leaf(node.operand)}, (-1, 1), order="F")'
        if isinstance(node, n.Transpose) and _holds_vec(node.operand):
            return f"({self._code(node.operand)}).T"
        if isinstance(node, n.Add) and _holds_vec(node):
            return f"{self._code(node.left)} + {self._code(node.right)}"
        if isinstance(node, n.Neg) and _holds_vec(node):
            return f"-({self._code(node.operand)})"
        if isinstance(node, n.ScalarMul) and _holds_vec(node):
            scalar, other = (node.left, node.right) if node.left.shape.is_scalar else (node.right, node.left)
            return f"({self._leaf(scalar)}) * ({self._code(other)})"
        if isinstance(node, n.MatMul) and _holds_vec(node):
            return f"({self._code(node.left)}) @ ({self._code(node.right)})"
        if isinstance(node, n.Identity) and _is_product(node.shape.rows):  # I_mn, of Kronecker factors merged
            return f"np.eye({self._size(node.shape.rows)})"
        if isinstance(node, n.Fill) and (_is_product(node.shape.rows) or _is_product(node.shape.cols)):
            rows, cols = self._size(node.shape.rows), self._size(node.shape.cols)
            return f"np.full(({rows}, {cols}), {self._leaf(node.value)})"
        return self._leaf(node)

    xp = "np"

    def _leaf(self, node: n.Node) -> str:
        """An ordinary tree, 2-D unless a scalar."""
        text = self._expression(node)
        if node.shape.is_column:
            return f"{self.xp}.reshape({text}, (-1, 1))"
        if node.shape.is_row:
            return f"{self.xp}.reshape({text}, (1, -1))"
        return text

    def _expression(self, node: n.Node) -> str:
        return node_expression(node, self.context)

    def _size(self, dim) -> str:
        """A size as Python: a number, read off an array, or a product of those (m·n)."""
        if _is_product(dim):
            return " * ".join(self._size(int(part) if part.isdigit() else part) for part in dim.split("·"))
        if isinstance(dim, int) and not read_off(dim):
            return str(dim)
        if dim not in self.sources:
            raise _Unwritable
        return self.sources[dim]


class _BackendWriter(_Writer):
    """The writer for a module of NumPy, PyTorch or JAX: what it writes in NumPy, in the printer's backend.
    PyTorch's reshape has no column-major order: vec(X) is Xᵀ read row by row. The commutation matrix is
    the identity's rows in the order of arange(m n) read column by column as m×n."""

    def __init__(self, printer: NumpyPrinter):
        super().__init__(n.Number(Fraction(0)), {})
        self.printer = printer
        self.xp = printer.xp
        self.new = f", {printer.new_arrays}" if printer.new_arrays else ""

    def _code(self, node: n.Node) -> str:
        xp, torch = self.xp, self.printer.backend is TORCH
        if isinstance(node, n.Kron) and torch:  # torch.kron of a transposed (strided) tensor raises
            return f"torch.kron(({self._code(node.left)}).contiguous(), ({self._code(node.right)}).contiguous())"
        if isinstance(node, n.Kron):
            return f"{xp}.kron({self._code(node.left)}, {self._code(node.right)})"
        if isinstance(node, n.Commutation):
            m, k = self._size(node.m), self._size(node.n)
            order = f"{xp}.arange({m} * {k}).reshape({k}, {m}).T.reshape(-1)"
            return f"{xp}.eye({m} * {k}{self.new})[{order}]"
        if isinstance(node, n.Vec):
            operand = self._leaf(node.operand)
            if torch:
                flipped = f"({operand}).T" if node.operand.shape.is_matrix else operand
                return f"torch.reshape({flipped}, (-1, 1))"
            return f'{xp}.reshape({operand}, (-1, 1), order="F")'
        if isinstance(node, n.Identity) and _is_product(node.shape.rows):
            return f"{xp}.eye({self._size(node.shape.rows)}{self.new})"
        if isinstance(node, n.Fill) and (_is_product(node.shape.rows) or _is_product(node.shape.cols)):
            rows, cols = self._size(node.shape.rows), self._size(node.shape.cols)
            return f"({self._leaf(node.value)}) * {xp}.ones(({rows}, {cols}){self.new})"
        return super()._code(node)

    def _expression(self, node: n.Node) -> str:
        return self.printer.code(node).text

    def _size(self, dim) -> str:
        if _is_product(dim):
            return " * ".join(self._size(int(part) if part.isdigit() else part) for part in dim.split("·"))
        return self.printer.size(dim).text


def _is_product(dim) -> bool:
    return isinstance(dim, str) and "·" in dim


def _holds_vec(node: n.Node) -> bool:
    """Whether the node holds what only this writer writes: ⊗, K, vec, or a size that is a product."""
    return any(
        isinstance(sub, (n.Kron, n.Commutation, n.Vec)) or _is_product(sub.shape.rows) or _is_product(sub.shape.cols)
        for sub in n.walk(node)
    )
