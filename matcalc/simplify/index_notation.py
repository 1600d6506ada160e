"""Index notation as a textbook writes it: rules on the terms of a derivative in index notation
(results of order 3 and 4, and those with no matrix form), each keeping the value.

1. `as_written`: diag(v)_ab is v_a δ_ab; of M_ab and (Mᵀ)_ba the one with fewer transpose marks
   ((Bᵀ)_jl is B_lj), a symmetric factor with its indices in reading order; pieces in reading order
2. `combine_scalars`: terms with the same pieces share them: δ_ik δ_jl + a δ_ik δ_jl = (1 + a) δ_ik δ_jl
3. `combine_pieces`: terms equal but for one piece on the same indices are one: B_ik δ_jl + (Bᵀ)_ik δ_jl
   = (B + Bᵀ)_ik δ_jl
4. each factor written by the rules of RULES, as matrix results are
5. `terms_ordered`: the terms of a derivative of order two or more by the index their vector carries

The letters the indices are shown with (i, j, k, l for the free ones, p, q, ... for those summed
explicitly) are chosen here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import reduce

from .. import nodes as n
from ..algebra.builder import ONE, Builder, constant_value, is_zero, number
from ..algebra.index_form import Piece
from ..errors import UnsupportedError
from . import kept, simplify
from .collect import collect, split_coefficient


@dataclass(frozen=True)
class IndexTerm:
    """coefficient × scalars × pieces, each piece a matrix expression carrying free indices."""

    coefficient: Fraction
    scalars: tuple[n.Node, ...]
    pieces: tuple[Piece, ...]
    summed: tuple[str, ...] = ()  # indices summed over explicitly (Σ_p), where no chain form exists


def written(
    form: list[IndexTerm],
    free: tuple[str, ...],
    names: dict[str, str] | None,
    order: int,
    build: Builder,
    function: n.Node | None = None,
) -> list[IndexTerm]:
    """The terms as a textbook writes them; the subexpressions of the function differentiated stay
    as the user wrote them."""
    reading = reading_order(free, names)
    form = [as_written(term, reading, build) for term in form]
    form = combine_scalars(form, build)
    form = combine_pieces(form, reading, build)
    keep = kept(function)
    form = [_simplified(term, build, keep) for term in form]
    return terms_ordered(form, reading, order)


def _simplified(term: IndexTerm, build: Builder, keep: frozenset[n.Node]) -> IndexTerm:
    """Each factor of an index-notation term written by the rules of simplify/, as matrix results are:
    (σ(x) ⊙ (1 - σ(x)))_i, not (σ(x) - σ(x)²)_i."""
    scalars = tuple(simplify(s, build, keep=keep) for s in term.scalars)
    pieces = tuple(
        Piece([simplify(e, build, keep=keep) for e in piece.elements], piece.indices) for piece in term.pieces
    )
    return IndexTerm(term.coefficient, scalars, pieces, term.summed)


def reading_order(free: tuple[str, ...], names: dict[str, str] | None):
    """The position of an index as a reader meets it, i before j before k (summed indices after)."""
    ordered = [i for i in (names or {}) if i in free] + [i for i in free if i not in (names or {})]
    rank = {index: k for k, index in enumerate(ordered)}
    return lambda index: rank.get(index, len(rank))


def as_written(term: IndexTerm, reading, build: Builder) -> IndexTerm:
    """One term with each piece as a textbook writes it: diag(v)_ab as v_a δ_ab, each matrix piece
    oriented (oriented), the pieces in reading order (the renderers put the deltas last)."""
    pieces = []
    for piece in term.pieces:
        pieces += diagonal_opened(piece, reading, build)
    pieces = [oriented(piece, reading, build) for piece in pieces]
    return IndexTerm(term.coefficient, term.scalars, _inreading_order(pieces, reading), term.summed)


def _inreading_order(pieces, reading) -> tuple[Piece, ...]:
    """A_ik B_lj, v_i δ_ij: by the indices as written, a vector before a delta on the same index."""
    return tuple(sorted(pieces, key=lambda p: (tuple(map(reading, p.indices)), _is_delta(p))))


def _is_delta(piece: Piece) -> bool:
    return len(piece.elements) == 1 and isinstance(piece.elements[0], n.Identity)


def _transpose_marks(elements) -> int:
    return sum(isinstance(sub, n.Transpose) for e in elements for sub in n.walk(e))


def _flipped(piece: Piece, build: Builder) -> Piece:
    """The same entries with the indices swapped: M_ab = (Mᵀ)_ba, the product transposed factor by factor."""
    return Piece([build.transpose(e) for e in reversed(piece.elements)], piece.indices[::-1])


def oriented(piece: Piece, reading, build: Builder) -> Piece:
    """Rule 1: of M_ab and (Mᵀ)_ba, the one with fewer transpose marks ((Bᵀ)_jl is B_lj, (XᵀCᵀ)_jk is
    (C X)_kj, (Q⁻ᵀ)_ki is (Q⁻¹)_ik); a symmetric matrix (δ, S, XᵀX, A + Aᵀ) with its indices in
    reading order, as S_ab = S_ba."""
    if len(piece.indices) != 2 or piece.indices[0] == piece.indices[1]:
        return piece
    a, b = piece.indices
    if build.is_symmetric(piece.node(build)):
        return piece if reading(a) <= reading(b) else Piece(piece.elements, (b, a))
    flipped = _flipped(piece, build)
    return flipped if _transpose_marks(flipped.elements) < _transpose_marks(piece.elements) else piece


def diagonal_opened(piece: Piece, reading, build: Builder) -> list[Piece]:
    """Rule 2: diag(v)_ab = v_a δ_ab, v carrying the index read first; v simplified where that is shorter.
    A diagonal at either end of a product opens too: (diag(v) U)_ab = v_a U_ab, (U diag(v))_ab = U_ab v_b."""
    elements = [f for e in piece.elements for f in n.flatten(e, n.MatMul)]
    if len(piece.indices) == 2 and len(elements) > 1 and piece.indices[0] != piece.indices[1]:
        a, b = piece.indices
        if isinstance(elements[0], n.DiagMatrix):
            return [
                Piece([_shorter(_column(elements[0].operand, build), build)], (a,)),
                *diagonal_opened(Piece(elements[1:], (a, b)), reading, build),
            ]
        if isinstance(elements[-1], n.DiagMatrix):
            return [
                *diagonal_opened(Piece(elements[:-1], (a, b)), reading, build),
                Piece([_shorter(_column(elements[-1].operand, build), build)], (b,)),
            ]
    if (
        len(piece.indices) != 2
        or len(piece.elements) != 1
        or not isinstance(piece.elements[0], n.DiagMatrix)
        or piece.indices[0] == piece.indices[1]
    ):
        return [piece]
    diagonal = piece.elements[0]
    vector = diagonal.operand if diagonal.operand.shape.is_column else build.transpose(diagonal.operand)
    first = min(piece.indices, key=reading)
    return [Piece([_shorter(vector, build)], (first,)), Piece([n.Identity(shape=diagonal.shape)], piece.indices)]


def _column(vector: n.Node, build: Builder) -> n.Node:
    return vector if vector.shape.is_column else build.transpose(vector)


def _shorter(vector: n.Node, build: Builder) -> n.Node:
    """x ⊘ (x²)² as 1 ⊘ x³: nested whole powers multiplied out and a quotient of powers of one base
    cancelled, elementwise; kept as it was unless that is shorter."""
    tidied = _powers_cancelled(vector, build)
    return tidied if n.size(tidied) < n.size(vector) else vector


def _powers_cancelled(node: n.Node, build: Builder) -> n.Node:
    """(u^p)^q = u^(pq) and u^p ⊘ u^q = u^(p-q) (or 1 ⊘ u^(q-p)), for whole p and q, elementwise."""
    node = node.map_children(lambda child: _powers_cancelled(child, build))
    if isinstance(node, n.Power) and isinstance(node.base, n.Power):
        p, q = _whole_exponent(node.base), _whole_exponent(node)
        if p is not None and q is not None:
            return build.power(node.base.base, number(p * q))
    if isinstance(node, n.Divide) and not node.shape.is_scalar and node.left.shape == node.right.shape:
        (top, p), (bottom, q) = _base_and_exponent(node.left), _base_and_exponent(node.right)
        if top == bottom and p is not None and q is not None:
            if p == q:
                return n.Fill(ONE, shape=node.shape)
            if p > q:
                return build.power(top, number(p - q))
            return build.divide(ONE, build.power(top, number(q - p)))
    return node


def _whole_exponent(power: n.Power) -> int | None:
    value = constant_value(power.exponent)
    return int(value) if value is not None and value.denominator == 1 else None


def _base_and_exponent(node: n.Node) -> tuple[n.Node, int | None]:
    if isinstance(node, n.Power):
        return node.base, _whole_exponent(node)
    return node, 1


def combine_pieces(form: list[IndexTerm], reading, build: Builder) -> list[IndexTerm]:
    """Rule 3: terms equal but for one matrix (or vector) piece on the same indices are one term with
    the sum of those pieces: B_ik δ_jl + (Bᵀ)_ik δ_jl = (B + Bᵀ)_ik δ_jl (the untransposed one first)."""
    # each group: its first term, the position of the piece its terms differ in, and each term's coefficient and
    # piece there (None for the first term's own piece, which is known once the position is)
    groups: list[tuple[IndexTerm, list[int], list[tuple[Fraction, n.Node | None]]]] = []
    for term in form:
        for template, at, parts in groups:
            match = _differs_in_one_piece(template, term, at[0] if len(parts) > 1 else None, build)
            if match is not None:
                at[:] = [match[0]]
                parts.append((term.coefficient, match[1]))
                break
        else:
            groups.append((term, [-1], [(term.coefficient, None)]))
    combined = []
    for template, at, parts in groups:
        if len(parts) == 1:
            combined.append(template)
            continue
        position = at[0]
        piece = template.pieces[position]
        first = piece.node(build)
        magnitudes = {abs(c) for c, _ in parts}  # 2 B_ik - 2 (Bᵀ)_ik = 2 (B - Bᵀ)_ik: an equal one taken out
        shared = magnitudes.pop() if len(magnitudes) == 1 and 0 not in magnitudes else Fraction(1)
        total = collect(
            [build.scale(number(c / shared), first if node is None else node) for c, node in parts], build, inner=True
        )
        coefficient, core = split_coefficient(total)
        coefficient *= shared
        if coefficient == 0 or is_zero(core):
            continue
        summed = oriented(Piece([core], piece.indices), reading, build)
        pieces = template.pieces[:position] + (summed,) + template.pieces[position + 1 :]
        combined.append(IndexTerm(coefficient, template.scalars, _inreading_order(pieces, reading), template.summed))
    return combined


def _differs_in_one_piece(
    template: IndexTerm, term: IndexTerm, at: int | None, build: Builder
) -> tuple[int, n.Node] | None:
    """(where, the other term's piece as a matrix on the template's indices), if the two terms have the same
    scalars and pieces (in any order) but for one non-delta piece on the same indices (the template's piece
    at that position, if given)."""
    if term.scalars != template.scalars or term.summed != template.summed or len(term.pieces) != len(template.pieces):
        return None
    rest, unmatched = list(term.pieces), []
    for k, piece in enumerate(template.pieces):
        if piece in rest:
            rest.remove(piece)
        else:
            unmatched.append(k)
    if len(unmatched) != 1 or (at is not None and unmatched[0] != at):
        return None
    k = unmatched[0]
    mine, (theirs,) = template.pieces[k], rest
    if (
        _is_delta(mine)
        or _is_delta(theirs)
        or set(mine.indices) != set(theirs.indices)
        or len(mine.indices) != len(theirs.indices)
    ):
        return None
    aligned = theirs if theirs.indices == mine.indices else _flipped(theirs, build)
    return k, aligned.node(build)


def terms_ordered(form: list[IndexTerm], reading, order: int) -> list[IndexTerm]:
    """Rule 4: a derivative of order two or more is symmetric in its differentiations, so no product rule
    sets the order of its terms: where each term has a vector factor, the term whose vector carries i comes
    first, then j, ... (8 x_i δ_jk + 8 x_j δ_ik + 8 x_k δ_ij). A first derivative keeps the product rule's
    order (δ_ik x_j + x_i δ_jk for x xᵀ)."""
    vectors = [
        [reading(p.indices[0]) for p in term.pieces if len(p.indices) == 1 and not _is_delta(p)] for term in form
    ]
    if order < 2 or len(form) < 2 or not all(vectors):
        return form
    keyed = sorted(zip(form, vectors), key=lambda pair: sorted(pair[1]))
    return [term for term, _ in keyed]


def combine_scalars(form: list[IndexTerm], build: Builder) -> list[IndexTerm]:
    """Terms with the same pieces share them: δ_ik δ_jl + a δ_ik δ_jl = (1 + a) δ_ik δ_jl."""
    groups: dict[tuple, list[IndexTerm]] = {}
    for term in form:
        key = (tuple((tuple(piece.elements), piece.indices) for piece in term.pieces), term.summed)
        groups.setdefault(key, []).append(term)
    combined = []
    for terms in groups.values():
        if len(terms) == 1:
            combined.append(terms[0])
            continue
        parts = [build.scale(number(t.coefficient), reduce(build.scale, [ONE, *t.scalars])) for t in terms]
        total = collect(parts, build)
        value = constant_value(total)
        if value is not None:
            if value != 0:
                combined.append(IndexTerm(value, (), terms[0].pieces, terms[0].summed))
        else:
            combined.append(IndexTerm(Fraction(1), (total,), terms[0].pieces, terms[0].summed))
    return combined


INDEX_LETTERS = "ijklmnpqrsuvwabcdefgh"


def index_names(out_axes: tuple, groups: list[tuple], free: tuple) -> dict[str, str]:
    """Output indices first, then the variable's for each differentiation, each in its own
    row-column order: ∂y_i/∂X_jk, ∂²f/∂X_ij ∂X_kl."""
    ordered = out_axes + tuple(i for group in groups for i in group)
    return dict(zip([i for i in ordered if i in free], INDEX_LETTERS))


SUMMED_LETTERS = "pqrsuvwabcdefghoxyzPQRSUVWABCDEFGHIJKLMNOTXYZ"


def name_summed(names: dict[str, str], form: list[IndexTerm]) -> None:
    """Letters for the indices that terms sum over explicitly (Σ_p), one letter each: NumPy's
    einsum takes letters only."""
    spare = iter(letter for letter in SUMMED_LETTERS if letter not in names.values())
    for term in form:
        for index in term.summed:
            if index not in names:
                letter = next(spare, None)
                if letter is None:
                    raise UnsupportedError("this derivative sums over more indices than matcalc can name")
                names[index] = letter
