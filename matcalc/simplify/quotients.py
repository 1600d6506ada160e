"""Division written as a textbook writes it: `P x / sqrt(xᵀP x)`, `Aᵀ(A x - b) / ‖A x - b‖`,
`1 / (2 sqrt(a))`, rather than a reciprocal coefficient `(1 / sqrt(xᵀP x)) P x`.

- (1 / s) u = u / s, and A (u / s) = (A u) / s, for a scalar s that is not a single symbol;
- t (u / s) = (t u) / s and (u / s) t = (u t) / s: 6a² cos(a³) / sin(a³);
- c (u / s) = (p u) / (q s) for a number c = p/q: ½ (1 / √a) = 1 / (2√a), 2(x ⊘ (1 - x²)) = 2x ⊘ (1 - x²);
  a fraction's number joins an elementwise quotient in a diagonal too: ½ diag(1 ⊘ √x) = diag(1 ⊘ (2√x))
  (P&H §4.5.2);
- c ((1 / N) u) = (c / N) u for a single symbol N: -2 (1/N) u is -(2/N) u.
- (u / s)ᵀ = uᵀ / s and (u / s) / t = u / (s t): a quotient's divisor moves out to the term;
- a divisor every term of a sum has, to some power, is written once: I / ‖x‖ - x xᵀ / ‖x‖³ =
  (I - x xᵀ / ‖x‖²) / ‖x‖ (the derivative of x / ‖x‖, Cookbook (129) differentiated again);
- exp(u) s / (1 + exp(u)) = σ(u) s: the logistic sigmoid taken out of a quotient.
A single symbol's reciprocal stays a coefficient in front, (1/m) Xᵀ(X w - y), as the sources print it.
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from typing import TypeGuard, cast

from .. import nodes as n
from ..algebra.builder import Builder, logistic_operand, number, number_value
from ..shapes import Shape
from .collect import collect
from .sums import signed_terms, with_terms_grouped
from .walk import bottom_up

_SYMBOLS = (n.Var, n.DimSize, n.Const)
_PASSES = 4


def divisions(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("sqrt(x'P x)", wrt="x", let="P: symmetric(n)", layout="denominator").text
    "P x / sqrt(x'P x)"
    """
    for _ in range(_PASSES):  # a rewrite makes quotients the same pass does not visit again
        rewritten = bottom_up(node, lambda current: _division(current, build), keep)
        if rewritten == node:
            break
        node = rewritten
    return node


def _reciprocal(node: n.Node) -> n.Node | None:
    """s for 1 / s, a scalar s."""
    if isinstance(node, n.Divide) and number_value(node.left) == 1 and node.right.shape.is_scalar:
        return node.right
    return None


def _scalar_quotient(node: n.Node) -> TypeGuard[n.Divide]:
    return isinstance(node, n.Divide) and node.right.shape.is_scalar and not isinstance(node.right, _SYMBOLS)


def _elementwise_quotient(node: n.Node) -> TypeGuard[n.Divide]:
    return isinstance(node, n.Divide) and node.right.shape == node.shape and not node.shape.is_scalar


def _division(node: n.Node, build: Builder) -> n.Node:
    if isinstance(node, n.ScalarMul):
        scalar, other = (node.left, node.right) if node.left.shape.is_scalar else (node.right, node.left)
        divisor = _reciprocal(scalar)
        if divisor is not None and not isinstance(divisor, _SYMBOLS):
            return n.Divide(other, divisor, shape=node.shape)  # (1 / s) u = u / s
        if number_value(scalar) is None and _scalar_quotient(other):  # t (u / s) = (t u) / s
            return n.Divide(build.scale(scalar, other.left), other.right, shape=node.shape)
        if _scalar_quotient(node.left) and not node.left.shape.is_scalar and node.right.shape.is_scalar:
            quotient = node.left  # (u / s) t = (u t) / s, t a product kept after u: x (xᵀS x)
            return n.Divide(n.ScalarMul(quotient.left, node.right, shape=node.shape), quotient.right, shape=node.shape)
        value = number_value(scalar)
        if value is not None and (_scalar_quotient(other) or _elementwise_quotient(other)):
            top = build.scale(number(value.numerator), other.left)
            bottom = build.scale(number(value.denominator), other.right)
            return n.Divide(top, bottom, shape=other.shape)  # c (u / s) = (p u) / (q s)
        if (
            value is not None
            and value.denominator != 1
            and isinstance(other, n.DiagMatrix)
            and _elementwise_quotient(other.operand)
        ):  # ½ diag(1 ⊘ √x) = diag(1 ⊘ (2√x))
            return n.DiagMatrix(
                _division(n.ScalarMul(scalar, other.operand, shape=other.operand.shape), build), shape=other.shape
            )
        if value is not None and isinstance(other, n.ScalarMul) and value.denominator == 1:
            inner = _reciprocal(other.left)
            if inner is not None and isinstance(inner, _SYMBOLS):  # c ((1/N) u) = (c/N) u
                return n.ScalarMul(n.Divide(number(value), inner, shape=inner.shape), other.right, shape=node.shape)
    if isinstance(node, n.Transpose) and _scalar_quotient(node.operand):  # (u / s)ᵀ = uᵀ / s
        inner = node.operand
        return n.Divide(build.transpose(inner.left), inner.right, shape=node.shape)
    if isinstance(node, n.Divide) and _scalar_quotient(node) and _scalar_quotient(node.left):  # (u / s) / t
        return _division(n.Divide(node.left.left, build.scale(node.left.right, node.right), shape=node.shape), build)
    if _scalar_quotient(node):
        return _logistic_taken_out(node, build)
    if isinstance(node, n.Add):
        return _common_divisor(node, build)
    if isinstance(node, n.MatMul):
        if _scalar_quotient(node.right):  # A (u / s) = (A u) / s
            return n.Divide(build.matmul(node.left, node.right.left), node.right.right, shape=node.shape)
        if _scalar_quotient(node.left):
            return n.Divide(build.matmul(node.left.left, node.right), node.left.right, shape=node.shape)
    return node


def _powers(node: n.Node) -> tuple[n.Node, int]:
    """(s, k) for s^k with a whole k > 0; (node, 1) otherwise."""
    if (
        isinstance(node, n.Power)
        and (exponent := number_value(node.exponent)) is not None
        and exponent.denominator == 1
        and exponent > 0
    ):
        return node.base, int(exponent)
    return node, 1


def _common_divisor(node: n.Add, build: Builder) -> n.Node:
    """A divisor that several terms of a sum have, written once under them, wherever they stand in the sum:
    a / s + b + c / s = (a + c) / s + b."""
    terms = signed_terms(node)
    by_divisor: dict[n.Node, list[int]] = {}
    for k, (_, core) in enumerate(terms):
        if _scalar_quotient(core):
            by_divisor.setdefault(_powers(core.right)[0], []).append(k)
    groups = [group for group in by_divisor.values() if len(group) >= 2]
    if not groups:
        return node
    quotients = [[(terms[k][0], cast(n.Divide, terms[k][1])) for k in group] for group in groups]
    if groups == [list(range(len(terms)))]:
        return _over_divisor(quotients[0], build, node.shape)
    return with_terms_grouped(node, groups, [_over_divisor(group, build, node.shape) for group in quotients])


def _over_divisor(quotients: list[tuple[Fraction, n.Divide]], build: Builder, shape: Shape) -> n.Node:
    """Quotients by powers of one divisor, as one quotient by its lowest power."""
    divisors = [_powers(core.right) for _, core in quotients]
    base = divisors[0][0]
    lowest = min(power for _, power in divisors)
    parts = []
    for (coefficient, core), (_, power) in zip(quotients, divisors):
        left = (
            core.left
            if power == lowest
            else n.Divide(core.left, build.power(base, number(power - lowest)), shape=core.shape)
        )
        parts.append(build.scale(number(coefficient), left))
    return n.Divide(collect(parts, build), build.power(base, number(lowest)), shape=shape)


def _logistic_taken_out(node: n.Divide, build: Builder) -> n.Node:
    """σ(u) s for exp(u) s / (1 + exp(u)), the exp(u) one of the scalar factors of the numerator."""
    factors, rest = [], node.left
    while isinstance(rest, n.ScalarMul) and (rest.left.shape.is_scalar or rest.right.shape.is_scalar):
        scalar, rest = (rest.left, rest.right) if rest.left.shape.is_scalar else (rest.right, rest.left)
        factors.append(scalar)
    factors.append(rest)
    for position, factor in enumerate(factors):
        if factor.shape.is_scalar and (operand := logistic_operand(factor, node.right)) is not None:
            others = factors[:position] + factors[position + 1 :]
            sigmoid = build.apply("sigmoid", operand)
            return (
                reduce(lambda acc, f: build.scale(f, acc), reversed(others[:-1]), build.scale(sigmoid, others[-1]))
                if others
                else sigmoid
            )
    return node
