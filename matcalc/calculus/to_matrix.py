"""Index form -> matrix notation.

Each term of a derivative is a product of indexed factors. Contracted indices
link factors into chains: a chain is a matrix product (`A' B x`), a chain that
closes on itself is a trace, a chain between two vectors is a scalar (`u' M v`).
An index shared by more than two factors is first reduced by elementwise
products and diagonal matrices (`v_i M_ij = (diag(v) M)_ij`, `u_i v_i = (u ⊙ v)_i`).
Results with at most two free indices become one matrix expression; larger
ones stay in index notation, with each chain written in matrix notation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from typing import Literal

from .. import nodes as n
from ..algebra.builder import ONE, Builder, base_and_power, constant_value, is_one, number, raised
from ..algebra.index_form import Piece, Term
from ..shapes import Dim, Shape


@dataclass
class _Edge:
    node: n.Node  # a column vector for one index, a matrix for two
    indices: tuple[str, ...]


@dataclass
class Chains:
    coefficient: Fraction = Fraction(1)
    scalars: list[n.Node] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)


class Contractor:
    def __init__(self, build: Builder, dims: dict[str, Dim]):
        self.build = build
        self.dims = dims

    def ones(self, index: str) -> n.Node:
        return n.Fill(ONE, shape=Shape(self.dims[index], 1))

    # Terms to chains

    def chains(self, term: Term, free: tuple[str, ...], shared_free: bool = False) -> Chains | None:
        """The term as scalars and free-index pieces; None if it has no such form.

        With shared_free (index notation), a free index may appear in several pieces;
        otherwise (matrix notation) each free index is carried by exactly one piece.
        """
        result = Chains(coefficient=term.coefficient)
        edges: list[_Edge] = []
        for f in term.factors:
            indices = f.indices
            if f.node is None:  # a Kronecker delta
                edges.append(_Edge(n.Identity(shape=Shape(self.dims[indices[0]], self.dims[indices[0]])), indices))
                continue
            value, node = _peel(f.node)
            result.coefficient *= value
            if node is None:
                continue
            if not indices:
                result.scalars.append(node)
            elif len(indices) == 1:
                edges.append(_Edge(node if node.shape.is_column else self.build.transpose(node), indices))
            elif indices[0] == indices[1]:  # A_ii: the diagonal of A
                diagonal = n.DiagOf(node, shape=Shape(node.shape.rows, 1))
                edges.append(_Edge(diagonal, indices[:1]))
            else:
                edges.append(_Edge(node, indices))
        if not self._reduce_shared_indices(edges, () if shared_free else free, skip=free if shared_free else ()):
            return None
        if shared_free:  # tidy: v_j M_ij = (M diag(v))_ij, A_ij B_ij = (A ⊙ B)_ij
            for index in free:
                while sum(index in e.indices for e in edges) > 1 and self._merge_at(edges, index):
                    pass
        self._link(edges, free, result, shared_free)
        result.scalars = _cancel_reciprocals(result.scalars)
        return result

    def _reduce_shared_indices(self, edges: list[_Edge], free: tuple[str, ...], skip: tuple[str, ...] = ()) -> bool:
        """Merge factors until no index (but those in skip) is shared by more than two; a free index
        counts once more."""
        while True:
            counts: dict[str, int] = {i: 1 for i in free}
            for edge in edges:
                for i in edge.indices:
                    counts[i] = counts.get(i, 0) + 1
            crowded = [i for i, c in counts.items() if c > 2 and i not in skip]
            if not crowded:
                return True
            if not any(self._merge_at(edges, i) for i in crowded) and not self._absorb_vector(
                edges, counts, set(free) | set(skip)
            ):
                return False

    def _absorb_vector(self, edges: list[_Edge], counts: dict[str, int], free: set[str]) -> bool:
        """Σ_p M_pq v_p = (Mᵀv)_q: a vector joined to a matrix by an index nothing else carries becomes
        a vector along the matrix's other index, so that an index three matrices shared may drop to
        two (W1ᵀ diag(v) W1 in a network's Hessian)."""
        for vector in [e for e in edges if len(e.indices) == 1]:
            (i,) = vector.indices
            matrix = next(
                (e for e in edges if len(e.indices) == 2 and i in e.indices and e.indices[0] != e.indices[1]), None
            )
            if i in free or counts.get(i) != 2 or matrix is None:
                continue
            edges.remove(vector)
            edges.remove(matrix)
            row, col = matrix.indices
            node = (
                self.build.matmul(self.build.transpose(matrix.node), vector.node)
                if row == i
                else self.build.matmul(matrix.node, vector.node)
            )
            edges.append(_Edge(node, (col if row == i else row,)))
            return True
        return False

    def _merge_at(self, edges: list[_Edge], i: str) -> bool:
        b = self.build
        vectors = [e for e in edges if e.indices == (i,)]
        if len(vectors) >= 2:
            for e in vectors:
                edges.remove(e)
            remaining = _cancel_reciprocals([e.node for e in vectors])
            # all cancelled: 𝟏 along i, which still counts (Σ_i (1 ⊘ s_i) s_i = n, not 1)
            edges.append(_Edge(reduce(b.hadamard, remaining) if remaining else self.ones(i), (i,)))
            return True
        matrices = [e for e in edges if len(e.indices) == 2 and i in e.indices]
        if vectors:
            vector, matrix = vectors[0], matrices[0]
            edges.remove(vector)
            edges.remove(matrix)
            scaling = b.diag_matrix(vector.node)
            node = b.matmul(scaling, matrix.node) if matrix.indices[0] == i else b.matmul(matrix.node, scaling)
            edges.append(_Edge(node, matrix.indices))
            return True
        for position, first in enumerate(matrices):
            for second in matrices[position + 1 :]:
                if set(first.indices) == set(second.indices):
                    other = second.node if second.indices == first.indices else b.transpose(second.node)
                    edges.remove(first)
                    edges.remove(second)
                    edges.append(_Edge(b.hadamard(first.node, other), first.indices))
                    return True
        return False

    def _link(self, edges: list[_Edge], free: tuple[str, ...], result: Chains, shared_free: bool) -> None:
        b = self.build
        unused = list(edges)
        if shared_free:
            self._link_shared(unused, free, result)
        for start in free:
            if any(start in piece.indices for piece in result.pieces):
                continue
            elements, last, closed = self._walk(start, unused, free)
            if last in free and last != start:
                result.pieces.append(Piece(elements, (start, last)))
                continue
            if not closed:
                elements.append(self.ones(last))  # a dangling summed index, or nothing at all: a sum
            result.pieces.append(Piece(elements, (start,)))
        while unused:
            # a chain starts at a vector or a dangling index; only what is left after them is a cycle
            edge = (
                next((e for e in unused if len(e.indices) == 1), None)
                or next((e for e in unused if any(_dangles(i, unused, free) for i in e.indices)), None)
                or unused[0]
            )
            if len(edge.indices) == 1:  # a chain from a vector: u' M ... v, or 1' M' u
                unused.remove(edge)
                elements, last, closed = self._walk(edge.indices[0], unused, free)
                elements = [b.transpose(edge.node)] + elements
                if not closed:
                    elements = [b.transpose(self.ones(last))] + [b.transpose(e) for e in reversed(elements)]
                result.scalars.append(_scalar_chain(elements, b))
                continue
            dangling = next((i for i in edge.indices if _dangles(i, unused, free)), None)
            if dangling is not None:  # 1' M ... : a sum along a chain
                elements, last, closed = self._walk(dangling, unused, free)
                elements = [b.transpose(self.ones(dangling))] + elements
                if not closed:
                    elements.append(self.ones(last))
                result.scalars.append(reduce(b.matmul, elements))
                continue
            elements, _, _ = self._walk(edge.indices[0], unused, free)  # a cycle: a trace
            result.scalars.append(b.trace(reduce(b.matmul, elements)))

    def _link_shared(self, unused: list[_Edge], free: tuple[str, ...], result: Chains) -> None:
        """Index notation: one piece per edge at a free index, followed through summed indices."""
        for start in free:
            while (first := next((e for e in unused if start in e.indices), None)) is not None:
                elements, last, closed = self._walk(start, unused, free, first)
                if last in free and last != start:
                    result.pieces.append(Piece(elements, (start, last)))
                    continue
                if not closed and last == start:  # the chain came back: its diagonal, (M)_ii
                    chain = reduce(self.build.matmul, elements)
                    elements = [n.DiagOf(chain, shape=Shape(chain.shape.rows, 1))]
                elif not closed:
                    elements.append(self.ones(last))
                result.pieces.append(Piece(elements, (start,)))

    def _walk(
        self, index: str, unused: list[_Edge], free: tuple[str, ...], first: _Edge | None = None
    ) -> tuple[list[n.Node], str, bool]:
        """Follow edges from an index: (the oriented elements, the last index, whether a vector closed it)."""
        b = self.build
        elements: list[n.Node] = []
        current = index
        while True:
            edge = first if first is not None else next((e for e in unused if current in e.indices), None)
            first = None
            if edge is None:
                return elements, current, False
            unused.remove(edge)
            if len(edge.indices) == 1:
                elements.append(edge.node)
                return elements, current, True
            if edge.indices[0] == current:
                elements.append(edge.node)
                current = edge.indices[1]
            else:
                elements.append(b.transpose(edge.node))
                current = edge.indices[0]
            if current in free:
                return elements, current, False

    # Chains to one matrix expression

    def to_matrix(self, term: Term, row: str | None, col: str | None) -> n.Node | None:
        """The term as a matrix expression whose rows run over `row` and columns over `col`."""
        free = tuple(i for i in (row, col) if i is not None)
        chains = self.chains(term, free)
        if chains is not None:
            main = self._single_pieces(chains, row, col)
        else:  # a free index in several factors: diagonals and elementwise products of the pieces
            chains = self.chains(term, free, shared_free=True)
            if chains is None:
                return None
            combined = self._combined_pieces(chains, row, col)
            if combined is False:
                return None
            main = combined
        b = self.build
        # a scalar product is written after the main factor, softmax(o) (1'y); det(X), a, ||x|| before it,
        # and every scalar before I: (x'x) I
        leading = isinstance(main, n.Identity)
        before = [s for s in chains.scalars if leading or not isinstance(s, n.MatMul)]
        after: list[n.Node] = [s for s in chains.scalars if not leading and isinstance(s, n.MatMul)]
        whole: n.Node
        if main is None:
            whole = reduce(b.scale, [ONE, *before, *after])
        else:
            whole = main
            for scalar in after:
                whole = n.ScalarMul(whole, scalar, shape=whole.shape)
            whole = reduce(lambda acc, s: b.scale(s, acc), reversed(before), whole)
        return b.push_transposes(b.scale(number(chains.coefficient), whole))

    def _single_pieces(self, chains: Chains, row: str | None, col: str | None) -> n.Node | None:
        """The main factor when each free index is carried by one piece."""
        b = self.build
        by_indices = {piece.indices: piece for piece in chains.pieces}
        if row is not None and col is not None:
            if (row, col) in by_indices:
                return by_indices[(row, col)].node(b)
            if (col, row) in by_indices:
                return by_indices[(col, row)].reversed_node(b)
            return b.matmul(by_indices[(row,)].node(b), by_indices[(col,)].reversed_node(b))
        if row is not None:
            return by_indices[(row,)].node(b)
        if col is not None:
            return by_indices[(col,)].reversed_node(b)
        return None

    def _combined_pieces(self, chains: Chains, row: str | None, col: str | None) -> n.Node | Literal[False] | None:
        """The main factor when free indices are shared: pieces along one index multiply elementwise,
        v_i M_ij = (diag(v) M)_ij, and M_ij N_ij = (M ⊙ N)_ij. False if there is no such form."""
        b = self.build
        matrices: list[n.Node] = []
        along: dict[str | None, list[n.Node]] = {row: [], col: []}
        for piece in chains.pieces:
            if len(piece.indices) == 2 and set(piece.indices) == {row, col} and row != col:
                matrices.append(piece.node(b) if piece.indices == (row, col) else piece.reversed_node(b))
            elif len(piece.indices) == 1 and piece.indices[0] in along:
                along[piece.indices[0]].append(piece.node(b))
            else:
                return False
        vectors = {index: reduce(b.hadamard, nodes) if nodes else None for index, nodes in along.items()}
        row_vector, col_vector = vectors[row], vectors[col]
        if matrices:
            main = reduce(b.hadamard, matrices)
            if row_vector is not None:
                main = b.matmul(b.diag_matrix(row_vector), main)
            if col_vector is not None:
                main = b.matmul(main, b.diag_matrix(col_vector))
            return main
        if row is not None and col is not None:
            left = row_vector if row_vector is not None else self.ones(row)
            right = col_vector if col_vector is not None else self.ones(col)
            return b.matmul(left, b.transpose(right))
        index = row if row is not None else col
        vector = vectors[index]
        if vector is None:
            return None if index is None else self.ones(index)
        return vector if row is not None else b.transpose(vector)


def _dangles(index: str, edges: list[_Edge], free: tuple[str, ...]) -> bool:
    """A summed index that only one factor carries: a sum along that axis."""
    return index not in free and sum(index in e.indices for e in edges) == 1


def _scalar_chain(elements: list[n.Node], build: Builder) -> n.Node:
    """u' M ... v as one scalar; 1' diag(A) is tr(A)."""
    if (
        len(elements) == 2
        and isinstance(elements[0], n.Fill)
        and isinstance(elements[1], n.DiagOf)
        and is_one(elements[0].value)
    ):
        return build.trace(elements[1].operand)
    return reduce(build.matmul, elements)


def _peel(node: n.Node) -> tuple[Fraction, n.Node | None]:
    """Split a factor into its numeric coefficient and the rest (None if it is a number)."""
    value = constant_value(node)
    if value is not None:
        return value, None
    if isinstance(node, n.Neg):
        c, core = _peel(node.operand)
        return -c, core
    if (
        isinstance(node, n.Divide)
        and (numerator := constant_value(node.left)) is not None
        and isinstance(node.right, n.ScalarMul)
    ):
        c, core = _peel(node.right)  # c / (2 u) = (c / 2) (1 / u)
        if core is not None and c != 0:
            return numerator / c, n.Divide(ONE, core, shape=node.shape)
    if isinstance(node, n.ScalarMul):
        c, core = _peel(node.left)
        if core is None:
            c2, core2 = _peel(node.right)
            return c * c2, core2
    return Fraction(1), node


def _cancel_reciprocals(vectors: list[n.Node]) -> list[n.Node]:
    """Cancel what divides out of a list of factors of an elementwise product, looking inside the
    products it holds: (1 ⊘ σ) ⊙ σ ⊙ (1 - σ) is 1 - σ (the derivative of log σ), and σ ⊘ σ² ⊙ σ ⊙ y is
    y (the Hessian of the cross-entropy). A base with factors both above and below the line keeps its
    net power, in the place of its first factor; other factors stay as they are."""
    remaining = _hadamard_factors(vectors)
    powers: dict[n.Node, list[int]] = {}
    for f in remaining:
        base, power = base_and_power(f)
        powers.setdefault(base, []).append(power)
    mixed = {base for base, found in powers.items() if min(found) < 0 < max(found)}
    if not mixed:
        return remaining
    result, placed = [], set()
    for f in remaining:
        base, _ = base_and_power(f)
        if base not in mixed:
            result.append(f)
        elif base not in placed:
            placed.add(base)
            net = sum(powers[base])
            if net != 0:
                result.append(raised(base, net))
    return result


def _hadamard_factors(vectors: list[n.Node]) -> list[n.Node]:
    """The factors of an elementwise product, with nested products and quotients a ⊘ b opened up."""
    factors: list[n.Node] = []
    stack = list(reversed(vectors))
    while stack:
        node = stack.pop()
        if isinstance(node, n.Hadamard) or (isinstance(node, n.ScalarMul) and node.shape.is_scalar):
            stack += [node.right, node.left]
        elif isinstance(node, n.Divide) and not is_one(node.left) and node.right.shape == node.shape:
            stack += [n.Divide(ONE, node.right, shape=node.shape), node.left]
        else:
            factors.append(node)
    return factors
