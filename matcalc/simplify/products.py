"""The scalar factors of a product as authors write them: equal factors a power (a a = a²,
s s = s²), then in the order numbers, symbols and their powers, polynomials in them, then the rest
(functions, norms, determinants): -a exp(-a²/2), s² σ(u)(1 - σ(u)) x xᵀ, (a² - 1) exp(-a²/2).
A scalar that is a product of vectors (1ᵀy, xᵀA x) keeps its place after a vector or matrix. The
logistic identities of collect.logistic_written apply: s² exp(-u) σ(u)² = s² σ(u)(1 - σ(u)).

Where a scalar divisor cancels a factor above the line, the product is one quotient whose divisors are
powers, each term over its own divisor as the sources print it: the gradient of cosine similarity is
y / (‖x‖ ‖y‖) - (xᵀy) x / (‖x‖³ ‖y‖), not one bracket over a common ‖x‖ ‖y‖. A scalar sum of products of
sums is multiplied out where its terms cancel and it gets shorter: (1 - c)σ - c(1 - σ) = σ - c."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from functools import reduce

from .. import nodes as n
from ..algebra.builder import Builder, constant_value, is_one, number
from .collect import logistic_written
from .elementwise import slope_factors
from .walk import bottom_up

_SYMBOLS = (n.Var, n.DimSize, n.Const)


def scalar_products(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("exp(-a^2/2)", wrt="a", let="a: scalar").text
    '-a exp(-a^2 / 2)'
    """
    inner = {
        child
        for sub in n.walk(node)
        if isinstance(sub, n.ScalarMul)
        for child in sub.children()
        if isinstance(child, n.ScalarMul)
    }

    def rewrite(current: n.Node) -> n.Node:
        if isinstance(current, n.ScalarMul) and current not in inner:
            return _ordered(current, build)
        if isinstance(current, n.Add) and current.shape.is_scalar:
            return _multiplied_out(current, build)
        if isinstance(current, n.DiagMatrix) and isinstance(current.operand, (n.ScalarMul, n.Neg)):
            return build.diag_matrix(current.operand)  # diag(a v) = a diag(v), as the Builder writes it
        return current

    return bottom_up(node, rewrite, keep)


_Monomial = tuple[tuple[n.Node, int], ...]  # factors and their powers, in the order first met
_Polynomial = dict[frozenset[tuple[n.Node, int]], tuple[_Monomial, Fraction]]  # keyed whatever the order
_MAX_MONOMIALS = 8


def _multiplied_out(node: n.Add, build: Builder) -> n.Node:
    """A scalar sum of products of sums multiplied out, where that is shorter because terms cancel:
    (1 - c)σ - c(1 - σ) = σ - c (the logistic loss with a label c, PRML (4.91))."""
    polynomial = _polynomial(node)
    if polynomial is None:
        return node
    terms = [
        reduce(lambda acc, f: build.scale(acc, f), (_power(b, k, build) for b, k in monomial), number(c))
        for monomial, c in polynomial.values()
        if c != 0
    ]
    if not terms:
        return number(0)
    written = reduce(build.add, terms)
    return written if n.size(written) < n.size(node) else node


def _power(base: n.Node, k: int, build: Builder) -> n.Node:
    return base if k == 1 else build.power(base, number(k))


def _polynomial(node: n.Node) -> _Polynomial | None:
    """The scalar node as a polynomial in its factors that are not sums, products or numbers; None when
    it has too many terms to be worth multiplying out."""
    if (value := constant_value(node)) is not None:
        return {frozenset(): ((), value)}
    if isinstance(node, n.Neg):
        inner = _polynomial(node.operand)
        return None if inner is None else {key: (m, -c) for key, (m, c) in inner.items()}
    if isinstance(node, n.Add) and node.left.shape.is_scalar and node.right.shape.is_scalar:
        left, right = _polynomial(node.left), _polynomial(node.right)
        if left is None or right is None:
            return None
        total = dict(left)
        for key, (m, c) in right.items():
            total[key] = (total[key][0], total[key][1] + c) if key in total else (m, c)
        return total if len(total) <= _MAX_MONOMIALS else None
    if isinstance(node, n.ScalarMul) and node.left.shape.is_scalar and node.right.shape.is_scalar:
        left, right = _polynomial(node.left), _polynomial(node.right)
        if left is None or right is None or len(left) * len(right) > _MAX_MONOMIALS:
            return None
        product: _Polynomial = {}
        for ml, cl in left.values():
            for mr, cr in right.values():
                m = _times(ml, mr)
                key = frozenset(m)
                product[key] = (product[key][0], product[key][1] + cl * cr) if key in product else (m, cl * cr)
        return product
    base, power = _base_and_power(node)
    return {frozenset({(base, power)}): (((base, power),), Fraction(1))}


def _times(a: _Monomial, b: _Monomial) -> _Monomial:
    powers = dict(a)
    for base, k in b:
        powers[base] = powers.get(base, 0) + k
    return tuple(powers.items())


def _ordered(node: n.ScalarMul, build: Builder) -> n.Node:
    cancelled = _cancelled_quotient(node, build)
    if cancelled is not None:
        return cancelled
    coefficient, scalars, after, rest = Fraction(1), [], [], None
    stack: list[n.Node] = [node]
    while stack:  # left to right
        current = stack.pop()
        if isinstance(current, n.ScalarMul) and (current.left.shape.is_scalar or current.right.shape.is_scalar):
            stack += [current.right, current.left]
        elif (value := constant_value(current)) is not None:
            coefficient *= value
        elif not current.shape.is_scalar:
            rest = current
        elif isinstance(current, n.MatMul) and rest is not None and not isinstance(rest, n.Identity):
            after.append(current)  # a product of vectors keeps its place after the vector, x(xᵀy),
        else:
            scalars.append(current)  # and before it, (xᵀy) x; every scalar goes before I: (xᵀx) I
    powers = _powers(list(logistic_written(tuple(scalars))), build)  # σ(u) exp(-u) = σ(-u), ...
    slopes = slope_factors(powers, build)  # and a function's slope after it: -2tanh(a)(1 - tanh(a)²)
    ordered = sorted(powers, key=lambda f: (_rank(f), f in slopes))
    if ordered == scalars and not after and coefficient == 1:
        return node
    if not ordered and rest is None:  # no matrix and no scalar but numbers (so nothing after either)
        return number(coefficient)
    result = _product(ordered, rest, build)
    for scalar in after:
        result = n.ScalarMul(result, scalar, shape=result.shape)
    return build.scale(number(coefficient), result) if coefficient != 1 else result


def _cancelled_quotient(node: n.ScalarMul, build: Builder) -> n.Node | None:
    """A product with scalar divisors written as one quotient, equal divisors as a power, when a divisor
    cancels a factor above the line: ‖y‖ (1 / (‖x‖ ‖y‖)²)(x / ‖x‖)(xᵀy) = (xᵀy) x / (‖x‖³ ‖y‖) (cosine
    similarity's gradient). None when nothing cancels: a reciprocal stays a coefficient, (1/m) Xᵀr, and
    exp(-a) (1 / (1 + exp(-a)))² is left to the logistic identities."""
    parts = _quotient_parts(node)
    if parts is None:
        return None
    coefficient, above, below, rest = parts
    counts_above, counts_below = Counter(above), Counter(below)
    if not set(counts_above) & set(counts_below):
        return None
    common = counts_above & counts_below
    numerator = _product(_powers(_kept(above, common), build), rest, build, sort=True)
    numerator = build.scale(number(coefficient.numerator), numerator)
    denominator = build.scale(
        number(coefficient.denominator), _product(_powers(_kept(below, common), build), None, build)
    )
    return numerator if is_one(denominator) else n.Divide(numerator, denominator, shape=node.shape)


def _kept(factors: list[n.Node], cancelled: Counter[n.Node]) -> list[n.Node]:
    """factors in their order, without those cancelled (as many times as they cancel)."""
    left = Counter(cancelled)
    kept = []
    for f in factors:
        if left[f] > 0:
            left[f] -= 1
        else:
            kept.append(f)
    return kept


def _product(scalars: list[n.Node], rest: n.Node | None, build: Builder, sort: bool = False) -> n.Node:
    ordered = sorted(scalars, key=_rank) if sort else scalars
    result = rest
    for scalar in reversed(ordered):
        result = (
            scalar
            if result is None
            else n.ScalarMul(scalar, result, shape=result.shape if not result.shape.is_scalar else scalar.shape)
        )
    return number(1) if result is None else result


def _quotient_parts(node: n.Node) -> tuple[Fraction, list[n.Node], list[n.Node], n.Node | None] | None:
    """(c, factors above the line, factors below it, the one vector or matrix) of a product of scalars,
    quotients by scalars and whole powers; None for a product of two vectors or matrices."""
    coefficient, rest = Fraction(1), None
    above: list[n.Node] = []
    below: list[n.Node] = []
    stack: list[tuple[n.Node, bool]] = [(node, True)]
    while stack:
        current, up = stack.pop()
        if isinstance(current, n.ScalarMul) and (current.left.shape.is_scalar or current.right.shape.is_scalar):
            stack += [(current.right, up), (current.left, up)]
        elif isinstance(current, n.Divide) and current.right.shape.is_scalar and (up or current.shape.is_scalar):
            stack += [(current.right, not up), (current.left, up)]
        elif (value := constant_value(current)) is not None:
            if value == 0:
                return None
            coefficient = coefficient * value if up else coefficient / value
        elif not current.shape.is_scalar:
            if rest is not None or not up:
                return None
            rest = current
        else:
            base, power = _base_and_power(current)
            if isinstance(base, (n.ScalarMul, n.Divide)):
                stack += [(base, up)] * power
            else:
                (above if up else below).extend([base] * power)
    return coefficient, above, below, rest


def _powers(factors: list[n.Node], build: Builder) -> list[n.Node]:
    """Equal factors as one power, in the place of the first: a b a = a² b."""
    exponents: dict[n.Node, int] = {}
    order: list[n.Node] = []
    for f in factors:
        base, power = _base_and_power(f)
        if base not in exponents:
            order.append(base)
            exponents[base] = 0
        exponents[base] += power
    return [
        base if exponents[base] == 1 else build.power(base, number(exponents[base]))
        for base in order
        if exponents[base] != 0
    ]


def _base_and_power(f: n.Node) -> tuple[n.Node, int]:
    if (
        isinstance(f, n.Power)
        and (exponent := constant_value(f.exponent)) is not None
        and exponent.denominator == 1
        and exponent > 0
    ):
        return f.base, int(exponent)
    return f, 1


def _rank(node: n.Node) -> int:
    """0 a symbol or its power, 1 a polynomial in symbols, 2 anything else."""
    base, _ = _base_and_power(node)
    if isinstance(base, _SYMBOLS):
        return 0
    if all(isinstance(sub, (*_SYMBOLS, n.Number, n.Add, n.Neg, n.ScalarMul, n.Power)) for sub in n.walk(node)):
        return 1
    return 2
