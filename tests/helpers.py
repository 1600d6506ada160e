"""What the tests of the documentation share: finding its examples, running them, and the noise to ignore.

A transcript is a fenced block whose first line starts with `$ `: each `$ ` line is a command (a trailing
backslash continues it on the next line) and the lines after it, up to the next command or the end of
the block, are what it prints, standard output and standard error together as a terminal shows them.
A session is a fenced block of `>>>` examples, run with doctest.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from matcalc.cli import cli

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")"}
# The environment a documented command must not depend on: a terminal's width and colours, a default layout.
UNSET_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM", "MATCALC_LAYOUT", "MATCALC_TIME_LIMIT")
DOCTEST_FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
LINKED_FOLDERS = ("examples", "scripts")  # what a transcript may read, as from the repository's root


@dataclass(frozen=True)
class Command:
    line: int  # the line of the page where the command starts
    text: str  # as typed after "$ ", continuation lines included
    expected: str  # what the page shows it printing


@dataclass(frozen=True)
class Transcript:
    page: str  # relative to the repository
    line: int
    commands: tuple[Command, ...]

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def documentation_pages() -> list[Path]:
    """README.md, docs/*.md and examples/*.md: every page whose examples are tested."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*.md"))]


def relative(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def code_blocks(text: str) -> Iterator[tuple[int, str]]:
    """Each fenced block's content, with the line number of its first line."""
    for match in FENCE.finditer(text):
        yield text.count("\n", 0, match.start(1)) + 1, match.group(1)


def transcripts(page: Path) -> list[Transcript]:
    found = []
    for first_line, block in code_blocks(page.read_text()):
        if block.startswith("$ "):
            found.append(Transcript(relative(page), first_line, tuple(commands_of(block, first_line))))
    return found


def commands_of(block: str, first_line: int) -> Iterator[Command]:
    lines = block.split("\n")[:-1]  # the block ends with a newline
    position = 0
    while position < len(lines):
        start = position
        text = lines[position][2:]
        while text.endswith("\\") and position + 1 < len(lines):
            position += 1
            text += "\n" + lines[position]
        position += 1
        output_start = position
        while position < len(lines) and not lines[position].startswith("$ "):
            position += 1
        expected = "".join(line + "\n" for line in lines[output_start:position])
        yield Command(first_line + start, text, expected)


def needs_a_shell(command: str) -> bool:
    """A pipe, a redirection or a list of commands is run by bash; a plain `matcalc ...` in this process."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    return not words or words[0] != "matcalc" or any(word in SHELL_OPERATORS for word in words)


def prepare_folder(folder: Path) -> Path:
    """A folder to run transcripts in: the repository's examples and scripts are there, through links, and
    whatever a command writes stays there."""
    for name in LINKED_FOLDERS:
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    return folder


def run_command(command: str, folder: Path) -> str:
    """What the command prints in `folder`, standard output and standard error as a terminal interleaves them."""
    if needs_a_shell(command):
        return run_in_bash(command, folder)
    arguments = shlex.split(command.replace("\\\n", " "))[1:]
    previous = Path.cwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(cli, arguments, prog_name="matcalc").output
    finally:
        os.chdir(previous)


def run_in_bash(command: str, folder: Path) -> str:
    environment = {name: value for name, value in os.environ.items() if name not in UNSET_VARIABLES}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    completed = subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    return completed.stdout


def sessions(page: Path) -> doctest.DocTest | None:
    """The page's `>>>` examples as one doctest, so that they share one namespace, in the page's order."""
    parser = doctest.DocTestParser()
    examples = []
    for first_line, block in code_blocks(page.read_text()):
        for example in parser.get_examples(block):
            example.lineno += first_line - 1  # doctest counts from 0: the report then names the page's line
            examples.append(example)
    if not examples:
        return None
    return doctest.DocTest(examples, {"__name__": "__main__"}, relative(page), relative(page), 0, None)


def run_sessions(test: doctest.DocTest) -> str:
    """The failures of a page's sessions, as doctest reports them ("" if none)."""
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    runner.run(test, out=report.append, clear_globs=True)
    return "".join(report)


def without_rounding_noise(text: str) -> str:
    """The self-check's error is rounding noise whose digits vary with the machine's BLAS.

    So is the largest error of an identity that holds (`max error 2.8e-13` in a row of `matcalc check`):
    the spaces after it go too, as a table pads the cell to its column's width. Only errors below 1e-6
    are noise; a larger one is a result.
    """
    text = re.sub(r"max rel\. error \d(\.\d+)?e-\d+", "max rel. error (noise)", text)
    text = re.sub(r"max error (\d(\.\d+)?e-(0*[7-9]|[1-9]\d)|0(?![.\d])) *", "max error (noise) ", text)
    return re.sub(r'"max_relative_error": \d(\.\d+)?e-\d+', '"max_relative_error": (noise)', text)
