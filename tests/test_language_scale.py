"""SPEC §6: long flat sums are not deep; the depth limit counts nesting; a 100-layer network parses."""

import time

import numpy as np
import pytest

from matcalc import nodes, parse
from matcalc.api import diff
from matcalc.cli import cli
from matcalc.errors import ParseError, ShapeError
from matcalc.numeric.evaluate import evaluate
from matcalc.render.text import expression_text


def depth(node: nodes.Node) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in current.children())
    return deepest


def quadratic_forms(count: int, joiner: str = " + ") -> str:
    return joiner.join(f"x'A{i}x" for i in range(1, count + 1))


def chain(layers: int) -> str:
    text = "W1 x"
    for k in range(2, layers + 1):
        text = f"W{k} tanh({text})"
    return text


def test_a_thousand_term_sum_parses_quickly_and_shallowly():
    text = quadratic_forms(1000)
    start = time.process_time()
    parsed = parse(text)
    elapsed = time.process_time() - start
    assert parsed.shape.dims() == []
    assert len(parsed.assumed) == 1001  # x and A1 ... A1000
    # each term x'A_i x is 4 levels (two products, a transpose, a leaf); the sum of 1,000 terms
    # is split in halves 7 times (at 1000, 500, 250, 125, 63, 32 and 16 terms) down to chains of
    # at most 8 terms, 7 additions deep: 14 levels of additions, not 999
    assert depth(parsed.expr) == 7 + 7 + 4
    assert elapsed < 2.0, elapsed


def test_two_hundred_quadratic_forms_differentiate():
    result = diff(quadratic_forms(200), "x", check=False)
    # x'(S + S') with S = A1 + ... + A200: too long for a line, so the sum is named once
    assert result.text == "x'(t1 + t1')"
    (name, value), = result.where
    assert name == "t1" and value.startswith("A1 + A2 + A3") and value.endswith("A199 + A200")


def test_a_thousand_quadratic_forms_differentiate_to_the_sum_and_its_transpose():
    result = diff(quadratic_forms(1000), "x", check=False)
    assert result.text == "x'(t1 + t1')"
    (name, value), = result.where
    assert name == "t1" and value == " + ".join(f"A{i}" for i in range(1, 1001))
    # its numbers: the gradient of sum_i x'A_i x is x'(S + S') with S = A_1 + ... + A_1000, computed here directly
    rng = np.random.default_rng(7)
    values = {"x": rng.normal(size=(3, 1)), **{f"A{i}": rng.normal(size=(3, 3)) for i in range(1, 1001)}}
    total = sum(values[f"A{i}"] for i in range(1, 1001))
    expected = values["x"].T @ (total + total.T)
    shown = evaluate(result.derivative.inline_matrix, values, {"n": 3})
    assert np.allclose(shown, expected, rtol=1e-12, atol=1e-9)


def test_a_hundred_layer_chain_parses():
    parsed = parse(chain(100), "x: vector(n)")
    assert parsed.assumed["W1"].shape.cols == "n"
    assert parsed.shape.dims() == [parsed.assumed["W100"].shape.rows]


def test_a_hundred_layer_chain_through_the_cli(runner):
    result = runner.invoke(cli, ["parse", chain(100)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("expression: W100 tanh(W99 tanh(")


@pytest.mark.parametrize("count", [9, 20, 101, 1000])
def test_a_long_sum_prints_flat_and_round_trips(count):
    terms = [f"a{i}" for i in range(count)]
    text = terms[0] + "".join(f" {'-' if i % 3 else '+'} {term}" for i, term in enumerate(terms[1:], 1))
    parsed = parse(text)
    assert parsed.canonical == text
    assert parse(parsed.canonical).expr == parsed.expr
    assert expression_text(parsed.expr) == text


@pytest.mark.parametrize("count", [8, 9, 33, 500])
def test_a_long_sum_means_what_it_says(count):
    # a0 - a1 + a2 - a3 ... with a_i = 2^i (exact in floating point): the alternating sum
    text = "a0" + "".join(f" {'-' if i % 2 else '+'} a{i}" for i in range(1, count))
    values = {f"a{i}": np.array([[float(2 ** (i % 40))]]) for i in range(count)}
    expected = sum((-1) ** i * 2.0 ** (i % 40) for i in range(count))
    assert evaluate(parse(text).expr, values, {}).item() == expected


def test_minus_signs_of_a_balanced_sum_stay_with_their_terms():
    text = " - ".join(f"x{i}" for i in range(12))  # x0 - x1 - ... - x11
    values = {f"x{i}": np.full((3, 1), float(i)) for i in range(12)}
    value = evaluate(parse(text, ", ".join(f"x{i}: vector(3)" for i in range(12))).expr, values, {})
    assert np.all(value == 0 - sum(range(1, 12)))


def test_grouped_sums_keep_their_parentheses():
    for text in ["a + (b + c)", "a - (b - c)", "a + (b + c) + d", "(a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9) + b"]:
        parsed = parse(text)
        assert parsed.canonical == text
        assert parse(parsed.canonical).expr == parsed.expr


# Limits: nesting, not length


def test_nesting_beyond_the_limit_is_refused_with_what_counts():
    text = "sin(" * 201 + "x" + ")" * 201
    with pytest.raises(ParseError) as info:
        parse(text)
    assert "nested too deeply (more than 200 levels of parentheses" in info.value.message
    assert info.value.column() == 804  # the parenthesis of the 201st call


def test_nesting_up_to_the_limit_works():
    assert parse("sin(" * 200 + "x" + ")" * 200).shape.dims() == ["n"]


def test_a_product_of_too_many_factors_says_so():
    with pytest.raises(ParseError) as info:
        parse(" ".join(["A"] * 101) + " x")
    assert info.value.message == "a product of more than 100 factors is too long to work with"


def test_a_long_product_within_the_limit_works():
    assert parse(" ".join(["A"] * 99) + " x").shape.dims() == ["n"]


def test_deep_trees_are_refused_with_a_message_about_nesting():
    text = "x" + "'" * 600
    with pytest.raises(ParseError) as info:
        parse(text)
    assert "too deep" in info.value.message and "inside one another" in info.value.message


@pytest.mark.parametrize("text, let", [
    ("aB" * 4_900, None),  # a mixed run of 9,800 letters: split in linear time, then too many factors
    ("x" * 9_000, "x: vector(n)"),  # 9,000 declared x's in a row: the same
    ("W" + "1" * 9_000 + "x", None),  # a letter with 9,000 digits is not a piece: one name
])
def test_long_runs_of_letters_are_answered_quickly(text, let):
    start = time.process_time()
    try:
        parse(text, let)
    except ParseError as error:
        assert "factors" in error.message
    assert time.process_time() - start < 1.0


def test_a_shape_error_between_the_halves_of_a_long_sum_names_their_ends():
    declared = "x: vector(n), z: vector(m), " + ", ".join(
        f"A{i}: matrix(n, n), B{i}: matrix(m, m)" for i in range(1, 7))
    text = " + ".join(f"A{i} x" for i in range(1, 7)) + " + " + " - ".join(f"B{i} z" for i in range(1, 7))
    with pytest.raises(ShapeError) as info:
        parse(text, declared)
    assert info.value.message == "shapes do not conform for a sum"
    assert info.value.hint == "A1 x + ... + A6 x is n×1, B1 z + ... - B6 z is m×1"
