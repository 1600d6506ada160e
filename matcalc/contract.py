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

from . import nodes as n
from .build import (
    ONE,
    Builder,
    constant_value,
    is_one,
    logistic_operand,
    negation_of,
    number,
    reciprocal_logistic_operand,
)
from .build import ZERO as ZERO_NUMBER
from .shapes import Dim, Shape
from .syntax import SUM_BALANCE_ABOVE
from .tensor import Term


@dataclass
class _Edge:
    node: n.Node  # a column vector for one index, a matrix for two
    indices: tuple[str, ...]


@dataclass
class Piece:
    """A chain that carries free indices: a vector (one) or a matrix (two), as a product."""

    elements: list[n.Node]
    indices: tuple[str, ...]

    def node(self, build: Builder) -> n.Node:
        return reduce(build.matmul, self.elements)

    def reversed_node(self, build: Builder) -> n.Node:
        """The transpose, written as the product of the transposed elements in reverse."""
        return reduce(build.matmul, [build.transpose(e) for e in reversed(self.elements)])


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
        base, power = _base_and_power(f)
        powers.setdefault(base, []).append(power)
    mixed = {base for base, found in powers.items() if min(found) < 0 < max(found)}
    if not mixed:
        return remaining
    result, placed = [], set()
    for f in remaining:
        base, _ = _base_and_power(f)
        if base not in mixed:
            result.append(f)
        elif base not in placed:
            placed.add(base)
            net = sum(powers[base])
            if net != 0:
                raised = base if abs(net) == 1 else n.Power(base, number(abs(net)), shape=base.shape)
                result.append(raised if net > 0 else n.Divide(ONE, raised, shape=base.shape))
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


# Sums: equal terms combined, shared factors collected


def collect(terms: list[n.Node], build: Builder, inner: bool = False) -> n.Node:
    """Add matrix expressions the way a person would: `(A + A')x`, `2 X'`, `x'(A + A')`.
    Terms keep their order, negative ones last; inside a collected factor, A before A', and so in the
    sum when both are terms (A + A'). Elementwise
    products are multiplied out where that is shorter: (1 - σ) ⊙ y - σ ⊙ (1 - y) = y - σ."""
    written = _collected(terms, build, inner)
    expanded = _multiplied_out(terms, build, inner)
    if expanded is not None and _size(expanded) < _size(written):
        return expanded
    return written


_MAX_MONOMIALS = 32  # multiplying out elementwise products is tried only while it stays this small


def _multiplied_out(terms: list[n.Node], build: Builder, inner: bool) -> n.Node | None:
    """The sum with its elementwise products of sums multiplied out and like monomials combined."""
    if (
        not terms
        or terms[0].shape.is_scalar
        or not any(isinstance(sub, n.Hadamard) for t in terms for sub in n.walk(t))
    ):
        return None
    if all(t.shape.is_row for t in terms):  # rows as columns: (σ ⊙ (1 - y))ᵀ - (y ⊙ (1 - σ))ᵀ = (σ - y)ᵀ
        columns = _multiplied_out([build.transpose(t) for t in terms], build, inner)
        return None if columns is None else build.transpose(columns)
    monomials = polynomial(terms, build)
    if monomials is None or len(monomials) > _MAX_MONOMIALS:
        return None
    parts = [
        build.scale(number(c), reduce(build.hadamard, factors) if factors else n.Fill(ONE, shape=terms[0].shape))
        for c, factors in monomials.values()
        if c != 0
    ]
    return _collected(parts, build, inner) if parts else n.Fill(ZERO_NUMBER, shape=terms[0].shape)


def polynomial(terms: list[n.Node], build: Builder) -> dict[frozenset, tuple[Fraction, tuple[n.Node, ...]]] | None:
    """The sum of terms as an elementwise polynomial: for each monomial (its factors, powers combined,
    as a key), its coefficient and factors; None where a term is not such a product."""
    monomials: dict[frozenset, tuple[Fraction, tuple[n.Node, ...]]] = {}
    for term in terms:
        expanded = elementwise_monomials(term)
        if expanded is None:
            return None
        for coefficient, factors in expanded:
            factors = logistic_written(_with_powers_combined(factors, build))
            key = frozenset(factors)  # each base once (powers combined); nodes hash once, deep ones too
            previous = monomials.get(key, (Fraction(0), factors))[0]
            monomials[key] = (previous + coefficient, factors)
    return monomials


def elementwise_monomials(node: n.Node) -> list[tuple[Fraction, tuple[n.Node, ...]]] | None:
    """An elementwise polynomial: coefficient × a product of factors, for each monomial. Powers of a
    factor cancel first (σ ⊙ (1 - σ) ⊘ σ² = (1 - σ) ⊘ σ), then what is left of sums is multiplied out."""
    if isinstance(node, n.Add):
        left, right = elementwise_monomials(node.left), elementwise_monomials(node.right)
        return None if left is None or right is None else left + right
    split = _product_factors(node)
    if split is None:
        return None
    coefficient, factors = split
    result: list[tuple[Fraction, tuple[n.Node, ...]]] = [(coefficient, ())]
    for f in _with_powers_combined(factors, None):
        base, power = _base_and_power(f)
        if isinstance(base, n.Add) and power > 0:
            expansion = elementwise_monomials(base)
            if expansion is None:
                return None
            for _ in range(power):
                result = [(a * b, fa + fb) for a, fa in result for b, fb in expansion]
                if len(result) > _MAX_MONOMIALS:
                    return None
        else:
            result = [(c, fs + (f,)) for c, fs in result]
    return result


def _product_factors(node: n.Node) -> tuple[Fraction, list[n.Node]] | None:
    """A term as a number times elementwise factors (products and quotients opened up)."""
    match node:
        case n.Neg(operand=operand):
            inner = _product_factors(operand)
            return None if inner is None else (-inner[0], inner[1])
        case n.Hadamard(left=left, right=right):
            a, b = _product_factors(left), _product_factors(right)
            return None if a is None or b is None else (a[0] * b[0], a[1] + b[1])
        case n.Divide(left=left, right=right) if right.shape == node.shape and not node.shape.is_scalar:
            a = _product_factors(left)
            return None if a is None else (a[0], a[1] + [n.Divide(ONE, right, shape=node.shape)])
        case n.ScalarMul(left=left, right=right) if (coefficient := constant_value(left)) is not None:
            inner = _product_factors(right)
            return None if inner is None else (coefficient * inner[0], inner[1])
        case n.Fill(value=entry) if (entry_value := constant_value(entry)) is not None:
            return entry_value, []
    if node.shape.is_scalar:  # a product of scalars opens up the same way: σ(a)(1 - σ(a)), eᵃ / (1 + eᵃ)²
        value = constant_value(node)
        if value is not None:
            return value, []
        if isinstance(node, n.ScalarMul):
            a, b = _product_factors(node.left), _product_factors(node.right)
            return None if a is None or b is None else (a[0] * b[0], a[1] + b[1])
        if isinstance(node, n.Divide) and not is_one(node.left):
            a = _product_factors(node.left)
            return None if a is None else (a[0], a[1] + [n.Divide(ONE, node.right, shape=node.shape)])
    return Fraction(1), [node]


def _with_powers_combined(factors, build: Builder | None) -> tuple[n.Node, ...]:
    """u ⊙ u ⊘ u³ = 1 ⊘ u: the factors of one monomial with the powers of each base added up."""
    exponents: dict[n.Node, int] = {}
    for f in factors:
        base, power = _base_and_power(f)
        exponents[base] = exponents.get(base, 0) + power
    combined = []
    for base, power in exponents.items():
        if power == 0:
            continue
        raised = base if abs(power) == 1 else n.Power(base, number(abs(power)), shape=base.shape)
        combined.append(raised if power > 0 else n.Divide(ONE, raised, shape=base.shape))
    return tuple(combined)


def logistic_written(factors: tuple[n.Node, ...]) -> tuple[n.Node, ...]:
    """exp(u)^p ⊘ (1 + exp(u))^q with the logistic sigmoid taken out: exp(u)² ⊘ (1 + exp(u))² = σ(u)²
    (the second derivative of the softplus log(1 + eᵘ))."""
    exponents: dict[n.Node, int] = {}
    for base, power in map(_base_and_power, factors):
        exponents[base] = exponents.get(base, 0) + power
    changed = len(exponents) < len(factors)
    for base, power in list(exponents.items()):  # (1 + exp(-u))^-q = σ(u)^q
        operand = reciprocal_logistic_operand(base)
        if operand is not None and power < 0:
            sigmoid = n.Apply("sigmoid", operand, shape=base.shape)
            exponents[sigmoid] = exponents.get(sigmoid, 0) - power
            exponents[base] = 0
            changed = True
    for base, power in list(exponents.items()):
        if not (isinstance(base, n.Apply) and base.function == "exp" and power > 0):
            continue
        denominator = next((d for d in exponents if logistic_operand(base, d) is not None and exponents[d] < 0), None)
        if denominator is None:
            continue
        taken = min(power, -exponents[denominator])
        sigmoid = n.Apply("sigmoid", base.operand, shape=base.shape)
        exponents[base] -= taken
        exponents[denominator] += taken
        exponents[sigmoid] = exponents.get(sigmoid, 0) + taken
        changed = True
    while _sigmoid_pairs(exponents):  # σ(u) exp(-u) makes σ(-u), which then pairs with σ(u)
        changed = True
    if not changed:
        return factors
    return tuple(_raised(base, power) for base, power in exponents.items() if power != 0)


def _sigmoid_pairs(exponents: dict[n.Node, int]) -> bool:
    """σ(u) exp(-u) = σ(-u), and σ(-u) beside σ(u) written 1 - σ(u): σ(u) σ(-u) = σ(u)(1 - σ(u)), the slope."""
    changed = False
    for base in list(exponents):
        if not (isinstance(base, n.Apply) and base.function == "sigmoid" and exponents.get(base, 0) > 0):
            continue
        for other, other_power in list(exponents.items()):
            if (
                other_power <= 0
                or exponents.get(base, 0) <= 0
                or not isinstance(other, n.Apply)
                or negation_of(other.operand) != base.operand
            ):
                continue
            taken = min(exponents[base], other_power)
            if other.function == "exp":  # σ(u) exp(-u) = σ(-u)
                replacement: n.Node = n.Apply("sigmoid", other.operand, shape=base.shape)
                exponents[base] -= taken
            elif other.function == "sigmoid":  # σ(-u) = 1 - σ(u) beside σ(u)
                one = ONE if base.shape.is_scalar else n.Fill(ONE, shape=base.shape)
                replacement = n.Add(one, n.Neg(base, shape=base.shape), shape=base.shape)
            else:
                continue
            exponents[other] -= taken
            exponents[replacement] = exponents.get(replacement, 0) + taken
            changed = True
    return changed


def _raised(base: n.Node, power: int) -> n.Node:
    raised = base if abs(power) == 1 else n.Power(base, number(abs(power)), shape=base.shape)
    return raised if power > 0 else n.Divide(ONE, raised, shape=base.shape)


def _base_and_power(f: n.Node) -> tuple[n.Node, int]:
    if (isinstance(f, n.Divide) and isinstance(f.left, n.Fill) and is_one(f.left.value)) or (
        isinstance(f, n.Divide) and is_one(f.left)
    ):
        base, power = _base_and_power(f.right)
        return base, -power
    if isinstance(f, n.Power) and isinstance(f.exponent, n.Number) and f.exponent.value.denominator == 1:
        return f.base, int(f.exponent.value)
    return f, 1


def _size(node: n.Node) -> int:
    return sum(1 for _ in n.walk(node))


def _merged_diagonals(terms: list[n.Node], build: Builder) -> list[n.Node]:
    """diag(a) + 2 diag(b) - diag(c) = diag(a + 2b - c): several diagonal matrices are one."""
    diagonals = [(c, core) for c, core in map(split_coefficient, terms) if isinstance(core, n.DiagMatrix)]
    if len(diagonals) < 2:
        return terms
    others = [t for t in terms if not isinstance(split_coefficient(t)[1], n.DiagMatrix)]
    # diag(zᵀ) = diag(z): every operand a column, or a row and a column would be added
    columns = [core.operand if core.operand.shape.is_column else build.transpose(core.operand) for _, core in diagonals]
    inside = collect([build.scale(number(c), column) for (c, _), column in zip(diagonals, columns)], build)
    return [build.diag_matrix(inside), *others]


def _collected(terms: list[n.Node], build: Builder, inner: bool) -> n.Node:
    terms = _merged_diagonals(terms, build)
    pairs = _combine_equal([split_coefficient(term) for term in terms])
    pairs = _factor_shared(pairs, build, side="right")
    pairs = _factor_shared(pairs, build, side="left")
    pairs = _combine_equal(pairs)
    cores = {core for _, core in pairs}

    def marks(core: n.Node) -> int:  # inside a factor A before Aᵀ; in the whole sum, when both are terms
        return _transposes(core) if inner or build.transpose(core) in cores - {core} else 0

    pairs.sort(key=lambda pair: (pair[0] < 0, marks(pair[1])))
    pairs = [(coefficient, core) for coefficient, core in pairs if coefficient != 0]
    shared = _shared_coefficient([coefficient for coefficient, _ in pairs])
    signed = [(coefficient < 0, build.scale(number(abs(coefficient / shared)), core)) for coefficient, core in pairs]
    if not signed:
        return number(0)
    return build.scale(number(shared), _joined(signed, build)) if shared != 1 else _joined(signed, build)


def _shared_coefficient(coefficients: list[Fraction]) -> Fraction:
    """The coefficient every term of a sum has, to write once: 2XᵀX + 2λI = 2(XᵀX + λI),
    ⅔A + ⅔Aᵀ = ⅔(A + Aᵀ). Only an equal coefficient is taken out, as authors do: 4(xᵀx)I + 8xxᵀ and
    -2Xᵀ(y - Xw) + 2λw stay as they are. 1 for a single term, or when the coefficients differ."""
    if len(coefficients) < 2 or len(set(coefficients)) > 1:
        return Fraction(1)
    return abs(coefficients[0])


def _joined(signed: list[tuple[bool, n.Node]], build: Builder) -> n.Node:
    """a + b - c, in order; a long sum as a balanced tree, so that its depth grows as log n (as the
    parser builds long sums: syntax.SUM_BALANCE_ABOVE)."""
    if len(signed) > SUM_BALANCE_ABOVE:
        half = len(signed) // 2
        return build.add(_joined(signed[:half], build), _joined(signed[half:], build))
    result: n.Node | None = None
    for negative, term in signed:
        if result is None:
            result = build.neg(term) if negative else term
        else:
            result = build.sub(result, term) if negative else build.add(result, term)
    assert result is not None
    return result


def split_coefficient(node: n.Node) -> tuple[Fraction, n.Node]:
    """-2 M as (-2, M)."""
    if isinstance(node, n.Neg):
        c, core = split_coefficient(node.operand)
        return -c, core
    if isinstance(node, n.ScalarMul) and (coefficient := constant_value(node.left)) is not None:
        c, core = split_coefficient(node.right)
        return coefficient * c, core
    return Fraction(1), node


def _combine_equal(pairs: list[tuple[Fraction, n.Node]]) -> list[tuple[Fraction, n.Node]]:
    combined: dict[n.Node, Fraction] = {}
    for coefficient, core in pairs:
        combined[core] = combined.get(core, Fraction(0)) + coefficient
    return [(c, core) for core, c in combined.items() if c != 0]


def _outer_factor(core: n.Node, side: str, build: Builder) -> tuple[n.Node, n.Node] | None:
    """The first (side left) or last (side right) factor of a product chain, and the rest of it:
    ((U' s) s') -> (U', s s') on the left, (s', U' s) on the right."""
    if not isinstance(core, n.MatMul):
        return None
    if side == "right":
        return core.right, core.left
    first, rest = core.left, [core.right]
    while isinstance(first, n.MatMul):  # products associate to the left
        rest = [first.right, *rest]
        first = first.left
    return first, reduce(build.matmul, rest)  # the builder: z (zᵀz) is a scaling, not a product


def _factor_shared(pairs: list[tuple[Fraction, n.Node]], build: Builder, side: str) -> list[tuple[Fraction, n.Node]]:
    """Terms with the same first (or last) factor of their products share it: U'diag(s) - U's s' =
    U'(diag(s) - s s'), (A + A')x."""
    groups: dict[n.Node, list[tuple[Fraction, n.Node, n.Node]]] = {}  # outer factor: (c, core, rest)
    order: list[tuple[Fraction, n.Node] | n.Node] = []  # a term without an outer factor, or a group's key
    for coefficient, core in pairs:
        outer = _outer_factor(core, side, build)
        if outer is None:
            order.append((coefficient, core))
            continue
        key, rest = outer
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((coefficient, core, rest))
    result: list[tuple[Fraction, n.Node]] = []
    for item in order:
        if isinstance(item, tuple):
            result.append(item)
            continue
        members = groups[item]
        if len(members) == 1:
            coefficient, core, _ = members[0]
            result.append((coefficient, core))
            continue
        rests = [build.scale(number(c), rest) for c, _, rest in members]
        inner = collect(rests, build, inner=True)
        result.append((Fraction(1), build.matmul(inner, item) if side == "right" else build.matmul(item, inner)))
    return result


def _transposes(node: n.Node) -> int:
    return sum(isinstance(sub, n.Transpose) for sub in n.walk(node))
