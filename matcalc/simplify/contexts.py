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
_HOLE = n.Var("·")  # stands for the child a context leaves open, in the keys terms are grouped by

# A term as (its number, its scalar factors set aside, the rest): c s₁ s₂ M is (c, [s₁, s₂], M)
Term = tuple[Fraction, list[n.Node], n.Node]


def shared_contexts(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("-y' log(softmax(W2 tanh(W1 x)))", wrt="W1", layout="denominator").text
    "((W2'(sum(y) softmax(W2 tanh(W1 x)) - y)) .* (1 - tanh(W1 x)^2))x'"
    """
    return bottom_up(node, lambda current: _merged(current, build) if isinstance(current, n.Add) else current, keep)


def _merged(node: n.Add, build: Builder) -> n.Node:
    terms = [_scalars_apart(c, core) for c, core in signed_terms(node)]
    merged = _terms_merged(terms, build)
    if len(merged) == len(terms):
        return node
    merged = [term for term in merged if term[0] != 0]
    if not merged:
        return n.Fill(ZERO, shape=node.shape)
    return collect([_written(term, build) for term in merged], build)


def _written(term: Term, build: Builder) -> n.Node:
    coefficient, scalars, core = term
    return build.scale(number(coefficient), reduce(lambda acc, s: build.scale(s, acc), scalars, core))


def _terms_merged(terms: list[Term], build: Builder) -> list[Term]:
    """The terms with those that share a context C each made one, C[c₁a + c₂b + ...], in the place of
    the first of them. The terms are grouped by their contexts in one pass (a dict from a context to
    its terms), not compared in pairs: a sum of a thousand terms costs a thousand look-ups.

    A term whose root is linear has one context per child (the term with that child left open); a term
    joins the group of the first later term it shares a context with, and every later term with that
    context joins it. The parts that fill the hole are merged in turn (C[D[a]] + C[D[b]] = C[D[a + b]]:
    the context is the largest one the terms share)."""
    groups: dict[tuple, list[int]] = {}  # a context (its open child's place and the term around it): its terms
    contexts = [_contexts(core) for _, _, core in terms]
    for index, keys in enumerate(contexts):
        for key in keys:
            groups.setdefault(key, []).append(index)
    taken = [False] * len(terms)
    merged: list[Term] = []
    for index, term in enumerate(terms):
        if taken[index]:
            continue
        key = _first_shared(index, term[2], contexts[index], groups, terms, taken)
        members = [index] + [other for other in groups[key] if other > index and not taken[other]] if key else []
        one = _one_term([terms[member] for member in members], key[0], build) if key else None
        if one is None:
            merged.append(term)
            continue
        for member in members:
            taken[member] = True
        merged.append(one)
    return merged


def _contexts(core: n.Node) -> list[tuple]:
    """core's contexts linear in one child: for each child, (its place, its shape, core with it left open)."""
    if not isinstance(core, _LINEAR):
        return []
    children = list(core.children())
    return [(place, child.shape, _replaced(core, place, _HOLE)) for place, child in enumerate(children)]


def _first_shared(index: int, core: n.Node, keys: list[tuple], groups: dict, terms: list[Term], taken: list[bool]):
    """The context the term at index shares with the first later term not yet taken that differs from it
    in that context's hole; None if no later term does."""
    best, best_key = len(terms), None
    for key in keys:
        for other in groups[key]:
            if other <= index or taken[other] or other >= best:
                continue
            if terms[other][2] != core:
                best, best_key = other, key
                break
    return best_key


def _one_term(members: list[Term], place: int, build: Builder) -> Term | None:
    """C[c₁a + c₂b + ...] for members c₁C[a], c₂C[b], ... that share the context C with its hole at place
    (a zero where the parts cancel); None where the parts add up to another shape."""
    around = members[0][2]
    parts = [(c, scalars, list(core.children())[place]) for c, scalars, core in members]
    hole = parts[0][2]
    inside = collect([_written(part, build) for part in _terms_merged(parts, build)], build)
    if is_zero(inside):  # C[a - a] = 0: the terms go (a zero of the hole's shape would need one anyway)
        return Fraction(0), [], around
    if inside.shape != hole.shape:
        return None
    return Fraction(1), [], _replaced(around, place, inside)


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


def _replaced(node: n.Node, position: int, part: n.Node) -> n.Node:
    """node with its child at position replaced (by position: u ⊙ u has the same node twice)."""
    children = iter(range(len(list(node.children()))))
    return node.map_children(lambda child: part if next(children) == position else child)
