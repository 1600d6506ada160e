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
from .contract import Contractor, Piece, collect
from .cse import name_repeated
from .decls import Env
from .rules import Differentiator, Kink
from .errors import UnsupportedError
from .layout import Layout, arrange, hessian_shape, result_shape
from .shapes import Dim, Shape
from .tensor import Indices, Term, simplify_terms


TOLERANCE = 1e-5  # relative error allowed against central finite differences (step 1e-6)


@dataclass(frozen=True)
class IndexTerm:
    """coefficient × scalars × pieces, each piece a matrix expression carrying free indices."""

    coefficient: Fraction
    scalars: tuple[n.Node, ...]
    pieces: tuple[Piece, ...]


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

    @property
    def rank(self) -> int:
        return len(self.free)


def differentiate(expr: n.Node, wrt: n.Var, env: Env, layout: Layout, order: int = 1) -> Derivative:
    symmetric = frozenset(name for name in env.decls if env.is_symmetric(name))
    build = Builder(symmetric)
    indices = Indices()
    differ = Differentiator(wrt, build, indices)
    out_row, out_col = indices.fresh(expr.shape.rows), indices.fresh(expr.shape.cols)
    terms = differ.derive(expr, out_row, out_col)
    out_axes = tuple(i for i in (out_row, out_col) if i is not None)
    wrt_axes = tuple(i for i in differ.wrt_axes if i is not None)
    if order == 1:
        arranged = arrange(out_axes, wrt_axes, layout, expr.shape.is_scalar)
        shape = result_shape(expr.shape, wrt.shape, layout)
    else:
        shape = _second_order_shape(expr, wrt)
        second = Differentiator(wrt, build, indices)
        second.kinks = differ.kinks
        terms = second.derive_terms(terms)
        second_axes = tuple(i for i in second.wrt_axes if i is not None)
        arranged = (wrt_axes + second_axes) if wrt_axes else (None,)
    free = tuple(i for i in arranged if i is not None)
    terms = simplify_terms(terms, free, indices, symmetric)
    notes: list[str] = []
    if symmetric & {wrt.name}:
        notes.append(f"{wrt.name} is {env.decls[wrt.name].kind}: its entries are treated as independent "
                     "(the unconstrained derivative)")
    names = _index_names(out_axes, wrt_axes, free, order)
    contractor = Contractor(build, indices.dims)
    matrix, index_form = None, None
    if len(free) <= 2:
        matrix = _matrix_form(terms, arranged, contractor, build)
        if matrix is None:
            notes.append("this result has no matrix form that matcalc can find; it is shown in index notation")
    if matrix is None:
        index_form = _index_form(terms, free, contractor)
    result = Derivative(expr, wrt, order, layout, shape, free, names, indices.dims, terms, matrix, index_form,
                        notes=notes, kinks=differ.kinks, inline_matrix=matrix, inline_index_form=index_form)
    _name_repeated(result)
    return result


def _name_repeated(result: Derivative) -> None:
    """Name repeated subexpressions of the shown form (matrix or index notation)."""
    taken = {sub.name for sub in n.walk(result.expr) if isinstance(sub, n.Var)}
    if result.matrix is not None:
        (result.matrix,), result.where = name_repeated([result.matrix], taken)
        return
    assert result.index_form is not None
    roots = [node for term in result.index_form for node in (*term.scalars, *(e for p in term.pieces for e in p.elements))]
    named, result.where = name_repeated(roots, taken)
    rebuilt, position = [], 0
    for term in result.index_form:
        scalars = tuple(named[position : position + len(term.scalars)])
        position += len(term.scalars)
        pieces = []
        for piece in term.pieces:
            pieces.append(Piece(named[position : position + len(piece.elements)], piece.indices))
            position += len(piece.elements)
        rebuilt.append(IndexTerm(term.coefficient, scalars, tuple(pieces)))
    result.index_form = rebuilt


def _second_order_shape(expr: n.Node, wrt: n.Var) -> tuple[Dim, ...]:
    shape = hessian_shape(expr.shape, wrt.shape)
    if shape is None:
        raise UnsupportedError("second derivatives are of a scalar function of a scalar or a vector",
                               span=expr.span, hint=f"here the function is {expr.shape.kind} and the variable "
                               f"{wrt.name} is {wrt.shape.kind}")
    return shape


def _matrix_form(terms: list[Term], arranged: tuple, contractor: Contractor, build: Builder) -> n.Node | None:
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
    return total


def _zero(arranged: tuple, contractor: Contractor) -> n.Node:
    dims = [contractor.dims[i] if i is not None else 1 for i in (arranged + (None,))[:2]]
    shape = Shape(*dims) if len(arranged) == 2 else Shape(1, 1)
    return ZERO if shape.is_scalar else n.Fill(ZERO, shape=shape)


def _index_form(terms: list[Term], free: tuple[str, ...], contractor: Contractor) -> list[IndexTerm]:
    form = []
    for term in terms:
        chains = contractor.chains(term, free, shared_free=True)
        if chains is None:
            raise UnsupportedError("matcalc cannot write this derivative in index notation yet")
        form.append(IndexTerm(chains.coefficient, tuple(chains.scalars), tuple(chains.pieces)))
    return _combine_scalars(form, contractor.build)


def _combine_scalars(form: list[IndexTerm], build: Builder) -> list[IndexTerm]:
    """Terms with the same pieces share them: δ_ik δ_jl + a δ_ik δ_jl = (1 + a) δ_ik δ_jl."""
    groups: dict[tuple, list[IndexTerm]] = {}
    for term in form:
        key = tuple((tuple(piece.elements), piece.indices) for piece in term.pieces)
        groups.setdefault(key, []).append(term)
    combined = []
    for terms in groups.values():
        if len(terms) == 1:
            combined.append(terms[0])
            continue
        parts = [build.scale(number(t.coefficient), reduce(build.scale, t.scalars, ONE)) for t in terms]
        total = collect(parts, build)
        value = constant_value(total)
        if value is not None:
            if value != 0:
                combined.append(IndexTerm(value, (), terms[0].pieces))
        else:
            combined.append(IndexTerm(Fraction(1), (total,), terms[0].pieces))
    return combined


def _index_names(out_axes: tuple, wrt_axes: tuple, free: tuple, order: int) -> dict[str, str]:
    """Output indices first, then the variable's in its own row-column order: ∂y_i/∂X_jk."""
    letters = iter("ijklmn")
    ordered = out_axes + wrt_axes if order == 1 else free
    return {index: next(letters) for index in ordered if index in free}

