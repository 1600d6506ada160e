"""Index form -> Magnus and Neudecker's vec/Kronecker form.

A derivative of F by X with more than two axes is, in their notation, the
Jacobian matrix ∂vec(F)/∂vec(X)ᵀ: entry (a₁ + M a₂, b₁ + P b₂) is ∂F_{a₁a₂}/∂X_{b₁b₂}
for F M×N and X P×Q, columns stacked. This module reads it off the index form
that the result was computed (and checked) in, one term at a time, with

    (B ⊗ A)_{(a₁ + M a₂), (b₁ + P b₂)} = A_{a₁b₁} B_{a₂b₂}

so a term whose pieces split into a matrix on (a₁, b₁) and one on (a₂, b₂) is
B ⊗ A (δ pieces are identities: `A X B` gives Bᵀ ⊗ A); one that splits into
(a₁, b₂) and (a₂, b₁) is (B ⊗ A) K(P, Q), the commutation matrix permuting
vec(Xᵀ) into vec(X) (`Xᵀ` gives K(m, n)); one that splits into (a₁, a₂) and
(b₁, b₂) is vec(A) vec(B)ᵀ. A term that splits none of these ways (an index
in two pieces, an explicit sum) has no Kronecker form, and the result keeps
its index notation. A scalar's Hessian by a matrix is read the same way, its
first differentiation in the place of F. Denominator layout is the transpose.

A derivative of F = A ⊗ X (or X ⊗ B) by X indexes F's axes by splits, r = j + p i:
it has no index or matrix notation, and is read off its index form, term by
term (_split_term). Each of F's axes is one slot or a split's two (fast, then
slow); in vec(F) the slots run in that order, the first fastest. A term is a
constant P on the slots that X's indices do not fill, times δs (or X's own
indices) on the others: vec(F) is then vec(P) ⊗ vec(X) or vec(X) ⊗ vec(P), its
slots permuted by one swap of adjacent blocks, I ⊗ K(u, v) ⊗ I; its Jacobian
is that permutation times vec(P) ⊗ I or I ⊗ vec(P), times K(P, Q) where X's
indices run transposed. For A m×n, X p×q this is Magnus and Neudecker's
(I_n ⊗ K(q, m) ⊗ I_p)(vec A ⊗ I_pq).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .. import nodes as n
from ..algebra.builder import ONE, Builder, number
from ..algebra.index_form import Factor, Term
from ..layout import Layout
from ..shapes import Dim, Shape
from .differentiate import Derivative, IndexTerm
from .to_matrix import Piece

NO_KRONECKER_FORM = "no Kronecker form: a term does not split into Kronecker factors"  # where vec_form is None


@dataclass(frozen=True)
class VecForm:
    """The Jacobian matrix of vec(F) by vec(X) (numerator layout) or its transpose, and its shape as a reader
    expects it (rows·cols of F, rows·cols of X)."""

    matrix: n.Node
    shape: tuple[Dim, Dim]


def applies(result: Derivative) -> bool:
    """Whether the result is written as a vec Jacobian: more than two axes, and a first derivative or a
    scalar's second (a second derivative of a non-scalar stays in index notation)."""
    return result.rank > 2 and (result.order == 1 or (result.order == 2 and result.expr.shape.is_scalar))


def vec_form(result: Derivative, build: Builder) -> VecForm | None:
    """The result as ∂vec(F)/∂vec(X)ᵀ (numerator) or ∂vec(F)ᵀ/∂vec(X) (denominator, and mixed for a scalar);
    None where a term has no Kronecker form (NO_KRONECKER_FORM)."""
    assert applies(result)
    f_axes, x_axes = sides(result)
    rows, cols = _size(f_axes, result.dims), _size(x_axes, result.dims)
    transposed = transposed_layout(result)
    shape = (cols, rows) if transposed else (rows, cols)
    terms = []
    written = result.terms if result.output_splits else result.inline_index_form or []
    for term in written:
        if isinstance(term, Term):
            node = _split_term(term, f_axes, x_axes, result.dims, build)
        else:
            node = _term(term, f_axes, x_axes, result.dims, build)
        if node is None:
            return None
        terms.append(_transpose(node, build) if transposed else node)
    if not terms:
        zero_shape = Shape(n.product_dim(shape[0]), n.product_dim(shape[1]))
        return VecForm(n.Fill(number(0), shape=zero_shape), shape)
    total = terms[0]
    for term_node in terms[1:]:
        total = n.Add(total, term_node, shape=total.shape)
    return VecForm(total, shape)


def vec_shape(out: Shape, wrt: Shape, layout: Layout, order: int) -> Shape | None:
    """The shape of ∂vec(F)/∂vec(X)ᵀ (or its transpose in denominator layout, and mixed for a scalar) for F of
    shape `out` by X of shape `wrt`, order 1, or 2 for a scalar F; None where the vec notation does not apply
    (at most two axes, or a second derivative of a non-scalar)."""
    axes = sum(dim != 1 for dim in (out.rows, out.cols)) + order * sum(dim != 1 for dim in (wrt.rows, wrt.cols))
    if axes <= 2 or not (order == 1 or (order == 2 and out.is_scalar)):
        return None
    variable = n.product_dim(wrt.rows, wrt.cols)
    rows = n.product_dim(out.rows, out.cols) if order == 1 else variable
    transposed = layout is Layout.DENOMINATOR or (layout is Layout.MIXED and out.is_scalar)
    return Shape(variable, rows) if transposed else Shape(rows, variable)


def sides(result: Derivative) -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]]:
    """The (first, second) axes of F and of X, each padded with None: a vector's one axis is the first."""
    f_axes = result.out_axes if result.order == 1 else result.wrt_groups[0]
    x_axes = result.wrt_groups[-1]
    return _padded(f_axes), _padded(x_axes)


def _padded(axes: tuple[str, ...]) -> tuple[str | None, str | None]:
    return (axes + (None, None))[0], (axes + (None, None))[1]


def _size(axes: tuple[str | None, str | None], dims: dict[str, Dim]) -> Dim:
    """rows·cols as a reader expects them, in that order (m·l for F m×l): a number where both are numbers."""
    sizes = [dims[a] for a in axes if a is not None]
    if all(isinstance(size, int) for size in sizes):
        return n.product_dim(*sizes)
    return "·".join(str(size) for size in sizes)


def _dim(index: str | None, dims: dict[str, Dim]) -> Dim:
    return 1 if index is None else dims[index]


def transposed_layout(result: Derivative) -> bool:
    return result.layout is Layout.DENOMINATOR or (result.layout is Layout.MIXED and result.expr.shape.is_scalar)


def _term(
    term: IndexTerm,
    f_axes: tuple[str | None, str | None],
    x_axes: tuple[str | None, str | None],
    dims: dict[str, Dim],
    build: Builder,
) -> n.Node | None:
    if term.summed:
        return None
    (a1, a2), (b1, b2) = f_axes, x_axes
    node = (
        _split(term.pieces, (a1, b1), (a2, b2), dims, build, crossed=None)
        or _split(term.pieces, (a1, b2), (a2, b1), dims, build, crossed=(x_axes, f_axes))
        or _outer(term.pieces, (a1, a2), (b1, b2), dims, build)
    )
    if node is None:
        return None
    for scalar in reversed(term.scalars):
        node = n.ScalarMul(scalar, node, shape=node.shape)
    return _scaled(term.coefficient, node)


def _grouped(pieces: tuple[Piece, ...], first: tuple, second: tuple) -> tuple[list[Piece], list[Piece]] | None:
    """The pieces on the indices of `first` and those on `second`; None if a piece straddles them."""
    one = [p for p in pieces if set(p.indices) <= set(first) - {None}]
    two = [p for p in pieces if set(p.indices) <= set(second) - {None}]
    if len(one) + len(two) != len(pieces):
        return None
    return one, two


def _split(
    pieces: tuple[Piece, ...],
    first: tuple[str | None, str | None],
    second: tuple[str | None, str | None],
    dims: dict[str, Dim],
    build: Builder,
    crossed: tuple | None,
) -> n.Node | None:
    """B ⊗ A for pieces that are A on `first` (rows by F's first axis) and B on `second`; crossed
    (A on (a₁, b₂), B on (a₂, b₁)) it is (B ⊗ A) K(P, Q), or A ⊗ B where F has one axis."""
    groups = _grouped(pieces, first, second)
    if groups is None:
        return None
    a = _matrix(groups[0], first, dims, build)
    b = _matrix(groups[1], second, dims, build)
    if a is None or b is None:
        return None
    if crossed is None:
        return _kron(b, a)
    (x_rows, x_cols), (_, f_second) = crossed
    p, q = _dim(x_rows, dims), _dim(x_cols, dims)
    if f_second is None:  # (bᵀ ⊗ A) K(P, Q) = A ⊗ bᵀ for a row bᵀ
        return _kron(a, b)
    product = _kron(b, a)
    if p == 1 or q == 1:
        return product
    commutation = n.Commutation(p, q, shape=Shape(n.product_dim(p, q), n.product_dim(p, q)))
    if isinstance(product, n.Identity):
        return commutation
    return n.MatMul(product, commutation, shape=Shape(product.shape.rows, commutation.shape.cols))


def _outer(
    pieces: tuple[Piece, ...],
    f_axes: tuple[str | None, str | None],
    x_axes: tuple[str | None, str | None],
    dims: dict[str, Dim],
    build: Builder,
) -> n.Node | None:
    """vec(A) vec(B)ᵀ for pieces that are A on F's axes and B on X's."""
    groups = _grouped(pieces, f_axes, x_axes)
    if groups is None:
        return None
    a = _matrix(groups[0], f_axes, dims, build)
    b = _matrix(groups[1], x_axes, dims, build)
    if a is None or b is None:
        return None
    left, right = _vec(a), _vec(b)
    return n.MatMul(
        left, n.Transpose(right, shape=right.shape.transposed()), shape=Shape(left.shape.rows, right.shape.rows)
    )


def _vec(matrix: n.Node) -> n.Node:
    if matrix.shape.is_column or matrix.shape.is_scalar:
        return matrix
    if matrix.shape.is_row:
        return n.Transpose(matrix, shape=matrix.shape.transposed())
    return n.Vec(matrix, shape=Shape(n.product_dim(matrix.shape.rows, matrix.shape.cols), 1))


def _matrix(
    pieces: list[Piece], axes: tuple[str | None, str | None], dims: dict[str, Dim], build: Builder
) -> n.Node | None:
    """The matrix with entries (row, col) = the product of the pieces, for axes (row, col): u_row M_row,col v_col
    is diag(u) M diag(v); an axis that no piece carries is one the term is constant along (a vector of ones).
    None for an elementwise product of two pieces on the same indices."""
    row, col = axes
    whole = [p for p in pieces if len(p.indices) == 2]
    singles = [p for p in pieces if len(p.indices) == 1]
    if len(whole) > 1 or any(sum(p.indices == (i,) for p in singles) > 1 for i in (row, col)):
        return None
    if whole:
        (piece,) = whole
        node = piece.node(build)
        node = node if piece.indices == (row, col) else build.transpose(node)
        left, right = _carried(singles, row, build), _carried(singles, col, build)
        if left is not None:
            node = build.matmul(_diagonal(left), node)
        if right is not None:
            node = build.matmul(node, _diagonal(right))
        return node
    column = _vector_on(pieces, row, dims, build)
    line = _vector_on(pieces, col, dims, build)
    if column is None:
        return build.transpose(line) if line is not None else ONE
    if line is None:
        return column
    return build.matmul(column, build.transpose(line))


def _carried(pieces: list[Piece], index: str | None, build: Builder) -> n.Node | None:
    """The column vector of the one-index piece on index, if there is one."""
    for piece in pieces:
        if index is not None and piece.indices == (index,):
            node = piece.node(build)
            return node if node.shape.is_column else build.transpose(node)
    return None


def _diagonal(vector: n.Node) -> n.Node:
    return n.DiagMatrix(vector, shape=Shape(vector.shape.rows, vector.shape.rows))


def _vector_on(pieces: list[Piece], index: str | None, dims: dict[str, Dim], build: Builder) -> n.Node | None:
    """The column vector carried by the piece on index (ones if none carries it); None for no index."""
    if index is None:
        return None
    carried = _carried(pieces, index, build)
    return carried if carried is not None else n.Fill(ONE, shape=Shape(dims[index], 1))


def _kron(left: n.Node, right: n.Node) -> n.Node:
    """left ⊗ right; a 1×1 side is a scaling."""
    if left.shape.is_scalar:
        return right if left == ONE else n.ScalarMul(left, right, shape=right.shape)
    if right.shape.is_scalar:
        return left if right == ONE else n.ScalarMul(right, left, shape=left.shape)
    shape = Shape(n.product_dim(left.shape.rows, right.shape.rows), n.product_dim(left.shape.cols, right.shape.cols))
    if isinstance(left, n.Identity) and isinstance(right, n.Identity):
        return n.Identity(shape=shape)
    return n.Kron(left, right, shape=shape)


def _scaled(coefficient: Fraction, node: n.Node) -> n.Node:
    """c node, a negative c as -(|c| node), so that a sum reads a - 2 b, not a + -2 b."""
    if coefficient < 0:
        return n.Neg(_scaled(-coefficient, node), shape=node.shape)
    if coefficient == 1:
        return node
    return n.ScalarMul(number(coefficient), node, shape=node.shape)


def _transpose(node: n.Node, build: Builder) -> n.Node:
    """The transpose, moved inside: (B ⊗ A)ᵀ = Bᵀ ⊗ Aᵀ, ((B ⊗ A) K(P, Q))ᵀ = K(Q, P)(Bᵀ ⊗ Aᵀ), (u vᵀ)ᵀ = v uᵀ."""
    shape = node.shape.transposed()
    if isinstance(node, n.Kron):
        return n.Kron(_transpose(node.left, build), _transpose(node.right, build), shape=shape)
    if isinstance(node, n.Commutation):
        return n.Commutation(node.n, node.m, shape=shape)
    if isinstance(node, n.MatMul):
        return n.MatMul(_transpose(node.right, build), _transpose(node.left, build), shape=shape)
    if isinstance(node, n.Neg):
        return n.Neg(_transpose(node.operand, build), shape=shape)
    if isinstance(node, n.ScalarMul) and node.left.shape.is_scalar:
        return n.ScalarMul(node.left, _transpose(node.right, build), shape=shape)
    if isinstance(node, n.Transpose):
        return node.operand
    if isinstance(node, (n.Identity, n.Number)):
        return node
    return build.transpose(node)


def _split_term(
    term: Term,
    f_axes: tuple[str | None, str | None],
    x_axes: tuple[str | None, str | None],
    dims: dict[str, Dim],
    build: Builder,
) -> n.Node | None:
    """The Jacobian of a term whose function's axes are splits (module docstring); None where it is not a
    constant P on the slots X does not fill, P of at most two slots, and one swap of blocks."""
    slots = _slots(term, f_axes)
    x_names = {x for x in x_axes if x is not None}
    filled, rest = _filled(term, slots, x_names)
    if filled is None or len(set(slots)) != len(slots) or sorted(filled.values()) != sorted(x_names):
        return None
    p_slots = [s for s in slots if s not in filled]
    scalars = [f.node for f in rest if f.node is not None and not f.indices]
    pieces = [_piece(f, dims) for f in rest if f.indices]
    if len(p_slots) > 2 or any(not set(piece.indices) <= set(p_slots) for piece in pieces):
        return None
    constant = _matrix(pieces, _padded(tuple(p_slots)), dims, build)
    if constant is None:
        return None
    x_order = [s for s in slots if s in filled]
    jacobian = _permuted_product(_vec(constant), x_order, p_slots, slots, dims)
    if jacobian is None:
        return None
    rows, cols = x_axes
    if rows is not None and cols is not None and [filled[s] for s in x_order] == [cols, rows]:
        jacobian = _times(jacobian, _commutation(dims[rows], dims[cols]))  # X's indices transposed: vec(Xᵀ) = K vec(X)
    for scalar in reversed(scalars):
        jacobian = n.ScalarMul(scalar, jacobian, shape=jacobian.shape)
    return _scaled(term.coefficient, jacobian)


def _slots(term: Term, f_axes: tuple[str | None, str | None]) -> list[str]:
    """F's axes as vec(F) runs over them, the first fastest: a split axis as its (fast, slow) pair."""
    splits = {f.indices[0]: f.indices[1:] for f in term.factors if f.is_split}
    slots: list[str] = []
    for axis in f_axes:
        if axis is not None:
            slots.extend(splits.get(axis, (axis,)))
    return slots


def _filled(term: Term, slots: list[str], x_names: set[str]) -> tuple[dict[str, str] | None, list[Factor]]:
    """The slots that X's indices fill (slot -> X's index: the index itself, or a δ to it) and the other
    factors; None if X's index is anywhere else."""
    filled = {s: s for s in slots if s in x_names}
    rest = []
    for f in term.factors:
        if f.is_split:
            continue
        if f.is_delta and x_names.intersection(f.indices):
            slot, x = f.indices if f.indices[1] in x_names else f.indices[::-1]
            if slot not in slots or slot in x_names or slot in filled:
                return None, []
            filled[slot] = x
        elif x_names.intersection(f.indices):
            return None, []
        else:
            rest.append(f)
    return filled, rest


def _piece(f: Factor, dims: dict[str, Dim]) -> Piece:
    if f.node is None:  # a δ between two of P's slots
        return Piece([n.Identity(shape=Shape(dims[f.indices[0]], dims[f.indices[0]]))], f.indices)
    return Piece([f.node], f.indices)


def _permuted_product(
    vec_constant: n.Node, x_order: list[str], p_slots: list[str], slots: list[str], dims: dict[str, Dim]
) -> n.Node | None:
    """Π (vec(P) ⊗ I) or Π (I ⊗ vec(P)), Π = I ⊗ K(u, v) ⊗ I one swap of adjacent blocks that puts the slots
    in F's order (the slots of vec(P) ⊗ vec(X) are X's first, then P's); None if one swap does not."""
    identities = _identities(x_order, dims)
    for source, product in (
        (x_order + p_slots, _chain([vec_constant, *identities])),
        (p_slots + x_order, _chain([*identities, vec_constant])),
    ):
        permutation = _block_swap(source, slots, dims)
        if permutation is not None:
            return _times(permutation, product)
    return None


def _block_swap(source: list[str], target: list[str], dims: dict[str, Dim]) -> n.Node | None:
    """I_left ⊗ K(u, v) ⊗ I_right, taking the slots `source` (the first fastest) to `target` by moving block V
    (size v) before the block U (size u) just before it; 1 for no move; None if no one swap does it."""

    def size(part: list[str]) -> Dim:
        return n.product_dim(*(dims[s] for s in part))

    if source == target:
        return ONE
    length = len(source)
    for i in range(length):
        for j in range(i + 1, length):
            for k in range(j + 1, length + 1):
                if source[:i] + source[j:k] + source[i:j] + source[k:] == target:
                    swap = _commutation(size(source[i:j]), size(source[j:k]))
                    return _chain([*_identities(source[k:], dims), swap, *_identities(source[:i], dims)])
    return None


def _identities(slots: list[str], dims: dict[str, Dim]) -> list[n.Node]:
    """The identity on the slots (the first fastest) as Kronecker factors, one per slot and the slowest first:
    I_q ⊗ I_p, not I_pq, a form that an identity file can state (eye takes one dimension)."""
    return [_identity(dims[slot]) for slot in reversed(slots)]


def _chain(factors: list[n.Node]) -> n.Node:
    """f₁ ⊗ f₂ ⊗ ..., left to right as ⊗ reads, the 1s left out (identities are kept apart, not merged)."""
    kept = [f for f in factors if f != ONE]
    if not kept:
        return ONE
    node = kept[0]
    for right in kept[1:]:
        if node.shape.is_scalar or right.shape.is_scalar:
            node = _kron(node, right)
            continue
        shape = Shape(
            n.product_dim(node.shape.rows, right.shape.rows), n.product_dim(node.shape.cols, right.shape.cols)
        )
        node = n.Kron(node, right, shape=shape)
    return node


def _identity(size: Dim) -> n.Node:
    return ONE if size == 1 else n.Identity(shape=Shape(size, size))


def _commutation(m: Dim, k: Dim) -> n.Node:
    if m == 1 or k == 1:
        return _identity(n.product_dim(m, k))
    return n.Commutation(m, k, shape=Shape(n.product_dim(m, k), n.product_dim(m, k)))


def _times(left: n.Node, right: n.Node) -> n.Node:
    """left right, where 1 or an identity is nothing."""
    if left == ONE or isinstance(left, n.Identity):
        return right
    if right == ONE or isinstance(right, n.Identity):
        return left
    return n.MatMul(left, right, shape=Shape(left.shape.rows, right.shape.cols))
