"""Sums: 𝟏ᵀv = vᵀ𝟏 = sum(v) for a scalar, as the sources write it; like terms found however their
products associate."""

from __future__ import annotations

from fractions import Fraction
from functools import reduce

from .. import nodes as n
from ..algebra.builder import Builder, constant_value, is_one, number, number_value
from ..shapes import Shape
from .collect import collect
from .walk import bottom_up


def sums_of_entries(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("sum(x z)", wrt="z", let="x: vector(n), z: scalar").text
    'sum(x)'
    """
    return bottom_up(node, _sum_of_entries, keep)


def _sum_of_entries(node: n.Node) -> n.Node:
    if isinstance(node, n.ScalarMul) and isinstance(node.right, n.Sum) and not node.left.shape.is_scalar:
        return n.ScalarMul(node.right, node.left, shape=node.shape)  # a scalar in front: sum(y) softmax(o)
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


def like_terms(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """Terms equal up to how their products associate are one term: -z(uᵀS) - (z uᵀ)S = -2z uᵀS
    (two chain-rule paths that reached the same product in different orders).

    >>> from matcalc import diff
    >>> diff("(x - M'z)'S(x - M'z)", wrt="M", let="S: symmetric(n)", layout="denominator").text
    "-2z(x - M'z)'S"
    """
    return bottom_up(
        node, lambda current: _like_terms(current, build, keep) if isinstance(current, n.Add) else current, keep
    )


def _like_terms(node: n.Add, build: Builder, keep: frozenset[n.Node]) -> n.Node:
    terms = [_numbers_out(c, core) for c, core in signed_terms(node)]
    keys = [_product_key(_associated(core, keep)) for _, core in terms]  # nodes hash once: no text
    if len(set(keys)) == len(keys):
        return node
    combined: dict[object, tuple[Fraction, n.Node]] = {}
    for (coefficient, core), key in zip(terms, keys):
        previous = combined.get(key, (Fraction(0), core))[0]
        combined[key] = (previous + coefficient, core)
    parts = [build.scale(number(c), core) for c, core in combined.values() if c != 0]
    return collect(parts, build) if parts else node


def _product_key(node: n.Node) -> object:
    """What a product is, whatever the place of its scalar factors: z zᵀ(zᵀz), (zᵀz) z zᵀ and z(zᵀz) zᵀ have
    one key (its scalars as a multiset, its vectors and matrices in order); anything else is itself."""
    if not isinstance(node, (n.MatMul, n.ScalarMul)) or node.shape.is_scalar:
        return node
    scalars: dict[n.Node, int] = {}
    factors: list[n.Node] = []
    stack: list[n.Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (n.MatMul, n.ScalarMul)) and not current.shape.is_scalar:
            stack += [current.right, current.left]
        elif current.shape.is_scalar:
            scalars[current] = scalars.get(current, 0) + 1
        else:
            factors.append(current)
    return frozenset(scalars.items()), tuple(factors)


def _numbers_out(coefficient: Fraction, core: n.Node) -> tuple[Fraction, n.Node]:
    """The numbers of a product of scalars and one vector or matrix in the coefficient, the scalars in one
    order: ½ (α w) and (α / 2) w are both (½, α w)."""
    scalars, rest, stack = [], None, [core]
    while stack:
        current = stack.pop()
        if isinstance(current, n.ScalarMul):
            stack += [current.right, current.left]
        elif isinstance(current, n.Neg):
            coefficient = -coefficient
            stack.append(current.operand)
        elif (value := constant_value(current)) is not None:
            coefficient *= value
        elif isinstance(current, n.Divide) and current.shape.is_scalar and (divisor := constant_value(current.right)):
            coefficient /= divisor
            stack.append(current.left)
        elif (current.shape.is_scalar and rest is None and not core.shape.is_scalar) or (
            current.shape.is_scalar and core.shape.is_scalar
        ):
            scalars.append(current)
        else:
            if rest is not None:
                return coefficient, core  # not a product of scalars and one matrix: as it is
            rest = current
    factors = sorted(scalars, key=repr) + ([rest] if rest is not None else [])
    if not factors:  # a number: all of it is the coefficient (x + (x + 2) is 2x + 2, not 2x + 4)
        return coefficient, number(1)
    shape = core.shape
    return coefficient, reduce(
        lambda a, b: n.ScalarMul(a, b, shape=shape if not (a.shape.is_scalar and b.shape.is_scalar) else a.shape),
        factors,
    )


def signed_terms(node: n.Node) -> list[tuple[Fraction, n.Node]]:
    """The terms of a sum, each as its number and the rest: a - 2b -> [(1, a), (-2, b)]."""
    terms, stack = [], [(Fraction(1), node)]
    while stack:
        sign, current = stack.pop()
        if isinstance(current, n.Add):
            stack += [(sign, current.right), (sign, current.left)]
        elif isinstance(current, n.Neg):
            stack.append((-sign, current.operand))
        elif isinstance(current, n.ScalarMul) and (value := constant_value(current.left)) is not None:
            stack.append((sign * value, current.right))
        elif (
            isinstance(current, n.Divide)
            and current.right.shape.is_scalar
            and (numbered := _numbered(current.left)) is not None
        ):
            value, rest = numbered  # (2u) / s is 2 (u / s)
            stack.append((sign * value, n.Divide(rest, current.right, shape=current.shape)))
        else:
            terms.append((sign, current))
    return terms


def signed_term(coefficient: Fraction, core: n.Node) -> n.Node:
    """A term of signed_terms written back: a, -a or c a."""
    if coefficient == 1:
        return core
    if coefficient == -1:
        return n.Neg(core, shape=core.shape)
    return n.ScalarMul(n.Number(coefficient), core, shape=core.shape)


def with_terms_grouped(node: n.Add, groups: list[list[int]], grouped: list[n.Node]) -> n.Node:
    """The sum of node's signed terms with each group of them (indices) replaced by one node, standing where
    the group's first term stood; the other terms keep their places."""
    terms = signed_terms(node)
    first = {group[0]: written for group, written in zip(groups, grouped)}
    taken = {k for group in groups for k in group}
    written = [
        first[k] if k in first else signed_term(c, core)
        for k, (c, core) in enumerate(terms)
        if k in first or k not in taken
    ]
    return reduce(lambda a, b: n.Add(a, b, shape=node.shape), written)


def _numbered(node: n.Node) -> tuple[Fraction, n.Node] | None:
    """(-1, u) for -u, (c, u) for c u with a number c; None for anything else."""
    if isinstance(node, n.Neg):
        return Fraction(-1), node.operand
    if isinstance(node, n.ScalarMul) and (value := constant_value(node.left)) is not None:
        return value, node.right
    return None


def _associated(node: n.Node, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """The node with every product chain associated to the left (the function's own subexpressions, in
    keep, as they are)."""
    if not any(isinstance(sub, n.MatMul) for sub in n.walk(node)):
        return node  # no chain to associate (most terms of a long sum): not walked again to rebuild nothing

    def left_to_right(current: n.Node) -> n.Node:
        if not isinstance(current, n.MatMul):
            return current
        return reduce(
            lambda a, b: n.MatMul(a, b, shape=Shape(a.shape.rows, b.shape.cols)), n.flatten(current, n.MatMul)
        )

    return bottom_up(node, left_to_right, keep)


def common_factors(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """A scalar factor every term of a sum has is written once, and what is left is collected:
    σ(1 - σ)(1 - σ) - σ(1 - σ)σ = σ(1 - σ)(1 - 2σ) (the second derivative of σ, PRML (4.88) twice).

    >>> from matcalc import diff
    >>> diff("sigmoid(a)", wrt="a", let="a: scalar", order=2).text
    'sigmoid(a)(1 - sigmoid(a))(1 - 2sigmoid(a))'
    """
    return bottom_up(
        node, lambda current: _common_factors(current, build) if isinstance(current, n.Add) else current, keep
    )


def _common_factors(node: n.Add, build: Builder) -> n.Node:
    terms = signed_terms(node)
    factor_lists = [_scalar_factors(core) for _, core in terms]
    common = list(factor_lists[0])
    for factors in factor_lists[1:]:
        left = list(factors)
        kept = []
        for f in common:  # a multiset intersection: σ(1 - σ)(1 - σ) and σ(1 - σ)σ share σ(1 - σ)
            if f in left:
                left.remove(f)
                kept.append(f)
        common = kept
    if not common:
        return node
    rests = []
    for (coefficient, _), factors in zip(terms, factor_lists):
        remaining = list(factors)
        for f in common:
            remaining.remove(f)
        rest = reduce(build.scale, remaining) if remaining else number(1)
        rests += (
            [(coefficient * c, core) for c, core in signed_terms(rest)]
            if isinstance(rest, n.Add)
            else [(coefficient, rest)]
        )
    inner = collect([build.scale(number(c), core) for c, core in rests], build)
    return reduce(lambda acc, f: build.scale(f, acc), reversed(common), inner)


def bracket_coefficients(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """A number every term in a bracket has, up to sign, stands in front of the product or quotient:
    Xᵀ(2X w - 2y) = 2Xᵀ(X w - y), (2S x - 2(xᵀS x)x / (xᵀx)) / (xᵀx) = 2(S x - ...) / (xᵀx) (a sum of
    the result itself keeps its signs: -2Xᵀ(y - Xw) + 2λw).

    >>> from matcalc import diff
    >>> diff("w'X'X w - 2w'X'y + y'y", wrt="w", layout="denominator").text
    "2X'(X w - y)"
    """

    def rewrite(current: n.Node) -> n.Node:
        if isinstance(current, n.DiagMatrix):
            return _number_out_of_diagonal(current, build)
        if not isinstance(current, (n.MatMul, n.Hadamard, n.ScalarMul, n.Divide)):
            return current
        for position, child in enumerate(current.children()):
            if isinstance(current, n.Divide) and position == 1:
                break  # a number in the divisor is not one in front: x / (2a + 2b) is ½ (x / (a + b))
            if isinstance(child, n.Add):
                terms = signed_terms(child)
                magnitudes = {abs(c) for c, _ in terms}
                if len(magnitudes) == 1 and magnitudes != {1}:
                    shared = magnitudes.pop()
                    inner = collect([build.scale(number(c / shared), core) for c, core in terms], build)
                    if inner.shape != child.shape:
                        return current
                    if isinstance(current, n.Divide):  # 2(S x - ...) / (xᵀx)
                        return n.Divide(build.scale(number(shared), inner), current.right, shape=current.shape)
                    children = iter(range(2))
                    rebuilt = current.map_children(lambda c: inner if next(children) == position else c)  # noqa: B023
                    return build.scale(number(shared), rebuilt)
        return current

    return bottom_up(node, rewrite, keep)


def _number_out_of_diagonal(node: n.DiagMatrix, build: Builder) -> n.Node:
    """diag(2u ⊘ d) = 2diag(u ⊘ d): a whole number in front of a diagonal (a fraction stays inside,
    diag(1 ⊘ (2√x)))."""
    inside = node.operand
    numerator = inside.left if isinstance(inside, n.Divide) else inside
    if not (
        isinstance(numerator, n.ScalarMul)
        and (value := number_value(numerator.left)) is not None
        and value.denominator == 1
    ):
        return node
    rest = numerator.right
    stripped = n.Divide(rest, inside.right, shape=inside.shape) if isinstance(inside, n.Divide) else rest
    return build.scale(number(value), n.DiagMatrix(stripped, shape=node.shape))


def _scalar_factors(node: n.Node) -> list[n.Node]:
    """The factors of a product of scalars (a matrix last): a b A -> [a, b, A]."""
    if isinstance(node, n.ScalarMul) and constant_value(node.left) is None:
        return _scalar_factors(node.left) + _scalar_factors(node.right)
    return [node]
