"""The scalar factors of a product as authors write them: equal factors a power (a a = a²,
s s = s²), then in the order numbers, symbols and their powers, polynomials in them, then the rest
(functions, norms, determinants): -a exp(-a²/2), s² σ(u)(1 - σ(u)) x xᵀ, (a² - 1) exp(-a²/2).
A scalar that is a product of vectors (1ᵀy, xᵀA x) keeps its place after a vector or matrix. The
logistic identities of collect.logistic_written apply: s² exp(-u) σ(u)² = s² σ(u)(1 - σ(u))."""

from __future__ import annotations

from fractions import Fraction

from .. import nodes as n
from ..algebra.builder import Builder, constant_value, number
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
    return bottom_up(
        node,
        lambda current: (
            _ordered(current, build) if isinstance(current, n.ScalarMul) and current not in inner else current
        ),
        keep,
    )


def _ordered(node: n.ScalarMul, build: Builder) -> n.Node:
    coefficient, scalars, after, rest = Fraction(1), [], [], None
    stack: list[n.Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, n.ScalarMul) and (current.left.shape.is_scalar or current.right.shape.is_scalar):
            stack += [current.right, current.left]
        elif (value := constant_value(current)) is not None:
            coefficient *= value
        elif not current.shape.is_scalar:
            rest = current
        else:
            scalars.append(current)
    if rest is not None and not isinstance(rest, n.Identity):  # every scalar before I: (xᵀx) I
        after = [s for s in scalars if isinstance(s, n.MatMul)]
        scalars = [s for s in scalars if not isinstance(s, n.MatMul)]
    powers = _powers(list(logistic_written(tuple(scalars))), build)  # σ(u) exp(-u) = σ(-u), ...
    slopes = slope_factors(powers, build)  # and a function's slope after it: -2tanh(a)(1 - tanh(a)²)
    ordered = sorted(powers, key=lambda f: (_rank(f), f in slopes))
    if ordered == scalars and not after and coefficient == 1:
        return node
    result = rest
    for scalar in reversed(ordered):
        result = (
            scalar
            if result is None
            else n.ScalarMul(scalar, result, shape=result.shape if not result.shape.is_scalar else scalar.shape)
        )
    if result is None:  # no matrix and no scalar but numbers (so nothing after either)
        return number(coefficient)
    for scalar in after:
        result = n.ScalarMul(result, scalar, shape=result.shape)
    return build.scale(number(coefficient), result) if coefficient != 1 else result


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
