"""The elementwise functions' slopes: f'(u) for each f the language knows, as an expression in u.

Both the differentiator (the chain rule through f(u)) and the simplifier (a slope recognised, written
after its function: (Wᵀδ) ⊙ σ′(z)) read this one table.
"""

from __future__ import annotations

from .. import nodes as n
from ..errors import UnsupportedError
from .builder import ONE, Builder, number


def elementwise_slope(b: Builder, node: n.Apply) -> n.Node | None:
    """f'(u) for an elementwise f(u), as an expression in u (or in f(u) where that is shorter)."""
    u, f = node.operand, node.function
    one = ONE
    if f == "exp":
        return node
    if f == "log":
        return b.divide(one, u)
    if f == "sin":
        return b.apply("cos", u)
    if f == "cos":
        return b.neg(b.apply("sin", u))
    if f == "tan":
        return b.add(one, b.power(node, number(2)))
    if f == "tanh":
        return b.sub(one, b.power(node, number(2)))
    if f in ("arcsin", "arccos"):
        slope = b.divide(one, b.apply("sqrt", b.sub(one, b.power(u, number(2)))))
        return slope if f == "arcsin" else b.neg(slope)
    if f == "arctan":
        return b.divide(one, b.add(one, b.power(u, number(2))))
    if f == "sqrt":
        return b.divide(one, b.scale(number(2), node))
    if f == "sigmoid":
        return b.hadamard(node, b.sub(one, node)) if not node.shape.is_scalar else b.scale(node, b.sub(one, node))
    if f == "relu":
        return b.apply("step", u)
    if f == "abs":
        return b.apply("sign", u)
    if f in ("sign", "step"):
        return None  # zero wherever it is differentiable
    if n.is_unspecified(f):
        return b.apply(f + "'", u)  # d f(u) = f'(u) du
    raise UnsupportedError(f"matcalc cannot differentiate {f} yet", span=node.span)
