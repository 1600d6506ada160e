"""A minus sign stands in front of a term, never inside one of its factors: -Xᵀdiag(σ ⊙ (1 - σ))X, not
Xᵀdiag(-(σ ⊙ (1 - σ)))X, and -C X M(H + Hᵀ)M, not C X M(-H - Hᵀ)M (Cookbook (125)). The other rules may
leave a sign inside; this one is last."""

from __future__ import annotations

from typing import cast

from .. import nodes as n
from ..algebra.builder import Builder
from .walk import bottom_up

_PRODUCTS = (n.MatMul, n.ScalarMul, n.Hadamard)


def signs_out(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc.simplify.signs import signs_out
    >>> from matcalc.algebra.builder import Builder
    >>> from matcalc.api import parse
    >>> from matcalc.render.text import expression_text
    >>> expression_text(signs_out(parse("A diag(-x) A").expr, Builder()))
    '-A diag(x) A'
    """
    return bottom_up(node, _sign_out, keep)


def _all_negative(node: n.Add) -> bool:
    return all(isinstance(term, n.Neg) for term in n.flatten(node, n.Add))


def _negated_terms(node: n.Node) -> n.Node:
    """-a - b as a + b (every term of node negative)."""
    if isinstance(node, n.Add):
        return n.Add(_negated_terms(node.left), _negated_terms(node.right), shape=node.shape)
    return cast(n.Neg, node).operand  # a term: negative, as _all_negative checked


def _negative_sum(child: n.Node) -> bool:
    return isinstance(child, n.Add) and _all_negative(child)


def _sign_out(node: n.Node) -> n.Node:
    # M(-H - Hᵀ)M = -M(H + Hᵀ)M; a node with no such operand is kept, not copied
    if isinstance(node, (*_PRODUCTS, n.DiagMatrix, n.Transpose)) and any(map(_negative_sum, node.children())):
        node = node.map_children(
            lambda child: n.Neg(_negated_terms(child), shape=child.shape) if _negative_sum(child) else child
        )
    if isinstance(node, n.Neg) and isinstance(node.operand, n.Neg):
        return node.operand.operand
    if isinstance(node, (n.DiagMatrix, n.Transpose)) and isinstance(node.operand, n.Neg):
        unsigned_operand = node.operand.operand
        return n.Neg(node.map_children(lambda _: unsigned_operand), shape=node.shape)
    if isinstance(node, _PRODUCTS) and (isinstance(node.left, n.Neg) or isinstance(node.right, n.Neg)):
        negatives = isinstance(node.left, n.Neg) + isinstance(node.right, n.Neg)
        unsigned = node.map_children(lambda child: child.operand if isinstance(child, n.Neg) else child)
        return unsigned if negatives == 2 else n.Neg(unsigned, shape=node.shape)
    return node
