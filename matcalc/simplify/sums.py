"""Sums: 𝟏ᵀv = vᵀ𝟏 = sum(v) for a scalar, as the sources write it; like terms found however their
products associate."""

from __future__ import annotations

from fractions import Fraction
from functools import reduce

from .. import nodes as n
from ..build import Builder, constant_value, is_one, number
from ..contract import collect
from ..shapes import Shape
from .walk import bottom_up, product_factors


def sums_of_entries(node: n.Node, build: Builder) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("sum(x z)", wrt="z", let="x: vector(n), z: scalar").text
    'sum(x)'
    """
    return bottom_up(node, _sum_of_entries)


def _sum_of_entries(node: n.Node) -> n.Node:
    if not isinstance(node, n.MatMul) or not node.shape.is_scalar:
        return node
    left, right = node.left, node.right
    if _ones(left) and right.shape.is_column:
        return n.Sum(right, shape=node.shape)
    if _ones(right) and isinstance(left, n.Transpose) and left.operand.shape.is_column:
        return n.Sum(left.operand, shape=node.shape)
    return node


def _ones(node: n.Node) -> bool:
    if isinstance(node, n.Transpose):
        node = node.operand
    return isinstance(node, n.Fill) and is_one(node.value)


def like_terms(node: n.Node, build: Builder) -> n.Node:
    """Terms equal up to how their products associate are one term: -z(uᵀS) - (z uᵀ)S = -2z uᵀS
    (two chain-rule paths that reached the same product in different orders).

    >>> from matcalc import diff
    >>> diff("(x - M'z)'S(x - M'z)", wrt="M", let="S: symmetric(n)", layout="denominator").text
    "-2z(x - M'z)'S"
    """
    return bottom_up(node, lambda current: _like_terms(current, build) if isinstance(current, n.Add) else current)


def _like_terms(node: n.Add, build: Builder) -> n.Node:
    terms = signed_terms(node)
    keys = [repr(_associated(core)) for _, core in terms]
    if len(set(keys)) == len(keys):
        return node
    combined: dict[str, tuple[Fraction, n.Node]] = {}
    for (coefficient, core), key in zip(terms, keys):
        previous = combined.get(key, (Fraction(0), core))[0]
        combined[key] = (previous + coefficient, core)
    parts = [build.scale(number(c), core) for c, core in combined.values() if c != 0]
    return collect(parts, build) if parts else node


def signed_terms(node: n.Node) -> list[tuple[Fraction, n.Node]]:
    """The terms of a sum, each as its number and the rest: a - 2b -> [(1, a), (-2, b)]."""
    terms, stack = [], [(Fraction(1), node)]
    while stack:
        sign, current = stack.pop()
        if isinstance(current, n.Add):
            stack += [(sign, current.right), (sign, current.left)]
        elif isinstance(current, n.Neg):
            stack.append((-sign, current.operand))
        elif isinstance(current, n.ScalarMul) and constant_value(current.left) is not None:
            stack.append((sign * constant_value(current.left), current.right))
        else:
            terms.append((sign, current))
    return terms


def _associated(node: n.Node) -> n.Node:
    """The node with every product chain associated to the left."""
    def left_to_right(current: n.Node) -> n.Node:
        if not isinstance(current, n.MatMul):
            return current
        return reduce(lambda a, b: n.MatMul(a, b, shape=Shape(a.shape.rows, b.shape.cols)), product_factors(current))

    return bottom_up(node, left_to_right)
