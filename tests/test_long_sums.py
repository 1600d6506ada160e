"""Long sums of terms that share a context, c₁C[a] + c₂C[b] + ... = C[c₁a + c₂b + ...], collected whole.

A sum of more than walk.WHOLE_SUM_ABOVE terms is rewritten once, at its top; shared_contexts groups its
terms by their context (not by comparing pairs), so every term of a 1,000-term sum meets the others.
Each expected text is worked by hand; each value is compared with a direct NumPy computation.
"""

from __future__ import annotations


import numpy as np

from matcalc import diff, parse
from matcalc import nodes as n
from matcalc.algebra.builder import Builder
from matcalc.numeric.evaluate import evaluate
from matcalc.render.text import expression_text
from matcalc.simplify.contexts import shared_contexts

SIZES = {"n": 3, "m": 4}


def weighted_forms(count: int) -> str:
    return " + ".join(f"c{i} y{i}'W x" for i in range(1, count + 1))


def weighted_sum_text(count: int) -> str:
    return " + ".join(f"c{i} y{i}" for i in range(1, count + 1))


def declarations(count: int) -> list[str]:
    return ["W: matrix(m, n)", "x: vector(n)"] + [f"y{i}: vector(m), c{i}: scalar" for i in range(1, count + 1)]


def random_values(count: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {"W": rng.normal(size=(4, 3)), "x": rng.normal(size=(3, 1))}
    for i in range(1, count + 1):
        values[f"y{i}"] = rng.normal(size=(4, 1))
        values[f"c{i}"] = rng.normal(size=(1, 1))
    return values


def weighted_sum(values: dict[str, np.ndarray], count: int) -> np.ndarray:
    """c₁y₁ + ... + cₖyₖ, computed directly."""
    return sum(values[f"c{i}"].item() * values[f"y{i}"] for i in range(1, count + 1))


def test_a_hundred_weighted_bilinear_forms_differentiate_to_one_outer_product():
    # d(c_i y_i'W x)/dW = c_i x y_i' (numerator layout, n×m), so the sum is x (c_1 y_1 + ... + c_100 y_100)'
    result = diff(weighted_forms(100), "W", let=declarations(100))
    assert result.check is not None and result.check.holds  # finite differences agree
    assert result.text == f"x({weighted_sum_text(100)})'"
    values = random_values(100, seed=3)
    expected = values["x"] @ weighted_sum(values, 100).T
    shown = evaluate(result.derivative.inline_matrix, values, SIZES)
    assert np.allclose(shown, expected, rtol=1e-12, atol=1e-12)


def outer_products(count: int) -> n.Node:
    """c₁ x y₁' + ... + cₖ x yₖ' as a balanced tree of sums, as the parser builds a long sum."""
    terms = [parse(f"c{i}(x y{i}')", [f"x: vector(n), y{i}: vector(m), c{i}: scalar"]).expr for i in range(1, count + 1)]
    return balanced(terms)


def balanced(terms: list[n.Node]) -> n.Node:
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return n.Add(balanced(terms[:half]), balanced(terms[half:]), shape=terms[0].shape)


def test_a_thousand_terms_that_share_a_context_are_one_term():
    given = outer_products(1000)
    written = shared_contexts(given, Builder(), frozenset())
    # c_i x y_i' = x (c_i y_i)': the context x(·)' is linear in its hole, and every term has it
    assert expression_text(written) == f"x({weighted_sum_text(1000)})'"
    values = random_values(1000, seed=5)
    expected = values["x"] @ weighted_sum(values, 1000).T
    assert np.allclose(evaluate(written, values, SIZES), expected, rtol=1e-12, atol=1e-12)
    assert np.allclose(evaluate(given, values, SIZES), expected, rtol=1e-12, atol=1e-12)


def test_terms_of_two_contexts_in_a_long_sum_are_two_terms():
    # the odd terms are c_i x y_i', the even ones c_i y_i x' (its transpose's context): two groups, not one
    terms = [
        parse(f"c{i}(x y{i}')" if i % 2 else f"c{i}(y{i} x')", [f"x: vector(m), y{i}: vector(m), c{i}: scalar"]).expr
        for i in range(1, 201)
    ]
    written = shared_contexts(balanced(terms), Builder(), frozenset())
    odd = " + ".join(f"c{i} y{i}" for i in range(1, 201, 2))
    even = " + ".join(f"c{i} y{i}" for i in range(2, 201, 2))
    assert expression_text(written) == f"x({odd})' + ({even})x'"
    rng = np.random.default_rng(11)
    values = {"x": rng.normal(size=(4, 1))}
    for i in range(1, 201):
        values[f"y{i}"], values[f"c{i}"] = rng.normal(size=(4, 1)), rng.normal(size=(1, 1))
    odd_sum = sum(values[f"c{i}"].item() * values[f"y{i}"] for i in range(1, 201, 2))
    even_sum = sum(values[f"c{i}"].item() * values[f"y{i}"] for i in range(2, 201, 2))
    expected = values["x"] @ odd_sum.T + even_sum @ values["x"].T
    assert np.allclose(evaluate(written, values, SIZES), expected, rtol=1e-12, atol=1e-12)
