"""SPEC §1's inference of undeclared names, rule by rule, in plain and LaTeX input, with what it prints.

A name written transposed is a vector (no one transposes a scalar); a bold name in LaTeX is a vector,
a bold capital a matrix; an inferred scalar that a sum expands to a vector or matrix gets a note in
every format. The derivatives are compared with values computed here by hand in NumPy.
"""

import json

import numpy as np
import pytest

from matcalc import diff, parse
from matcalc.cli import cli
from matcalc.errors import ShapeError
from matcalc.numeric.differences import evaluate_shown, point_from


def assumed(parsed) -> dict[str, str]:
    return {name: str(decl) for name, decl in parsed.assumed.items()}


def shown_value(result, values: dict) -> np.ndarray:
    """The derivative as matcalc shows it, evaluated at the given values."""
    return evaluate_shown(result.derivative, point_from(values, result.parsed.shapes()))


def expansion_note(name: str, declaration: str, kind: str = "a vector") -> str:
    return (
        f"{name} is taken as a scalar added to every entry (scalar expansion); "
        f"declare {name}: {declaration} if it is {kind}"
    )


RNG = np.random.default_rng(7)


# A name written transposed is never a scalar


@pytest.mark.parametrize(
    "text, name",
    [
        ("theta'x", "theta"),
        ("beta'x", "beta"),
        ("b^T x", "b"),
        ("b' x", "b"),
        ("bᵀx", "b"),
        ("b.T x", "b"),
        (r"\theta^\top x", "theta"),
        (r"b^T \mathbf{x}", "b"),
        (r"\boldsymbol{\beta}^\top \mathbf{x}", "beta"),
    ],
)
def test_a_lowercase_name_written_transposed_is_a_vector(text, name):
    parsed = parse(text)
    assert assumed(parsed) == {name: "vector(n)", "x": "vector(n)"}
    assert parsed.shape.is_scalar  # an inner product, not x scaled by a scalar
    assert parsed.notes == ()


@pytest.mark.parametrize("text, name", [("A'x", "A"), ("Sigma'x", "Sigma"), (r"\Sigma^\top x", "Sigma")])
def test_an_uppercase_name_written_transposed_stays_a_matrix(text, name):
    assert assumed(parse(text)) == {name: "matrix(n, m)", "x": "vector(n)"}


@pytest.mark.parametrize("text", ["theta'x", r"\boldsymbol{\theta}^\top\mathbf{x}"])
def test_theta_x_by_theta_is_x_transposed(text):
    result = diff(text, "theta")
    assert result.text == "x'"  # d(θᵀx)/dθ = xᵀ in numerator layout
    assert result.shape == (1, "n")
    assert "assumed: theta: vector(n), x: vector(n)" in result.report()
    x = RNG.normal(size=4)
    np.testing.assert_allclose(shown_value(result, {"theta": RNG.normal(size=4), "x": x}), x)


def test_theta_x_by_theta_on_the_command_line(runner):
    output = runner.invoke(cli, ["diff", "theta'x", "--wrt", "theta"])
    assert output.exit_code == 0
    assert output.stdout.splitlines()[:3] == [
        "∂/∂theta theta'x = xᵀ",
        "shape: (1, n) (numerator layout)",
        "assumed: theta: vector(n), x: vector(n)",
    ]


def test_the_search_for_a_kind_never_makes_a_transposed_name_a_scalar():
    # '/' divides by a scalar only, so b would have to be one: but b' says it is not
    with pytest.raises(ShapeError):
        parse("sum(b') / b")
    assert assumed(parse("sum(b) / b")) == {"b": "scalar"}  # written plainly, its letter stands


# Bold in LaTeX is a vector, a bold capital a matrix


@pytest.mark.parametrize(
    "text, name, kind",
    [
        (r"\mathbf{b}", "b", "vector(n)"),
        (r"\boldsymbol{\mu}", "mu", "vector(n)"),
        (r"\bm{c}", "c", "vector(n)"),
        (r"\pmb{a}", "a", "vector(n)"),
        (r"\mathbf{b}_1", "b1", "vector(n)"),
        (r"\hat{\boldsymbol{\beta}}", "beta_hat", "vector(n)"),
        (r"\mathbf{W}", "W", "matrix(n, m)"),
        (r"\boldsymbol{\Sigma}", "Sigma", "matrix(n, m)"),
    ],
)
def test_a_bold_name_is_a_vector_and_a_bold_capital_a_matrix(text, name, kind):
    assert assumed(parse(text)) == {name: kind}


@pytest.mark.parametrize("text, name", [(r"\mu + 1", "mu"), (r"b + 1", "b"), (r"\beta x", "beta")])
def test_a_name_not_in_bold_keeps_its_letter(text, name):
    assert assumed(parse(text))[name] == "scalar"


def test_the_variable_of_a_latex_derivative_takes_no_boldness_from_the_expression():
    # the span of the a in \partial a covers the whole fraction, \mathbf{x} included
    assert assumed(parse(r"\frac{\partial (a \mathbf{x})}{\partial a}")) == {"a": "scalar", "x": "vector(n)"}


def test_a_gaussian_log_likelihood_by_its_bold_mean():
    text = r"-(x - \boldsymbol{\mu})^\top \Sigma^{-1} (x - \boldsymbol{\mu})"
    parsed = parse(text)
    assert assumed(parsed) == {"x": "vector(n)", "mu": "vector(n)", "Sigma": "matrix(n, n)"}
    assert parsed.shape.is_scalar and parsed.notes == ()
    result = diff(text, r"\boldsymbol{\mu}")
    assert result.shape == (1, "n")
    x, mu, sigma = RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=(4, 4)) + 4 * np.eye(4)
    inverse = np.linalg.inv(sigma)
    by_hand = (x - mu) @ (inverse + inverse.T)  # d/dμ of -(x-μ)ᵀA(x-μ) is (x-μ)ᵀ(A + Aᵀ)
    np.testing.assert_allclose(shown_value(result, {"x": x, "mu": mu, "Sigma": sigma}), by_hand, rtol=1e-10)


def test_a_bold_bias_is_a_vector_so_no_note():
    parsed = parse(r"\sigma(\mathbf{W}\mathbf{x} + \mathbf{b})")
    assert assumed(parsed) == {"W": "matrix(n, m)", "x": "vector(m)", "b": "vector(n)"}
    assert parsed.notes == ()


# Declared names never change


@pytest.mark.parametrize(
    "text, let",
    [
        ("theta'x", "theta: scalar"),
        (r"\boldsymbol{\theta}^\top \mathbf{x}", "theta: scalar"),
        (r"\mathbf{b} + x", "b: scalar"),
        ("W x + b", "b: scalar"),
    ],
)
def test_a_declared_name_keeps_its_declaration_and_gets_no_note(text, let):
    parsed = parse(text, let)
    assert parsed.env.decls["theta" if "theta" in text else "b"].kind == "scalar"
    assert "theta" not in parsed.assumed and "b" not in parsed.assumed
    assert parsed.notes == ()


def test_a_declared_scalar_stays_one_when_differentiated():
    result = diff("theta'x", "theta", "theta: scalar, x: vector(n)")
    assert result.shape == ("n", 1) and result.text == "x"  # θx by θ is x


# An inferred scalar expanded by a sum gets a note


@pytest.mark.parametrize(
    "text, note",
    [
        ("sigmoid(W x + b)", expansion_note("b", "vector(n)")),
        (r"\sigma(W \mathbf{x} + b)", expansion_note("b", "vector(n)")),
        ("b + W x", expansion_note("b", "vector(n)")),
        ("x - mu", expansion_note("mu", "vector(n)")),
        (r"\mathbf{x} - \mu", expansion_note("mu", "vector(n)")),
        ("x - 2 mu", expansion_note("mu", "vector(n)")),
        ("X - c", expansion_note("c", "matrix(n, m)", "a matrix")),
        ("x' + b", expansion_note("b", "matrix(1, n)", "a row vector")),
    ],
)
def test_an_inferred_scalar_expanded_by_a_sum_gets_a_note(text, note):
    parsed = parse(text)
    assert parsed.notes == (note,)
    name = note.split()[0]
    assert assumed(parsed)[name] == "scalar"  # the note is a note: the scalar stays


def test_the_note_names_the_dimension_of_what_it_is_added_to():
    parsed = parse("W x + b", "W: matrix(h, d)")
    assert parsed.notes == (expansion_note("b", "vector(h)"),)


@pytest.mark.parametrize(
    "text, let",
    [
        ("w'x + b", None),  # a scalar plus a scalar
        ("x + 1", None),  # a number
        ("x + n", "x: vector(n)"),  # a dimension is a size
        ("x .* b", None),  # a product scales, it adds nothing
        ("x + a", "a: scalar"),  # declared: the user said so
    ],
)
def test_no_note_where_no_inferred_scalar_is_expanded(text, let):
    assert parse(text, let).notes == ()


def test_a_name_expanded_twice_is_noted_once():
    assert parse("(x + b) .* (y - b)").notes == (expansion_note("b", "vector(n)"),)


def test_the_seeds_scalar_expansion_keeps_its_scalar_and_gets_the_note():
    result = diff("sum(w*x + b)", "b")
    assert assumed(result.parsed)["b"] == "scalar"
    assert result.shape == (1,) and result.text == "n"  # d/db Σ(w_i x_i + b) = n
    assert shown_value(result, {"w": RNG.normal(size=5), "x": RNG.normal(size=5), "b": 0.3}) == 5
    assert result.notes == [expansion_note("b", "vector(n)")]


def test_sigmoid_by_a_scalar_bias_says_so_in_every_format(runner):
    note = expansion_note("b", "vector(n)")
    command = ["diff", "sigmoid(W x + b)", "--wrt", "b"]
    text = runner.invoke(cli, command).stdout.splitlines()
    assert text[2:4] == ["assumed: W: matrix(n, m), x: vector(m), b: scalar", f"note: {note}"]
    assert json.loads(runner.invoke(cli, [*command, "--format", "json"]).stdout)["notes"] == [note]
    latex = runner.invoke(cli, [*command, "--format", "latex"]).stdout
    assert r"b \text{ a scalar added to every entry}" in latex
    table = runner.invoke(cli, [*command, "--format", "table"]).stdout
    assert "b is taken as a scalar added to every entry" in table
    parse_text = runner.invoke(cli, ["parse", "sigmoid(W x + b)"]).stdout.splitlines()
    assert parse_text[-1] == f"note: {note}"
    assert json.loads(runner.invoke(cli, ["parse", "sigmoid(W x + b)", "--format", "json"]).stdout)["notes"] == [note]


def test_the_derivative_by_a_scalar_bias_is_right():
    result = diff("sigmoid(W x + b)", "b")
    w, x, b = RNG.normal(size=(3, 4)), RNG.normal(size=4), 0.2
    s = 1 / (1 + np.exp(-(w @ x + b)))
    np.testing.assert_allclose(shown_value(result, {"W": w, "x": x, "b": b}), s * (1 - s), rtol=1e-12)


# The letter default gives way to use


def test_the_letter_default_still_gives_way_to_use():
    parsed = parse("||y - X beta||^2")
    assert assumed(parsed) == {"y": "vector(n)", "X": "matrix(n, m)", "beta": "vector(m)"}
    assert parsed.notes == ()
