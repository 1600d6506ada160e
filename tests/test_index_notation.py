"""Index notation as a textbook writes it: the rules of matcalc/simplify/index_notation.py.

1. A factor is oriented as written: of M_ab and (Mᵀ)_ba the one with fewer transpose marks
   (B_lj, not (Bᵀ)_jl; (C X)_kj, not (XᵀCᵀ)_jk; (Q⁻¹)_ik, not (Q⁻ᵀ)_ki); a symmetric one (δ, S, A + Aᵀ)
   with its indices in reading order.
2. diag(v)_ab is v_a δ_ab, v carrying the index read first (x ⊘ (x²)² simplified to 1 ⊘ x³).
3. Terms equal but for one matrix factor on the same indices are one term: (B + Bᵀ)_ik δ_jl.
4. The terms of a derivative of order two or more by the index their vector factor carries.

Each expected entry is worked by hand in its comment; each result also passes matcalc's self-check
(finite differences), and a property test checks that the rewritten index form has the value of the
index form it was made from, on generated expressions.
"""

import os
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import ANY, DECLS, SIZES, M, N, expressions, numeric_scale, random_values

from matcalc import diff, parse
from matcalc import nodes as n
from matcalc.algebra.builder import Builder
from matcalc.calculus.to_matrix import Piece
from matcalc.cli import cli
from matcalc.errors import UnsupportedError
from matcalc.numeric.differences import Point, evaluate_shown, evaluate_terms
from matcalc.numeric.evaluate import SingularMatrixError
from matcalc.render.latex import latex_text
from matcalc.shapes import Shape
from matcalc.simplify.index_notation import IndexTerm
from matcalc.simplify.index_notation import combine_pieces as _combine_pieces
from matcalc.simplify.index_notation import diagonal_opened as _diagonal_opened
from matcalc.simplify.index_notation import oriented as _oriented
from matcalc.simplify.index_notation import terms_ordered as _terms_ordered


def text_of(source: str, wrt: str, let: str, layout: str = "numerator", order: int = 1) -> str:
    result = diff(source, wrt, let, layout, order)  # self-checked: a wrong entry raises SelfCheckError
    assert result.check.holds
    return result.text


# Rule 1: orientation


@pytest.mark.parametrize("source, wrt, let, layout, order, expected", [
    # Y = X B, Y_ij = X_ir B_rj: ∂Y_ij/∂X_kl = δ_ik B_lj (Matrix Cookbook (74)), not (Bᵀ)_jl δ_ik
    ("X B", "X", "X: matrix(n, k), B: matrix(k, m)", "numerator", 1, "∂Y_ij/∂X_kl = B_lj delta_ik"),
    # Y_ij = A_ir X_rs B_sj: ∂Y_ij/∂X_kl = A_ik B_lj
    ("A X B", "X", "A: matrix(m, n), X: matrix(n, k), B: matrix(k, p)", "numerator", 1,
     "∂Y_ij/∂X_kl = A_ik B_lj"),
    # Y_ij = X_ri C_rs X_sj: the first X gives δ_il C_ks X_sj = (C X)_kj δ_il (not (XᵀCᵀ)_jk), the second
    # X_ri C_rk δ_jl = (XᵀC)_ik δ_jl (one mark either way: as it came)
    ("X'C X", "X", "X: matrix(n, k), C: matrix(n, n)", "numerator", 1,
     "∂Y_ij/∂X_kl = (C X)_kj delta_il + (X'C)_ik delta_jl"),
    # dY = -Y dQ Y: ∂Y_ij/∂Q_kl = -(Q⁻¹)_ik (Q⁻¹)_lj (Matrix Cookbook (60)), not -(Q⁻ᵀ)_ki (Q⁻¹)_lj
    ("inv(Q)", "Q", "Q: matrix(n, n)", "denominator", 1, "∂Y_ij/∂Q_kl = -(Q^-1)_ik (Q^-1)_lj"),
    # ∂ logdet Q/∂Q_ij = (Q⁻¹)_ji; again by Q_kl: -(Q⁻¹)_jk (Q⁻¹)_li
    ("logdet(Q)", "Q", "Q: matrix(n, n)", "denominator", 2, "∂²y/∂Q_ij ∂Q_kl = -(Q^-1)_jk (Q^-1)_li"),
    # a symmetric S: Y_ij = X_ir S_rj gives δ_ik S_lj = S_jl δ_ik, its indices in reading order
    ("X S", "X", "X: matrix(n, m), S: symmetric(m)", "numerator", 1, "∂Y_ij/∂X_kl = S_jl delta_ik"),
    # tr(XᵀX) = Σ X_rs²: ∂/∂X_ij = 2X_ij, then 2 δ_ik δ_jl, each δ in reading order (not δ_ki δ_lj)
    ("tr(X'X)", "X", "X: matrix(p, q)", "denominator", 2, "∂²y/∂X_ij ∂X_kl = 2 delta_ik delta_jl"),
])
def test_factors_are_oriented_as_written(source, wrt, let, layout, order, expected):
    assert text_of(source, wrt, let, layout, order) == expected


def test_orientation_fixture():
    build = Builder(frozenset({"S"}))
    B = n.Var("B", shape=Shape("k", "m"))
    X, C = n.Var("X", shape=Shape("n", "k")), n.Var("C", shape=Shape("n", "n"))
    S = n.Var("S", shape=Shape("n", "n"))
    reading = {"i": 0, "j": 1, "k": 2, "l": 3}.__getitem__
    # (Bᵀ)_jl = B_lj
    assert _oriented(Piece([build.transpose(B)], ("j", "l")), reading, build) == Piece([B], ("l", "j"))
    # (Xᵀ Cᵀ)_jk = (C X)_kj
    assert _oriented(Piece([build.transpose(X), build.transpose(C)], ("j", "k")), reading, build) \
        == Piece([C, X], ("k", "j"))
    # one mark either way: as it came
    assert _oriented(Piece([build.transpose(X), C], ("i", "k")), reading, build) == Piece([build.transpose(X), C],
                                                                                           ("i", "k"))
    # symmetric: S_ki = S_ik, δ_lj = δ_jl
    assert _oriented(Piece([S], ("k", "i")), reading, build) == Piece([S], ("i", "k"))
    eye = n.Identity(shape=Shape("n", "n"))
    assert _oriented(Piece([eye], ("l", "j")), reading, build) == Piece([eye], ("j", "l"))


# Rule 2: diag(v)_ab = v_a δ_ab


@pytest.mark.parametrize("source, wrt, let, layout, order, expected", [
    # y_i = exp(x_i): ∂²y_i/∂x_j ∂x_k = exp(x)_i δ_ij δ_ik, not diag(exp(x))_ki δ_ji
    ("exp(x)", "x", "x: vector(n)", "denominator", 2, "∂²y_i/∂x_j ∂x_k = exp(x)_i delta_ij delta_ik"),
    # Σ exp(x_r), three times: exp(x_i) δ_ij δ_ik
    ("sum(exp(x))", "x", "x: vector(n)", "denominator", 3, "∂³y/∂x_i ∂x_j ∂x_k = exp(x)_i delta_ij delta_ik"),
    # Σ log(x_r): 1/x_i, then -δ_ij/x_i², then 2 δ_ij δ_ik/x_i³ (x ⊘ (x²)² written 1 ⊘ x³)
    ("sum(log(x))", "x", "x: vector(n)", "denominator", 3,
     "∂³y/∂x_i ∂x_j ∂x_k = 2 (1 ./ x^3)_i delta_ij delta_ik"),
    # y_i = tanh(X_ir a_r): ∂y_i/∂X_jk = (1 - tanh(X a)²)_i δ_ij a_k
    ("tanh(X a)", "X", "X: matrix(n, k), a: vector(k)", "numerator", 1,
     "∂y_i/∂X_jk = (1 - tanh(X a)^2)_i a_k delta_ij"),
])
def test_diagonals_are_a_vector_and_a_delta(source, wrt, let, layout, order, expected):
    assert text_of(source, wrt, let, layout, order) == expected


def test_diagonal_fixture():
    build = Builder()
    x = n.Var("x", shape=Shape("n", 1))
    reading = {"i": 0, "j": 1, "k": 2}.__getitem__
    eye = n.Identity(shape=Shape("n", "n"))
    # diag(x)_ki = x_i δ_ki: the vector takes the index read first
    assert _diagonal_opened(Piece([build.diag_matrix(x)], ("k", "i")), reading, build) == \
        [Piece([x], ("i",)), Piece([eye], ("k", "i"))]
    # a diagonal at the end of a product opens: (A diag(x))_ij = A_ij x_j; one inside it stays
    A = n.Var("A", shape=Shape("n", "n"))
    assert _diagonal_opened(Piece([A, build.diag_matrix(x)], ("i", "j")), reading, build) == \
        [Piece([A], ("i", "j")), Piece([x], ("j",))]
    inside = Piece([A, build.diag_matrix(x), A], ("i", "j"))
    assert _diagonal_opened(inside, reading, build) == [inside]


# Rule 3: one differing matrix factor


@pytest.mark.parametrize("source, wrt, let, layout, order, expected", [
    # tr(XᵀBX) = X_ri B_rs X_si: ∂/∂X_ij = Σ_s (B_is + B_si) X_sj, then (B + Bᵀ)_ik δ_jl (Matrix Cookbook (108))
    ("tr(X'B X)", "X", "X: matrix(n, k), B: matrix(n, n)", "denominator", 2,
     "∂²y/∂X_ij ∂X_kl = (B + B')_ik delta_jl"),
    # aᵀXᵀCXa = (Xa)_r C_rs (Xa)_s: ∂/∂X_ij = ((C + Cᵀ) X a)_i a_j, then (C + Cᵀ)_ik a_j a_l
    ("a'X'C X a", "X", "X: matrix(n, k), C: matrix(n, n), a: vector(k)", "numerator", 2,
     "∂²y/∂X_ij ∂X_kl = (C + C')_ik a_j a_l"),
])
def test_terms_differing_in_one_factor_are_added(source, wrt, let, layout, order, expected):
    assert text_of(source, wrt, let, layout, order) == expected


def test_combined_pieces_fixture():
    build = Builder()
    B = n.Var("B", shape=Shape("n", "n"))
    eye = n.Identity(shape=Shape("n", "n"))
    reading = {"i": 0, "j": 1, "k": 2, "l": 3}.__getitem__
    delta = Piece([eye], ("j", "l"))

    def term(coefficient, piece):
        return IndexTerm(Fraction(coefficient), (), (piece, delta))

    # B_ik δ_jl + B_ki δ_jl = (B + Bᵀ)_ik δ_jl: the second read as (Bᵀ)_ik, the untransposed one first
    (combined,) = _combine_pieces([term(1, Piece([B], ("i", "k"))), term(1, Piece([B], ("k", "i")))], reading, build)
    assert combined.coefficient == 1
    assert combined.pieces == (Piece([build.add(B, build.transpose(B))], ("i", "k")), delta)
    # 2 B_ik δ_jl - 2 (Bᵀ)_ik δ_jl = 2 (B - Bᵀ)_ik δ_jl
    (combined,) = _combine_pieces([term(2, Piece([B], ("i", "k"))), term(-2, Piece([build.transpose(B)], ("i", "k")))],
                                  reading, build)
    assert combined.coefficient == 2
    assert combined.pieces[0] == Piece([build.sub(B, build.transpose(B))], ("i", "k"))
    # B_ik δ_jl - (Bᵀ)_ki δ_jl = 0: (Bᵀ)_ki is B_ik; and terms differing in two factors stay apart
    assert _combine_pieces([term(1, Piece([B], ("i", "k"))), term(-1, Piece([build.transpose(B)], ("k", "i")))],
                           reading, build) == []
    apart = [term(1, Piece([B], ("i", "k"))), IndexTerm(Fraction(1), (), (Piece([B], ("i", "l")), Piece([eye], ("j", "k"))))]
    assert _combine_pieces(apart, reading, build) == apart


# Rule 4: the order of the terms


def test_terms_of_a_higher_derivative_by_their_vector_index():
    # (xᵀx)²: 4(xᵀx)x_i, then 8 x_i x_j + 4(xᵀx)δ_ij, then 8 x_i δ_jk + 8 x_j δ_ik + 8 x_k δ_ij (Magnus & Neudecker)
    assert text_of("(x'x)^2", "x", "x: vector(n)", order=3) == \
        "∂³y/∂x_i ∂x_j ∂x_k = 8 x_i delta_jk + 8 x_j delta_ik + 8 x_k delta_ij"
    # (xᵀx)x_i: 2 x_j x_i + (xᵀx) δ_ij, then 2 δ_jk x_i + 2 x_j δ_ik + 2 x_k δ_ij
    assert text_of("(x'x)x", "x", "x: vector(n)", order=2) == \
        "∂²y_i/∂x_j ∂x_k = 2 x_i delta_jk + 2 x_j delta_ik + 2 x_k delta_ij"


def test_a_first_derivative_keeps_the_product_rules_order():
    # d(x xᵀ) = dx xᵀ + x dxᵀ: δ_ik x_j + x_i δ_jk, in that order (Matrix Cookbook, Magnus & Neudecker)
    assert text_of("x x'", "x", "x: vector(n)") == "∂Y_ij/∂x_k = x_j delta_ik + x_i delta_jk"
    # d(Q²) = dQ Q + Q dQ: δ_ik Q_lj + Q_ik δ_jl
    assert text_of("Q^2", "Q", "Q: matrix(n, n)") == "∂Y_ij/∂Q_kl = Q_lj delta_ik + Q_ik delta_jl"


def test_order_fixture():
    x = n.Var("x", shape=Shape("n", 1))
    eye = n.Identity(shape=Shape("n", "n"))
    reading = {"i": 0, "j": 1, "k": 2}.__getitem__
    terms = [IndexTerm(Fraction(8), (), (Piece([x], (v,)), Piece([eye], pair)))
             for v, pair in (("k", ("i", "j")), ("i", ("j", "k")), ("j", ("i", "k")))]
    assert _terms_ordered(terms, reading, 3) == [terms[1], terms[2], terms[0]]
    assert _terms_ordered(terms, reading, 1) == terms  # the product rule's order


# LaTeX: the same form


@pytest.mark.parametrize("source, wrt, let, layout, order, expected", [
    ("tr(X'B X)", "X", "X: matrix(n, k), B: matrix(n, n)", "denominator", 2,
     r"(B + B^\top)_{ik} \delta_{jl}"),
    ("inv(Q)", "Q", "Q: matrix(n, n)", "denominator", 1, r"-(Q^{-1})_{ik} (Q^{-1})_{lj}"),
    ("exp(x)", "x", "x: vector(n)", "denominator", 2, r"\exp(\mathbf{x})_{i} \delta_{ij} \delta_{ik}"),
    ("sum(log(x))", "x", "x: vector(n)", "denominator", 3,
     r"2 (1 \oslash \mathbf{x}^{\circ 3})_{i} \delta_{ij} \delta_{ik}"),
    ("X'C X", "X", "X: matrix(n, k), C: matrix(n, n)", "numerator", 1,
     r"(C X)_{kj} \delta_{il} + (X^\top C)_{ik} \delta_{jl}"),
])
def test_latex_writes_the_same_entries(source, wrt, let, layout, order, expected):
    result = diff(source, wrt, let, layout, order)
    assert latex_text(result.derivative, "rhs").split(r", \quad")[0] == expected


# Property: the rules keep values


@st.composite
def index_notation_cases(draw):
    """A generated expression times a term in the variable, so that the result has three or more axes:
    a vector or matrix by a matrix, a matrix by a vector, a second derivative of a vector, a scalar's
    second derivative by a matrix or third by a vector."""
    shape, wrt, term, order = draw(st.sampled_from([
        ((N, 1), "B", "B z", 1), ((N, M), "x", "x z'", 1), ((N, N), "A", "A", 1), ((N, 1), "A", "A x", 1),
        ((N, M), "B", "B", 1), ((N, 1), "x", "x", 2), ((1, 1), "B", "x'B z", 2), ((1, 1), "x", "x'x", 3),
    ]))
    times = "*" if shape == (1, 1) else ".*"
    return f"({draw(expressions(ANY, shape, depth=3))}) {times} ({term})", wrt, order


@settings(max_examples=int(os.environ.get("MATCALC_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(index_notation_cases(), st.sampled_from(["numerator", "denominator"]), st.integers(0, 2**32 - 1))
def test_the_written_index_form_has_the_value_of_the_index_form(case, layout, seed):
    """The shown form (after rules 1–4 and the where-names) equals the index form it was written from,
    entry by entry, at a random point: the rules only rewrite, they never change a value."""
    source, wrt, order = case
    try:
        result = diff(source, wrt, DECLS, layout, order, check=False).derivative
    except UnsupportedError:
        assume(False)
    assume(result.index_form is not None)
    point = Point(random_values(seed), dict(SIZES))
    with np.errstate(all="ignore"):
        try:
            shown, truth = evaluate_shown(result, point), evaluate_terms(result, point)
        except (SingularMatrixError, np.linalg.LinAlgError, UnsupportedError):
            assume(False)  # a singular matrix here, or more summed indices than einsum has letters
    assume(np.all(np.isfinite(truth)) and np.max(np.abs(truth), initial=0) < 1e8)
    # rounding is relative to the largest intermediate value ((exp(B)𝟏)^(xᵀAx) reaches 1e9 where the
    # result is about 1: the written and index forms then differ by 1e-6 in the last digits)
    intermediate = numeric_scale(parse(source, DECLS).expr, random_values(seed))
    assume(intermediate is not None)
    assert shown.shape == truth.shape
    scale = max(1.0, np.max(np.abs(truth), initial=0), intermediate)
    assert np.allclose(shown, truth, rtol=1e-9, atol=1e-9 * scale), (source, wrt, layout, order)


def test_a_fractional_coefficient_is_written_exactly():
    """y = X x / 2: y_i = ½ Σ_k X_ik x_k, so ∂y_i/∂X_jk = ½ δ_ij x_k, written ½ (or (1/2)), never 0.5."""
    result = diff("X x / 2", "X", "X: matrix(m, n), x: vector(n)")
    assert result.text == "∂y_i/∂X_jk = (1/2) x_k delta_ij"
    shown = CliRunner().invoke(cli, ["diff", "X x / 2", "--wrt", "X", "--let", "X: matrix(m, n), x: vector(n)"]).output
    assert shown.startswith("∂y_i/∂X_jk = ½ x_k δ_ij")
