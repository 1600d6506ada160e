"""`where` names only where a careful author would introduce them (matcalc/simplify/where_names.py).

A result that fits on a line written out is shown written out, as textbooks print it; a longer one
names its repeated subexpressions, the largest first, until it fits or no name saves characters;
never `x - a`, `P x`, `X⁻ᵀ`, a transpose or a negation. Naming never changes what is shown: the
shown form with the names substituted back is the inline form, node for node.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import DECLS, typed_expressions

from matcalc import diff, parse
from matcalc import nodes as n
from matcalc.simplify.where_names import BETWEEN_ROOTS, MIN_LENGTH, WIDTH, name_repeated
from matcalc.errors import UnsupportedError
from matcalc.render.text import MathPrinter
from matcalc.calculus.differentiate import share_names


def chain(k: int) -> str:
    """W_k tanh(... tanh(W_1 x)), as benchmarks/diff_speed.py builds it."""
    expression = "x"
    for layer in range(1, k):
        expression = f"tanh(W{layer} {expression})"
    return f"W{k} {expression}"


def spaceless(text: str) -> str:
    return text.replace(" ", "")


# Worked by hand: each is the textbook form, the derivative written out (no names: it fits on a line).

TEXTBOOK = [
    # PRML (4.88): σ' = σ(1 - σ), times the inner derivative x (a column: denominator layout)
    ("sigmoid(w'x)", "w", "denominator", None, "sigmoid(w'x)(1 - sigmoid(w'x))x"),
    # PRML (4.106) and the chain rule: J softmax(z) = diag(p) - p p', z = W x, dz = W dx
    ("softmax(W x)", "x", "numerator", None, "(diag(softmax(W x)) - softmax(W x) softmax(W x)')W"),
    # PRML (4.88) entrywise: d σ(X w) = diag(σ ⊙ (1 - σ)) X dw
    ("sigmoid(X w)", "w", "numerator", None, "diag(sigmoid(X w) .* (1 - sigmoid(X w))) X"),
    # the gradient of 1/2 x'Px - q'x for a symmetric P is P x - q, never `t1 = P x`
    ("1/2 x'Px - q'x", "x", "denominator", "P: symmetric(n)", "P x - q"),
    # two tanh layers: diag(1 - tanh(W2 h)^2) W2 diag(1 - h^2) W1 with h = tanh(W1 x), written out
    ("tanh(W2 tanh(W1 x))", "x", "numerator", None,
     "diag(1 - tanh(W2 tanh(W1 x))^2) W2 diag(1 - tanh(W1 x)^2) W1"),
]


@pytest.mark.parametrize("source, wrt, layout, let, text", TEXTBOOK, ids=[case[0] for case in TEXTBOOK])
def test_a_result_that_fits_on_a_line_is_written_out(source, wrt, layout, let, text):
    result = diff(source, wrt, let, layout)
    assert result.where == []
    assert spaceless(result.text) == spaceless(text)  # the spacing is the printer's business, not naming's
    assert len(result.text) <= WIDTH


def test_a_long_result_still_gets_names():
    # three tanh layers: written out, diag(1 - tanh(W3 tanh(W2 tanh(W1 x)))^2) W3 diag(1 - tanh(W2 tanh(W1 x))^2)
    # W2 diag(1 - tanh(W1 x)^2) W1 is 98 characters. tanh(W2 tanh(W1 x)) (19 characters, used twice) saves
    # 2·19 - (2·2 + 19 + 7) = 8; then tanh(W1 x) (10 characters, used twice: in t1 and in the last diag)
    # would cost 1 more than it saves, so it stays written out.
    result = diff("tanh(W3 tanh(W2 tanh(W1 x)))", "x")
    assert spaceless(result.text) == spaceless("diag(1 - tanh(W3 t1)^2) W3 diag(1 - t1^2) W2 diag(1 - tanh(W1 x)^2) W1")
    assert result.where == [("t1", "tanh(W2 tanh(W1 x))")]


def test_a_deep_chain_is_named_layer_by_layer_and_stays_linear():
    sizes = {}
    for k in (10, 20, 40):
        result = diff(chain(k), "W1", check=False)
        definitions = dict(result.where)
        assert len(definitions) >= k - 3  # one name a layer, but the innermost ones (short) written out
        assert definitions["t2"] == "tanh(W3 t1)" and definitions["t1"] == "tanh(W2 tanh(W1 x))"
        sizes[k] = len(result.text) + sum(len(name) + len(value) for name, value in result.where)
    assert sizes[40] - sizes[20] == pytest.approx(2 * (sizes[20] - sizes[10]), rel=0.1)


def test_names_shared_by_several_derivatives_count_them_all():
    # Each derivative alone fits on a line; shown together they are 117 characters, so the residual
    # and the tanh layer get one name each, the same in both.
    results = diff("1/2 ||W2 tanh(W1 x + b1) - y||^2", "W1,b1")
    assert [r.where for r in results] == [[("t1", "tanh(W1 x + b1)"), ("t2", "1 - t1^2"), ("t3", "W2 t1 - y")]] * 2
    assert [spaceless(r.text) for r in results] == ["x((W2't3).*t2)'", "t2'W2't3"]
    alone = diff("1/2 ||W2 tanh(W1 x + b1) - y||^2", "b1")
    assert alone.where == []
    assert spaceless(alone.text) == spaceless("(1 - tanh(W1 x + b1)^2)'W2'(W2 tanh(W1 x + b1) - y)")
    # two short results shown together still fit: no names (the residual written out in both)
    results = diff("1/2 ||X w + b - y||^2", "w,b")
    assert all(r.where == [] for r in results) and spaceless(results[0].text) == "(Xw+b-y)'X"


# Never named, however long the result: x - a, P x, X⁻ᵀ, a transpose, a negation; never t2 = t1ᵀ.

NEVER = [  # (expression, what width 0 names: every name that saves characters)
    ("(x - y)'A(x - y) + (x - y)'B C(x - y) + (x - y)'(x - y) + sum(x - y) + (x - y)'A'A(x - y)", []),
    ("x'A x + (A x)'(A x) + sum(A x) + (A x)'B C A x + ||A x||^2 + (A x)'(A x + y)", []),
    ("tr(inv(A)' B C) + tr(inv(A)' A) + sum(inv(A)') + tr(inv(A)' inv(A)') + tr(inv(A)'B C inv(A)')", []),
    ("-(tanh(A x) + y)'B C (-(tanh(A x) + y)) + sum(-(tanh(A x) + y)) + (-(tanh(A x) + y))'(-(tanh(A x) + y))",
     ["tanh(A x) + y"]),  # t1 = tanh(A x) + y, shown -t1: never t2 = -t1
    ("tanh(A x + y)'B C tanh(A x + y)' ' + sum(tanh(A x + y)') + tanh(A x + y)'tanh(A x + y)",
     ["tanh(A x + y)"]),  # t1ᵀ shown: never t2 = t1ᵀ
]


@pytest.mark.parametrize("source, named", NEVER)
def test_never_a_name_for_what_reads_as_quickly(source, named):
    expr = parse(source, DECLS).expr
    for width in (0, WIDTH):
        shown, where = name_repeated([expr], set(), width)
        for name, value in where:
            assert not isinstance(value, (n.Var, n.Transpose, n.Neg)), (name, value)
            assert not (isinstance(value, n.Inverse) and isinstance(value.operand, (n.Var, n.Transpose)))
            assert len(MathPrinter().text(value)) >= MIN_LENGTH - 2, (name, MathPrinter().text(value))
        assert substituted(shown, where) == [expr]
    _, where = name_repeated([expr], set(), 0)
    assert [MathPrinter().text(value) for _, value in where] == named


def test_x_minus_a_is_not_named_even_when_used_many_times():
    source = " + ".join(["(x - y)'A(x - y)", "(x - y)'B C(x - y)", "sum(x - y)", "(x - y)'A'A(x - y)"] * 3)
    expr = parse(source, DECLS).expr
    _, where = name_repeated([expr], set(), 0)
    assert all("x - y" != MathPrinter().text(value) for _, value in where)


# The rule measured on the printed text, and naming that never changes the result


def inline_roots(derivative):
    if derivative.inline_matrix is not None:
        return [derivative.inline_matrix]
    return [node for term in derivative.inline_index_form
            for node in (*term.scalars, *(e for p in term.pieces for e in p.elements))]


def substituted(shown: list[n.Node], where: list[tuple[str, n.Node]]) -> list[n.Node]:
    """The shown roots with every name replaced by what it names (the definitions, innermost first,
    use only names defined before them)."""
    values: dict[str, n.Node] = {}

    def expand(node: n.Node) -> n.Node:
        if isinstance(node, n.Var) and node.name in values:
            return values[node.name]
        return node.map_children(expand)

    for name, value in where:
        values[name] = expand(value)
    return [expand(root) for root in shown]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(typed_expressions(), st.data())
def test_naming_never_changes_the_result(case, data):
    text, _ = case
    parsed = parse(text, let=DECLS)
    variables = sorted(parsed.shapes())
    assume(variables)
    wrt = data.draw(st.sampled_from(variables), label="wrt")
    try:
        derivative = diff(text, wrt, DECLS, check=False).derivative
    except UnsupportedError:
        assume(False)
    roots = inline_roots(derivative)
    taken = {sub.name for sub in n.walk(parsed.expr) if isinstance(sub, n.Var)}
    for width in (0, 40, WIDTH):
        shown, where = name_repeated(roots, taken, width)
        assert substituted(shown, where) == roots
        assert not any(name in taken for name, _ in where)
        assert not any(isinstance(value, n.Var) and value.name in dict(where) for _, value in where)  # t2 = t1


def test_the_width_is_that_of_the_printed_text():
    """No names when the inline text fits, names only when it does not: the estimate of the length that
    cse uses (it may not import the printer) is within a few characters of the ASCII text."""
    cases = [(source, wrt, layout, let) for source, wrt, layout, let, _ in TEXTBOOK] + [
        ("1/2 ||sigmoid(W x + b) - y||^2", "W", "denominator", None),
        ("tanh(W3 tanh(W2 tanh(W1 x)))", "x", "numerator", None),
        ("y'log(sigmoid(X w)) + (1 - y)'log(1 - sigmoid(X w))", "w", "denominator", None),
        ("-y' log(softmax(o))", "o", "denominator", None),
        ("logsumexp(V tanh(W x)) - t'V tanh(W x)", "W", "denominator", None),
        ("log(det(X'S X))", "X", "denominator", "S: symmetric(n)"),
    ]
    for source, wrt, layout, let in cases:
        derivative = diff(source, wrt, let, layout, check=False).derivative
        printed = len(MathPrinter().text(derivative.inline_matrix))
        if derivative.where:
            assert printed > WIDTH - 4, (source, printed)
        else:
            assert printed <= WIDTH + 4, (source, printed)


def test_index_notation_names_count_every_factor():
    # y = W4 tanh(W3 tanh(W2 tanh(W1 x))) by W1 is in index notation: its factors are the roots shown
    # together, and the repeated layer tanh(W2 tanh(W1 x)) is named across them.
    result = diff(chain(4), "W1", check=False)
    derivative = result.derivative
    assert derivative.matrix is None and derivative.where
    shown = [node for term in derivative.index_form
             for node in (*term.scalars, *(e for p in term.pieces for e in p.elements))]
    assert substituted(shown, derivative.where) == inline_roots(derivative)
    assert sum(len(MathPrinter().text(r)) for r in inline_roots(derivative)) + BETWEEN_ROOTS > WIDTH


def test_share_names_again_is_the_same():
    results = diff("1/2 ||W2 tanh(W1 x + b1) - y||^2", "W1,b1", check=False)
    derivatives = [r.derivative for r in results]
    before = [(d.matrix, d.where) for d in derivatives]
    share_names(derivatives)
    assert [(d.matrix, d.where) for d in derivatives] == before
