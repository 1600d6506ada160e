"""Derivatives in index (Einstein) form: sums of products of indexed factors.

A factor is a typed matrix-notation node (`A`, `W x`, `tanh(t)`, `inv(X)`)
with one index per axis that is not 1, or a Kronecker delta. A term is a
number times a product of factors; an index that is not free is summed over
(it may appear once: a sum over that axis, or more than once: a contraction).
This is the form in which every derivative rule is a few lines and every cell
of the shape table is one code path (Laue, Mitterreiter and Giesen 2018).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import reduce
from itertools import count, permutations

from .. import nodes as n
from ..shapes import Dim, Shape
from .builder import Builder


@dataclass(frozen=True)
class Factor:
    node: n.Node | None  # None: a Kronecker delta over its two indices, or a split over three (see split)
    indices: tuple[str, ...]

    @property
    def is_delta(self) -> bool:
        return self.node is None and len(self.indices) == 2

    @property
    def is_split(self) -> bool:
        return self.node is None and len(self.indices) == 3

    def axes(self) -> tuple[str | None, str | None]:
        """The (row, column) indices of the node; None for an axis of size 1."""
        assert self.node is not None
        shape, indices = self.node.shape, iter(self.indices)
        return (next(indices) if shape.rows != 1 else None, next(indices) if shape.cols != 1 else None)

    def renamed(self, old: str, new: str) -> Factor:
        return replace(self, indices=tuple(new if i == old else i for i in self.indices))


def factor(node: n.Node, row: str | None, col: str | None) -> Factor:
    """The node with its row and column indices; axes of size 1 take none."""
    indices: list[str] = []
    for index, dim in ((row, node.shape.rows), (col, node.shape.cols)):
        if dim != 1:
            assert index is not None, "an axis that is not 1 needs an index"
            indices.append(index)
    return Factor(node, tuple(indices))


def delta(a: str | None, b: str | None) -> tuple[Factor, ...]:
    """δ_ab, or nothing when the axes are of size 1."""
    if a is None and b is None:
        return ()
    assert a is not None and b is not None
    return (Factor(None, (a, b)),)


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


def split(whole: str, fast: str, slow: str) -> Factor:
    """[whole = fast + F·slow] for F the size of `fast`: the entry of an axis of vec(F) (the row fast, column
    slow) or of a Kronecker product (B's index fast, A's slow) that a pair of axes indexes, columns stacked."""
    return Factor(None, (whole, fast, slow))


@dataclass(frozen=True)
class Term:
    coefficient: Fraction
    factors: tuple[Factor, ...]

    def times(self, *factors: Factor, coefficient: Fraction = Fraction(1)) -> Term:
        return Term(self.coefficient * coefficient, self.factors + factors)

    def indices(self) -> list[str]:
        seen: dict[str, None] = {}
        for f in self.factors:
            seen.update(dict.fromkeys(f.indices))
        return list(seen)


ONE_TERM = Term(Fraction(1), ())


def product(left: list[Term], right: list[Term]) -> list[Term]:
    return [Term(a.coefficient * b.coefficient, a.factors + b.factors) for a in left for b in right]


def scaled(terms: list[Term], by: Fraction) -> list[Term]:
    return [Term(t.coefficient * by, t.factors) for t in terms]


def with_factors(terms: list[Term], *factors: Factor) -> list[Term]:
    return [t.times(*factors) for t in terms]


@dataclass
class Indices:
    """Fresh index names and the dimension each one runs over."""

    dims: dict[str, Dim] = field(default_factory=dict)
    _counter: count = field(default_factory=lambda: count(1))

    def fresh(self, dim: Dim) -> str | None:
        if dim == 1:
            return None
        name = f"_{next(self._counter)}"
        self.dims[name] = dim
        return name


def simplify_terms(
    terms: list[Term], free: tuple[str, ...], indices: Indices, symmetric: frozenset[str] = frozenset()
) -> list[Term]:
    """Eliminate deltas over summed indices, fold numbers, and collect equal terms."""
    collected: dict[tuple, Term] = {}
    for written in terms:
        term = _eliminate_deltas(written, set(free), indices)
        if term is None:
            continue
        key = canonical_key(term, free, symmetric)
        if key in collected:
            previous = collected[key]
            collected[key] = Term(previous.coefficient + term.coefficient, previous.factors)
        else:
            collected[key] = term
    return [term for term in collected.values() if term.coefficient != 0]


def ones(index: str, dim: Dim) -> Factor:
    """𝟏_i: the marker of a value broadcast along index i (scalar expansion). It keeps the index in
    the term, so that a sum over i that the term no longer otherwise carries still counts every
    broadcast element (Σ_i 1 = n), however many differentiations later."""
    return Factor(n.Fill(n.Number(Fraction(1)), shape=Shape(dim, 1)), (index,))


def is_ones(f: Factor) -> bool:
    return (
        isinstance(f.node, n.Fill)
        and isinstance(f.node.value, n.Number)
        and f.node.value.value == 1
        and len(f.indices) == 1
    )


def broadcast(terms: list[Term], indices: Indices, *carried: str | None) -> list[Term]:
    """Every term made to carry each of the indices: one that does not is constant along it."""
    wanted = [i for i in carried if i is not None]
    if not wanted:
        return terms
    result = []
    for term in terms:
        present = {i for f in term.factors for i in f.indices}
        missing = [ones(i, indices.dims[i]) for i in wanted if i not in present]
        result.append(term.times(*missing) if missing else term)
    return result


def summed(terms: list[Term], indices: Indices, *over: str | None) -> list[Term]:
    """Terms summed over indices; a term that does not carry an index is multiplied by its size."""
    result = []
    for term in terms:
        carried = set(term.indices())
        sizes = [Factor(size_node(indices.dims[i]), ()) for i in over if i is not None and i not in carried]
        result.append(term.times(*sizes))
    return result


def _eliminate_deltas(term: Term, free: set[str], indices: Indices) -> Term | None:
    coefficient, factors = term.coefficient, list(term.factors)
    changed = True
    while changed:
        changed = _open_composite(factors, indices) or _eliminate_split(factors, free, indices)
        if changed:
            continue
        for position, f in enumerate(factors):
            value = _constant(f)
            if value is not None:
                coefficient *= value
                del factors[position]
                changed = True
                break
            if not f.is_delta:
                continue
            a, b = f.indices
            if a == b:
                del factors[position]
                if a not in free and not any(a in g.indices for g in factors):
                    factors.append(Factor(size_node(indices.dims[a]), ()))  # Σ_i δ_ii: the size
                # else δ_ii is the diagonal entry 1 of an identity: nothing to multiply by
                changed = True
                break
            keep, drop = (a, b) if b not in free else (b, a)
            if drop in free:
                continue  # both free: the delta stays
            del factors[position]
            factors = [g.renamed(drop, keep) for g in factors]
            changed = True
            break
    if coefficient == 0:
        return None
    return Term(coefficient, tuple(_drop_ones(factors, free, indices)))


def _eliminate_split(factors: list[Factor], free: set[str], indices: Indices) -> bool:
    """One step on the splits, in place; whether one was made. Two splits of one composite index into
    axes of the same sizes are one split and two deltas (vec(X)ᵀvec(Y) = Σ X_ab Y_ab); a split of a summed
    index that nothing else carries is 1 for each pair of axes (Σ_r [r = a + M b] = 1)."""
    for position, f in enumerate(factors):
        if not f.is_split:
            continue
        whole, fast, slow = f.indices
        for later in range(position + 1, len(factors)):
            g = factors[later]
            if g.is_split and g.indices[0] == whole and _same_sizes(f, g, indices):
                factors[later : later + 1] = [Factor(None, (fast, g.indices[1])), Factor(None, (slow, g.indices[2]))]
                return True
        if whole not in free and not any(whole in g.indices for k, g in enumerate(factors) if k != position):
            del factors[position]
            return True
    return False


def _open_composite(factors: list[Factor], indices: Indices) -> bool:
    """One factor vec(G), A ⊗ B or K(m, n) that shares an index with a split written as the entries of its
    parts and splits of its own (in place), so that the splits can meet; whether one was."""
    split_indices = {i for f in factors if f.is_split for i in f.indices}
    for position, f in enumerate(factors):
        if f.node is None or not split_indices.intersection(f.indices):
            continue
        opened = _opened(f, indices)
        if opened is not None:
            factors[position : position + 1] = opened
            return True
    return False


def _opened(f: Factor, indices: Indices) -> list[Factor] | None:
    """The entries of vec(G), A ⊗ B, K(m, n) (or their transposes) as factors and splits, and a product that
    holds one as its two factors; None for another factor, or a vec of a vector (not composite)."""
    node, axes = f.node, f.axes()
    if isinstance(node, n.Transpose):
        node, axes = node.operand, axes[::-1]
    row, col = axes
    if isinstance(node, n.Inverse) and isinstance(node.operand, n.Kron):  # (A ⊗ B)⁻¹ = A⁻¹ ⊗ B⁻¹
        left, right = node.operand.left, node.operand.right
        node = n.Kron(n.Inverse(left, shape=left.shape), n.Inverse(right, shape=right.shape), shape=node.shape)
    if isinstance(node, n.Vec) and node.operand.shape.rows != 1 and node.operand.shape.cols != 1:
        assert row is not None
        fast, slow, splits = pair(row, node.operand.shape.rows, node.operand.shape.cols, indices)
        return [factor(node.operand, fast, slow), *splits]
    if isinstance(node, n.Kron):
        left, right = node.left, node.right
        j, i, row_splits = pair(row, right.shape.rows, left.shape.rows, indices)
        l, k, col_splits = pair(col, right.shape.cols, left.shape.cols, indices)
        return [factor(left, i, k), factor(right, j, l), *row_splits, *col_splits]
    if isinstance(node, n.MatMul) and any(isinstance(sub, (n.Vec, n.Kron, n.Commutation)) for sub in n.walk(node)):
        inner = indices.fresh(node.left.shape.cols)
        return [factor(node.left, row, inner), factor(node.right, inner, col)]
    if isinstance(node, n.Commutation) and node.m != 1 and node.n != 1:
        # K(m, n)_rs = 1 where r = j + n i and s = i + m j (vec(Xᵀ) = K(m, n) vec(X), X m×n)
        assert row is not None and col is not None
        i, j = indices.fresh(node.m), indices.fresh(node.n)
        assert i is not None and j is not None
        return [split(row, j, i), split(col, i, j)]
    return None


def pair(whole: str | None, fast_dim: Dim, slow_dim: Dim, indices: Indices) -> tuple[str | None, str | None, list]:
    """The indices that an index over fast_dim·slow_dim stands for, and their split (none where a size is 1)."""
    if fast_dim == 1 or slow_dim == 1:
        return (whole if fast_dim != 1 else None), (whole if slow_dim != 1 else None), []
    fast, slow = indices.fresh(fast_dim), indices.fresh(slow_dim)
    assert whole is not None and fast is not None and slow is not None
    return fast, slow, [split(whole, fast, slow)]


def _same_sizes(one: Factor, other: Factor, indices: Indices) -> bool:
    return all(indices.dims[a] == indices.dims[b] for a, b in zip(one.indices[1:], other.indices[1:]))


def remaining_splits(terms: list[Term]) -> bool:
    """Whether a term still indexes a vec or a Kronecker product by a composite index (a split)."""
    return any(f.is_split for term in terms for f in term.factors)


def only_output_splits(terms: list[Term], out_axes: tuple[str, ...]) -> bool:
    """Whether some term has a split and every split indexes one of the function's own axes (free) by a pair:
    the entries of F = A ⊗ X, whose derivative has a vec form but no matrix or index notation."""
    splits = [f for term in terms for f in term.factors if f.is_split]
    return bool(splits) and all(f.indices[0] in out_axes for f in splits)


def _drop_ones(factors: list[Factor], free: set[str], indices: Indices) -> list[Factor]:
    """Broadcast markers go: one along an index something else carries (or a free one) is 1; one
    along a summed index nothing else carries is the size of that sum."""
    markers = [f for f in factors if is_ones(f)]
    if not markers:
        return factors
    kept = [f for f in factors if not is_ones(f)]
    carried = set(free).union(*(f.indices for f in kept))
    counted = dict.fromkeys(f.indices[0] for f in markers if f.indices[0] not in carried)
    return kept + [Factor(size_node(indices.dims[i]), ()) for i in counted]


def _constant(f: Factor) -> Fraction | None:
    """The value of a factor made of numbers alone (2, 1/2, -(1/3)), to fold into the coefficient."""
    node = f.node  # None for a delta
    if node is None or f.indices or not node.shape.is_scalar:
        return None
    return n.constant_value(node)


def size_node(dim: Dim) -> n.Node:
    """A dimension as a number in an expression."""
    return n.Number(Fraction(dim)) if isinstance(dim, int) else n.DimSize(str(dim))


EXHAUSTIVE_DUMMIES = 6  # up to this many summed indices, the key tries every naming of them


def canonical_key(term: Term, free: tuple[str, ...], symmetric: frozenset[str] = frozenset()) -> tuple:
    """A key equal for terms that differ only in the order of factors and the names of summed
    indices (and in the index order of symmetric variables): x'A'x and x'A x have one key."""
    dummies = [i for i in term.indices() if i not in free]
    described = [
        (repr(f.node), f.indices, f.is_delta or (isinstance(f.node, n.Var) and f.node.name in symmetric))
        for f in term.factors
    ]
    namings = permutations(range(len(dummies))) if len(dummies) <= EXHAUSTIVE_DUMMIES else [range(len(dummies))]
    return min(_key_with(described, dict(zip(dummies, (f"#{k}" for k in order)))) for order in namings)


def _key_with(described: list[tuple[str, tuple[str, ...], bool]], names: dict[str, str]) -> tuple:
    parts = []
    for text, indices, unordered in described:
        labels = tuple(names.get(i, i) for i in indices)
        parts.append((text, tuple(sorted(labels)) if unordered else labels))
    return tuple(sorted(parts))
