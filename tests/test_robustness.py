"""Hostile or huge input: a clean error, quickly, never a traceback or a hang."""

import time

import pytest

from matcalc import parse
from matcalc.cli import cli
from matcalc.errors import MatcalcError


@pytest.mark.parametrize("text", [
    "__import__('os').system('id')",
    "lambda: 0",
    "x.__class__",
    "exec('1')",
    "eval(\"1\")",
    "x; import os",
    "{}",
    "x[0]",
])
def test_code_is_refused_cleanly(runner, text):
    result = runner.invoke(cli, ["parse", text])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text", [
    "x + " * 25_000 + "x",  # 100,000 characters
    "(" * 10_000 + "x" + ")" * 10_000,  # 10,000 nested parentheses
    "-" * 5_000 + "x",
    "|" * 3_000 + "x" + "|" * 3_000,
    "sum(" * 3000 + "x" + ")" * 3000,
    "x" + "'" * 9_000,
    "a^" * 3_000 + "a",
    "x + " * 2_400 + "x",  # short enough to read, too deep to work with
])
def test_huge_or_deep_input_is_refused_within_a_second(text):
    start = time.perf_counter()
    with pytest.raises(MatcalcError):
        parse(text)
    assert time.perf_counter() - start < 1.0


def test_huge_number_and_power_tower_are_refused():
    with pytest.raises(MatcalcError):
        parse("1e999999 x")
    with pytest.raises(MatcalcError):
        parse("9^9^9^9")


def test_moderately_long_input_still_works():
    assert parse(" + ".join(["x"] * 150)).shape.dims() == ["n"]
