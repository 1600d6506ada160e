"""Differentiating through vec, ⊗ (kron) and K(m, n), checked against central finite differences.

The sizes are distinct (m=3, n=4, p=5, q=2), so a Kronecker factor in the wrong place, a missing
transpose or a composite index split the wrong way round cannot pass. Every result is also self-checked
(diff's check=True raises SelfCheckError, exit 4, on a disagreement) and the check must have run.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from matcalc.api import diff
from matcalc.cli import cli
from matcalc.numeric.differences import Point, evaluate_shown
from matcalc.numeric.evaluate import evaluate
from matcalc.render.text import vec_text

SIZES = {"m": 3, "n": 4, "p": 5, "q": 2}
STEP = 1e-6


def vec(a):
    return np.asarray(a).reshape(-1, 1, order="F")


def gradient(function, x):
    """∂f/∂X_ab by central differences, in the shape of X."""
    result = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[index] = STEP
        result[index] = (function(x + step) - function(x - step)) / (2 * STEP)
    return result


def jacobian(function, x):
    """∂vec(F)/∂vec(X)ᵀ by central differences over vec(X)'s entries (columns stacked)."""
    flat = vec(x).ravel()
    columns = []
    for c in range(flat.size):
        step = np.zeros_like(flat)
        step[c] = STEP
        plus = function((flat + step).reshape(x.shape, order="F"))
        minus = function((flat - step).reshape(x.shape, order="F"))
        columns.append((vec(plus) - vec(minus)).ravel() / (2 * STEP))
    return np.array(columns).T


def declared(let):
    """{name: shape} of declarations such as "A: matrix(m, n), x: vector(n)", at SIZES."""
    shapes = {}
    for part in let.split("),"):
        name, rest = part.split(":")
        kind, dims = rest.strip().rstrip(")").split("(")
        sizes = [SIZES[d.strip()] for d in dims.split(",")]
        shapes[name.strip()] = tuple(sizes) if kind in ("matrix", "posdef") else (sizes[0], 1)
    return shapes


def sample(let, seed=5):
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in declared(let).items():
        value = rng.normal(size=shape)
        if shape[0] == shape[1] and shape[0] > 1:
            value = value @ value.T + shape[0] * np.eye(shape[0])  # invertible, det > 0: logdet, inv
        values[name] = value
    return values


# (expression, variable, declarations, f(values, X) in NumPy written independently of matcalc)
SCALARS = [
    ("vec(X)'vec(Y)", "X", "X: matrix(m, n), Y: matrix(m, n)", lambda v, X: (vec(X).T @ vec(v["Y"])).item()),
    ("norm(vec(X))^2", "X", "X: matrix(m, n)", lambda v, X: float(np.sum(vec(X) ** 2))),
    (
        "sum(vec(A X B))",
        "X",
        "A: matrix(m, n), X: matrix(n, p), B: matrix(p, q)",
        lambda v, X: float(np.sum(v["A"] @ X @ v["B"])),
    ),
    ("tr(kron(A, X))", "X", "A: matrix(m, m), X: matrix(p, p)", lambda v, X: float(np.trace(np.kron(v["A"], X)))),
    ("tr(kron(X, A))", "X", "A: matrix(m, m), X: matrix(p, p)", lambda v, X: float(np.trace(np.kron(X, v["A"])))),
    (
        "vec(X)' kron(B', A) vec(X)",
        "X",
        "A: matrix(m, m), X: matrix(m, p), B: matrix(p, p)",
        lambda v, X: (vec(X).T @ np.kron(v["B"].T, v["A"]) @ vec(X)).item(),
    ),
    (
        "vec(A)' kron(X, B) vec(C)",
        "X",
        "A: matrix(m, p), X: matrix(p, q), B: matrix(m, n), C: matrix(n, q)",
        lambda v, X: (vec(v["A"]).T @ np.kron(X, v["B"]) @ vec(v["C"])).item(),
    ),
    (
        "vec(A)' kron(B, X) vec(C)",
        "X",
        "A: matrix(p, m), X: matrix(p, q), B: matrix(m, n), C: matrix(q, n)",
        lambda v, X: (vec(v["A"]).T @ np.kron(v["B"], X) @ vec(v["C"])).item(),
    ),
    (
        "vec(X')' K(m, n) vec(X)",
        "X",
        "X: matrix(m, n)",
        lambda v, X: (vec(X.T).T @ vec(X.T)).item(),  # K(m, n) vec(X) = vec(Xᵀ)
    ),
    (
        "vec(X)' K(n, n) vec(X)",
        "X",
        "X: matrix(n, n)",
        lambda v, X: float(np.sum(X * X.T)),
    ),
    (
        "tr(kron(A, X) kron(B, Y))",
        "X",
        "A: matrix(m, n), X: matrix(p, q), B: matrix(n, m), Y: matrix(q, p)",
        lambda v, X: float(np.trace(np.kron(v["A"], X) @ np.kron(v["B"], v["Y"]))),
    ),
    (
        "logdet(kron(A, X))",
        "X",
        "A: matrix(m, m), X: matrix(p, p)",
        lambda v, X: float(np.log(np.linalg.det(np.kron(v["A"], X)))),
    ),
    (
        "det(kron(X, A))",
        "X",
        "A: matrix(q, q), X: matrix(m, m)",
        lambda v, X: float(np.linalg.det(np.kron(X, v["A"]))),
    ),
]


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("source, wrt, let, function", SCALARS, ids=[c[0] for c in SCALARS])
def test_scalars_through_vec_and_kron_match_finite_differences(source, wrt, let, function, layout):
    result = diff(source, wrt, let, layout=layout)
    assert result.check is not None and result.check.points > 0 and result.check.holds
    values = sample(let)
    others = {name: value for name, value in values.items() if name != wrt}
    expected = gradient(lambda x: function(others, x), values[wrt])
    if layout == "numerator":
        expected = expected.T
    computed = evaluate_shown(result.derivative, Point(values, SIZES))
    assert computed.shape == expected.shape
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)


def test_the_trace_of_an_identity_of_a_kronecker_factor_is_its_size():
    # logdet(A ⊗ X) = p logdet(A) + m logdet(X) for A m×m, X p×p (distinct sizes: m, not p, multiplies X⁻¹)
    assert diff("logdet(kron(A, X))", "X", "A: matrix(m, m), X: matrix(p, p)").text == "m X^-1"
    assert diff("logdet(kron(A, X))", "A", "A: matrix(m, m), X: matrix(p, p)").text == "p A^-1"
    assert diff("det(kron(X, A))", "X", "A: matrix(q, q), X: matrix(m, m)").text == "q det(kron(X, A)) X^-1"


# vec(F) by a variable, in vec notation: (expression, variable, declarations, the textbook form, F(values, X))
def assert_is_the_jacobian_of_vec(result, let: str, wrt: str, function, layout: str) -> None:
    """The vec form at a random point is the Jacobian of vec(function) by vec(wrt), by central differences
    (transposed in denominator layout)."""
    values = sample(let)
    others = {name: value for name, value in values.items() if name != wrt}
    expected = jacobian(lambda x: function(others, x), values[wrt])
    if layout == "denominator":
        expected = expected.T
    computed = evaluate(result.vec.matrix, values, SIZES)
    assert computed.shape == expected.shape
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)


VEC_OF = [
    (
        "vec(A X B)",
        "X",
        "A: matrix(m, n), X: matrix(n, p), B: matrix(p, q)",
        "Bᵀ ⊗ A",
        lambda v, X: v["A"] @ X @ v["B"],
    ),
    ("vec(X')", "X", "X: matrix(m, n)", "K(m, n)", lambda v, X: X.T),
    ("vec(X)", "X", "X: matrix(m, n)", "I_mn", lambda v, X: X),
    ("vec(x y')", "x", "x: vector(n), y: vector(p)", "y ⊗ I_n", lambda v, x: x @ v["y"].T),
    ("vec(inv(X))", "X", "X: matrix(n, n)", "-(X⁻ᵀ ⊗ X⁻¹)", lambda v, X: np.linalg.inv(X)),
    ("vec(A X)", "X", "A: matrix(m, n), X: matrix(n, p)", "I_p ⊗ A", lambda v, X: v["A"] @ X),
]


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("source, wrt, let, textbook, function", VEC_OF, ids=[c[0] for c in VEC_OF])
def test_vec_of_a_function_in_vec_notation_is_the_jacobian_of_vec(source, wrt, let, textbook, function, layout):
    result = diff(source, wrt, let, layout=layout, notation="vec")
    assert result.check is not None and result.check.points > 0 and result.check.holds
    assert result.vec is not None
    if layout == "numerator":
        assert vec_text(result.vec.matrix, unicode=True) == textbook
    assert_is_the_jacobian_of_vec(result, let, wrt, function, layout)


def test_the_hessian_of_a_quadratic_form_in_vec_x_is_the_symmetrised_kronecker_product():
    let = "A: matrix(m, m), X: matrix(m, p), B: matrix(p, p)"
    result = diff("vec(X)' kron(B', A) vec(X)", "X", let, order=2, notation="vec")
    assert result.vec is not None
    values = sample(let)
    # the Hessian of vec(X)ᵀ M vec(X) is M + Mᵀ, M = Bᵀ ⊗ A
    kron = np.kron(values["B"].T, values["A"])
    np.testing.assert_allclose(evaluate(result.vec.matrix, values, SIZES), kron + kron.T, rtol=1e-9, atol=1e-9)


def run(*args):
    return CliRunner().invoke(cli, ["diff", *args])


def test_index_notation_of_vec_of_a_matrix_is_refused_with_exit_3_and_a_pointer_to_vec_notation():
    result = run("vec(A X B)", "--wrt", "X", "--let", "A: matrix(m, n), X: matrix(n, p), B: matrix(p, q)")
    assert result.exit_code == 3
    assert "--notation vec" in result.output
    assert "Traceback" not in result.output


def test_a_kronecker_product_by_its_factor_in_index_notation_is_refused_with_exit_3():
    result = run("kron(A, X)", "--wrt", "X", "--let", "A: matrix(m, n), X: matrix(p, q)")
    assert result.exit_code == 3
    assert "cannot write this derivative through vec or ⊗" in result.output
    assert "--notation vec" in result.output
    assert "Traceback" not in result.output


# A Kronecker product by its factor, in vec notation: (expression, variable, declarations, F(values, X)).
# Magnus & Neudecker: vec(A ⊗ X) = (I_n ⊗ K(q, m) ⊗ I_p)(vec(A) ⊗ vec(X)) for A m×n, X p×q.
KRON_BY_FACTOR = [
    ("kron(A, X)", "X", "A: matrix(m, n), X: matrix(p, q)", lambda v, X: np.kron(v["A"], X)),
    ("kron(X, B)", "X", "X: matrix(p, q), B: matrix(m, n)", lambda v, X: np.kron(X, v["B"])),
    ("kron(A, X')", "X", "A: matrix(m, n), X: matrix(p, q)", lambda v, X: np.kron(v["A"], X.T)),
    ("kron(X', B)", "X", "X: matrix(p, q), B: matrix(m, n)", lambda v, X: np.kron(X.T, v["B"])),
    ("kron(a, X)", "X", "a: vector(m), X: matrix(p, q)", lambda v, X: np.kron(v["a"], X)),
    ("kron(A, x)", "x", "A: matrix(m, n), x: vector(p)", lambda v, x: np.kron(v["A"], x)),
    ("kron(x', A)", "x", "A: matrix(m, n), x: vector(p)", lambda v, x: np.kron(x.T, v["A"])),
    (
        "2 kron(A, X) - kron(X, C)",
        "X",
        "A: matrix(m, n), X: matrix(p, q), C: matrix(m, n)",
        lambda v, X: 2 * np.kron(v["A"], X) - np.kron(X, v["C"]),
    ),
    (
        "tr(D) kron(A, X) + kron(A, 3 X)",
        "X",
        "A: matrix(m, n), X: matrix(p, q), D: matrix(n, n)",
        lambda v, X: np.trace(v["D"]) * np.kron(v["A"], X) + np.kron(v["A"], 3 * X),
    ),
]


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("source, wrt, let, function", KRON_BY_FACTOR, ids=[c[0] for c in KRON_BY_FACTOR])
def test_a_kronecker_product_by_its_factor_is_the_jacobian_of_vec(source, wrt, let, function, layout):
    result = diff(source, wrt, let, layout=layout, notation="vec")
    assert result.check is not None and result.check.points > 0 and result.check.holds
    assert result.vec is not None
    assert_is_the_jacobian_of_vec(result, let, wrt, function, layout)


def test_a_kronecker_product_by_its_factor_is_written_as_magnus_and_neudecker_write_it():
    # (I_n ⊗ K(q, m) ⊗ I_p)(vec(A) ⊗ I_pq) for A m×n, X p×q; (I_q ⊗ K(s, p) ⊗ I_r)(I_pq ⊗ vec(B)) for B r×s
    a_x = diff("kron(A, X)", "X", "A: matrix(m, n), X: matrix(p, q)", notation="vec")
    assert vec_text(a_x.vec.matrix, unicode=True) == "(I_n ⊗ K(q, m) ⊗ I_p) (vec(A) ⊗ I_q ⊗ I_p)"
    assert a_x.vec.shape == ("m·p·n·q", "p·q")
    x_b = diff("kron(X, B)", "X", "X: matrix(p, q), B: matrix(m, n)", notation="vec")
    assert vec_text(x_b.vec.matrix, unicode=True) == "(I_q ⊗ K(n, p) ⊗ I_m) (I_q ⊗ I_p ⊗ vec(B))"


def test_a_kronecker_product_by_its_factor_prints_its_form_shape_and_check():
    result = run("kron(A, X)", "--wrt", "X", "--let", "A: matrix(m, n), X: matrix(p, q)", "--notation", "vec")
    assert result.exit_code == 0, result.output
    assert "∂vec(F)/∂vec(X)ᵀ = (I_n ⊗ K(q, m) ⊗ I_p) (vec(A) ⊗ I_q ⊗ I_p)" in result.output
    assert "shape: (m·p·n·q, p·q)" in result.output
    assert "checked: 3 points" in result.output


def test_the_json_numpy_field_of_a_kronecker_product_by_its_factor_is_the_jacobian_of_vec():
    import json

    let = "X: matrix(p, q), B: matrix(m, n)"
    result = run("kron(X, B)", "--wrt", "X", "--let", let, "--notation", "vec", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["checked"]["holds"] and data["notation"] == "vec"
    values = sample(let)
    computed = eval(data["numpy"], {"np": np, "X": values["X"], "B": values["B"]})  # matcalc's printed code
    expected = jacobian(lambda x: np.kron(x, values["B"]), values["X"])
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
def test_the_numpy_module_of_a_kronecker_product_by_its_factor(layout):
    let = "A: matrix(m, n), X: matrix(p, q)"
    result = run("kron(A, X)", "--wrt", "X", "--let", let, "--notation", "vec", "--format", "numpy", "--layout", layout)
    assert result.exit_code == 0, result.output
    namespace: dict = {}
    exec(result.output, namespace)  # matcalc's generated module
    values = sample(let)
    expected = jacobian(lambda x: np.kron(values["A"], x), values["X"])
    computed = namespace["derivative"](A=values["A"], X=values["X"])
    np.testing.assert_allclose(computed, expected.T if layout == "denominator" else expected, rtol=1e-6, atol=1e-6)
    assert namespace["check_gradient"]()["X"] < 1e-5


def test_a_kronecker_product_whose_factor_is_not_the_variable_itself_is_refused_with_exit_3():
    # d(X X) puts X's own entries on the slots of the product: no constant times δs
    result = run("kron(A, X X)", "--wrt", "X", "--let", "A: matrix(m, n), X: matrix(p, p)", "--notation", "vec")
    assert result.exit_code == 3
    assert "no Kronecker form" in result.output
    assert "Traceback" not in result.output


def test_a_wrong_kronecker_form_of_a_kronecker_product_is_never_shown(monkeypatch):
    import matcalc.calculus.vec as vec_module
    from matcalc.numeric.selfcheck import SelfCheckError

    right = vec_module._commutation
    monkeypatch.setattr(vec_module, "_commutation", lambda m, k: right(k, m))  # K(m, q) for K(q, m): same size
    with pytest.raises(SelfCheckError):
        diff("kron(A, X)", "X", "A: matrix(m, n), X: matrix(p, q)", notation="vec")


def test_the_check_of_a_kronecker_product_by_its_factor_compares_with_differences_of_vec():
    from dataclasses import replace

    from matcalc.algebra.index_form import Term
    from matcalc.numeric.vec_check import check_split_terms

    result = diff("kron(A, X)", "X", "A: matrix(m, n), X: matrix(p, q)", notation="vec")
    env = result.parsed.env
    assert check_split_terms(result.derivative, env).holds
    swapped = [  # each split read the wrong way round, r = slow + S fast: the same sizes, other entries
        Term(
            t.coefficient,
            tuple(
                replace(f, indices=(f.indices[0], f.indices[2], f.indices[1])) if f.is_split else f for f in t.factors
            ),
        )
        for t in result.derivative.terms
    ]
    report = check_split_terms(replace(result.derivative, terms=swapped), env)
    assert report.points > 0 and not report.holds


def test_vec_entries_that_pair_with_another_split_of_sizes_cannot_meet_are_refused_with_exit_3():
    # vec(X) of X m×p against K(m, p)'s rows, which index vec of a p×m matrix: no pair of axes is shared
    result = run("vec(X)' K(m, p) vec(X)", "--wrt", "X", "--let", "X: matrix(m, p)")
    assert result.exit_code == 3
    assert "Traceback" not in result.output


FALSE_VARIANTS = """let P: matrix(m, n), X: matrix(n, k), Q: matrix(k, l), Z: matrix(n, n), T: matrix(k, k), G: matrix(n, n)
notation vec
d/dX vec(P X Q) = kron(Q', P)
d/dX vec(P X Q) = kron(P, Q')
d/dZ vec(inv(Z)) = -kron(inv(Z), inv(Z))
d/dX vec(X') = kron(eye(k), eye(n))
d/dX vec(X)' kron(T', G) vec(X) = (G X T)' + T' X' G
d/dX vec(X)' kron(T', G) vec(X) = (G X T)' + T X' G
"""


def test_false_variants_through_vec_and_kron_are_false(tmp_path):
    import json

    path = tmp_path / "false.txt"
    path.write_text(FALSE_VARIANTS)
    rows = json.loads(CliRunner().invoke(cli, ["check", str(path), "--format", "json"]).output)["results"]
    verdicts = [row["status"] for row in rows]
    assert verdicts[0] == "holds (numerically)" and verdicts[5] == "holds (numerically)", rows
    assert verdicts[1:5] == ["FALSE"] * 4, rows  # swapped factors, a missing transpose, a missing K, a missing ᵀ
