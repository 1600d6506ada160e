"""Algebraic identities of the node builder (issue 11), each with a fixture worked by hand, a derivative
that prints in the textbook form (diff self-checks it against finite differences by default), and a
property test that the rewrite keeps the value at random sizes and points:

1. (Aᵀ)^k is written (A^k)ᵀ, so that like terms meet: d tr(Q³)/dQ = 3(Q²)ᵀ;
2. inverses cancel in products, across the left association ((A M⁻¹) M = A): M⁻¹M = MM⁻¹ = M⁻ᵀMᵀ = I;
5. a trace starts at an inverse: tr(B M⁻¹) = tr(M⁻¹ B) (the Cookbook's d log det M = tr(M⁻¹ dM)).
"""

from functools import reduce

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from matcalc import diff
from matcalc import nodes as n
from matcalc.build import Builder, number
from matcalc.evaluate import evaluate
from matcalc.render.text import expression_text
from matcalc.shapes import Shape

SQUARE, COLUMN = Shape("n", "n"), Shape("n", 1)
Q, A, B, W = (n.Var(name, shape=SQUARE) for name in "QABW")
u, y, x = (n.Var(name, shape=COLUMN) for name in "uyx")
s = n.Var("s")
build = Builder()
T, inv = build.transpose, build.inverse


def text(node: n.Node) -> str:
    return expression_text(node)


def power(node: n.Node, k: int) -> n.Node:
    """node^k as the parser writes it, untouched by the builder."""
    return n.Power(node, number(k), shape=node.shape)


def point(seed: int, size: int) -> dict[str, np.ndarray]:
    """Values at a random point: Q strictly diagonally dominant (so invertible), u positive."""
    rng = np.random.default_rng(seed)
    return {
        "Q": rng.uniform(-1, 1, (size, size)) + (size + 1) * np.eye(size),
        "A": rng.normal(size=(size, size)), "B": rng.normal(size=(size, size)),
        "W": rng.normal(size=(size, size)),
        "u": rng.uniform(0.5, 2, (size, 1)), "y": rng.normal(size=(size, 1)), "x": rng.normal(size=(size, 1)),
        "s": rng.uniform(0.5, 2, (1, 1)),
    }


def assert_same_value(before: n.Node, after: n.Node, seed: int, size: int) -> None:
    values = point(seed, size)
    expected = evaluate(before, values, {"n": size})
    got = evaluate(after, values, {"n": size})
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def assert_textbook(source: str, wrt: str, let: str, layout: str, order: int, expected: str) -> None:
    result = diff(source, wrt, let or None, layout, order)
    assert result.text == expected
    assert result.check.holds


sizes = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


# 1. (Aᵀ)^k = (A^k)ᵀ


def test_a_power_of_a_transpose_is_the_transpose_of_the_power():
    assert text(build.matpower(T(Q), 2)) == "(Q^2)'"
    assert text(build.matmul(T(Q), T(Q))) == "(Q^2)'"  # Qᵀ Qᵀ = (Q²)ᵀ
    assert text(build.matmul(T(build.matpower(Q, 2)), T(Q))) == "(Q^3)'"  # (Q²)ᵀ Qᵀ = (Q³)ᵀ
    assert text(build.matpower(T(Q), -2)) == "(Q^-2)'"
    assert text(build.matmul(T(Q), Q)) == "Q'Q"  # a Gram matrix is no power


def test_like_terms_meet_once_the_transposes_are_outside():
    # MC (121): d tr(Q³)/dQ = 3(Q²)ᵀ; the three chain-rule paths gave 2(Q²)ᵀ + Qᵀ² before
    assert_textbook("tr(Q^3)", "Q", "", "denominator", 1, "3(Q^2)'")


@given(size=sizes, seed=seeds, k=st.integers(min_value=-3, max_value=3).filter(bool),
       base=st.sampled_from(["Q", "Q'", "Q^-1", "Q^-T"]))
def test_powers_of_transposes_keep_their_value(size, seed, k, base):
    operand = {"Q": Q, "Q'": n.Transpose(Q, shape=SQUARE), "Q^-1": n.Inverse(Q, shape=SQUARE),
               "Q^-T": n.Transpose(n.Inverse(Q, shape=SQUARE), shape=SQUARE)}[base]
    assert_same_value(n.MatPower(operand, k, shape=SQUARE), build.matpower(operand, k), seed, size)


# 2. Inverses cancel in products


def test_inverses_cancel_with_their_neighbours():
    assert text(build.matmul(inv(Q), Q)) == "I"
    assert text(build.matmul(Q, inv(Q))) == "I"
    assert text(build.matmul(T(inv(Q)), T(Q))) == "I"  # M⁻ᵀ Mᵀ
    assert text(build.matmul(T(Q), T(inv(Q)))) == "I"  # Mᵀ M⁻ᵀ
    assert text(build.matmul(inv(T(Q)), T(Q))) == "I"  # (Mᵀ)⁻¹ Mᵀ, the other spelling of M⁻ᵀ
    # products associate to the left: in (A Q⁻¹) Q the neighbours are Q⁻¹ and Q
    assert text(build.matmul(build.matmul(A, inv(Q)), Q)) == "A"
    assert text(build.matmul(build.matmul(A, inv(Q)), build.matpower(Q, 2))) == "A Q"  # Q⁻¹ Q² = Q
    assert text(build.matmul(inv(build.matpower(Q, 2)), Q)) == "Q^-1"  # (Q²)⁻¹ Q = Q⁻¹
    assert text(build.matmul(A, build.matmul(Q, inv(Q)))) == "A"
    # what does not cancel stays: two inverses, a transpose against a plain matrix
    assert text(build.matmul(inv(Q), inv(Q))) == "Q^-1 Q^-1"
    assert text(build.matmul(T(inv(Q)), Q)) == "Q^-T Q"


@pytest.mark.parametrize("source, expected", [
    ("det(Q^-1)", "-det(Q^-1) Q^-T"),  # MC (62): Q⁻ᵀ Qᵀ Q⁻ᵀ = Q⁻ᵀ
    ("det(Q^2)", "2det(Q^2) Q^-T"),  # MC (58): (Q²)⁻ᵀ Qᵀ = Qᵀ (Q²)⁻ᵀ = Q⁻ᵀ
])
def test_inverse_cancellation_gives_the_cookbook_forms(source, expected):
    assert_textbook(source, "Q", "", "denominator", 1, expected)


CHAIN_FACTORS = {
    "Q": Q, "Q^-1": n.Inverse(Q, shape=SQUARE), "Q'": n.Transpose(Q, shape=SQUARE),
    "Q^-T": n.Transpose(n.Inverse(Q, shape=SQUARE), shape=SQUARE),
    "(Q')^-1": n.Inverse(n.Transpose(Q, shape=SQUARE), shape=SQUARE),
    "Q^2": n.MatPower(Q, 2, shape=SQUARE), "(Q^2)^-1": n.Inverse(n.MatPower(Q, 2, shape=SQUARE), shape=SQUARE),
    "Q^-2": n.MatPower(Q, -2, shape=SQUARE), "B": B,
}
chains = st.lists(st.sampled_from(sorted(CHAIN_FACTORS)), min_size=1, max_size=6)


def raw_product(names: list[str]) -> n.Node:
    return reduce(lambda a, b: n.MatMul(a, b, shape=SQUARE), [CHAIN_FACTORS[name] for name in names])


@given(size=sizes, seed=seeds, names=chains)
def test_cancelling_products_keep_their_value(size, seed, names):
    built = reduce(build.matmul, [CHAIN_FACTORS[name] for name in names])
    assert_same_value(raw_product(names), built, seed, size)


# 5. A trace starts at an inverse


def test_a_trace_starts_at_an_inverse():
    assert text(build.trace(build.matmul(B, inv(Q)))) == "tr(Q^-1 B)"
    # of two starts, the one the product also ends at: MC (59)'s tr(M⁻¹ B M⁻¹)
    assert text(build.trace(build.matmul(build.matmul(B, inv(Q)), inv(Q)))) == "tr(Q^-1 B Q^-1)"
    assert text(build.trace(build.matmul(build.matmul(inv(Q), B), inv(Q)))) == "tr(Q^-1 B Q^-1)"
    # turned, neighbours cancel: tr(Q B Q⁻¹) = tr(B)
    assert text(build.trace(build.matmul(build.matmul(Q, B), inv(Q)))) == "tr(B)"
    assert text(build.trace(build.matmul(A, B))) == "tr(A B)"  # no inverse: as written
    assert text(build.trace(build.matmul(x, T(x)))) == "tr(x x')"


@pytest.mark.parametrize("source, let, expected", [
    ("logdet(P + t B)", "P: posdef(n), t: scalar", "tr((P + t B)^-1 B)"),  # MC (43)
    ("det(A + t B)", "t: scalar", "det(A + t B) tr((A + t B)^-1 B)"),  # MC (46)
    ("tr((A + t B)^-1)", "t: scalar", "-tr((A + t B)^-1 B(A + t B)^-1)"),  # MC (59) and the trace
])
def test_traces_of_inverses_read_as_the_cookbook_writes_them(source, let, expected):
    assert_textbook(source, "t", let, "denominator", 1, expected)


@given(size=sizes, seed=seeds, names=chains)
def test_a_turned_trace_keeps_its_value(size, seed, names):
    built = build.trace(reduce(build.matmul, [CHAIN_FACTORS[name] for name in names]))
    assert_same_value(n.Trace(raw_product(names)), built, seed, size)


@settings(max_examples=30)
@given(size=sizes, seed=seeds, names=chains)
def test_cancelled_chains_agree_with_numpy_directly(size, seed, names):
    """The ground truth once more, without the evaluator: the product of the factors in NumPy."""
    values = point(seed, size)
    q = values["Q"]
    meaning = {"Q": q, "Q^-1": np.linalg.inv(q), "Q'": q.T, "Q^-T": np.linalg.inv(q).T,
               "(Q')^-1": np.linalg.inv(q.T), "Q^2": q @ q, "(Q^2)^-1": np.linalg.inv(q @ q),
               "Q^-2": np.linalg.inv(q @ q), "B": values["B"]}
    expected = reduce(np.matmul, [meaning[name] for name in names])
    built = reduce(build.matmul, [CHAIN_FACTORS[name] for name in names])
    np.testing.assert_allclose(evaluate(built, values, {"n": size}), expected, rtol=1e-9, atol=1e-9)
