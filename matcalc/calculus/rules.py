"""Derivative rules, one per node type, in index form (see algebra/index_form.py).

`derive(node, row, col)` is the derivative of the entry node[row, col] with
respect to the entry wrt[a, b] (the Differentiator's `wrt_axes`), as a list of
terms whose free indices are row, col, a and b (those of axes that are not 1).
The chain rule is the recursion; the layout is applied later, in one place.
Where a function has a kink, the derivative is the one that holds away from
it (with step(0) = 1/2, inside every subdifferential here), and the kink is
recorded so that a note can state the subdifferential there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from .. import nodes as n
from ..algebra.builder import ONE, Builder, number, number_value
from ..algebra.functions import elementwise_slope
from ..algebra.index_form import Factor, Indices, Term, broadcast, delta, factor, pair, scaled, size_node, with_factors
from ..errors import UnsupportedError

MAX_MATRIX_POWER = 12
MAX_WORK = 200_000  # terms the rules may make for one derivative (a tower a^a^...^a doubles them per level)


@dataclass(frozen=True)
class Kink:
    """Where a function of the expression is not differentiable: `kind` names the function, at `operands`."""

    kind: str  # abs, relu, sign, max, min, norm2, norm1
    operands: tuple[n.Node, ...]


class Differentiator:
    def __init__(self, wrt: n.Var, builder: Builder, indices: Indices):
        self.wrt = wrt
        self.build = builder
        self.indices = indices
        self.wrt_axes = (indices.fresh(wrt.shape.rows), indices.fresh(wrt.shape.cols))
        self.kinks: list[Kink] = []
        self.invertible: list[n.Node] = []  # matrices whose inverse the result contains
        self.produced = 0  # terms made so far: the work budget
        self._depends: dict[int, tuple[n.Node, bool]] = {}

    def again(self) -> Differentiator:
        """A differentiator for the next order: fresh axes for the variable, the same records."""
        following = Differentiator(self.wrt, self.build, self.indices)
        following.kinks, following.invertible, following._depends = self.kinks, self.invertible, self._depends
        following.produced = self.produced
        return following

    def inverts(self, matrix: n.Node) -> None:
        if matrix not in self.invertible:
            self.invertible.append(matrix)

    def depends(self, node: n.Node) -> bool:
        """Whether the node contains the variable (memoised by identity: trees are immutable; the
        memo holds the node, so that its id cannot be reused by another node)."""
        key = id(node)
        if key not in self._depends:
            if isinstance(node, n.Var):
                found = node.name == self.wrt.name
            else:
                found = any(self.depends(child) for child in node.children())
            self._depends[key] = (node, found)
        return self._depends[key][1]

    def derive(self, node: n.Node, row: str | None, col: str | None) -> list[Term]:
        if not self.depends(node):
            return []
        node_class: type = type(node)  # plain `type`: mypy reads type[Node] as unhashable
        rule = _rule(node_class)
        if rule is None:
            raise UnsupportedError(f"matcalc cannot differentiate {node.kind} yet", span=node.span)
        row, col = _axis(node.shape.rows, row), _axis(node.shape.cols, col)
        terms = rule(self, node, row, col)
        self.produced += len(terms)
        if self.produced > MAX_WORK:
            raise UnsupportedError(
                f"this derivative grows past {MAX_WORK:,} terms in index form before it is "
                "simplified, more than matcalc works through in reasonable time and memory",
                span=node.span,
            )
        return broadcast(terms, self.indices, row, col)

    def derive_factor(self, f: Factor) -> list[Term]:
        """The derivative of one indexed factor (a delta is constant)."""
        if f.node is None:  # a delta
            return []
        return self.derive(f.node, *f.axes())

    def derive_terms(self, terms: list[Term]) -> list[Term]:
        """Product rule over the factors of each term: the derivative of a derivative."""
        result: list[Term] = []
        for term in terms:
            for position, f in enumerate(term.factors):
                others = term.factors[:position] + term.factors[position + 1 :]
                result += [t.times(*others, coefficient=term.coefficient) for t in self.derive_factor(f)]
        return result

    def kink(self, kind: str, *operands: n.Node) -> None:
        found = Kink(kind, operands)
        if found not in self.kinks:
            self.kinks.append(found)

    def fresh(self, dim) -> str | None:
        return self.indices.fresh(dim)

    # Leaves

    def _var(self, node: n.Var, row, col) -> list[Term]:
        a, b = self.wrt_axes
        return [Term(Fraction(1), delta(row, a) + delta(col, b))]

    # Arithmetic

    def _neg(self, node: n.Neg, row, col) -> list[Term]:
        return scaled(self.derive(node.operand, row, col), Fraction(-1))

    def _add(self, node: n.Add, row, col) -> list[Term]:
        return self.derive(node.left, row, col) + self.derive(node.right, row, col)

    def _fill(self, node: n.Fill, row, col) -> list[Term]:
        return self.derive(node.value, None, None)

    def _scalarmul(self, node: n.ScalarMul | n.Hadamard, row, col) -> list[Term]:
        left, right = node.left, node.right
        return with_factors(self.derive(left, row, col), factor(right, row, col)) + with_factors(
            self.derive(right, row, col), factor(left, row, col)
        )

    def _matmul(self, node: n.MatMul, row, col) -> list[Term]:
        inner = self.fresh(node.left.shape.cols)
        left, right = node.left, node.right
        return with_factors(self.derive(left, row, inner), factor(right, inner, col)) + with_factors(
            self.derive(right, inner, col), factor(left, row, inner)
        )

    def _hadamard(self, node: n.Hadamard, row, col) -> list[Term]:
        return self._scalarmul(node, row, col)  # the same indices on both sides: the same rule

    def _divide(self, node: n.Divide, row, col) -> list[Term]:
        b = self.build
        left, right = node.left, node.right
        reciprocal = b.divide(ONE, right)
        quotient_over = b.divide(left, b.power(right, number(2)))  # l / r^2
        return with_factors(self.derive(left, row, col), factor(reciprocal, row, col)) + scaled(
            with_factors(self.derive(right, row, col), factor(quotient_over, row, col)), Fraction(-1)
        )

    def _power(self, node: n.Power, row, col) -> list[Term]:
        b = self.build
        base, exponent = node.base, node.exponent
        if isinstance(base, n.Norm) and base.p in ("2", "F") and number_value(exponent) == 2:
            # ||u||^2 = Σ u², smooth everywhere: d = 2 u·du, with no kink at 0
            u = base.operand
            j, l = self.fresh(u.shape.rows), self.fresh(u.shape.cols)
            return scaled(with_factors(self.derive(u, j, l), factor(u, j, l)), Fraction(2))
        # d(u^p) = p u^(p-1) du + u^p log(u) dp
        slope = (
            b.scale(exponent, b.power(base, b.sub(exponent, ONE)))
            if exponent.shape.is_scalar
            else b.hadamard(exponent, b.power(base, b.sub(exponent, ONE)))
        )
        terms = with_factors(self.derive(base, row, col), factor(slope, row, col))
        if self.depends(exponent):
            growth = (
                b.hadamard(node, b.apply("log", base))
                if not node.shape.is_scalar
                else b.scale(node, b.apply("log", base))
            )
            terms += with_factors(self.derive(exponent, row, col), factor(growth, row, col))
        return terms

    def _matpower(self, node: n.MatPower, row, col) -> list[Term]:
        b = self.build
        base, power = node.base, node.exponent
        # A^-p = (A^-1)^p. What is differentiated is A^-1 as written, never simplified by symmetry: the
        # builder's (Sᵀ)⁻¹ = S⁻¹ holds for a symmetric S, not for its unconstrained derivative
        differentiated, value = (n.Inverse(base, shape=base.shape), b.inverse(base)) if power < 0 else (base, base)
        power = abs(power)
        if power > MAX_MATRIX_POWER:
            raise UnsupportedError(f"matcalc differentiates matrix powers up to {MAX_MATRIX_POWER}", span=node.span)
        terms: list[Term] = []
        for k in range(power):  # d(A^p) = Σ_k A^k dA A^(p-1-k)
            j, l = self.fresh(base.shape.rows), self.fresh(base.shape.cols)
            before = _identity_or(b.matpower(value, k), row, j)
            after = _identity_or(b.matpower(value, power - 1 - k), l, col)
            terms += with_factors(self.derive(differentiated, j, l), *before, *after)
        return terms

    def _transpose(self, node: n.Transpose, row, col) -> list[Term]:
        return self.derive(node.operand, col, row)

    def _inverse(self, node: n.Inverse, row, col) -> list[Term]:
        # d(A^-1) = -A^-1 dA A^-1
        j, l = self.fresh(node.shape.rows), self.fresh(node.shape.cols)
        value = self.build.inverse(node.operand)  # (A⁻¹)⁻¹ is A as a value
        terms = with_factors(self.derive(node.operand, j, l), factor(value, row, j), factor(value, l, col))
        return scaled(terms, Fraction(-1))

    # Functions

    def _trace(self, node: n.Trace, row, col) -> list[Term]:
        j = self.fresh(node.operand.shape.rows)
        return self.derive(node.operand, j, j)

    def _det(self, node: n.Det, row, col) -> list[Term]:
        # d det(A) = det(A) tr(A^-1 dA)
        j, l = self.fresh(node.operand.shape.rows), self.fresh(node.operand.shape.cols)
        inverse = self.build.inverse(node.operand)
        self.inverts(node.operand)
        return with_factors(self.derive(node.operand, j, l), factor(node, None, None), factor(inverse, l, j))

    def _logdet(self, node: n.LogDet, row, col) -> list[Term]:
        # d log det(A) = tr(A^-1 dA)
        j, l = self.fresh(node.operand.shape.rows), self.fresh(node.operand.shape.cols)
        inverse = self.build.inverse(node.operand)
        self.inverts(node.operand)
        return with_factors(self.derive(node.operand, j, l), factor(inverse, l, j))

    def _norm(self, node: n.Norm, row, col) -> list[Term]:
        operand = node.operand
        j, l = self.fresh(operand.shape.rows), self.fresh(operand.shape.cols)
        if node.p == "spectral":
            raise UnsupportedError(
                "matcalc cannot differentiate the spectral norm ||A||_2 of a matrix yet",
                span=node.span,
                hint="the Frobenius norm ||A||_F is supported",
            )
        if node.p == "1":
            self.kink("norm1", operand)
            slope = self.build.apply("sign", operand)
        else:
            self.kink("norm2", operand)
            slope = self.build.divide(operand, node)
        return with_factors(self.derive(operand, j, l), factor(slope, j, l))

    def _sum(self, node: n.Sum | n.Mean, row, col) -> list[Term]:
        j, l = self.fresh(node.operand.shape.rows), self.fresh(node.operand.shape.cols)
        return self.derive(node.operand, j, l)

    def _mean(self, node: n.Mean, row, col) -> list[Term]:
        shape = node.operand.shape
        size = self.build.scale(size_node(shape.rows), size_node(shape.cols))
        return with_factors(self._sum(node, row, col), factor(self.build.divide(ONE, size), None, None))

    def _diagmatrix(self, node: n.DiagMatrix, row, col) -> list[Term]:
        operand = node.operand
        entry = (row, None) if operand.shape.is_column else (None, row)
        return with_factors(self.derive(operand, *entry), *delta(row, col))

    def _diagof(self, node: n.DiagOf, row, col) -> list[Term]:
        return self.derive(node.operand, row, row)

    def _apply(self, node: n.Apply, row, col) -> list[Term]:
        if node.function in ("abs", "relu", "sign", "step"):
            self.kink(node.function, node.operand)
        slope = elementwise_slope(self.build, node)
        if slope is None:
            return []
        outer = factor(slope, row, col)  # the outer derivative first, as the chain rule is written: f'(g) g'
        return [Term(t.coefficient, (outer, *t.factors)) for t in self.derive(node.operand, row, col)]

    def _maximum(self, node: n.Maximum, row, col) -> list[Term]:
        return self._extremum(node, "max", row, col)

    def _minimum(self, node: n.Minimum, row, col) -> list[Term]:
        return self._extremum(node, "min", row, col)

    def _extremum(self, node: n.Maximum | n.Minimum, name: str, row, col) -> list[Term]:
        """d max(u, v) = step(u - v) du + step(v - u) dv; min(u, v) swaps the steps."""
        self.kink(name, node.left, node.right)
        b = self.build
        terms: list[Term] = []
        for operand, other in ((node.left, node.right), (node.right, node.left)):
            if self.depends(operand):
                gap = b.sub(operand, other) if name == "max" else b.sub(other, operand)
                mask = b.apply("step", gap)
                terms += with_factors(self.derive(operand, row, col), factor(mask, row, col))
        return terms

    def _softmax(self, node: n.Softmax, row, col) -> list[Term]:
        # d softmax(x)_r = s_r dx_r - s_r s_j dx_j
        x = node.operand
        j = self.fresh(x.shape.rows if x.shape.is_column else x.shape.cols)
        at_r = (row, col)
        at_j = (j, None) if x.shape.is_column else (None, j)
        direct = with_factors(self.derive(x, *at_r), factor(node, *at_r))
        coupled = with_factors(self.derive(x, *at_j), factor(node, *at_r), factor(node, *at_j))
        return direct + scaled(coupled, Fraction(-1))

    def _logsumexp(self, node: n.LogSumExp, row, col) -> list[Term]:
        x = node.operand
        j = self.fresh(x.shape.rows if x.shape.is_column else x.shape.cols)
        at_j = (j, None) if x.shape.is_column else (None, j)
        softmax = n.Softmax(x, shape=x.shape)
        return with_factors(self.derive(x, *at_j), factor(softmax, *at_j))

    # vec and the Kronecker product: an axis that runs over a pair of axes is a split (tensor.split)

    def _vec(self, node: n.Vec, row, col) -> list[Term]:
        # vec(F)_r = F_ab for r = a + M b, F M×N
        shape = node.operand.shape
        fast, slow, splits = pair(row, shape.rows, shape.cols, self.indices)
        return with_factors(self.derive(node.operand, fast, slow), *splits)

    def _kron(self, node: n.Kron, row, col) -> list[Term]:
        # (A ⊗ B)_rc = A_ik B_jl for r = j + p i, c = l + q k, B p×q: the product rule on the two factors
        left, right = node.left, node.right
        j, i, row_splits = pair(row, right.shape.rows, left.shape.rows, self.indices)
        l, k, col_splits = pair(col, right.shape.cols, left.shape.cols, self.indices)
        terms = with_factors(self.derive(left, i, k), factor(right, j, l)) + with_factors(
            self.derive(right, j, l), factor(left, i, k)
        )
        return with_factors(terms, *row_splits, *col_splits)

    def _derivative(self, node: n.Derivative, row, col) -> list[Term]:
        raise UnsupportedError(
            "a derivative inside the expression to differentiate is not supported yet", span=node.span
        )


def _axis(dim, index: str | None) -> str | None:
    return index if dim != 1 else None


def _identity_or(node: n.Node, row: str | None, col: str | None) -> tuple[Factor, ...]:
    """An identity matrix as a delta (so it can be eliminated), anything else as a factor."""
    if isinstance(node, n.Identity):
        return delta(row, col)
    return (factor(node, row, col),)


@cache
def _rule(node_class: type) -> Callable[..., list[Term]] | None:
    """The Differentiator's rule for a class of node, looked up once (differentiation is per node)."""
    return getattr(Differentiator, f"_{node_class.__name__.lower()}", None)
