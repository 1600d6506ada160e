"""Division written as a textbook writes it (issue 11): `P x / sqrt(xᵀP x)`, `Aᵀ(A x - b) / ‖A x - b‖`,
`1 / (2 sqrt(a))`, rather than a reciprocal coefficient `(1 / sqrt(xᵀP x)) P x`.

- (1 / s) u = u / s, and A (u / s) = (A u) / s, for a scalar s that is not a single symbol;
- c (u / s) = (p u) / (q s) for a number c = p/q: ½ (1 / √a) = 1 / (2√a); a fraction's number joins
  an elementwise quotient, in a diagonal too: ½ diag(1 ⊘ √x) = diag(1 ⊘ (2√x)) (P&H §4.5.2);
- c ((1 / N) u) = (c / N) u for a single symbol N: -2 (1/N) u is -(2/N) u.
A single symbol's reciprocal stays a coefficient in front, (1/m) Xᵀ(X w - y), as the sources print it.
"""

from __future__ import annotations

from .. import nodes as n
from ..build import Builder, number, number_value
from .walk import bottom_up

_SYMBOLS = (n.Var, n.DimSize, n.Const)


def divisions(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("sqrt(x'P x)", wrt="x", let="P: symmetric(n)", layout="denominator").text
    "P x / sqrt(x'P x)"
    """
    return bottom_up(node, lambda current: _division(current, build), keep)


def _reciprocal(node: n.Node) -> n.Node | None:
    """s for 1 / s, a scalar s."""
    if isinstance(node, n.Divide) and number_value(node.left) == 1 and node.right.shape.is_scalar:
        return node.right
    return None


def _scalar_quotient(node: n.Node) -> bool:
    return isinstance(node, n.Divide) and node.right.shape.is_scalar and not isinstance(node.right, _SYMBOLS)


def _elementwise_quotient(node: n.Node) -> bool:
    return isinstance(node, n.Divide) and node.right.shape == node.shape and not node.shape.is_scalar


def _division(node: n.Node, build: Builder) -> n.Node:
    if isinstance(node, n.ScalarMul):
        scalar, other = (node.left, node.right) if node.left.shape.is_scalar else (node.right, node.left)
        divisor = _reciprocal(scalar)
        if divisor is not None and not isinstance(divisor, _SYMBOLS):
            return n.Divide(other, divisor, shape=node.shape)  # (1 / s) u = u / s
        value = number_value(scalar)
        if value is not None and _scalar_quotient(other) or value is not None and value.denominator != 1 and \
                _elementwise_quotient(other):
            top = build.scale(number(value.numerator), other.left)
            bottom = build.scale(number(value.denominator), other.right)
            return n.Divide(top, bottom, shape=other.shape)  # c (u / s) = (p u) / (q s)
        if value is not None and value.denominator != 1 and isinstance(other, n.DiagMatrix) and \
                _elementwise_quotient(other.operand):  # ½ diag(1 ⊘ √x) = diag(1 ⊘ (2√x))
            return n.DiagMatrix(_division(n.ScalarMul(scalar, other.operand, shape=other.operand.shape), build),
                                shape=other.shape)
        if value is not None and isinstance(other, n.ScalarMul) and value.denominator == 1:
            inner = _reciprocal(other.left)
            if inner is not None and isinstance(inner, _SYMBOLS):  # c ((1/N) u) = (c/N) u
                return n.ScalarMul(n.Divide(number(value), inner, shape=inner.shape), other.right, shape=node.shape)
    if isinstance(node, n.MatMul):
        if _scalar_quotient(node.right):  # A (u / s) = (A u) / s
            return n.Divide(build.matmul(node.left, node.right.left), node.right.right, shape=node.shape)
        if _scalar_quotient(node.left):
            return n.Divide(build.matmul(node.left.left, node.right), node.left.right, shape=node.shape)
    return node
