"""--steps on networks: backpropagation as the course derives it, each step's equation true at random points.

Each step is checked here by its meaning, independently of how it was computed: its right-hand side (the
intermediates and error signals bound to their values at a random point) against central differences of
the function its left-hand side names. ∂h₁/∂z₁ differentiates h₁'s definition; δ₁ = (∂L/∂z₁)ᵀ the loss
written down to z₁; ∂L/∂W₁ the loss itself.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcalc import diff
from matcalc import nodes as n
from matcalc.cli import cli
from matcalc.numeric.evaluate import evaluate
from matcalc.layout import Layout
from matcalc.numeric.differences import Point, evaluate_shown, finite_difference, relative_error, sample_point
from matcalc.render.text import derivative_text
from matcalc.shapes import Shape

ROOT = Path(__file__).parent.parent
CLASSIFIER = "-y' log(softmax(W2 tanh(W1 x + b1) + b2))"
CLASSIFIER_SHAPES = "y: onehot(n), b1: vector(m), b2: vector(n)"


def _gallery():
    spec = importlib.util.spec_from_file_location("steps_gallery", ROOT / "scripts" / "steps_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gallery_networks():
    """(source, variable, declarations, layout, layers) of each network on the gallery page."""
    cases = []
    for title, arguments, layers in _gallery().NETWORKS:
        options = dict(zip(arguments[1::2], arguments[2::2]))
        cases.append(pytest.param(arguments[0], options["--wrt"], options.get("--let", ""),
                                  options.get("--layout", "numerator"), layers, id=title))
    return cases


# Each step's equation, numerically


def _substituted(node: n.Node, named: dict[str, n.Node], keep: set[str]) -> n.Node:
    """The node with every intermediate but those kept written out, recursively."""
    if isinstance(node, n.Var) and node.name in named and node.name not in keep:
        return _substituted(named[node.name], named, keep)
    return node.map_children(lambda child: _substituted(child, named, keep))


def _lhs_function(derivation, equation) -> n.Node:
    """What the left-hand side differentiates: the definition of `of`, written down to `by` (a partial
    derivative keeps the other intermediates it is written in)."""
    if equation.function is not None:  # ∂(3x²)/∂x
        return equation.function
    body = derivation.named[equation.of]
    if equation.partial:
        return body
    return _substituted(body, derivation.named, {equation.by})


def _rhs_value(equation, values, sizes) -> np.ndarray:
    """The right-hand side as shown (the answer with its `where` names, index notation by its pieces)."""
    result = equation.result
    node = equation.shown if equation.shown is not None else result.inline_matrix
    if node is None or equation.answer:
        return evaluate_shown(result, Point(dict(values), sizes))
    return evaluate(node, values, sizes)


def assert_each_equation_holds(result, seeds=(0, 1)) -> int:
    """Every equation of the derivation at random points; the number checked."""
    derivation = result.derivation.data
    checked = 0
    for seed in seeds:
        point = sample_point(result.parsed.expr, result.parsed.env, np.random.default_rng(seed))
        values, sizes = dict(point.values), point.sizes
        for name, body in derivation.named.items():
            values[name] = evaluate(body, values, sizes)
        for step in derivation.steps:
            for equation in step.equations:
                if equation.order != 1:
                    continue
                actual = _rhs_value(equation, values, sizes)
                layout = Layout.DENOMINATOR if equation.signal else equation.result.layout
                function = _lhs_function(derivation, equation)
                expected = finite_difference(function, equation.by, Point(values, sizes), layout)
                error = relative_error(actual.reshape(expected.shape), expected)
                assert error < 1e-5, (result.parsed.source, step.rule, equation.of, equation.by, error)
                if equation.signal:
                    values[equation.signal] = actual.reshape(-1, 1)
                if equation.expansion:
                    _assert_the_differential_holds(equation, actual, dict(values), sizes, seed)
                checked += 1
    return checked


def _assert_the_differential_holds(equation, gradient, values, sizes, seed) -> None:
    """dy = (each form of the differential the equation writes) = tr(G dX) or G dx, at a random dx: the
    product rule's terms, the same as g dx (a scalar's transpose), a layer's dz = dW h taken by δᵀ."""
    variable = equation.result.wrt
    rows, columns = evaluate(variable, values, sizes).shape
    direction = np.random.default_rng(seed + 100).normal(size=(rows, columns))
    values[f"d{variable.name}"] = direction
    expected = np.trace(gradient.reshape(columns, rows) @ direction)
    forms = [list(equation.expansion), list(equation.rearranged)]
    if equation.layer:  # dL = δᵀ dz, dz = dW h
        signal = n.Var(equation.upstream, shape=equation.expansion[0].shape)
        forms = [[n.MatMul(n.Transpose(signal, shape=Shape(1, signal.shape.rows)), equation.expansion[0])]]
    for terms in forms:
        if terms:
            total = sum(evaluate(term, values, sizes).item() for term in terms)
            assert abs(total - expected) <= 1e-9 * max(1.0, abs(expected)), (equation, total, expected)


def intermediates(result) -> list[tuple[str, n.Node]]:
    """The intermediate variables the derivation defines (not the loss)."""
    definitions = [d for step in result.derivation.steps for d in step.definitions]
    return definitions[:-1]


# The gallery's networks


@pytest.mark.parametrize("source, wrt, let, layout, layers", gallery_networks())
def test_a_gallery_network_is_derived_layer_by_layer(source, wrt, let, layout, layers):
    result = diff(source, wrt, let, layout, steps=True)
    named = intermediates(result)
    assert len(named) >= layers
    written_out = [str(_substituted(body, result.derivation.data.named, set())) for _, body in named]
    assert len(set(written_out)) == len(written_out)  # no subexpression has two names
    assert result.derivation.data.signals  # a backward pass, with error signals
    assert assert_each_equation_holds(result) >= 2 * len(result.derivation.steps) - 2
    last = result.derivation.steps[-1].equations[-1].result
    assert derivative_text(last) == diff(source, wrt, let, layout).text


def test_the_gallery_holds_the_networks_the_course_derives():
    titles = " ".join(title for title, _, _ in _gallery().NETWORKS)
    assert all(word in titles for word in ("classifier", "three-layer tanh regression", "Logistic regression"))
    variables = [arguments[arguments.index("--wrt") + 1] for _, arguments, _ in _gallery().NETWORKS]
    assert variables == ["W1", "b1", "W2", "w"]


def test_the_classifiers_backward_pass_is_the_courses():
    """Checked by hand against the d2l/Parr & Howard derivation: δ₂ = softmax(z₂) - y (1ᵀy = 1 for a
    one-hot y), δ₁ = (W₂ᵀδ₂) ⊙ tanh'(z₁) with tanh' = 1 - h₁², and dL = δ₁ᵀdW₁ x = tr(x δ₁ᵀ dW₁)."""
    lines = diff(CLASSIFIER, "W1", CLASSIFIER_SHAPES, steps=True).derivation.lines()
    assert lines[0].startswith(" 1. z1 = W1 x + b1, h1 = tanh(z1), z2 = W2 h1 + b2, L = -yᵀlog(softmax(z2))")
    assert any(line.startswith(" 2. ∂h1/∂z1 = diag(1 - h1^2)") for line in lines)
    assert any(line.startswith(" 3. ∂z2/∂h1 = W2") for line in lines)
    assert any(line.startswith(" 4. δ2 = (∂L/∂z2)ᵀ = softmax(z2) - y") for line in lines)
    assert any(line.startswith(" 5. δ1 = (∂L/∂z1)ᵀ = (∂h1/∂z1)ᵀ(∂z2/∂h1)ᵀδ2 = (W2ᵀδ2) ⊙ (1 - h1^2)") for line in lines)
    outer = next(line for line in lines if line.startswith(" 6."))
    assert outer.startswith(" 6. dz1 = dW1 x, so dL = δ1ᵀdz1 = δ1ᵀdW1 x = tr(x δ1ᵀ dW1), so ∂L/∂W1 = x δ1ᵀ")
    assert "has the shape of W1ᵀ; the denominator layout transposes it" in lines[lines.index(outer) + 1]
    denominator = diff(CLASSIFIER, "W1", CLASSIFIER_SHAPES, "denominator", steps=True).derivation.lines()
    assert any(line.startswith(" 7. ∂L/∂W1 = δ1 x") and "layout convention" in line for line in denominator)


def test_a_bias_and_an_input_are_read_off_by_the_chain_rule():
    bias = diff(CLASSIFIER, "b1", CLASSIFIER_SHAPES, steps=True).derivation.lines()
    assert any(line.startswith(" 6. ∂L/∂b1 = δ1ᵀ ∂z1/∂b1 = δ1ᵀ") for line in bias)
    by_input = diff(CLASSIFIER, "x", CLASSIFIER_SHAPES, steps=True).derivation.lines()
    assert any(line.startswith(" 6. ∂L/∂x = δ1ᵀ ∂z1/∂x = δ1ᵀW1") for line in by_input)


def test_several_variables_share_one_backward_pass(runner):
    variables = ["W1", "b1", "W2", "b2"]
    results = diff(CLASSIFIER, variables, CLASSIFIER_SHAPES, "denominator", steps=True)
    derivation = results[0].derivation
    assert all(result.derivation is None for result in results[1:])  # one derivation, shown once
    equations = [equation for step in derivation.steps for equation in step.equations]
    assert [equation.signal for equation in equations if equation.signal] == ["δ2", "δ1"]
    answers = [equation.result for equation in equations if equation.answer]
    assert [answer.wrt.name for answer in answers] == variables
    assert [derivative_text(answer) for answer in answers] == [result.text for result in results]
    assert assert_each_equation_holds(results[0]) == 2 * (len(derivation.steps) - 1)  # all but the forward pass
    printed = runner.invoke(cli, ["diff", CLASSIFIER, "--wrt", ",".join(variables), "--let", CLASSIFIER_SHAPES,
                                  "--steps"]).stdout
    assert printed.count("the derivation, step by step") == 1 and printed.count("δ1 = (∂L/∂z1)ᵀ") == 1
    assert printed.count("checked: 3 points") == 4


def test_several_variables_outside_one_network_keep_a_derivation_each():
    results = diff("x'A x + sum(B x)", ["x", "B"], steps=True)
    assert all(result.derivation is not None for result in results)
    lone = diff("-y' log(softmax(W2 tanh(W1 x)))", ["W1", "y"], "y: vector(n)", steps=True)
    assert all(result.derivation is not None for result in lone)  # y enters the loss, not a layer


def test_a_sum_is_differentiated_term_by_term():
    """d2l's tangent line: the power rule on 3x², the constant rule on 4x, then the sum rule."""
    result = diff("3x^2 - 4x", "x", "x: scalar", steps=True)
    assert result.derivation.lines() == [
        " 1. ∂(3x^2)/∂x = 6x                           constant rule, power rule",
        " 2. ∂(4x)/∂x = 4                              constant rule",
        " 3. ∂y/∂x = ∂(3x^2)/∂x - ∂(4x)/∂x = 6x - 4    sum rule",
    ]
    assert assert_each_equation_holds(result) == 6


def test_a_quadratic_form_shows_the_product_rule_and_the_transpose_of_a_scalar():
    """dxᵀA x is a scalar, so it equals its transpose xᵀAᵀdx (checked by hand), and the two terms add up."""
    result = diff("x'Ax", "x", steps=True)
    line = result.derivation.lines()[0]
    assert line.startswith(" 1. dy = dxᵀA x + xᵀA dx = xᵀAᵀdx + xᵀA dx = xᵀ(A + Aᵀ) dx, so ∂y/∂x = xᵀ(A + Aᵀ)")
    assert "product rule in differentials, transpose of a scalar" in line
    assert assert_each_equation_holds(result) == 2
    sums = diff("x'Ax + b'x - 3", "x", "b: vector(n)", steps=True).derivation.lines()[0]
    assert sums.startswith(" 1. dy = dxᵀA x + xᵀA dx + bᵀdx = xᵀAᵀdx + xᵀA dx + bᵀdx")  # d(u + v) = du + dv


def test_logistic_regression_names_x_w_once():
    """The two terms of the loss share X w and sigmoid(X w): one name each (they had two: u and z)."""
    result = diff("-y' log(sigmoid(X w)) - (1 - y)' log(1 - sigmoid(X w))", "w", layout="denominator", steps=True)
    assert [name for name, _ in intermediates(result)] == ["z", "h"]
    lines = result.derivation.lines()
    assert any(line.startswith(" 4. δ = (∂L/∂z)ᵀ = (∂h/∂z)ᵀ(∂L/∂h)ᵀ = h - y") for line in lines)
    assert any(line.startswith(" 6. ∂L/∂w = Xᵀδ") for line in lines)


def test_a_shared_subexpression_gets_one_name_outside_networks_too():
    result = diff("sin(a x)^2 + cos(sin(a x))", "x", "a: scalar, x: scalar", steps=True)
    named = intermediates(result)
    assert len({str(body) for _, body in named}) == len(named)
    assert_each_equation_holds(result)


def test_the_general_derivations_hold_equation_by_equation():
    from cases import WORKED

    for source, wrt, let in WORKED:
        for layout in ("numerator", "denominator"):
            assert_each_equation_holds(diff(source, wrt, let, layout, steps=True), seeds=(0,))


# Generated layer stacks

ACTIVATIONS = ["tanh", "sigmoid", "relu", "softmax"]


def layer_stack(activations: list[str], biases: bool, classifier: bool) -> tuple[str, str]:
    """A network of len(activations) + 1 layers (the activations between them), its loss and declarations."""
    depth = len(activations) + 1
    h = "x"
    for k in range(1, depth + 1):
        z = f"W{k} {h}" + (f" + b{k}" if biases else "")
        h = f"{activations[k - 1]}({z})" if k < depth else z
    source = f"-y' log(softmax({h}))" if classifier else f"1/2 ||{h} - y||^2"
    shapes = ["x: vector(n0)"] + [f"W{k}: matrix(n{k}, n{k - 1})" for k in range(1, depth + 1)]
    shapes += [f"b{k}: vector(n{k})" for k in range(1, depth + 1)] if biases else []
    shapes.append(f"y: {'onehot' if classifier else 'vector'}(n{depth})")
    return source, ", ".join(shapes)


@settings(max_examples=int(os.environ.get("MATCALC_EXAMPLES", 50)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.sampled_from(ACTIVATIONS), min_size=0, max_size=4), st.booleans(), st.booleans(), st.data())
def test_a_generated_network_is_derived_and_checked_step_by_step(activations, biases, classifier, data):
    depth = len(activations) + 1
    source, shapes = layer_stack(activations, biases, classifier)
    layer = data.draw(st.integers(1, depth))
    wrt = data.draw(st.sampled_from([f"W{layer}", *([f"b{layer}"] if biases else []), *(["x"] if layer == 1 else [])]))
    layout = data.draw(st.sampled_from(["numerator", "denominator"]))
    result = diff(source, wrt, shapes, layout, steps=True)  # every step's result self-checked on the way
    least_squares = depth == 1 and not classifier and not wrt.startswith("W")  # a norm of a linear map
    assert bool(result.derivation.data.signals) is not least_squares, source
    assert len(intermediates(result)) >= depth
    assert assert_each_equation_holds(result, seeds=(0,)) >= len(result.derivation.steps) - 1
    assert derivative_text(result.derivation.steps[-1].equations[-1].result) == result.text
    equations = sum(max(1, len(step.equations)) for step in result.derivation.steps)
    assert equations <= 3 * depth + 4, (source, wrt, equations)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_derivation_grows_linearly_with_depth(activation):
    """One more layer adds the same number of equations (its local derivatives and its error signal), and no
    line but the forward pass and the answer grows with the depth: each step is about one layer."""
    equations, widest = [], []
    for depth in range(1, 6):
        source, shapes = layer_stack([activation] * (depth - 1), True, False)
        derivation = diff(source, "W1", shapes, steps=True, check=False).derivation
        equations.append(sum(max(1, len(step.equations)) for step in derivation.steps))
        lines = [line for line in derivation.lines()[1:] if "substitution of the intermediate variables" not in line]
        widest.append(max(len(line) for line in lines))
    assert len({later - earlier for earlier, later in zip(equations[1:], equations[2:])}) == 1, equations
    assert max(widest[1:]) - min(widest[1:]) <= 2, widest
