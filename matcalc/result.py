"""Differentiate a parsed expression: rules in index form, then layout, then matrix notation.

The steps, each in its own module: `rules` applies the rules and gives terms
in index form; `layout.arrange` orders the free indices for the layout; the
terms are simplified (`tensor`), turned into matrix notation where the result
has at most two free indices (`contract`), and repeated subexpressions get
names (`cse`). The result keeps both the index form (for numeric checks and
NumPy code) and the form that is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce

from . import nodes as n
from .build import ONE, ZERO, Builder, constant_value, is_zero, number
from .contract import Contractor, Piece, collect, split_coefficient
from .cse import name_repeated
from .decls import Env
from .errors import UnsupportedError
from .layout import Layout, arrange_order, derivative_shape
from .rules import Differentiator, Kink
from .shapes import Dim, Shape
from .simplify import kept, simplify
from .simplify.walk import product_factors
from .tensor import Indices, Term, remaining_splits, simplify_terms

TOLERANCE = 1e-5  # relative error allowed against central finite differences (step 1e-6)


@dataclass(frozen=True)
class IndexTerm:
    """coefficient × scalars × pieces, each piece a matrix expression carrying free indices."""

    coefficient: Fraction
    scalars: tuple[n.Node, ...]
    pieces: tuple[Piece, ...]
    summed: tuple[str, ...] = ()  # indices summed over explicitly (Σ_p), where no chain form exists


@dataclass
class Derivative:
    """∂expr/∂wrt (or the second derivative), in a layout."""

    expr: n.Node
    wrt: n.Var
    order: int
    layout: Layout
    shape: tuple[Dim, ...]  # SPEC §3's result shape
    free: tuple[str, ...]  # the free indices, in the order of `shape` without its unit axes
    index_names: dict[str, str]  # free index -> i, j, k, l as shown in index notation
    dims: dict[str, Dim]  # every index -> the dimension it runs over
    terms: list[Term]  # the index form: the ground truth for numeric checks
    matrix: n.Node | None  # matrix notation, for results of order ≤ 2
    index_form: list[IndexTerm] | None  # index notation, for results of order 3 and 4
    where: list[tuple[str, n.Node]] = field(default_factory=list)  # named repeated subexpressions
    notes: list[str] = field(default_factory=list)
    kinks: list[Kink] = field(default_factory=list)  # where the derivative holds only away from a kink
    inline_matrix: n.Node | None = None  # the shown forms before naming: for one-expression code
    inline_index_form: list[IndexTerm] | None = None
    out_axes: tuple[str, ...] = ()  # the free indices of the function's own axes
    wrt_groups: tuple[tuple[str, ...], ...] = ()  # the variable's free indices, one group per differentiation
    invertible: list[n.Node] = field(default_factory=list)  # matrices the result assumes invertible

    @property
    def rank(self) -> int:
        return len(self.free)


MAX_TERMS = 20_000  # terms of the index form; beyond this a derivative is refused rather than slow


def differentiate(expr: n.Node, wrt: n.Var, env: Env, layout: Layout, order: int = 1) -> Derivative:
    """The order-th derivative of expr by wrt: each differentiation is the same rules applied to the
    index form of the one before (the product rule over its factors)."""
    symmetric = frozenset(name for name in env.decls if env.is_symmetric(name))
    build = Builder(symmetric, env.unit_sums)
    # The derivative is unconstrained: until the last order, the variable is differentiated as a general
    # matrix (Sᵀ is not S, S_ij S_kl not S_ji S_lk); its symmetry simplifies only the result, which is
    # evaluated where it holds. Other symmetric matrices are constants, whose symmetry always holds.
    constant_symmetric = symmetric - {wrt.name}
    general = build if constant_symmetric == symmetric else Builder(constant_symmetric, env.unit_sums)
    indices = Indices()
    differ = Differentiator(wrt, general, indices)
    out_row, out_col = indices.fresh(expr.shape.rows), indices.fresh(expr.shape.cols)
    out_axes = tuple(i for i in (out_row, out_col) if i is not None)
    terms = differ.derive(expr, out_row, out_col)
    groups = [tuple(i for i in differ.wrt_axes if i is not None)]
    for _ in range(order - 1):
        _bound(terms, expr)
        terms = simplify_terms(terms, out_axes + tuple(i for g in groups for i in g), indices, constant_symmetric)
        differ = differ.again()
        terms = differ.derive_terms(terms)
        groups.append(tuple(i for i in differ.wrt_axes if i is not None))
    _bound(terms, expr)
    arranged = arrange_order(out_axes, tuple(groups), layout, expr.shape.is_scalar)
    shape = derivative_shape(expr.shape, wrt.shape, layout, order)
    free = tuple(i for i in arranged if i is not None)
    terms = simplify_terms(terms, free, indices, symmetric)
    _refuse_composite(terms, expr)
    notes: list[str] = []
    if symmetric & {wrt.name}:
        notes.append(
            f"{wrt.name} is {env.decls[wrt.name].kind}: its entries are treated as independent "
            "(the unconstrained derivative)"
        )
    names = _index_names(out_axes, groups, free)
    contractor = Contractor(build, indices.dims)
    matrix, index_form = None, None
    if len(free) <= 2:
        matrix = _matrix_form(terms, arranged, contractor, build, expr)
        if matrix is None:
            notes.append("this result has no matrix form that matcalc can find; it is shown in index notation")
    if matrix is None:
        index_form = _index_form(terms, free, contractor, names, order, expr)
        _name_summed(names, index_form)
    result = Derivative(
        expr,
        wrt,
        order,
        layout,
        shape,
        free,
        names,
        indices.dims,
        terms,
        matrix,
        index_form,
        notes=notes,
        kinks=differ.kinks,
        inline_matrix=matrix,
        inline_index_form=index_form,
        out_axes=out_axes,
        wrt_groups=tuple(groups),
        invertible=_needs_inverse(differ.invertible, env),
    )
    _name_repeated(result)
    return result


def _bound(terms: list[Term], expr: n.Node) -> None:
    if len(terms) > MAX_TERMS:
        raise UnsupportedError(
            f"this derivative has more than {MAX_TERMS:,} terms in index form, more than "
            "matcalc works through in reasonable time and memory",
            span=expr.span,
        )


def _refuse_composite(terms: list[Term], expr: n.Node) -> None:
    """A derivative that still indexes vec(F) or A ⊗ B by one index over a pair of axes (r = a + M b): matcalc
    writes no such index, in matrix or index notation."""
    if remaining_splits(terms):
        raise UnsupportedError(
            "matcalc cannot write this derivative through vec or ⊗ yet: an index of the result runs over the "
            "entries of vec(F) or a Kronecker product and is contracted or kept as one index",
            span=expr.span,
            hint="a vec(F) or kron whose entries pair with those of another vec or kron (vec(X)'vec(Y), "
            "tr(kron(A, X))) is differentiated; the derivative of vec(F) by a matrix is written with --notation vec",
        )


def _needs_inverse(matrices: list[n.Node], env: Env) -> list[n.Node]:
    """The matrices the result inverts, less those invertible by declaration (posdef)."""
    return [
        m for m in matrices if not (isinstance(m, n.Var) and m.name in env.decls and env.decls[m.name].kind == "posdef")
    ]


def _name_repeated(result: Derivative) -> None:
    """Name repeated subexpressions of the shown form (matrix or index notation), if it is too long
    for a line written out (cse.name_repeated)."""
    share_names([result])


def share_names(derivatives: list[Derivative]) -> None:
    """Name the repeated subexpressions of one or several derivatives of an expression together, so
    that t1 means the same in each; each keeps the definitions it uses (and those they use). Whether
    names are worth it is decided on the derivatives' length together, as they are shown together."""
    taken = {sub.name for sub in n.walk(derivatives[0].expr) if isinstance(sub, n.Var)}
    roots = [root for d in derivatives for root in _shown_roots(d)]
    named, where = name_repeated(roots, taken)
    definitions = dict(where)
    position = 0
    for d in derivatives:
        position = _take_named(d, named, position)
        used: set[str] = set()
        stack = [
            sub.name
            for root in _shown_roots(d, named=True)
            for sub in n.walk(root)
            if isinstance(sub, n.Var) and sub.name in definitions
        ]
        while stack:
            name = stack.pop()
            if name not in used:
                used.add(name)
                stack += [
                    sub.name for sub in n.walk(definitions[name]) if isinstance(sub, n.Var) and sub.name in definitions
                ]
        d.where = [(name, value) for name, value in where if name in used]


def _shown_roots(d: Derivative, named: bool = False) -> list[n.Node]:
    """The expressions of the shown form, in order: the matrix, or the index form's scalars and pieces
    (before naming, from the inline forms; after, from the shown ones)."""
    matrix, form = (d.matrix, d.index_form) if named else (d.inline_matrix, d.inline_index_form)
    if matrix is not None:
        return [matrix]
    return [node for term in form or [] for node in (*term.scalars, *(e for p in term.pieces for e in p.elements))]


def _take_named(d: Derivative, named: list[n.Node], position: int) -> int:
    """Set the shown form from the named roots starting at position; the position after them."""
    if d.inline_matrix is not None:
        d.matrix, d.index_form = named[position], None
        return position + 1
    rebuilt = []
    for term in d.inline_index_form or []:
        scalars = tuple(named[position : position + len(term.scalars)])
        position += len(term.scalars)
        pieces = []
        for piece in term.pieces:
            pieces.append(Piece(named[position : position + len(piece.elements)], piece.indices))
            position += len(piece.elements)
        rebuilt.append(IndexTerm(term.coefficient, scalars, tuple(pieces), term.summed))
    d.matrix, d.index_form = None, rebuilt
    return position


def _matrix_form(
    terms: list[Term], arranged: tuple, contractor: Contractor, build: Builder, function: n.Node
) -> n.Node | None:
    row, col = arranged if len(arranged) == 2 else (None, None)
    parts = []
    for term in terms:
        part = contractor.to_matrix(term, row, col)
        if part is None:
            return None
        parts.append(part)
    total = collect(parts, build) if parts else None
    if total is None or is_zero(total):  # a zero keeps the shape of the result
        return _zero(arranged, contractor)
    return simplify(total, build, function)


def _zero(arranged: tuple, contractor: Contractor) -> n.Node:
    dims = [contractor.dims[i] if i is not None else 1 for i in (arranged + (None,))[:2]]
    shape = Shape(*dims) if len(arranged) == 2 else Shape(1, 1)
    return ZERO if shape.is_scalar else n.Fill(ZERO, shape=shape)


def _index_form(
    terms: list[Term],
    free: tuple[str, ...],
    contractor: Contractor,
    names: dict[str, str] | None = None,
    order: int = 1,
    function: n.Node | None = None,
) -> list[IndexTerm]:
    """The terms in index notation, each factor oriented as a textbook writes it (see _as_written)."""
    build = contractor.build
    form = []
    for term in terms:
        chains = contractor.chains(term, free, shared_free=True)
        if chains is None:
            form.append(_entrywise(term, free, contractor))
            continue
        form.append(IndexTerm(chains.coefficient, tuple(chains.scalars), tuple(chains.pieces)))
    reading = _reading_order(free, names)
    form = [_as_written(term, reading, build) for term in form]
    form = _combine_scalars(form, build)
    form = _combine_pieces(form, reading, build)
    keep = kept(function)
    form = [_simplified(term, build, keep) for term in form]
    return _terms_ordered(form, reading, order)


def _simplified(term: IndexTerm, build: Builder, keep: frozenset[n.Node]) -> IndexTerm:
    """Each factor of an index-notation term written by the rules of simplify/, as matrix results are:
    (σ(x) ⊙ (1 - σ(x)))_i, not (σ(x) - σ(x)²)_i."""
    scalars = tuple(simplify(s, build, keep=keep) for s in term.scalars)
    pieces = tuple(
        Piece([simplify(e, build, keep=keep) for e in piece.elements], piece.indices) for piece in term.pieces
    )
    return IndexTerm(term.coefficient, scalars, pieces, term.summed)


# Index notation as it is written: rules on the index form, each keeping its value


def _reading_order(free: tuple[str, ...], names: dict[str, str] | None):
    """The position of an index as a reader meets it, i before j before k (summed indices after)."""
    ordered = [i for i in (names or {}) if i in free] + [i for i in free if i not in (names or {})]
    rank = {index: k for k, index in enumerate(ordered)}
    return lambda index: rank.get(index, len(rank))


def _as_written(term: IndexTerm, reading, build: Builder) -> IndexTerm:
    """One term with each piece as a textbook writes it: diag(v)_ab as v_a δ_ab, each matrix piece
    oriented (_oriented), the pieces in reading order (the renderers put the deltas last)."""
    pieces = []
    for piece in term.pieces:
        pieces += _diagonal_opened(piece, reading, build)
    pieces = [_oriented(piece, reading, build) for piece in pieces]
    return IndexTerm(term.coefficient, term.scalars, _in_reading_order(pieces, reading), term.summed)


def _in_reading_order(pieces, reading) -> tuple[Piece, ...]:
    """A_ik B_lj, v_i δ_ij: by the indices as written, a vector before a delta on the same index."""
    return tuple(sorted(pieces, key=lambda p: (tuple(map(reading, p.indices)), _is_delta(p))))


def _is_delta(piece: Piece) -> bool:
    return len(piece.elements) == 1 and isinstance(piece.elements[0], n.Identity)


def _transpose_marks(elements) -> int:
    return sum(isinstance(sub, n.Transpose) for e in elements for sub in n.walk(e))


def _flipped(piece: Piece, build: Builder) -> Piece:
    """The same entries with the indices swapped: M_ab = (Mᵀ)_ba, the product transposed factor by factor."""
    return Piece([build.transpose(e) for e in reversed(piece.elements)], piece.indices[::-1])


def _oriented(piece: Piece, reading, build: Builder) -> Piece:
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


def _diagonal_opened(piece: Piece, reading, build: Builder) -> list[Piece]:
    """Rule 2: diag(v)_ab = v_a δ_ab, v carrying the index read first; v simplified where that is shorter.
    A diagonal at either end of a product opens too: (diag(v) U)_ab = v_a U_ab, (U diag(v))_ab = U_ab v_b."""
    elements = [f for e in piece.elements for f in product_factors(e)]
    if len(piece.indices) == 2 and len(elements) > 1 and piece.indices[0] != piece.indices[1]:
        a, b = piece.indices
        if isinstance(elements[0], n.DiagMatrix):
            return [
                Piece([_shorter(_column(elements[0].operand, build), build)], (a,)),
                *_diagonal_opened(Piece(elements[1:], (a, b)), reading, build),
            ]
        if isinstance(elements[-1], n.DiagMatrix):
            return [
                *_diagonal_opened(Piece(elements[:-1], (a, b)), reading, build),
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
    return tidied if _node_size(tidied) < _node_size(vector) else vector


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


def _node_size(node: n.Node) -> int:
    return sum(1 for _ in n.walk(node))


def _combine_pieces(form: list[IndexTerm], reading, build: Builder) -> list[IndexTerm]:
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
        summed = _oriented(Piece([core], piece.indices), reading, build)
        pieces = template.pieces[:position] + (summed,) + template.pieces[position + 1 :]
        combined.append(IndexTerm(coefficient, template.scalars, _in_reading_order(pieces, reading), template.summed))
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


def _terms_ordered(form: list[IndexTerm], reading, order: int) -> list[IndexTerm]:
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


def _entrywise(term: Term, free: tuple[str, ...], contractor: Contractor) -> IndexTerm:
    """A term with no chain form (an index shared by three matrices: Σ_p v_p A_pi A_pj A_pk) as a
    product of entries, with its summed indices explicit."""
    scalars: list[n.Node] = []
    pieces: list[Piece] = []
    for f in term.factors:
        if f.node is None:  # a delta
            dim = contractor.dims[f.indices[0]]
            pieces.append(Piece([n.Identity(shape=Shape(dim, dim))], f.indices))
        elif not f.indices:
            scalars.append(f.node)
        else:
            node = f.node if not (len(f.indices) == 1 and f.node.shape.is_row) else contractor.build.transpose(f.node)
            pieces.append(Piece([node], f.indices))
    summed = tuple(i for i in term.indices() if i not in free)
    return IndexTerm(term.coefficient, tuple(scalars), tuple(pieces), summed)


def _combine_scalars(form: list[IndexTerm], build: Builder) -> list[IndexTerm]:
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


def _index_names(out_axes: tuple, groups: list[tuple], free: tuple) -> dict[str, str]:
    """Output indices first, then the variable's for each differentiation, each in its own
    row-column order: ∂y_i/∂X_jk, ∂²f/∂X_ij ∂X_kl."""
    ordered = out_axes + tuple(i for group in groups for i in group)
    return dict(zip([i for i in ordered if i in free], INDEX_LETTERS))


SUMMED_LETTERS = "pqrsuvwabcdefghoxyzPQRSUVWABCDEFGHIJKLMNOTXYZ"


def _name_summed(names: dict[str, str], form: list[IndexTerm]) -> None:
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
