"""What users bring from other tools: a pipe that stops reading, Python spellings, undeclared names that solve
cannot use, the help's own examples."""

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matcalc.calculus import solve as closed_form
from matcalc.api import declarations, parse, solve
from matcalc.cli import cli
from matcalc.errors import InputError
from matcalc.nodes import Var

ROOT = Path(__file__).resolve().parent.parent
READER_LEFT = 141  # what the shell reports for a tool that SIGPIPE ended; exit status 0 would do as well


def run_into_closed_pipe(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """`matcalc ARGS | true`, made certain: the reading end is closed before matcalc starts."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        return subprocess.run(
            [sys.executable, "-m", "matcalc", *args],
            stdout=writing,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(writing)


@pytest.fixture
def identities(tmp_path: Path) -> str:
    (tmp_path / "identities.txt").write_text("let x: vector(n), A: matrix(n, n)\nd/dx x'Ax = x'(A + A')\n")
    return "identities.txt"


PIPED_COMMANDS = [
    ["diff", "x'Ax", "--wrt", "x"],
    ["diff", "x'Ax", "--wrt", "x", "--steps"],
    ["diff", "x'Ax", "--wrt", "x", "--format", "json"],
    ["diff", "x'Ax", "--wrt", "x", "--format", "latex"],
    ["diff", "x'Ax", "--wrt", "x", "--format", "numpy"],
    ["diff", "x'Ax", "--wrt", "x", "--format", "table"],
    ["parse", "||y - Xw||^2"],
    ["parse", "||y - Xw||^2", "--format", "json"],
    ["solve", "||y - Xw||^2", "--wrt", "w"],
    ["shapes"],
    ["check", "IDENTITIES"],
    ["check", "IDENTITIES", "--format", "json"],
]


@pytest.mark.parametrize("args", PIPED_COMMANDS, ids=" ".join)
def test_output_to_a_reader_that_left_ends_quietly(args, tmp_path, identities):
    args = [identities if arg == "IDENTITIES" else arg for arg in args]
    finished = run_into_closed_pipe(args, tmp_path)
    assert finished.stderr == b""  # no "internal error", no traceback, no "Exception ignored"
    assert finished.returncode in (0, READER_LEFT)


PIPE_SIZE = 4096  # the smallest a Linux pipe can be: one page
LONG_DERIVATION = (" + ".join(f"sum(tanh(W{k} x))" for k in range(1, 17)), [f"W{k}" for k in range(1, 17)])


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="the pipe's size is set with Linux's F_SETPIPE_SZ")
def test_a_long_output_cut_after_its_first_line_ends_quietly():
    """`matcalc diff ... --steps | head -1`: the reader takes one line and leaves while matcalc still writes
    (the pipe holds 4 KB, the derivation three times as much)."""
    expression, variables = LONG_DERIVATION
    reading, writing = os.pipe()
    fcntl.fcntl(writing, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    process = subprocess.Popen(
        [sys.executable, "-m", "matcalc", "diff", expression, "--wrt", ",".join(variables), "--steps", "--no-check"],
        stdout=writing,
        stderr=subprocess.PIPE,
    )
    os.close(writing)
    with os.fdopen(reading, "rb", buffering=0) as reader:  # unbuffered: it takes the first line and no more
        first_line = reader.readline()
    stderr = process.communicate(timeout=60)[1]
    assert first_line == f"{expression}: the derivation, step by step\n".encode()
    assert stderr == b""
    assert process.returncode in (0, READER_LEFT)


def test_the_long_output_is_longer_than_the_pipe(runner):
    """What makes the test above meaningful: the output does not fit the 4 KB pipe."""
    expression, variables = LONG_DERIVATION
    result = runner.invoke(cli, ["diff", expression, "--wrt", ",".join(variables), "--steps", "--no-check"])
    assert result.exit_code == 0 and len(result.stdout.encode()) > 3 * PIPE_SIZE


# Python habits: each refused with its column and the way to write it here, which then works

HABITS = [
    # (expression, variable, column, what the message says, the way to write it here)
    ("x**2", "x", 2, "use ^ for powers", "x^2"),
    ("exp(x)**2 + 1", "x", 7, "use ^ for powers", "exp(x)^2"),
    ("np.log(x)", "x", 1, "no module prefix", "log(x)"),
    ("numpy.exp(x)", "x", 1, "no module prefix", "exp(x)"),
    ("torch.tanh(x)", "x", 1, "no module prefix", "tanh(x)"),
    ("math.sqrt(a)", "a", 1, "no module prefix", "sqrt(a)"),
    ("1 + np.maximum(0, x)", "x", 5, "no module prefix", "max(0, x)"),
    ("sum(np.linalg.inv(A) x)", "x", 5, "no module prefix", "inv(A) x"),
    ("np.pi * a", "a", 1, "no module prefix", "pi"),
    ("x.sum()", "x", 1, "a Python method call", "sum(x)"),
    ("A.transpose()", "A", 1, "a Python method call", "A'"),
    ("x.dot(y)", "x", 1, "a Python method call", "dot(x, y)"),
    ("sum(X, axis=0)", "X", 8, "axis= is a Python keyword argument", "vector(1)'X"),
]


@pytest.mark.parametrize("source, wrt, column, message, written", HABITS, ids=[h[0] for h in HABITS])
def test_a_python_habit_is_refused_with_the_way_to_write_it(runner, source, wrt, column, message, written):
    result = runner.invoke(cli, ["diff", source, "--wrt", wrt])
    assert result.exit_code == 2 and result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert message in first and first.endswith(f"(column {column})")
    assert "^" in rest[1] and rest[1].index("^") - 2 == column - 1  # the carets start at that column
    assert written in result.stderr and "Traceback" not in result.stderr
    # and what it says to write is matcalc's language
    assert runner.invoke(cli, ["parse", written]).exit_code == 0, written


def test_a_module_function_matcalc_lacks_is_said_to_be_missing(runner):
    result = runner.invoke(cli, ["diff", "np.einsum(x)", "--wrt", "x"])
    assert result.exit_code == 2 and "matcalc has no function einsum" in result.stderr


def test_a_keyword_argument_elsewhere_says_arguments_go_in_order(runner):
    result = runner.invoke(cli, ["diff", "max(x, dim=0)", "--wrt", "x"])
    assert result.exit_code == 2 and "(column 8)" in result.stderr
    assert "in order, without names" in result.stderr and "vector(1)" not in result.stderr


def test_the_axis_hint_means_what_it_says():
    """sum(X, axis=0) is NumPy's column sums: vector(1)'X; axis=1 the row sums: X vector(1)."""
    X = np.arange(6.0).reshape(2, 3)
    columns = parse("vector(1)'X", "X: matrix(m, n)")
    rows = parse("X vector(1)", "X: matrix(m, n)")
    from matcalc.numeric.evaluate import evaluate

    assert np.allclose(evaluate(columns.expr, {"X": X}, {"m": 2, "n": 3}).ravel(), X.sum(axis=0))
    assert np.allclose(evaluate(rows.expr, {"X": X}, {"m": 2, "n": 3}).ravel(), X.sum(axis=1))


@pytest.mark.parametrize("source", ["x.T A x", "2.*x", "x./y", "x.^2", "A.T @ x"])
def test_matcalcs_own_dots_still_work(runner, source):
    assert runner.invoke(cli, ["parse", source]).exit_code == 0


def test_an_unclosed_call_is_not_taken_for_a_keyword_argument(runner):
    result = runner.invoke(cli, ["parse", "tr(A = B"])
    assert result.exit_code == 2 and "keyword" not in result.stderr


# solve: a refusal caused by an inferred shape names the inference


def test_solve_names_a_scalar_assumed_where_a_vector_was_meant(runner):
    result = runner.invoke(cli, ["solve", "1/2 x'Ax - d x", "--wrt", "x", "--let", "A: posdef(n)"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "solve needs a scalar function; this one is a vector (n×1) (column 12)" in result.stderr  # d's column
    assert "d was assumed a scalar (declare d: vector(n) if it is a vector" in result.stderr


def test_solve_names_a_vector_assumed_where_a_scalar_was_meant(runner):
    result = runner.invoke(cli, ["solve", "x'Ax - y", "--wrt", "x"])
    assert result.exit_code == 2
    assert re.search(r"y was assumed a vector\(\w+\) \(declare y: scalar if it is a scalar", result.stderr)


def test_solve_blames_no_declared_name(runner):
    result = runner.invoke(cli, ["solve", "1/2 x'Ax - d x", "--wrt", "x", "--let", "A: posdef(n), d: scalar"])
    assert result.exit_code == 2
    assert "solve needs a scalar function" in result.stderr and "assumed" not in result.stderr


def test_following_the_advice_solves(runner):
    """With d declared a vector and written d'x, the quadratic solves: x = A⁻¹d (A symmetric)."""
    result = runner.invoke(cli, ["solve", "1/2 x'Ax - d'x", "--wrt", "x", "--let", "A: posdef(n), d: vector(n)"])
    assert result.exit_code == 0 and result.stdout.startswith("x = A⁻¹ d\n")


def test_a_transposed_scalar_is_named_too():
    """b'x with b inferred a scalar (as an older inference did) scales x: the refusal names b."""
    parsed = parse("1/2 x'Ax - b'x", "A: posdef(n), b: scalar, x: vector(n)")
    env_without_b = declarations("A: posdef(n), x: vector(n)")  # b undeclared: its scalar shape was inferred
    with pytest.raises(InputError) as refused:
        closed_form.solve(parsed.expr, Var("x", shape=parsed.shapes()["x"]), env_without_b)
    assert "b was assumed a scalar (declare b: vector(n)" in refused.value.hint


def test_a_gradient_that_is_not_affine_still_has_no_closed_form(runner):
    result = runner.invoke(cli, ["solve", "sum(exp(Xw))", "--wrt", "w"])
    assert result.exit_code == 1 and "assumed" not in result.stderr


def test_a_scalar_offset_of_a_vector_solution_is_expanded_to_the_vector():
    """||x - c||² with c a scalar is least at x = c 𝟏, a vector: never c I, a matrix."""
    result = solve("||x - c||^2", "x")
    assert result.text == "x = c 1" and result.solution.value.shape == result.solution.wrt.shape
    assert result.to_json()["result_shape"] == ["n"]
    point = eval(result.numpy, {"np": np}, {"c": 1.5, "n": 4})  # matcalc's own generated code
    assert point.shape == (4,) and np.allclose(point, 1.5)  # the gradient 2(x - c 𝟏) vanishes there


# The help: its examples run, and its list of commands is not cut short


def test_the_at_example_of_the_help_runs(runner):
    help_text = runner.invoke(cli, ["diff", "--help"], terminal_width=200).stdout
    option = re.search(r'--at VALUES.*?as\s+in\s+--at\s+("[^"]+")\s+for\s+(\S+)', help_text, re.DOTALL)
    example = re.search(r"^\s*matcalc diff (\"x'Ax\" --wrt x --at (\"[^\"]+\"))$", help_text, re.MULTILINE)
    assert option and example and option.group(1) == example.group(2) and option.group(2) == "x'Ax"
    values = json.loads(option.group(1))  # the quoted values, as the shell would pass them
    result = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--at", values])
    assert result.exit_code == 0, result.output
    # x'(A + A') at x = [1, 2], A = [[1, 2], [3, 4]]: [1, 2] [[2, 5], [5, 8]] = [12, 21]
    assert result.stdout.rstrip().endswith(": [12.0, 21.0]")


def test_the_command_list_shows_each_description_in_full(runner):
    result = runner.invoke(cli, ["--help"], terminal_width=80)
    commands = result.stdout.split("Commands:\n", 1)[1]
    assert "..." not in commands
    listed = " ".join(commands.split())
    for name, command in cli.commands.items():
        assert command.short_help and f"{name} {command.short_help}" in listed, name
