"""Differentiate a parsed expression: rules in index form, then layout, then matrix notation.

The steps, each in its own module: `rules` applies the rules and gives terms
in index form; `layout.arrange` orders the free indices for the layout; the
terms are simplified (`tensor`), turned into matrix notation where the result
has at most two free indices (`contract`), written as a textbook writes them
(`simplify/`: collected, then its rules; index notation by
`simplify/index_notation`), and repeated subexpressions get names (`simplify/where_names`).
The result keeps both the index form (for numeric checks and NumPy code) and
the form that is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import nodes as n
from ..algebra.builder import ZERO, Builder, is_zero
from ..algebra.index_form import Indices, Piece, Term, only_output_splits, remaining_splits, simplify_terms
from ..errors import UnsupportedError
from ..language.decls import Env
from ..layout import Layout, arrange_order, derivative_shape
from ..shapes import Dim, Shape
from ..simplify import simplify
from ..simplify.collect import collect
from ..simplify.index_notation import IndexTerm, index_names, name_summed, written
from ..simplify.where_names import name_repeated
from .rules import Differentiator, Kink
from .to_matrix import Contractor

TOLERANCE = 1e-5  # relative error allowed against central finite differences (step 1e-6)


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
    output_splits: bool = False  # F's axes are indexed by splits (d(A ⊗ X)): only a vec form can show it

    @property
    def rank(self) -> int:
        return len(self.free)


MAX_TERMS = 20_000  # terms of the index form; beyond this a derivative is refused rather than slow


def differentiate(
    expr: n.Node, wrt: n.Var, env: Env, layout: Layout, order: int = 1, output_splits: bool = False
) -> Derivative:
    """The order-th derivative of expr by wrt: each differentiation is the same rules applied to the
    index form of the one before (the product rule over its factors). With output_splits (the vec notation),
    a first derivative whose function's axes are indexed by splits (kron(A, X) by X) is kept in its index form
    alone, with no matrix or index notation: calculus/vec.py writes it in Kronecker form."""
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
    split_output = output_splits and order == 1 and len(free) > 2 and only_output_splits(terms, out_axes)
    if not split_output:
        _refuse_composite(terms, expr)
    notes: list[str] = []
    if symmetric & {wrt.name}:
        notes.append(
            f"{wrt.name} is {env.decls[wrt.name].kind}: its entries are treated as independent "
            "(the unconstrained derivative)"
        )
    names = index_names(out_axes, groups, free)
    contractor = Contractor(build, indices.dims)
    matrix: n.Node | None = None
    index_form: list[IndexTerm] | None = None
    if split_output:
        index_form = []
    elif len(free) <= 2:
        matrix = _matrix_form(terms, arranged, contractor, build, expr)
        if matrix is None:
            notes.append("this result has no matrix form that matcalc can find; it is shown in index notation")
    if matrix is None and index_form is None:
        index_form = _index_form(terms, free, contractor, names, order, expr)
        name_summed(names, index_form)
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
        output_splits=split_output,
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
            "tr(kron(A, X))) is differentiated; the derivative of vec(F) or of kron(A, X) by a matrix is written with "
            "--notation vec",
        )


def _needs_inverse(matrices: list[n.Node], env: Env) -> list[n.Node]:
    """The matrices the result inverts, less those invertible by declaration (posdef)."""
    return [
        m for m in matrices if not (isinstance(m, n.Var) and m.name in env.decls and env.decls[m.name].kind == "posdef")
    ]


def _name_repeated(result: Derivative) -> None:
    """Name repeated subexpressions of the shown form (matrix or index notation), if it is too long
    for a line written out (where_names.name_repeated)."""
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
    """The terms in index notation, written as a textbook writes them (simplify/index_notation.py)."""
    build = contractor.build
    form = []
    for term in terms:
        chains = contractor.chains(term, free, shared_free=True)
        if chains is None:
            form.append(_entrywise(term, free, contractor))
            continue
        form.append(IndexTerm(chains.coefficient, tuple(chains.scalars), tuple(chains.pieces)))
    return written(form, free, names, order, build, function)


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
