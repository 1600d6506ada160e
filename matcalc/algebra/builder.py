"""Constructors for typed nodes that compute shapes and apply the obvious simplifications.

Derivative rules and the matrix-form converter build new expressions with
these, never with the node classes directly, so that no result carries
`1 x`, `x''`, `I A`, `0 + x` or the transpose of a symmetric matrix.
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from typing import TypeGuard

from .. import nodes as n
from ..shapes import SCALAR, Shape

ZERO = n.Number(Fraction(0))
ONE = n.Number(Fraction(1))


def number(value: Fraction | int) -> n.Node:
    value = value if isinstance(value, Fraction) else Fraction(value)  # Fraction(a fraction) is a slow copy
    return n.Number(value) if value >= 0 else n.Neg(n.Number(-value))


def number_value(node: n.Node) -> Fraction | None:
    """The value of a plain number (or a negated one); None for anything else."""
    if isinstance(node, n.Number):
        return node.value
    if isinstance(node, n.Neg) and isinstance(node.operand, n.Number):
        return -node.operand.value
    return None


def is_zero(node: n.Node) -> bool:
    """0, or a vector or matrix of zeros."""
    return number_value(node) == 0 or (isinstance(node, n.Fill) and number_value(node.value) == 0)


def is_one(node: n.Node) -> bool:
    return number_value(node) == 1


constant_value = n.constant_value  # the value of an expression made of numbers alone (it lives with the nodes)


def _matrix_power_parts(node: n.Node) -> tuple[n.Node, bool, int]:
    """(M, transposed, p) when node is M^p or (M^p)ᵀ in any spelling: M⁻¹ is M^-1, M⁻ᵀ and (Mᵀ)⁻¹ are
    (M^-1)ᵀ, (M²)⁻¹ is M^-2; anything else is itself to the power 1."""
    if isinstance(node, n.Transpose):
        base, transposed, power = _matrix_power_parts(node.operand)
        return base, not transposed, power
    if isinstance(node, n.Inverse):
        base, transposed, power = _matrix_power_parts(node.operand)
        return base, transposed, -power
    if isinstance(node, n.MatPower):
        base, transposed, power = _matrix_power_parts(node.base)
        return base, transposed, power * node.exponent
    return node, False, 1


def _scalar_power_of_same(a: n.Node, b: n.Node) -> tuple[n.Node, int] | None:
    """(u, p + q) when the scalars a and b are u^p and u^q for whole positive p and q (u counts as u^1)."""

    def split(node: n.Node) -> tuple[n.Node, int]:
        if (
            isinstance(node, n.Power)
            and isinstance(node.exponent, n.Number)
            and node.exponent.value.denominator == 1
            and node.exponent.value > 0
        ):
            return node.base, int(node.exponent.value)
        return node, 1

    (base_a, p), (base_b, q) = split(a), split(b)
    return (base_a, p + q) if base_a == base_b and base_a.shape.is_scalar else None


def _integer_power(node: n.Node) -> tuple[n.Node, int]:
    """(u, k) when node is u^k, an elementwise (or scalar) power with a whole exponent ((u^a)^b counting as
    u^(ab)); (node, 1) otherwise."""
    if isinstance(node, n.Power):
        value = number_value(node.exponent)
        if value is not None and value.denominator == 1:
            base, inner = _integer_power(node.base)
            return base, inner * int(value)
    return node, 1


def base_and_power(f: n.Node) -> tuple[n.Node, int]:
    """(u, k) when f is u^k for a whole number k written as a number, or 1 ⊘ u^k (k counted negative);
    (f, 1) otherwise."""
    if (isinstance(f, n.Divide) and isinstance(f.left, n.Fill) and is_one(f.left.value)) or (
        isinstance(f, n.Divide) and is_one(f.left)
    ):
        base, power = base_and_power(f.right)
        return base, -power
    if isinstance(f, n.Power) and isinstance(f.exponent, n.Number) and f.exponent.value.denominator == 1:
        return f.base, int(f.exponent.value)
    return f, 1


def raised(base: n.Node, power: int) -> n.Node:
    """base^power written with a positive exponent, as base_and_power reads it back: u, u^k, 1 ⊘ u^k."""
    magnitude = base if abs(power) == 1 else n.Power(base, number(abs(power)), shape=base.shape)
    return magnitude if power > 0 else n.Divide(ONE, magnitude, shape=base.shape)


def _folded(node: n.Node) -> n.Node:
    """A scalar made of numbers alone (1/2, 2^-1, -(1/2)) as one exact number."""
    if not node.shape.is_scalar or isinstance(node, n.Number) or number_value(node) is not None:
        return node
    value = constant_value(node)
    return node if value is None else number(value)


def logistic_operand(a: n.Node, b: n.Node) -> n.Node | None:
    """u, when a / b is exp(u) / (1 + exp(u)), the logistic sigmoid of u."""
    if not (isinstance(a, n.Apply) and a.function == "exp" and isinstance(b, n.Add) and a.shape == b.shape):
        return None
    one = lambda node: is_one(node) or (isinstance(node, n.Fill) and is_one(node.value))
    if (one(b.left) and b.right == a) or (one(b.right) and b.left == a):
        return a.operand
    return None


def negation_of(node: n.Node) -> n.Node | None:
    """v when node is -v written with its sign in front or on its first factor (-a, -s wᵀx); else None."""
    if isinstance(node, n.Neg):
        return node.operand
    if isinstance(node, (n.ScalarMul, n.MatMul)):
        inner = negation_of(node.left)
        return None if inner is None else node.map_children(lambda child: inner if child is node.left else child)
    return None


def reciprocal_logistic_operand(b: n.Node) -> n.Node | None:
    """u, when 1 / b is 1 / (1 + exp(-u)), the logistic sigmoid of u."""
    if not isinstance(b, n.Add):
        return None
    one = lambda node: is_one(node) or (isinstance(node, n.Fill) and is_one(node.value))
    exponential = b.right if one(b.left) else b.left if one(b.right) else None
    if isinstance(exponential, n.Apply) and exponential.function == "exp" and exponential.shape == b.shape:
        return negation_of(exponential.operand)
    return None


def _sum_of(node: n.Node) -> n.Node | None:
    """v when node is the sum of v's entries: sum(v), 1ᵀv or vᵀ1 for a column v."""
    if isinstance(node, n.Sum):
        return node.operand
    if isinstance(node, n.MatMul) and node.shape.is_scalar:
        ones = lambda m: isinstance(m, n.Fill) and is_one(m.value)
        if isinstance(node.left, n.Transpose) and ones(node.left.operand) and node.right.shape.is_column:
            return node.right
        if isinstance(node.left, n.Fill) and ones(node.left) and node.right.shape.is_column:
            return node.right
        if isinstance(node.left, n.Transpose) and ones(node.right) and node.left.operand.shape.is_column:
            return node.left.operand
    return None


def _is_inverse(node: n.Node) -> bool:
    """M⁻¹, M⁻ᵀ, (Mᵀ)⁻¹ or M^-k."""
    return _matrix_power_parts(node)[2] < 0


def _buried_number(node: n.Node) -> tuple[Fraction, n.Node] | None:
    """A number inside a product of scalings, and the product without it: λ (½ w) -> (½, λ w)."""
    if not isinstance(node, n.ScalarMul):
        return None
    for side, other in ((node.left, node.right), (node.right, node.left)):
        value = number_value(side)
        if value is not None and value != 1:
            return value, other
        if isinstance(side, n.ScalarMul):
            found = _buried_number(side)
            if found is not None:
                return found[0], n.ScalarMul(found[1], other, shape=node.shape) if side is node.left else n.ScalarMul(
                    other, found[1], shape=node.shape
                )
    return None


def _is_elementwise_reciprocal(node: n.Node) -> TypeGuard[n.Divide]:
    """1 ⊘ u for a vector or matrix u."""
    return isinstance(node, n.Divide) and is_one(node.left) and not node.right.shape.is_scalar


def is_reciprocal_of(a: n.Node, b: n.Node) -> bool:
    """Whether a is 1 ./ b, so that a ⊙ b is all ones."""
    return isinstance(a, n.Divide) and is_one(a.left) and a.right == b


def _inverted_product(build: Builder, node: n.Node) -> list[n.Node] | None:
    """The factors P1 … Pk of a node that is (P1 … Pk)⁻¹ or its transpose (read as (Pkᵀ … P1ᵀ)⁻¹)."""
    if isinstance(node, n.Inverse) and isinstance(node.operand, n.MatMul):
        return n.flatten(node.operand, n.MatMul)
    if (
        isinstance(node, n.Transpose)
        and isinstance(node.operand, n.Inverse)
        and isinstance(node.operand.operand, n.MatMul)
    ):
        return [build.transpose(f) for f in reversed(n.flatten(node.operand.operand, n.MatMul))]
    return None


def _is_ones(node: n.Node) -> bool:
    """𝟏 or 𝟏ᵀ, a vector of ones."""
    if isinstance(node, n.Transpose):
        node = node.operand
    return isinstance(node, n.Fill) and is_one(node.value) and node.shape.is_vector


def _entries_cancel(v: n.Node) -> bool:
    """Whether the entries of the vector v, a sum of vectors and of means spread over it, sum to 0 whatever
    the values: sum(x - mean(x)) = sum(x) - n mean(x) = 0, and so for x - sum(x)/n. A mean (or a sum over
    the count) of u is a vector of v's length holding sum(u) in total, so each part is a multiple of one
    sum(u); the entries cancel when every multiple does."""
    if not v.shape.is_vector:
        return False
    count = v.shape.rows if v.shape.is_column else v.shape.cols
    totals: dict[n.Node, Fraction] = {}
    stack: list[tuple[Fraction, n.Node]] = [(Fraction(1), v)]
    while stack:
        coefficient, part = stack.pop()
        if isinstance(part, n.Add):
            stack += [(coefficient, part.left), (coefficient, part.right)]
        elif isinstance(part, n.Neg):
            stack.append((-coefficient, part.operand))
        elif isinstance(part, n.ScalarMul) and (value := number_value(part.left)) is not None:
            stack.append((coefficient * value, part.right))
        elif not part.shape.is_scalar:
            if isinstance(part, n.Transpose):
                part = part.operand
            totals[part] = totals.get(part, Fraction(0)) + coefficient
        elif (averaged := _mean_over(part, count)) is not None:
            totals[averaged] = totals.get(averaged, Fraction(0)) + coefficient
        else:
            return False
    return bool(totals) and all(total == 0 for total in totals.values())


def _mean_over(node: n.Node, count: object) -> n.Node | None:
    """u, a column or row with count entries, when node is mean(u) or sum(u) / count."""
    if isinstance(node, n.Mean):
        u = node.operand
    elif isinstance(node, n.Divide) and isinstance(node.left, n.Sum) and _is_count(node.right, count):
        u = node.left.operand
    else:
        return None
    if not u.shape.is_vector or (u.shape.rows if u.shape.is_column else u.shape.cols) != count:
        return None
    return u.operand if isinstance(u, n.Transpose) else u


def _is_count(node: n.Node, count: object) -> bool:
    return (isinstance(node, n.DimSize) and node.name == str(count)) or number_value(node) == count


class Builder:
    """Builds typed nodes; `symmetric` names the variables with A' = A."""

    def __init__(self, symmetric: frozenset[str] = frozenset(), unit_sums: frozenset[str] = frozenset()):
        self.symmetric = symmetric
        self.unit_sums = unit_sums  # onehot and simplex vectors: 1'y = y'1 = 1

    def neg(self, a: n.Node) -> n.Node:
        value = number_value(a)
        if value is not None:
            return number(-value)
        if isinstance(a, n.Neg):
            return a.operand
        if is_zero(a):
            return a
        return n.Neg(a, shape=a.shape)

    def add(self, a: n.Node, b: n.Node) -> n.Node:
        shape = b.shape if a.shape.is_scalar else a.shape
        if is_zero(a) and b.shape == shape:
            return b
        if is_zero(b) and a.shape == shape:
            return a
        va, vb = number_value(a), number_value(b)
        if va is not None and vb is not None:
            return number(va + vb)
        if a == b:
            return self.scale(number(2), a)
        return n.Add(a, b, shape=shape)

    def sub(self, a: n.Node, b: n.Node) -> n.Node:
        return self.add(a, self.neg(b))

    def scale(self, s: n.Node, a: n.Node) -> n.Node:
        """s a for a scalar s (either argument may be the scalar)."""
        if not s.shape.is_scalar:
            s, a = a, s
        s, a = _folded(s), _folded(a)  # 1/2 is the number ½, whatever wrote it
        vs, va = number_value(s), number_value(a)
        if vs is not None and va is not None:
            return number(vs * va)
        if vs == 0 or va == 0 or is_zero(a):  # 0 u is a zero of u's shape, never the number 0 (u^0's slope)
            shape = a.shape if not a.shape.is_scalar else s.shape
            return ZERO if shape.is_scalar else n.Fill(ZERO, shape=shape)
        if vs == 1:
            return a
        if va == 1 and a.shape.is_scalar:
            return s
        if vs is not None and vs < 0:
            return self.neg(self.scale(number(-vs), a))
        if isinstance(a, n.Neg):
            return self.neg(self.scale(s, a.operand))
        if isinstance(s, n.Neg):
            return self.neg(self.scale(s.operand, a))
        if isinstance(a, n.ScalarMul) and vs is not None and (v_left := number_value(a.left)) is not None:
            return self.scale(number(vs * v_left), a.right)
        inner = _buried_number(a)
        if inner is not None:  # 2 (λ (½ w)) = λ w: every number of a product in one coefficient
            value, rest = inner
            return self.scale(
                number((vs if vs is not None else 1) * value), rest if vs is not None else self.scale(s, rest)
            )
        if isinstance(s, n.Divide) and is_one(s.left) and not a.shape.is_scalar:
            softmax = self._absorbed_softmax(s.right, a)
            if softmax is not None:  # (1 / sum(exp(u))) exp(u) = softmax(u), also inside a product
                return softmax
        for factor, quotient in ((s, a), (a, s)):  # s (u / s) = u, s^p (u / s^q) = s^(p-q) u
            if isinstance(quotient, n.Divide) and quotient.right.shape.is_scalar and factor.shape.is_scalar:
                if factor == quotient.right:
                    return quotient.left
                cancelled = self._quotient_of_powers(factor, quotient.right)
                if isinstance(cancelled, n.Divide):  # a power left below the line: u / s^(q-p)
                    return self.divide(quotient.left, cancelled.right)
                if cancelled is not None:
                    return self.scale(cancelled, quotient.left)
        if va is not None and vs is None:  # numbers first: 2 x, not x 2
            s, a = a, s
        if a.shape.is_scalar and vs is None and va is None:
            for reciprocal, other in ((s, a), (a, s)):  # (1 / b) a = a / b, for scalars
                if (
                    isinstance(reciprocal, n.Divide)
                    and is_one(reciprocal.left)
                    and logistic_operand(other, reciprocal.right) is not None
                ):
                    return self.divide(other, reciprocal.right)
            power = _scalar_power_of_same(s, a)  # cos(a) cos(a) = cos(a)^2
            if power is not None:
                return self.power(power[0], number(power[1]))
        return n.ScalarMul(s, a, shape=a.shape if not a.shape.is_scalar else s.shape)

    def matmul(self, a: n.Node, b: n.Node) -> n.Node:
        if a.shape.is_scalar or b.shape.is_scalar:
            return self.scale(a, b)
        if self._sums_to_one(a, b):
            return ONE
        if (_is_ones(a) and a.shape.is_row and _entries_cancel(b)) or (
            _is_ones(b) and b.shape.is_column and _entries_cancel(a)
        ):
            return number(0)  # 𝟏ᵀ(x - mean(x)) = 0: deviations from the mean sum to nothing
        if _is_ones(a) and _is_ones(b) and a.shape.is_row and b.shape.is_column:  # 𝟏ᵀ𝟏 = n
            size = a.shape.cols
            return number(size) if isinstance(size, int) else n.DimSize(str(size))
        if isinstance(b, n.MatMul):  # products associate to the left: ((A B) C) x
            return self.matmul(self.matmul(a, b.left), b.right)
        if isinstance(a, n.Identity):
            return b
        if isinstance(b, n.Identity):
            return a
        if isinstance(a, n.Neg):
            return self.neg(self.matmul(a.operand, b))
        if isinstance(b, n.Neg):
            return self.neg(self.matmul(a, b.operand))
        if isinstance(a, n.ScalarMul) and a.left.shape.is_scalar:
            return self.scale(a.left, self.matmul(a.right, b))
        if isinstance(b, n.ScalarMul) and b.left.shape.is_scalar:
            return self.scale(b.left, self.matmul(a, b.right))
        merged = self._power_of_same(a, b)  # A A = A^2, A^2 A = A^3, M^-1 M = I
        if merged is not None:
            return merged
        if isinstance(a, n.MatMul):  # ((A B) C): B and C are neighbours across the association
            merged = self._power_of_same(a.right, b)
            if merged is not None:
                return self.matmul(a.left, merged)
        shortened = self._into_inverse(a, b)
        if shortened is not None:
            return shortened
        return n.MatMul(a, b, shape=Shape(a.shape.rows, b.shape.cols))

    def _into_inverse(self, a: n.Node, b: n.Node) -> n.Node | None:
        """M (N M)⁻¹ = N⁻¹ and (M N)⁻¹ M = N⁻¹ for square factors (the inverse of a product of square
        matrices is the product of their inverses, each invertible when the product is): B(AQB)⁻¹A = Q⁻¹,
        so d det(AQB) = det(AQB) Q⁻ᵀ (Cookbook (51)). None when no factor meets its own inverse."""
        last = a.right if isinstance(a, n.MatMul) else a
        product = _inverted_product(self, b)
        if product is not None and all(f.shape.is_square for f in product) and len(product) > 1 and product[-1] == last:
            inverse = self.inverse(reduce(self.matmul, product[:-1]))
            return self.matmul(a.left, inverse) if isinstance(a, n.MatMul) else inverse
        first = n.flatten(b, n.MatMul)[0]
        product = _inverted_product(self, a)
        if product is not None and all(f.shape.is_square for f in product) and len(product) > 1 and product[0] == first:
            inverse = self.inverse(reduce(self.matmul, product[1:]))
            rest = n.flatten(b, n.MatMul)[1:]
            return reduce(self.matmul, rest, inverse)
        return None

    def _power_of_same(self, a: n.Node, b: n.Node) -> n.Node | None:
        """M^(p+q) when a is M^p and b is M^q (or both their transposes, or M is symmetric), for p and q
        both positive (A A = A², A² A = A³, Aᵀ Aᵀ = (A²)ᵀ) or of opposite signs (M⁻¹ M = I, M M⁻¹ = I,
        M⁻ᵀ Mᵀ = I, M⁻¹ M² = M, (M²)⁻¹ M = M⁻¹). Two inverses stay as they are (M⁻¹ M⁻¹, not M⁻²).
        None when a and b are not powers of one matrix."""
        if not a.shape.is_square or a.shape.is_scalar or not b.shape.is_square:
            return None
        (base, t_a, p), (base_b, t_b, q) = _matrix_power_parts(a), _matrix_power_parts(b)
        if base != base_b or (p < 0 and q < 0) or (t_a != t_b and not self.is_symmetric(base)):
            return None
        if p + q == 0:
            return n.Identity(shape=a.shape)
        power = self.matpower(base, p + q)
        return self.transpose(power) if t_a else power

    def _sums_to_one(self, a: n.Node, b: n.Node) -> bool:
        """1'y or y'1 for a onehot or simplex y."""

        def ones_row(node: n.Node) -> bool:
            if isinstance(node, n.Transpose):
                node = node.operand
            return isinstance(node, n.Fill) and is_one(node.value) and node.shape.is_vector

        def unit(node: n.Node) -> bool:
            return isinstance(node, n.Var) and node.name in self.unit_sums

        def ones_column(node: n.Node) -> bool:
            return isinstance(node, n.Fill) and is_one(node.value) and node.shape.is_column

        return (ones_row(a) and unit(b)) or (isinstance(a, n.Transpose) and unit(a.operand) and ones_column(b))

    def hadamard(self, a: n.Node, b: n.Node) -> n.Node:
        if a.shape.is_scalar or b.shape.is_scalar:
            return self.scale(a, b)
        if is_reciprocal_of(a, b) or is_reciprocal_of(b, a):
            return n.Fill(ONE, shape=a.shape)
        if isinstance(a, n.Fill) and is_one(a.value):
            return b
        if isinstance(b, n.Fill) and is_one(b.value):
            return a
        if _is_elementwise_reciprocal(b) and not _is_elementwise_reciprocal(a):
            return self.divide(a, b.right)  # a ⊙ (1 ⊘ b) = a ⊘ b
        if _is_elementwise_reciprocal(a) and not _is_elementwise_reciprocal(b):
            return self.divide(b, a.right)
        return n.Hadamard(a, b, shape=a.shape)

    def divide(self, a: n.Node, b: n.Node) -> n.Node:
        if is_one(b):
            return a
        if isinstance(b, n.Neg) and b.shape.is_scalar:  # a / (-s) = -(a / s)
            return self.neg(self.divide(a, b.operand))
        if isinstance(b, n.ScalarMul) and (v_left := number_value(b.left)) is not None and v_left != 0:
            return self.scale(number(1 / v_left), self.divide(a, b.right))  # a / (2 u) = 1/2 (a / u)
        va, vb = number_value(a), number_value(b)
        if va is not None and vb is not None and vb != 0:
            return number(va / vb)
        logistic = logistic_operand(a, b)
        if logistic is not None:  # exp(u) ⊘ (1 + exp(u)) = σ(u)
            return self.apply("sigmoid", logistic)
        reciprocal = reciprocal_logistic_operand(b)
        if reciprocal is not None and (is_one(a) or (isinstance(a, n.Fill) and is_one(a.value))):
            return self.apply("sigmoid", reciprocal)  # 1 ⊘ (1 + exp(-u)) = σ(u)
        softmax = self._absorbed_softmax(b, a) if b.shape.is_scalar and not a.shape.is_scalar else None
        if softmax is not None:  # exp(u) / sum(exp(u)) = softmax(u)
            return softmax
        if a.shape == b.shape:
            cancelled = self._quotient_of_powers(a, b)
            if cancelled is not None:  # u ⊘ u³ = 1 ⊘ u², u³ ⊘ u = u²
                return cancelled
        shape = b.shape if a.shape.is_scalar else a.shape
        return n.Divide(a, b, shape=shape)

    def _absorbed_softmax(self, denominator: n.Node, a: n.Node) -> n.Node | None:
        """a / denominator with each exp(u) that a product a holds at an end (or on a diagonal) divided by one
        sum(exp(u)) of denominator = sum(exp(u))^k: (1 / sum(exp(u))) M exp(u) = M softmax(u),
        exp(u) exp(u)ᵀ / sum(exp(u))² = softmax(u) softmax(u)ᵀ. None when no exp(u) takes one."""
        total, k = _integer_power(denominator)
        exps = _sum_of(total)
        if exps is None or k < 1:
            return None
        if not (isinstance(exps, n.Apply) and exps.function == "exp" and exps.shape.is_column):
            return None

        def absorb(node: n.Node, k: int) -> tuple[n.Node, int]:
            if k == 0:
                return node, 0
            if node == exps:
                return n.Softmax(exps.operand, shape=node.shape), k - 1
            if isinstance(node, n.Transpose) and node.operand == exps:
                return self.transpose(n.Softmax(exps.operand, shape=exps.shape)), k - 1
            if isinstance(node, n.DiagMatrix) and node.operand == exps:
                return self.diag_matrix(n.Softmax(exps.operand, shape=exps.shape)), k - 1
            if isinstance(node, n.MatMul):
                right, k = absorb(node.right, k)
                left, k = absorb(node.left, k)
                if left is not node.left or right is not node.right:
                    return self.matmul(left, right), k
            return node, k

        absorbed, left = absorb(a, k)
        if left == k:
            return None
        return absorbed if left == 0 else self.divide(absorbed, self.power(total, number(left)))

    def _quotient_of_powers(self, a: n.Node, b: n.Node) -> n.Node | None:
        """u^(p-q) when a is u^p and b is u^q for whole p and q (u counts as u^1), written with a positive
        exponent: u^(p-q), 1 ⊘ u^(q-p), or ones; None when a and b are not powers of one base."""
        (base, p), (base_b, q) = _integer_power(a), _integer_power(b)
        if base != base_b or number_value(base) is not None:
            return None
        if p == q:
            return self.fill(ONE, a.shape)
        if p > q:
            return self.power(base, number(p - q))
        return n.Divide(ONE, self.power(base, number(q - p)), shape=a.shape)

    def power(self, a: n.Node, p: n.Node) -> n.Node:
        vp = number_value(p)
        if vp == 1:
            return a
        if vp == 0:
            return ONE if a.shape.is_scalar else n.Fill(ONE, shape=a.shape)
        base, inner = _integer_power(a)
        if base is not a and vp is not None and vp.denominator == 1:  # (u^a)^b = u^(ab) for whole a and b
            return self.power(base, number(inner * vp))
        return n.Power(a, p, shape=a.shape if not a.shape.is_scalar else p.shape)

    def transpose(self, a: n.Node) -> n.Node:
        if a.shape.is_scalar or isinstance(a, (n.Identity, n.DiagMatrix)):
            return a
        if isinstance(a, n.Transpose):
            return a.operand
        if isinstance(a, n.Var) and a.name in self.symmetric:
            return a
        if isinstance(a, n.Neg):
            return self.neg(self.transpose(a.operand))
        if isinstance(a, n.ScalarMul):  # either side may be the scalar
            return self.scale(self.transpose(a.left), self.transpose(a.right))
        if isinstance(a, n.MatMul) and self._transposes_cancel(a):  # (x'A)' = A'x
            return self.matmul(self.transpose(a.right), self.transpose(a.left))
        if isinstance(a, n.Fill):
            return n.Fill(a.value, shape=a.shape.transposed())
        if isinstance(a, (n.Inverse, n.MatPower, n.Apply, n.MatMul, n.Add)) and self.is_symmetric(a):
            return a
        return n.Transpose(a, shape=a.shape.transposed())

    def _transposes_cancel(self, a: n.MatMul) -> bool:
        """Whether (l r)' = r' l' has fewer transposes: true when l or r is itself transposed, or l is a row
        of ones (written 𝟏ᵀ: (𝟏ᵀW)ᵀ = Wᵀ𝟏)."""
        ones_row = isinstance(a.left, n.Fill) and a.left.shape.is_row and not a.left.shape.is_scalar
        return isinstance(a.left, n.Transpose) or isinstance(a.right, n.Transpose) or ones_row

    def push_transposes(self, a: n.Node) -> n.Node:
        """The same expression with transposes moved down to the leaves: (A x)' = x' A'."""
        if isinstance(a, n.Transpose):
            inner = a.operand
            if isinstance(inner, n.MatMul):
                return self.matmul(
                    self.push_transposes(self.transpose(inner.right)), self.push_transposes(self.transpose(inner.left))
                )
            if isinstance(inner, (n.Neg, n.ScalarMul)):
                return self.push_transposes(inner.map_children(self.transpose, shape=a.shape))
            flipped = self.transpose(inner)
            return a if isinstance(flipped, n.Transpose) and flipped.operand is inner else flipped
        children = list(a.children())
        pushed = [self.push_transposes(child) for child in children]
        if all(new is old for new, old in zip(pushed, children)):
            return a  # nothing moved: the node itself, not a copy (most terms of a long sum)
        replacements = iter(pushed)
        return a.map_children(lambda _: next(replacements))

    def is_symmetric(self, a: n.Node) -> bool:
        """Whether a' = a is known: a symmetric variable, I, a diagonal, and functions of them."""
        if isinstance(a, n.Var):
            return a.name in self.symmetric
        if isinstance(a, (n.Identity, n.DiagMatrix)):
            return True
        if isinstance(a, (n.Inverse, n.MatPower)):
            return self.is_symmetric(a.operand if isinstance(a, n.Inverse) else a.base)
        if isinstance(a, n.Apply):
            return self.is_symmetric(a.operand)
        if isinstance(a, n.MatMul):  # XᵀX and X Xᵀ (Gram matrices), XᵀS X for a symmetric S: palindromes
            factors = n.flatten(a, n.MatMul)
            half = len(factors) // 2
            if any(self.transpose(factors[i]) != factors[-1 - i] for i in range(half)):
                return False
            return len(factors) % 2 == 0 or self.is_symmetric(factors[half])
        if isinstance(a, n.Add):  # A + Aᵀ, and sums of symmetric matrices
            left, right = a.left, a.right
            if (isinstance(right, n.Transpose) and right.operand == left) or (
                isinstance(left, n.Transpose) and left.operand == right
            ):
                return True
            return self.is_symmetric(left) and self.is_symmetric(right)
        if isinstance(a, n.Neg):
            return self.is_symmetric(a.operand)
        if isinstance(a, n.ScalarMul):
            return self.is_symmetric(a.right if a.left.shape.is_scalar else a.left)
        return False

    def inverse(self, a: n.Node) -> n.Node:
        if isinstance(a, n.Inverse):
            return a.operand
        if isinstance(a, n.Neg):  # (-A)⁻¹ = -A⁻¹
            return self.neg(self.inverse(a.operand))
        if isinstance(a, n.Identity):
            return a
        return n.Inverse(a, shape=a.shape)

    def matpower(self, a: n.Node, p: int) -> n.Node:
        if p == 0:
            return n.Identity(shape=a.shape)
        if p == 1:
            return a
        if p == -1:
            return self.inverse(a)
        if isinstance(a, n.Transpose):  # (Aᵀ)^k = (A^k)ᵀ, as the Cookbook writes it
            return self.transpose(self.matpower(a.operand, p))
        return n.MatPower(a, p, shape=a.shape)

    def apply(self, function: str, a: n.Node) -> n.Node:
        return n.Apply(function, a, shape=a.shape)

    def diag_matrix(self, v: n.Node) -> n.Node:
        if isinstance(v, n.Neg):
            return self.neg(self.diag_matrix(v.operand))
        if isinstance(v, n.ScalarMul) and v.left.shape.is_scalar:
            return self.scale(v.left, self.diag_matrix(v.right))
        size = v.shape.rows if v.shape.is_column else v.shape.cols
        if is_zero(v):
            return n.Fill(ZERO, shape=Shape(size, size))
        if _is_ones(v):  # diag(𝟏) = I
            return n.Identity(shape=Shape(size, size))
        return n.DiagMatrix(v, shape=Shape(size, size))

    def trace(self, a: n.Node) -> n.Node:
        """tr(a), its product turned cyclically to start at an inverse, as the Cookbook writes
        d log det M = tr(M⁻¹ dM): tr(B M⁻¹) is tr(M⁻¹ B). Of several inverses it starts at one that
        the product then also ends at (tr(M⁻¹ B M⁻¹), not tr(M⁻¹ M⁻¹ B)); turned, neighbours may
        cancel (tr(M⁻¹ B M) = tr(B))."""
        if isinstance(a, n.Identity):  # tr(I_n) = n
            return self._size(a.shape.rows)
        factors = n.flatten(a, n.MatMul)
        starts = [k for k, f in enumerate(factors) if _is_inverse(f)]
        if len(factors) < 2 or not starts:
            return n.Trace(a, shape=SCALAR)
        start = next((k for k in starts if _is_inverse(factors[k - 1])), starts[0])
        if start == 0:
            return n.Trace(a, shape=SCALAR)
        return n.Trace(reduce(self.matmul, factors[start:] + factors[:start]), shape=SCALAR)

    def _size(self, dim) -> n.Node:
        """A dimension's size as a scalar: a number, a size name, or (m·n, of Kronecker factors) their product."""
        if isinstance(dim, str) and "·" in dim:
            return reduce(self.scale, [self._size(int(part) if part.isdigit() else part) for part in dim.split("·")])
        return number(dim) if isinstance(dim, int) else n.DimSize(str(dim))

    def det(self, a: n.Node) -> n.Node:
        return n.Det(a, shape=SCALAR)

    def fill(self, value: n.Node, shape: Shape) -> n.Node:
        return value if shape.is_scalar else n.Fill(value, shape=shape)

    def identity(self, size) -> n.Node:
        return n.Identity(shape=Shape(size, size))
