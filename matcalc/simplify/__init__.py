"""How a derivative is written: every rewrite of a result, in this package.

It imports only the model (nodes, shapes, errors), the Builder (`algebra/builder.py`: numbers folded, σ
recognised, A A = A², …), the index form's records (`algebra/index_form.py`) and the slope table (`algebra/functions.py`),
never the differentiator or the contraction. Its modules:

- `collect`: the terms the contraction gives added up as one sum (like terms, shared factors, equal
  coefficients, elementwise products multiplied out where that is shorter); the first step
- the rules of RULES below, each in its own module, applied in order to that sum
- `index_notation`: the terms of a result shown in index notation written as a textbook writes them
  (diag(v)_ab as v_a δ_ab, factors oriented, terms that differ in one piece added), each factor then
  written by RULES; and the letters of its indices
- `walk`: applying a local rewrite to every subexpression once; the outermost elementwise functions

The rules write the collected sum the way a textbook prints it, one after another:

1. `sums.like_terms`             -z(uᵀS) - (z uᵀ)S = -2z uᵀS, ½(αw) + (α/2)w = αw: like terms however written
2. `sums.common_factors`         σ(1 - σ)(1 - σ) - σ(1 - σ)σ = σ(1 - σ)(1 - 2σ): a scalar factor of every term
3. `sums.sums_of_entries`        𝟏ᵀv = sum(v) for a scalar: sum(x), not 1ᵀx
4. `contexts.shared_contexts`    c₁C[a] + c₂C[b] = C[c₁a + c₂b] for a context C linear in the part that
                                 differs: the error δ = softmax(z) - y carried back once
5. `elementwise.backprop`        diag(v) u = u ⊙ v, the slope of an activation last ((Wᵀδ) ⊙ σ′(z)), a slope
                                 recognised (σ - σ² = σ ⊙ (1 - σ)), fractions over one denominator
6. `products.scalar_products`    a a = a², and numbers, symbols, polynomials, then functions: -a exp(-a²/2)
7. `quotients.divisions`         (1/s) u = u / s for a compound s, a divisor every term has written once
8. `transposes.transposes_out`   Bᵀ Qᵀ + Qᵀ Bᵀ = (Q B + B Q)ᵀ: a transpose taken out of a sum (or a product
                                 of three or more) whose parts are all transposed
9. `sums.bracket_coefficients`   Xᵀ(2Xw - 2y) = 2Xᵀ(Xw - y): a number every term in a bracket has, in front
10. `signs.signs_out`            a minus sign in front of a term, never inside a factor

Every rule keeps the value: tests/test_simplify_rules.py evaluates each, before and after, on generated
expressions and on generated expressions' derivatives, and the self-check compares every shown result
with finite differences of the function.
A rule is `rule(node, build, keep) -> node`; `bottom_up` applies a local rewrite to every subexpression
once, except those in keep (the function's own).
"""

from __future__ import annotations

from .. import nodes as n
from ..algebra.builder import Builder
from .contexts import shared_contexts
from .elementwise import backprop
from .products import scalar_products
from .quotients import divisions
from .signs import signs_out
from .sums import bracket_coefficients, common_factors, like_terms, sums_of_entries
from .transposes import transposes_out

RULES = (
    like_terms,
    common_factors,
    sums_of_entries,
    shared_contexts,
    backprop,
    scalar_products,
    divisions,
    transposes_out,
    bracket_coefficients,
    signs_out,
)


# The rules run again on what they wrote until nothing changes: one rule's output can be another's input
# (a transpose taken out of a sum that backprop reordered). A last pass that changes nothing is cheap.
MAX_PASSES = 8  # a pass that changes something makes room for another (a factor shared once terms are written)


def kept(function: n.Node | None) -> frozenset[n.Node]:
    """The subexpressions of the function differentiated, which no rule rewrites (y - X w stays)."""
    found: set[n.Node] = set()
    stack = [function] if function is not None else []
    while stack:
        current = stack.pop()
        node_class: type = type(current)  # hashable, as every class is (mypy takes Node's __hash__ for it)
        children = [child for name in n.child_fields(node_class) if isinstance(child := getattr(current, name), n.Node)]
        if children and current not in found:  # a subexpression equal to one found has its parts found too
            found.add(current)
            stack += children
    return frozenset(found)


def simplify(
    node: n.Node, build: Builder, function: n.Node | None = None, keep: frozenset[n.Node] | None = None
) -> n.Node:
    """The result written as a textbook prints it: every rule of RULES, in order, until a pass changes nothing.
    The subexpressions of the function differentiated are written as the user wrote them (`keep`, from
    `kept(function)`)."""
    keep = kept(function) if keep is None else keep
    for _ in range(MAX_PASSES):
        written = node
        for rule in RULES:
            node = rule(node, build, keep)
        if node == written:
            break
    return node
