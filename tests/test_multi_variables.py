"""Several variables at once (SPEC §4), standard input and MATCALC_LAYOUT on the command line."""

import json

import numpy as np
import pytest

from matcalc import DiffResult, DiffResults, diff
from matcalc import nodes as n
from matcalc.cli import cli
from matcalc.errors import InputError, UnknownSymbolError
from matcalc.render.text import shared_where

from helpers import pdflatex

NETWORK = "-y' log(softmax(W2 tanh(W1 x + b1) + b2))"
LET = "W1: matrix(m, k), b1: vector(m), W2: matrix(n, m), b2: vector(n), x: vector(k), y: vector(n)"


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def network_gradients(W1, b1, W2, b2, x, y):
    """Backpropagation by hand, in denominator layout (each gradient has its variable's shape)."""
    h = np.tanh(W1 @ x + b1)
    p = softmax(W2 @ h + b2)
    g_o = p * y.sum() - y  # d/do of -y' log softmax(o)
    g_h = W2.T @ g_o
    g_a = (1 - h**2) * g_h
    return {"W1": np.outer(g_a, x), "b1": g_a, "W2": np.outer(g_o, h), "b2": g_o}


def random_network(rng):
    return {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4), "W2": rng.normal(size=(5, 4)),
            "b2": rng.normal(size=5), "x": rng.normal(size=3), "y": rng.uniform(size=5)}


def test_a_list_of_variables_gives_one_result_each_in_order():
    results = diff(NETWORK, ["W1", "b1", "W2", "b2"], LET, layout="denominator")
    assert isinstance(results, DiffResults) and [r.wrt for r in results] == ["W1", "b1", "W2", "b2"]
    assert all(isinstance(r, DiffResult) and r.check.holds and r.check.points for r in results)  # each self-checked
    values = random_network(np.random.default_rng(1))
    by_hand = network_gradients(**values)
    for result in results:
        got = result.function()(**values)
        assert got.shape == by_hand[result.wrt].shape
        assert np.allclose(got, by_hand[result.wrt], atol=1e-10)


def test_a_comma_string_is_several_variables_one_name_is_one_result():
    assert [r.wrt for r in diff("w'x + b", "w, b")] == ["w", "b"]
    single = diff("w'x + b", "w")
    assert isinstance(single, DiffResult) and single.text == "x'"


def test_where_names_are_shared_across_the_results():
    results = diff(NETWORK, "W1,b1,W2", LET)
    definitions = {}
    for result in results:
        for name, value in result.where:
            assert definitions.setdefault(name, value) == value  # one meaning per name
    # tanh(W1 x + b1) appears in every derivative: one name for all
    hidden = [name for name, value in results.where if value == "tanh(W1 x + b1)"]
    assert len(hidden) == 1 and all(hidden[0] in r.text or any(hidden[0] in v for _, v in r.where)
                                    for r in results)


def test_repeated_or_unknown_variables_are_errors():
    with pytest.raises(InputError, match="given twice"):
        diff("x'y", "x,x")
    with pytest.raises(UnknownSymbolError, match="did you mean"):
        diff("x'y", ["x", "z"])


def test_cli_text_shows_each_result(runner):
    result = runner.invoke(cli, ["diff", "w'x + b", "--wrt", "w", "--wrt", "b"], catch_exceptions=False)
    assert result.exit_code == 0
    blocks = result.stdout.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].startswith("∂/∂w w'x + b = xᵀ\nshape: (1, n)") and "checked:" in blocks[0]
    assert blocks[1].startswith("∂/∂b w'x + b = 1\nshape: (1,)") and blocks[1].rstrip().splitlines()[-1].startswith("checked:")


def test_cli_json_is_an_array_of_the_per_variable_objects(runner):
    result = runner.invoke(cli, ["diff", NETWORK, "--wrt", "W1,b1", "--wrt", "W2", "--let", LET, "--format", "json"],
                           catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [item["wrt"] for item in data] == ["W1", "b1", "W2"]
    assert [item["result_shape"] for item in data] == [["k", "m"], [1, "m"], ["m", "n"]]
    assert all(item["checked"]["holds"] for item in data)
    values = random_network(np.random.default_rng(2))
    by_hand = network_gradients(**values)
    for item in data:  # the numpy field of each, in numerator layout: the transpose of the gradient
        got = np.asarray(eval(item["numpy"], {"np": np}, values))  # our generated code
        assert np.allclose(got, by_hand[item["wrt"]].T, atol=1e-10)
    single = json.loads(runner.invoke(cli, ["diff", "x'x", "--wrt", "x", "--format", "json"]).stdout)
    assert isinstance(single, dict)  # one variable: one object, as before


def test_cli_latex_has_one_line_per_variable(runner):
    result = runner.invoke(cli, ["diff", "w'x + b", "--wrt", "w,b", "--format", "latex"])
    assert result.exit_code == 0 and result.stdout.count("\n") == 2


def test_cli_empty_variable_name_is_an_input_error(runner):
    result = runner.invoke(cli, ["diff", "x'y", "--wrt", "x,"])
    assert result.exit_code == 2 and "--wrt needs variable names" in result.stderr


@pytest.mark.parametrize("command, expected", [
    (["diff", "-", "--wrt", "x"], "∂/∂x x'Ax = xᵀ(A + Aᵀ)\n"),
    (["parse", "-"], "expression: x' A x\n"),
    (["solve", "-", "--wrt", "x"], "x = 0\n"),
])
def test_dash_reads_the_expression_from_standard_input(runner, command, expected):
    result = runner.invoke(cli, command, input="x'Ax\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(expected)


def test_matcalc_layout_sets_the_default_layout(runner, monkeypatch):
    monkeypatch.setenv("MATCALC_LAYOUT", "denominator")
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x"])
    assert "shape: (n, 1) (denominator layout)" in result.stdout
    explicit = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--layout", "numerator"])
    assert "shape: (1, n) (numerator layout)" in explicit.stdout  # an option beats the environment
    shapes = runner.invoke(cli, ["shapes"])
    assert "denominator" in shapes.stdout
    monkeypatch.setenv("MATCALC_LAYOUT", "sideways")
    bad = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x"])
    assert bad.exit_code == 2 and "MATCALC_LAYOUT is one of numerator, denominator, mixed" in bad.stderr
    assert "Traceback" not in bad.output


def test_every_subcommand_has_an_example_and_every_option_a_help_text(runner):
    for name, command in cli.commands.items():
        page = runner.invoke(cli, [name, "--help"]).stdout
        assert "Example" in page and f"matcalc {name} " in page, name
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"{name} {param.opts}"


def test_matcalc_layout_is_the_layout_of_check_until_a_layout_line(runner, monkeypatch):
    identity = "d/dx x'Ax = (A + A')x\n"  # the gradient as a column: true in denominator layout only
    assert runner.invoke(cli, ["check", "-"], input=identity).exit_code == 1
    monkeypatch.setenv("MATCALC_LAYOUT", "denominator")
    assert runner.invoke(cli, ["check", "-"], input=identity).exit_code == 0
    assert runner.invoke(cli, ["check", "-"], input="layout numerator\n" + identity).exit_code == 1


# ---------------------------------------------------------------- the shared names, once

TWO_LAYERS = "||W2 tanh(W1 x + b1) + b2 - y||^2"
TWO_LAYERS_LET = "W1: matrix(m, k), x: vector(k), b1: vector(m), W2: matrix(n, m), b2: vector(n), y: vector(n)"


def test_cli_latex_defines_the_shared_names_once_after_all_the_answers(runner, tmp_path, pdflatex_available):
    run = runner.invoke(cli, ["diff", TWO_LAYERS, "--wrt", "W1,b1,W2,b2", "--let", TWO_LAYERS_LET,
                              "--format", "latex"])
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    # With t1 = tanh(W1 x + b1), t2 = W2 t1 + b2 - y (the residual), t3 = (W2ᵀt2) ⊙ (1 - t1²) (the error
    # signal at the hidden layer, tanh' = 1 - tanh²) and f the loss: df = 2 t2ᵀ(dW2 t1 + db2) + 2 t3ᵀ(dW1 x + db1).
    # In numerator layout ∂f/∂W1 is the k×m matrix 2 x t3ᵀ, ∂f/∂b1 the row 2 t3ᵀ, ∂f/∂W2 = 2 t1 t2ᵀ (m×n),
    # ∂f/∂b2 = 2 t2ᵀ.
    assert lines[:4] == [
        r"\frac{\partial f}{\partial W_{1}} = 2 \mathbf{x} \mathbf{t}_{3}^\top",
        r"\frac{\partial f}{\partial \mathbf{b}_{1}} = 2 \mathbf{t}_{3}^\top",
        r"\frac{\partial f}{\partial W_{2}} = 2 \mathbf{t}_{1} \mathbf{t}_{2}^\top",
        r"\frac{\partial f}{\partial \mathbf{b}_{2}} = 2 \mathbf{t}_{2}^\top",
    ]
    # then the loss and the names, each once, in an aligned block of their own (too wide for one line)
    assert lines[4:] == [
        r"\begin{aligned} &\text{where } f = \lVert W_{2} \tanh(W_{1} \mathbf{x} + \mathbf{b}_{1}) + \mathbf{b}_{2} "
        r"- \mathbf{y} \rVert_2^{2} \\ &\phantom{\text{where }} \mathbf{t}_{1} = \tanh(W_{1} \mathbf{x} + "
        r"\mathbf{b}_{1}) \\ &\phantom{\text{where }} \mathbf{t}_{2} = W_{2} \mathbf{t}_{1} + \mathbf{b}_{2} - "
        r"\mathbf{y} \\ &\phantom{\text{where }} \mathbf{t}_{3} = (W_{2}^\top \mathbf{t}_{2}) \odot (1 - "
        r"\mathbf{t}_{1}^{\circ 2}) \end{aligned}"]
    assert run.stdout.count(r"\mathbf{t}_{1} =") == 1 and run.stdout.count(r"\lVert W_{2}") == 1
    compiled, log = pdflatex(lines, tmp_path)
    assert compiled, log[-2000:]


def test_cli_latex_states_the_notes_all_the_results_share_once(runner):
    run = runner.invoke(cli, ["diff", TWO_LAYERS, "--wrt", "W1,b1,W2,b2", "--format", "latex", "--no-check"])
    assert run.exit_code == 0, run.output
    *answers, names = run.stdout.splitlines()
    assert len(answers) == 4 and not any(r"\text" in line for line in answers)
    assert names.count(r"b_{1} \text{ a scalar added to every entry}") == 1  # b1, b2 undeclared: scalars
    assert names.count(r"b_{2} \text{ a scalar added to every entry}") == 1


def test_cli_latex_right_hand_sides_then_the_names(runner):
    run = runner.invoke(cli, ["diff", TWO_LAYERS, "--wrt", "W2,b2", "--let", TWO_LAYERS_LET, "--format", "latex",
                              "--latex", "rhs", "--no-check"])
    # by W2 and b2 the residual t1 = W2 tanh(W1 x + b1) + b2 - y is named:
    # ∂f/∂W2 = 2 tanh(W1 x + b1) t1ᵀ, ∂f/∂b2 = 2 t1ᵀ
    assert run.stdout.splitlines() == [
        r"2 \tanh(W_{1} \mathbf{x} + \mathbf{b}_{1}) \mathbf{t}_{1}^\top",
        r"2 \mathbf{t}_{1}^\top",
        r"\text{where } \mathbf{t}_{1} = W_{2} \tanh(W_{1} \mathbf{x} + \mathbf{b}_{1}) + \mathbf{b}_{2} - \mathbf{y}",
    ]


def test_cli_text_shows_the_shared_names_once_after_all_the_results(runner):
    run = runner.invoke(cli, ["diff", TWO_LAYERS, "--wrt", "W1,b1,W2,b2", "--let", TWO_LAYERS_LET, "--no-check"])
    assert run.exit_code == 0, run.output
    blocks = run.stdout.rstrip("\n").split("\n\n")
    assert len(blocks) == 5 and not any("where" in block for block in blocks[:4])
    assert blocks[0].splitlines()[0] == f"∂/∂W1 {TWO_LAYERS} = 2x t3ᵀ"  # as in the LaTeX test above
    assert blocks[4].splitlines() == ["where t1 = tanh(W1 x + b1)", "where t2 = W2 t1 + b2 - y",
                                      "where t3 = (W2ᵀt2) ⊙ (1 - t1^2)"]


def test_shared_names_are_defined_after_the_names_they_use():
    results = diff(TWO_LAYERS, "W2,W1", TWO_LAYERS_LET, check=False)
    definitions = shared_where([r.derivative for r in results])
    names = [name for name, _ in definitions]
    for position, (name, value) in enumerate(definitions):
        used = {sub.name for sub in n.walk(value) if isinstance(sub, n.Var)}
        assert not used & set(names[position:]), name
    assert sorted(names) == sorted({name for r in results for name, _ in r.where})
