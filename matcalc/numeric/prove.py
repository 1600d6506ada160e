"""Symbolic proof of an identity, where matcalc can give one.

Both sides are expanded into index form: products of the entries of
variables, Kronecker deltas, and opaque factors for what is not a
polynomial (exp(x), X^-1, det(X), ...). A derivative `d/dV E` is replaced by
matcalc's derivative in index form. After delta elimination, equal terms are
collected under a key that ignores the order of factors and the names of
summed indices, so tr(AB) = tr(BA), x'y = y'x and x'A'x = x'Ax come out
equal. The identity is proved when the two sums are the same. This proves
fewer identities than are true (nothing about det(C^2) = det(C)^2), never
more.
"""

from __future__ import annotations

from fractions import Fraction

from .. import nodes as n
from ..algebra.builder import ONE, Builder, constant_value, is_one
from ..algebra.index_form import Indices, Term, canonical_key, delta, factor, product, scaled, simplify_terms, summed
from ..calculus.rules import Differentiator
from ..language.decls import Env
from ..layout import Layout, arrange_order, derivative_shape

MAX_TERMS = 400  # an expansion larger than this is not attempted
MAX_POWER = 32  # A^p is expanded as p factors up to this power
WORK_BUDGET = 50_000  # terms built over a whole proof; beyond it the proof is given up (the numeric check stands)


class _TooLarge(Exception):
    pass


def equal_symbolically(lhs: n.Node, rhs: n.Node, env: Env) -> bool:
    """Whether the two sides expand to the same terms. A side may be a derivative with more than two
    axes (no matrix shape): then each side has as many free indices, in its layout's order."""
    if any(isinstance(sub, n.Derivative) and sub.notation == "vec" for side in (lhs, rhs) for sub in n.walk(side)):
        return False  # a Jacobian of vec(F) by vec(X) has no index form here: it is checked numerically
    symmetric = frozenset(name for name in env.decls if env.is_symmetric(name))
    indices = Indices()
    expander = Expander(Builder(symmetric), indices)
    axes = _tensor_axes(lhs) or _tensor_axes(rhs)
    try:
        if axes:
            free = tuple(index for index in (indices.fresh(dim) for dim in axes) if index is not None)
            expanded = [expander.expand_tensor(side, free) for side in (lhs, rhs)]
        else:
            shape = lhs.shape if not lhs.shape.is_scalar else rhs.shape
            row, col = indices.fresh(shape.rows), indices.fresh(shape.cols)
            free = tuple(i for i in (row, col) if i is not None)
            expanded = [expander.expand(side, row, col) for side in (lhs, rhs)]
        sides = [simplify_terms(terms, free, indices, symmetric) for terms in expanded]
    except _TooLarge:
        return False
    left, right = (_as_counter(terms, free, symmetric) for terms in sides)
    return left == right


def _tensor_axes(side: n.Node) -> tuple | None:
    """The axes of a derivative with more than two, in its layout; None for any other side."""
    if not isinstance(side, n.Derivative):
        return None
    axes = derivative_shape(side.operand.shape, side.wrt.shape, Layout(side.layout), side.order)
    return axes if len(axes) > 2 else None


def _as_counter(terms: list[Term], free: tuple[str, ...], symmetric: frozenset[str]) -> dict[tuple, Fraction]:
    """Each term's coefficient under its canonical key, the keys whose coefficients cancel left out."""
    counter: dict[tuple, Fraction] = {}
    for term in terms:
        key = canonical_key(_cancel_reciprocals(term), free, symmetric)
        counter[key] = counter.get(key, Fraction(0)) + term.coefficient
    return {key: value for key, value in counter.items() if value != 0}


def _cancel_reciprocals(term: Term) -> Term:
    """Drop pairs of scalar factors s and 1/s."""
    factors = list(term.factors)
    for f in list(factors):
        if f in factors and not f.indices and isinstance(f.node, n.Divide) and is_one(f.node.left):
            partner = next((g for g in factors if not g.indices and g.node == f.node.right), None)
            if partner is not None:
                factors.remove(f)
                factors.remove(partner)
    return Term(term.coefficient, tuple(factors))


class Expander:
    """node[row, col] as a sum of products of indexed leaves."""

    def __init__(self, build: Builder, indices: Indices, budget: int = WORK_BUDGET):
        self.build = build
        self.indices = indices
        self.budget = budget  # how many more terms may be built

    def product(self, left: list[Term], right: list[Term]) -> list[Term]:
        """The product of two sums, refused before it is built when it is too large."""
        size = len(left) * len(right)
        self.budget -= size
        if size > MAX_TERMS or self.budget < 0:
            raise _TooLarge
        return product(left, right)

    def fresh(self, dim) -> str | None:
        return self.indices.fresh(dim)

    def expand(self, node: n.Node, row: str | None, col: str | None) -> list[Term]:
        row = row if node.shape.rows != 1 else None
        col = col if node.shape.cols != 1 else None
        terms = self._expand(node, row, col)
        if len(terms) > MAX_TERMS:
            raise _TooLarge
        return terms

    def expand_tensor(self, side: n.Node, free: tuple[str, ...]) -> list[Term]:
        """A side with more than two axes (a derivative, or the 0 that stands for a zero of any shape)."""
        if constant_value(side) == 0:
            return []
        if not isinstance(side, n.Derivative):
            raise _TooLarge  # no other node has more than two axes
        return self._derivative(side, *free)

    def _expand(self, node: n.Node, row, col) -> list[Term]:
        constant = constant_value(node)
        if constant is not None:
            return [Term(constant, ())] if constant != 0 else []
        match node:
            case n.Neg(operand=operand):
                return scaled(self.expand(operand, row, col), Fraction(-1))
            case n.Add(left=left, right=right):
                return self.expand(left, row, col) + self.expand(right, row, col)
            case n.ScalarMul(left=left, right=right) | n.Hadamard(left=left, right=right):
                return self.product(self.expand(left, row, col), self.expand(right, row, col))
            case n.MatMul(left=left, right=right):
                inner = self.fresh(left.shape.cols)
                return self.product(self.expand(left, row, inner), self.expand(right, inner, col))
            case n.MatPower(base=base, exponent=power) if power >= 1:
                return self._power_chain(base, power, row, col)
            case n.Transpose(operand=operand):
                return self.expand(operand, col, row)
            case n.Trace(operand=operand):
                j = self.fresh(operand.shape.rows)
                return summed(self.expand(operand, j, j), self.indices, j)
            case n.Sum(operand=operand):
                j, l = self.fresh(operand.shape.rows), self.fresh(operand.shape.cols)
                return summed(self.expand(operand, j, l), self.indices, j, l)
            case n.Identity():
                return [Term(Fraction(1), delta(row, col))]
            case n.Fill(value=value):
                return self.expand(value, None, None)
            case n.DiagMatrix(operand=operand):
                entry = (row, None) if operand.shape.is_column else (None, row)
                return [t.times(*delta(row, col)) for t in self.expand(operand, *entry)]
            case n.DiagOf(operand=operand):
                return self.expand(operand, row, row)
            case n.Divide(left=left, right=right) if (divisor := constant_value(right)) is not None and divisor != 0:
                return scaled(self.expand(left, row, col), 1 / divisor)
            case n.Divide(left=left, right=right) if right.shape.is_scalar:  # u / s = u (1/s)
                reciprocal = Term(Fraction(1), (factor(self.build.divide(ONE, right), None, None),))
                return self.product(self.expand(left, row, col), [reciprocal])
            case n.Derivative():
                return self._derivative(node, row, col)
            case n.Power(base=n.Norm(operand=u, p="2" | "F"), exponent=n.Number(value=2)):  # ||u||² = Σ u²
                j, l = self.fresh(u.shape.rows), self.fresh(u.shape.cols)
                return summed(self.product(self.expand(u, j, l), self.expand(u, j, l)), self.indices, j, l)
            case n.Power(base=base, exponent=n.Number(value=k)) if k.denominator == 1 and 1 < k <= 8:
                terms = [Term(Fraction(1), ())]
                for _ in range(int(k)):  # u^k = u u ... u, elementwise
                    terms = self.product(terms, self.expand(base, row, col))
                return terms
        return [Term(Fraction(1), (factor(node, row, col),))]

    def _power_chain(self, base: n.Node, power: int, row, col) -> list[Term]:
        """A^p as a product of p factors A."""
        if power > MAX_POWER:
            raise _TooLarge
        terms = [Term(Fraction(1), ())]
        current = row
        for step in range(power):
            following = col if step == power - 1 else self.fresh(base.shape.cols)
            terms = self.product(terms, self.expand(base, current, following))
            current = following
        return terms

    def _derivative(self, node: n.Derivative, *targets: str | None) -> list[Term]:
        """matcalc's derivative in index form, its free indices renamed to the targets: the node's row and
        column, or one index for each axis of a derivative with more than two."""
        differ = Differentiator(node.wrt, self.build, self.indices)
        operand = node.operand
        out_row, out_col = self.fresh(operand.shape.rows), self.fresh(operand.shape.cols)
        terms = differ.derive(operand, out_row, out_col)
        out_axes = tuple(i for i in (out_row, out_col) if i is not None)
        wrt_axes = tuple(i for i in differ.wrt_axes if i is not None)
        groups = [wrt_axes]
        for _ in range(node.order - 1):
            differ = differ.again()
            terms = differ.derive_terms(terms)
            groups.append(tuple(i for i in differ.wrt_axes if i is not None))
        arranged = arrange_order(out_axes, tuple(groups), Layout(node.layout), operand.shape.is_scalar)
        if len(arranged) != len(targets):  # a scalar: nothing to rename
            targets = (None,) * len(arranged)
        renamed = []
        for term in terms:
            for old, new in zip(arranged, targets):
                if old is not None and new is not None:
                    term = Term(term.coefficient, tuple(f.renamed(old, new) for f in term.factors))
            renamed.append(term)
        return [expanded for term in renamed for expanded in self._expand_factors(term)]

    def _expand_factors(self, term: Term) -> list[Term]:
        """Expand each matrix-notation factor of a term into leaves as well."""
        result = [Term(term.coefficient, ())]
        for f in term.factors:
            if f.is_split:  # an index over vec's or ⊗'s pairs of axes: left to the numeric check
                raise _TooLarge
            if f.is_delta:
                result = [t.times(f) for t in result]
            else:
                assert f.node is not None  # only a delta has no node
                result = self.product(result, self.expand(f.node, *f.axes()))
            if len(result) > MAX_TERMS:
                raise _TooLarge
        return result
