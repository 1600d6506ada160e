"""Several variables at once (issue 13, SPEC §4), standard input and MATCALC_LAYOUT on the command line."""

import json

import numpy as np
import pytest

from matcalc import DiffResult, DiffResults, diff
from matcalc.cli import cli
from matcalc.errors import InputError, UnknownSymbolError

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
