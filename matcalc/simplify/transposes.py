"""A transpose taken out where every part of a sum or a long product is transposed:
`softmax(o)ᵀ - yᵀ` is `(softmax(o) - y)ᵀ`, `BᵀQᵀ + QᵀBᵀ` is `(Q B + B Q)ᵀ` (Cookbook (107)),
`-Q⁻ᵀBᵀRᵀQ⁻ᵀ` is `-(Q⁻¹R B Q⁻¹)ᵀ` (Cookbook (124)).

A sum is written transposed when each of its terms has fewer transpose marks transposed; a product
chain when it has three or more factors and each is transposed (AᵀBᵀ, the Cookbook's own form for
∂tr(AXB)/∂X, stays).
"""

from __future__ import annotations

from functools import reduce

from .. import nodes as n
from ..algebra.builder import Builder
from ..shapes import Shape
from .sums import signed_term, signed_terms, with_terms_grouped
from .walk import bottom_up

_MIN_CHAIN = 3  # factors of a product written as one transpose


def transposes_out(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("-y' log(softmax(o))", wrt="o", let="y: onehot(n)").text
    "(softmax(o) - y)'"
    """
    inner_products = {
        child
        for sub in n.walk(node)
        if isinstance(sub, n.MatMul)
        for child in sub.children()
        if isinstance(child, n.MatMul)
    }

    def rewrite(current: n.Node) -> n.Node:
        if current.shape.is_scalar or (current.shape.is_column and not isinstance(current, n.Add)):
            return current
        if isinstance(current, n.Add):
            return _transposed_terms_out(current, build)
        if isinstance(current, n.MatMul) and current not in inner_products:
            factors = n.flatten(current, n.MatMul)
            if len(factors) >= _MIN_CHAIN and all(_reduces(f, build) for f in factors):
                product = reduce(
                    lambda a, b: n.MatMul(a, b, shape=Shape(a.shape.rows, b.shape.cols)),
                    [flipped(f, build) for f in reversed(factors)],
                )
                return n.Transpose(product, shape=current.shape)
        return current

    return bottom_up(node, rewrite, keep)


def _transposed_terms_out(node: n.Add, build: Builder) -> n.Node:
    """(a + b)ᵀ for a sum of aᵀ and bᵀ; in a sum where only some terms are transposed, those taken out
    together (2I + aᵀ + bᵀ = 2I + (a + b)ᵀ), wherever they stand: the terms' order does not decide it."""
    terms = signed_terms(node)
    reducing = [_reduces(core, build) for _, core in terms]
    if all(reducing):
        return n.Transpose(flipped(node, build), shape=node.shape)
    if sum(reducing) < 2:
        return node
    group = [k for k, r in enumerate(reducing) if r]
    inner = reduce(lambda a, b: n.Add(a, b, shape=node.shape), [signed_term(*terms[k]) for k in group])
    return with_terms_grouped(node, [group], [n.Transpose(flipped(inner, build), shape=node.shape)])


def marks(node: n.Node) -> int:
    """The transpose marks the node is written with (X⁻ᵀ is one)."""
    return sum(isinstance(sub, n.Transpose) for sub in n.walk(node))


def _reduces(node: n.Node, build: Builder) -> bool:
    own = marks(node)
    return own > 0 and marks(flipped(node, build)) < own  # with no mark to lose, nothing to flip


def flipped(node: n.Node, build: Builder) -> n.Node:
    """node transposed, with the transposes moved in as far as they go: (A x + Bᵀy)ᵀ = xᵀAᵀ + yᵀB."""
    shape = node.shape.transposed()
    if node.shape.is_scalar or isinstance(node, (n.Identity, n.DiagMatrix)) or build.is_symmetric(node):
        return node
    match node:
        case n.Transpose(operand=operand):
            return operand
        case n.MatMul(left=left, right=right):
            return n.MatMul(flipped(right, build), flipped(left, build), shape=shape)
        case n.Inverse(operand=operand):
            return n.Inverse(flipped(operand, build), shape=shape)
        case n.MatPower(base=base, exponent=exponent):
            return n.MatPower(flipped(base, build), exponent, shape=shape)
        case n.Fill(value=value):
            return n.Fill(value, shape=shape)
        case n.Neg() | n.Add() | n.ScalarMul() | n.Hadamard() | n.Divide() | n.Power() | n.Apply():
            # elementwise in their non-scalar operands: (u ⊙ v)ᵀ = uᵀ ⊙ vᵀ, f(u)ᵀ = f(uᵀ)
            return node.map_children(lambda child: flipped(child, build), shape=shape)
    return n.Transpose(node, shape=shape)
