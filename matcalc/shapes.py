"""Shapes of expressions and the unification of their dimensions.

Every expression is two-dimensional: a scalar is 1×1, a (column) vector n×1,
a row vector 1×n, a matrix m×n. A dimension is a positive integer, a name
(`n`, from a declaration or an `eye(n)`), or, while shapes are being
inferred, a `DimVar` that unification later binds or names. Pure: no SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DimVar:
    """An unknown dimension of an undeclared name, bound by unification."""

    id: int

    def __str__(self) -> str:
        return f"?{self.id}"


Dim = int | str | DimVar


@dataclass(frozen=True)
class Shape:
    rows: Dim
    cols: Dim

    @property
    def is_scalar(self) -> bool:
        return self.rows == 1 and self.cols == 1

    @property
    def is_column(self) -> bool:
        return self.cols == 1 and self.rows != 1

    @property
    def is_row(self) -> bool:
        return self.rows == 1 and self.cols != 1

    @property
    def is_vector(self) -> bool:
        return self.is_column or self.is_row

    @property
    def is_matrix(self) -> bool:
        return self.rows != 1 and self.cols != 1

    @property
    def is_square(self) -> bool:
        return self.rows == self.cols

    @property
    def kind(self) -> str:
        if self.is_scalar:
            return "scalar"
        if self.is_column:
            return "vector"
        if self.is_row:
            return "row vector"
        return "matrix"

    def transposed(self) -> Shape:
        return Shape(self.cols, self.rows)

    def dims(self) -> list[int | str]:
        """The shape as SPEC §4 writes it: [] scalar, [n] vector, [r, c] otherwise."""
        if self.is_scalar:
            return []
        if self.is_column:
            return [_plain(self.rows)]
        return [_plain(self.rows), _plain(self.cols)]

    def __str__(self) -> str:
        return f"{self.rows}×{self.cols}"


SCALAR = Shape(1, 1)


def _plain(dim: Dim) -> int | str:
    return dim if isinstance(dim, (int, str)) else str(dim)


def describe(shape: Shape) -> str:
    """The shape in declaration syntax: `scalar`, `vector(n)`, `matrix(m, n)`."""
    if shape.is_scalar:
        return "scalar"
    if shape.is_column:
        return f"vector({shape.rows})"
    return f"matrix({shape.rows}, {shape.cols})"


class Dims:
    """A union-find store of dimensions.

    Names and integers are rigid: two different ones never unify. A DimVar
    binds to any dimension but 1, so an undeclared vector never collapses to
    a scalar just because that would make a product conform.
    """

    def __init__(self) -> None:
        self._parent: dict[DimVar, Dim] = {}
        self._count = 0

    def fresh(self) -> DimVar:
        self._count += 1
        var = DimVar(self._count)
        self._parent[var] = var
        return var

    def variables(self) -> list[DimVar]:
        return list(self._parent)

    def find(self, dim: Dim) -> Dim:
        if not isinstance(dim, DimVar):
            return dim
        parent = self._parent
        root: Dim = dim
        while isinstance(root, DimVar):
            up = parent[root]
            if up is root or up == root:
                break
            root = up
        while isinstance(dim, DimVar) and dim is not root and dim != root:  # path compression
            parent[dim], dim = root, parent[dim]
        return root

    def unify(self, a: Dim, b: Dim) -> bool:
        """Make a and b the same dimension if they can be; say whether they are."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if isinstance(a, DimVar) and b != 1:
            self._parent[a] = b
            return True
        if isinstance(b, DimVar) and a != 1:
            self._parent[b] = a
            return True
        return False

    def unify_shapes(self, a: Shape, b: Shape) -> bool:
        if not (self.could_unify(a.rows, b.rows) and self.could_unify(a.cols, b.cols)):
            return False
        return self.unify(a.rows, b.rows) and self.unify(a.cols, b.cols)

    def could_unify(self, a: Dim, b: Dim) -> bool:
        a, b = self.find(a), self.find(b)
        return a == b or (isinstance(a, DimVar) and b != 1) or (isinstance(b, DimVar) and a != 1)

    def resolve(self, shape: Shape) -> Shape:
        return Shape(self.find(shape.rows), self.find(shape.cols))
