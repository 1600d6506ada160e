"""Terms that differ in one place are one term (like terms collected across chain-rule paths).

Where two terms of a sum are the same expression C[·] around one differing part, and C is linear in
that part (products, ⊙, transposes, diag, tr, sum — not a function or an inverse), then
c₁ C[a] + c₂ C[b] = C[c₁ a + c₂ b]: backpropagation's two cross-entropy paths
x((W2ᵀ((W3ᵀ softmax(z)) ⊙ g)) ⊙ h)ᵀ sum(y) - x((W2ᵀ((W3ᵀ y) ⊙ g)) ⊙ h)ᵀ are
x((W2ᵀ((W3ᵀ(sum(y) softmax(z) - y)) ⊙ g)) ⊙ h)ᵀ, the error δ = softmax(z) - y carried back once.
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce

from .. import nodes as n
from ..algebra.builder import ZERO, Builder, constant_value, is_zero, number
from .collect import collect
from .sums import signed_terms
from .walk import bottom_up

_LINEAR = (n.MatMul, n.Hadamard, n.ScalarMul, n.Transpose, n.Neg, n.DiagMatrix, n.DiagOf, n.Trace, n.Sum)
MAX_TERMS = 64  # pairs of terms compared: beyond this many terms a sum is left as collect wrote it


def shared_contexts(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("-y' log(softmax(W2 tanh(W1 x)))", wrt="W1", layout="denominator").text
    "((W2'(sum(y) softmax(W2 tanh(W1 x)) - y)) .* (1 - tanh(W1 x)^2))x'"
    """
    return bottom_up(node, lambda current: _merged(current, build) if isinstance(current, n.Add) else current, keep)


def _merged(node: n.Add, build: Builder) -> n.Node:
    terms = [_scalars_apart(c, core) for c, core in signed_terms(node)]
    if len(terms) > MAX_TERMS:
        return node
    changed = True
    while changed:
        changed = False
        for i in range(len(terms)):
            for j in range(i + 1, len(terms)):
                merged = _merge(terms[i], terms[j], build)
                if merged is not None:
                    terms[i] = merged
                    del terms[j]
                    changed = True
                    break
            if changed:
                break
    if len(terms) == len(signed_terms(node)):
        return node
    terms = [term for term in terms if term[0] != 0]
    if not terms:
        return n.Fill(ZERO, shape=node.shape)
    return collect(
        [
            build.scale(number(c), reduce(lambda acc, s: build.scale(s, acc), scalars, core))
            for c, scalars, core in terms
        ],
        build,
    )


def _scalars_apart(coefficient: Fraction, core: n.Node) -> tuple[Fraction, list[n.Node], n.Node]:
    """c s₁ s₂ M as (c, [s₁, s₂], M): the scalar factors of a non-scalar term set aside."""
    scalars = []
    while isinstance(core, n.ScalarMul) and not core.shape.is_scalar:
        scalar, rest = (core.left, core.right) if core.left.shape.is_scalar else (core.right, core.left)
        value = constant_value(scalar)
        if value is not None:
            coefficient *= value
        else:
            scalars.append(scalar)
        core = rest
    return coefficient, scalars, core


def _merge(first, second, build: Builder):
    (c1, s1, a), (c2, s2, b) = first, second
    if a.shape != b.shape:
        return None
    hole = _hole(a, b)
    if hole is None:
        return None
    inner_a, inner_b, rebuild = hole
    if inner_a is a:  # no context: the terms differ at the root, collect has already had its chance
        return None
    part = lambda c, scalars, x: build.scale(number(c), reduce(lambda acc, s: build.scale(s, acc), scalars, x))
    inside = collect([part(c1, s1, inner_a), part(c2, s2, inner_b)], build)
    if is_zero(inside):  # C[a - a] = 0: both terms go (a zero of the hole's shape would need one anyway)
        return Fraction(0), [], a
    if inside.shape != inner_a.shape:
        return None
    return Fraction(1), [], rebuild(inside)


def _hole(a: n.Node, b: n.Node):
    """(a's part, b's part, C) where a = C[a's part] and b = C[b's part], C linear in the part and the
    largest such context; None where a and b are equal."""
    if a == b:
        return None
    if type(a) is type(b) and isinstance(a, _LINEAR) and a.shape == b.shape:
        differing = [k for k, (x, y) in enumerate(zip(a.children(), b.children())) if x != y]
        if len(differing) == 1 and _same_apart_from_children(a, b):
            position = differing[0]
            x, y = list(a.children())[position], list(b.children())[position]
            if x.shape == y.shape:
                inner_a, inner_b, rebuild = _hole(x, y)
                return inner_a, inner_b, lambda part: _replaced(a, position, rebuild(part))
    return a, b, lambda part: part


def _same_apart_from_children(a: n.Node, b: n.Node) -> bool:
    return a.map_children(lambda _: n.Number(Fraction(0))) == b.map_children(lambda _: n.Number(Fraction(0)))


def _replaced(node: n.Node, position: int, part: n.Node) -> n.Node:
    """node with its child at position replaced (by position: u ⊙ u has the same node twice)."""
    children = iter(range(len(list(node.children()))))
    return node.map_children(lambda child: part if next(children) == position else child)
