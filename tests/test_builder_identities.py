"""Algebraic identities of the node builder, each with a fixture worked by hand, a derivative
that prints in the textbook form (diff self-checks it against finite differences by default), and a
property test that the rewrite keeps the value at random sizes and points:

1. (Aᵀ)^k is written (A^k)ᵀ, so that like terms meet: d tr(Q³)/dQ = 3(Q²)ᵀ;
2. inverses cancel in products, across the left association ((A M⁻¹) M = A): M⁻¹M = MM⁻¹ = M⁻ᵀMᵀ = I;
3. powers of one base cancel in quotients: s^p (u / s^q) = s^(p-q) u, u^a ⊘ u^b, (u^a)^b = u^(ab);
4. exp(u) / sum(exp(u)) is softmax(u), also as (1 / sum(exp(u))) exp(u) and inside a product;
5. a trace starts at an inverse: tr(B M⁻¹) = tr(M⁻¹ B) (the Cookbook's d log det M = tr(M⁻¹ dM));
6. elementwise factors cancel by their powers: u ⊘ u² ⊙ u ⊙ y = y.
"""

from fractions import Fraction
from functools import reduce

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from matcalc import diff
from matcalc import nodes as n
from matcalc.algebra.builder import ONE, Builder, number
from matcalc.calculus.to_matrix import _cancel_reciprocals
from matcalc.numeric.evaluate import evaluate
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


# 3. Powers of one base cancel in quotients


def test_a_scalar_power_cancels_a_quotient():
    norm = n.Norm(x, "2")
    assert text(build.scale(build.power(norm, number(3)), build.divide(x, norm))) == "||x||^2 x"
    assert text(build.scale(s, build.divide(u, build.power(s, number(3))))) == "u / s^2"
    assert text(build.scale(s, build.divide(u, s))) == "u"
    assert text(build.scale(build.power(s, number(2)), build.divide(u, power(s, 2)))) == "u"


def test_elementwise_powers_cancel_in_quotients():
    assert text(build.divide(u, build.power(u, number(2)))) == "1 ./ u"
    assert text(build.divide(build.power(u, number(3)), u)) == "u^2"
    assert text(build.divide(power(u, 2), power(u, 2))) == "1"
    assert text(build.divide(u, power(power(u, 2), 2))) == "1 ./ u^3"  # x ⊘ (x²)² = 1 ⊘ x³
    assert text(build.divide(u, y)) == "u ./ y"  # different bases stay


def test_a_power_of_a_power_multiplies_whole_exponents():
    assert text(build.power(build.power(u, number(2)), number(2))) == "u^4"
    assert text(build.power(build.power(u, number(-1)), number(3))) == "u^-3"
    half = build.power(build.power(u, number(2)), number(Fraction(1, 2)))
    assert isinstance(half, n.Power) and isinstance(half.base, n.Power)  # (u²)^½ = |u|, not u: kept


@pytest.mark.parametrize("source, wrt, let, layout, order, expected", [
    ("||x||^4", "x", "", "denominator", 1, "4 ||x||^2 x"),  # MC (131) and the chain rule
    ("p'log(p)", "p", "", "denominator", 2, "diag(1 ./ p)"),  # B&V §3.1.5: 2(1 ⊘ p) - p ⊘ p² = 1 ⊘ p
])
def test_quotients_of_powers_give_the_textbook_forms(source, wrt, let, layout, order, expected):
    assert_textbook(source, wrt, let, layout, order, expected)


def test_a_third_derivative_cancels_its_powers():
    # B&V §9.6 (self-concordance): ∂³ sum(log x) is 2 (1 ⊘ x³) on the diagonal; x ⊘ (x²)² = 1 ⊘ x³
    result = diff("sum(log(x))", "x", None, "denominator", 3)
    assert "2 " in result.text and "(1 ./ x^3)_" in result.text and "x^2" not in result.text
    assert result.check.holds


exponents = st.integers(min_value=-3, max_value=3)


@given(size=sizes, seed=seeds, p=exponents, q=exponents, base=st.sampled_from(["u", "s", "u+y^2"]))
def test_quotients_of_powers_keep_their_value(size, seed, p, q, base):
    node = {"u": u, "s": s, "u+y^2": n.Add(u, power(y, 2), shape=COLUMN)}[base]
    assert_same_value(n.Divide(power(node, p), power(node, q), shape=node.shape),
                      build.divide(power(node, p), power(node, q)), seed, size)
    assert_same_value(power(power(node, p), q), build.power(power(node, p), number(q)), seed, size)


@given(size=sizes, seed=seeds, p=exponents, q=exponents, flipped=st.booleans())
def test_a_scalar_power_times_a_quotient_keeps_its_value(size, seed, p, q, flipped):
    quotient = n.Divide(u, power(s, q), shape=COLUMN)
    raw = n.ScalarMul(power(s, p), quotient, shape=COLUMN)
    built = build.scale(quotient, power(s, p)) if flipped else build.scale(power(s, p), quotient)
    assert_same_value(raw, built, seed, size)
    scalar_quotient = n.Divide(n.Sum(u), power(s, q))  # both sides scalars: either may be the quotient
    assert_same_value(n.ScalarMul(scalar_quotient, power(s, p)), build.scale(scalar_quotient, power(s, p)),
                      seed, size)


# 4. The softmax


EXP = build.apply("exp", u)
SUMS = {"sum": n.Sum(EXP), "1'exp": n.MatMul(n.Fill(ONE, shape=Shape(1, "n")), EXP),
        "exp'1": n.MatMul(n.Transpose(EXP, shape=Shape(1, "n")), n.Fill(ONE, shape=COLUMN))}


def test_exp_over_its_sum_is_the_softmax():
    for total in SUMS.values():
        assert text(build.divide(EXP, total)) == "softmax(u)"
    reciprocal = build.divide(ONE, n.Sum(EXP))
    assert text(build.scale(reciprocal, EXP)) == "softmax(u)"
    assert text(build.scale(reciprocal, T(EXP))) == "softmax(u)'"
    # inside a product, and one sum for each exp(u): exp(u) exp(u)ᵀ / sum(exp(u))² = softmax softmaxᵀ
    assert text(build.scale(reciprocal, build.matmul(T(W), EXP))) == "W'softmax(u)"
    assert text(build.scale(reciprocal, build.diag_matrix(EXP))) == "diag(softmax(u))"
    assert text(build.divide(build.matmul(EXP, T(EXP)), build.power(n.Sum(EXP), number(2)))) == \
        "softmax(u) softmax(u)'"
    assert text(build.divide(build.matmul(EXP, T(EXP)), build.power(n.Sum(EXP), number(3)))) == \
        "softmax(u) softmax(u)' / sum(exp(u))"
    # another vector's exp is no softmax of u
    assert text(build.divide(build.apply("exp", y), n.Sum(EXP))) == "exp(y) / sum(exp(u))"


@pytest.mark.parametrize("source, layout, order, expected", [
    ("log(sum(exp(x)))", "numerator", 1, "softmax(x)'"),  # P&H §4.5.3
    ("log(sum(exp(x)))", "denominator", 1, "softmax(x)"),
    ("log(ones(n)'exp(x))", "denominator", 1, "softmax(x)"),
    ("log(sum(exp(x)))", "denominator", 2, "diag(softmax(x)) - softmax(x) softmax(x)'"),  # B&V §3.1.5
])
def test_the_softmax_is_recognised_in_derivatives(source, layout, order, expected):
    assert_textbook(source, "x", "x: vector(n)", layout, order, expected)


SOFTMAX_SHAPES = {
    "exp": EXP, "exp'": n.Transpose(EXP, shape=Shape(1, "n")), "W exp": n.MatMul(W, EXP, shape=COLUMN),
    "exp exp'": n.MatMul(EXP, n.Transpose(EXP, shape=Shape(1, "n")), shape=SQUARE),
    "diag(exp)": n.DiagMatrix(EXP, shape=SQUARE),
    "exp'W exp": n.MatMul(n.MatMul(n.Transpose(EXP, shape=Shape(1, "n")), W, shape=Shape(1, "n")), EXP),
}


@given(size=sizes, seed=seeds, numerator=st.sampled_from(sorted(SOFTMAX_SHAPES)),
       total=st.sampled_from(sorted(SUMS)), k=st.integers(min_value=1, max_value=3))
def test_the_softmax_keeps_the_value(size, seed, numerator, total, k):
    top, bottom = SOFTMAX_SHAPES[numerator], power(SUMS[total], k)
    raw = n.Divide(top, bottom, shape=top.shape)
    assert_same_value(raw, build.divide(top, bottom), seed, size)
    assert_same_value(raw, build.scale(n.Divide(ONE, bottom), top), seed, size)


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


# 6. Elementwise factors cancel by their powers


def test_elementwise_factors_cancel_by_their_powers():
    quotient = n.Divide(u, power(u, 2), shape=COLUMN)
    product = n.Hadamard(n.Hadamard(quotient, u, shape=COLUMN), y, shape=COLUMN)  # u ⊘ u² ⊙ u ⊙ y
    assert [text(f) for f in _cancel_reciprocals([product])] == ["y"]
    sigma = build.apply("sigmoid", u)
    assert [text(f) for f in _cancel_reciprocals([build.divide(ONE, sigma), sigma, build.sub(ONE, sigma)])] == \
        ["1 - sigmoid(u)"]
    assert [text(f) for f in _cancel_reciprocals([power(u, 3), build.divide(ONE, u), y])] == ["u^2", "y"]
    assert [text(f) for f in _cancel_reciprocals([u, u])] == ["u", "u"]  # nothing divides: as written


def test_the_cross_entropy_hessian_is_the_softmax_variance():
    # d2l §4.1.2: with a one-hot y, ∇²(-yᵀ log softmax(o)) = diag(softmax(o)) - softmax(o) softmax(o)ᵀ
    assert_textbook("-y'log(softmax(o))", "o", "y: onehot(n)", "denominator", 2,
                    "diag(softmax(o)) - softmax(o) softmax(o)'")


ELEMENTWISE_FACTORS = {
    "u": u, "1./u": n.Divide(ONE, u, shape=COLUMN), "u^2": power(u, 2),
    "1./u^2": n.Divide(ONE, power(u, 2), shape=COLUMN), "u./u^2": n.Divide(u, power(u, 2), shape=COLUMN),
    "y": y, "u.*y": n.Hadamard(u, y, shape=COLUMN), "s": s, "1/s": n.Divide(ONE, s),
}


@given(size=sizes, seed=seeds, names=st.lists(st.sampled_from(sorted(ELEMENTWISE_FACTORS)), min_size=1, max_size=6))
def test_elementwise_cancellation_keeps_the_value(size, seed, names):
    factors = [ELEMENTWISE_FACTORS[name] for name in names]

    def product(nodes: list[n.Node]) -> n.Node:
        ones = n.Fill(ONE, shape=COLUMN)  # every product as a vector, so scalars broadcast
        return reduce(lambda a, b: n.Hadamard(a, b, shape=COLUMN) if not b.shape.is_scalar
                      else n.ScalarMul(b, a, shape=COLUMN), nodes, ones)

    assert_same_value(product(factors), product(_cancel_reciprocals(factors)), seed, size)


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
