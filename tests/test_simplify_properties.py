"""Properties of the simplifier as a whole, after tensorgrad's confluence tests.

- Idempotence: simplifying what the simplifier wrote changes nothing (no rule undoes another, and no
  rule leaves work for a second pass).
- Order independence: the terms of a sum, shuffled, give the same derivative, up to the order in which
  the terms of each sum are printed (matcalc keeps the order the user wrote them in).
Both are checked on derivatives of generated expressions (tests/strategies.py), in both layouts.
"""

from __future__ import annotations

from functools import reduce

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import ANY, DECLS, SHAPES, expressions, typed_expressions

from matcalc import diff, parse
from matcalc import nodes as n
from matcalc.algebra.builder import Builder
from matcalc.errors import MatcalcError
from matcalc.render.text import expression_text
from matcalc.simplify import kept, simplify

LAYOUTS = ("numerator", "denominator")
PROPERTY = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def derivative(text: str, wrt: str, layout: str):
    try:
        return diff(text, wrt, DECLS, layout, check=False).derivative
    except MatcalcError:
        assume(False)


@PROPERTY
@given(typed_expressions(), st.sampled_from(LAYOUTS), st.data())
def test_simplifying_a_simplified_result_changes_nothing(case, layout, data):
    text, _ = case
    parsed = parse(text, let=DECLS)
    assume(parsed.shapes())
    wrt = data.draw(st.sampled_from(sorted(parsed.shapes())), label="wrt")
    result = derivative(text, wrt, layout)
    assume(result.inline_matrix is not None)
    shown = result.inline_matrix
    again = simplify(shown, Builder(frozenset({"S"})), keep=kept(parsed.expr))
    assert expression_text(again) == expression_text(shown)


def sums_in_order(node: n.Node) -> n.Node:
    """The tree with the terms of every sum sorted by their text: a sum's order set aside."""
    node = node.map_children(sums_in_order)
    if not isinstance(node, n.Add):
        return node
    terms = sorted(n.flatten(node, n.Add), key=expression_text)
    return reduce(lambda left, right: n.Add(left, right, shape=node.shape), terms)


@st.composite
def sums_of_terms(draw) -> tuple[list[str], list[str]]:
    """Two to four generated terms of one shape, and the same terms shuffled."""
    shape = draw(st.sampled_from(SHAPES))
    terms = draw(st.lists(expressions(ANY, shape, depth=3), min_size=2, max_size=4))
    return terms, draw(st.permutations(terms))


@PROPERTY
@given(sums_of_terms(), st.sampled_from(LAYOUTS), st.data())
def test_shuffled_terms_give_the_same_derivative(terms, layout, data):
    written, shuffled = terms
    text, other = " + ".join(f"({term})" for term in written), " + ".join(f"({term})" for term in shuffled)
    parsed = parse(text, let=DECLS)
    assume(parsed.shapes())
    wrt = data.draw(st.sampled_from(sorted(parsed.shapes())), label="wrt")
    first, second = derivative(text, wrt, layout), derivative(other, wrt, layout)
    assume(first.inline_matrix is not None and second.inline_matrix is not None)
    assert expression_text(sums_in_order(first.inline_matrix)) == expression_text(sums_in_order(second.inline_matrix))
