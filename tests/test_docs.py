"""The README is tested: its transcripts are what the CLI prints, its test command is CI's."""

import re
import shlex
from pathlib import Path

import pytest

from matcalc.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def transcripts():
    for block in re.findall(r"```\n(\$ matcalc .*?)```", README, flags=re.S):
        command, *output = block.rstrip("\n").split("\n")
        yield shlex.split(command[2:])[1:], "\n".join(output) + "\n"


@pytest.mark.parametrize("args, expected", list(transcripts()), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_readme_transcript(runner, args, expected):
    result = runner.invoke(cli, args)
    assert without_rounding_noise(result.output) == without_rounding_noise(expected)


def without_rounding_noise(text: str) -> str:
    """The self-check's error is rounding noise whose digits vary with the machine's BLAS."""
    text = re.sub(r"max rel\. error \d(\.\d+)?e-\d+", "max rel. error (noise)", text)
    return re.sub(r'"max_relative_error": \d(\.\d+)?e-\d+', '"max_relative_error": (noise)', text)


def test_readme_has_transcripts():
    assert len(list(transcripts())) >= 2


def test_ci_runs_the_readme_test_command():
    ci_script = (ROOT / ".ci" / "run").read_text()
    test_command = ci_script.strip().splitlines()[-1]
    assert f"```\n{test_command}\n```" in README


def test_every_command_has_help_text(runner):
    for name, command in cli.commands.items():
        assert command.help, name
        assert runner.invoke(cli, [name, "--help"]).exit_code == 0
