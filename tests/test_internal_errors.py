"""Bad or unusual input that ended in an internal error (exit 4, SPEC §6: matcalc's own fault) now gets an
answer or one clear message with exit status 2 or 3. Each through the command line as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from matcalc.cli import cli


def assert_no_internal_error(result) -> None:
    assert result.exit_code != 4 and "internal error" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_an_empty_mathrm_reads_as_nothing_as_latex_prints_it(runner):
    result = runner.invoke(cli, ["diff", r"\mathrm{}x", "--wrt", "x", "--let", "x: vector(n)"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("∂/∂x x = I")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (r"\mathrm{}", "empty expression"),
        (r"x^\mathrm{}", "an empty superscript"),
        (r"\mathbf{}x", r"an empty \mathbf{}"),
    ],
)
def test_what_an_empty_mathrm_leaves_empty_is_a_clear_error(runner, source, message):
    result = runner.invoke(cli, ["diff", source, "--wrt", "x"])
    assert_no_internal_error(result)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {message}")
    assert "column" in result.stderr


def test_steps_of_a_long_sum_name_as_many_intermediates_as_it_needs(runner):
    """53 terms tanh(exp(k a)) need 106 intermediates; the names ran out after 105 (StopIteration)."""
    source = " + ".join(f"tanh(exp({k} a))" for k in range(1, 54))
    result = runner.invoke(cli, ["diff", source, "--wrt", "a", "--steps", "--let", "a: scalar"])
    assert_no_internal_error(result)
    assert result.exit_code == 0
    definitions = result.stdout.splitlines()[1]
    assert "u99 = 53a" in definitions and "u100 = exp(u99)" in definitions
    assert result.stdout.splitlines()[-1].startswith("checked: 3 points")


@pytest.mark.parametrize("source", ["arctan(a/0) b", "arctan(a ./ 0) b", r"\arctan(\frac{a}{0}) b"])
def test_a_division_by_the_number_zero_is_bad_input(runner, source):
    for fmt in ("text", "numpy"):
        result = runner.invoke(cli, ["diff", source, "--wrt", "b", "--format", fmt])
        assert_no_internal_error(result)
        assert result.exit_code == 2 and result.stderr.startswith("error: division by zero (column ")
        assert result.stdout == ""


@pytest.mark.parametrize("fmt", ["numpy", "torch", "jax"])
def test_code_for_what_divides_by_zero_wherever_it_is_evaluated_is_refused(runner, fmt):
    """a / (1 - 1) is a / 0 after SymPy folds it, which no backend has a constant for (KeyError for NumPy and
    JAX; torch wrote nan * a, which is not arctan(±∞))."""
    result = runner.invoke(cli, ["diff", "arctan(a/(1-1)) b", "--wrt", "b", "--format", fmt])
    assert_no_internal_error(result)
    assert result.exit_code == 2 and "divides by zero" in result.stderr and result.stdout == ""


def run_ascii(*args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """matcalc as a user runs it, with an output encoding that can write nothing but ASCII, strictly."""
    environment = {**os.environ, "PYTHONIOENCODING": "ascii:strict"}
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM"):
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "matcalc", *args], input=stdin, capture_output=True, env=environment, timeout=60
    )


# a LaTeX comment with a byte that is not UTF-8 (é in Latin-1), as the shell passes it
UNDECODABLE = rb"\mathbf{x}^\top A \mathbf{x} % caf" + b"\xe9"


def test_an_undecodable_byte_in_an_answer_s_table_is_replaced():
    result = run_ascii(b"diff", UNDECODABLE, b"--wrt", b"x", b"--format", b"table")
    assert result.returncode == 0, result.stderr
    assert b"% caf?" in result.stdout and b"internal error" not in result.stderr


def test_an_undecodable_byte_in_a_message_that_shows_the_source_is_replaced():
    result = run_ascii(b"diff", UNDECODABLE.replace(b"%", b"+ %"), b"--wrt", b"x")
    assert result.returncode == 2
    assert result.stderr.startswith(b"error: expected an expression, found end of input (column ")
    assert b"caf?" in result.stderr


def test_a_check_table_of_a_latex_comment_on_an_ascii_output(tmp_path):
    """The comment's é (UTF-8 in the file) is in the identity column; Rich wrote to the ASCII-only output
    itself, and UnicodeEncodeError was an internal error."""
    identities = tmp_path / "identities.txt"
    identities.write_bytes(b"let x: vector(n)\n" + rb"\mathbf{x}^\top \mathbf{x} = x'x % caf" + "é\n".encode())
    result = run_ascii(b"check", str(identities).encode())
    assert result.returncode == 0, result.stderr
    assert "café".encode() in result.stdout and b"1 proved" in result.stdout
