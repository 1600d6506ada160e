"""What several tests share: the documentation's examples (finding them, running them, the noise to ignore),
and LaTeX (compiled with pdflatex, read back as input).

A transcript is a fenced block whose first line starts with `$ `: each `$ ` line is a command (a trailing
backslash continues it on the next line) and the lines after it, up to the next command or the end of
the block, are what it prints, standard output and standard error together as a terminal shows them.
A session is a fenced block of `>>>` examples, run with doctest.
"""

from __future__ import annotations

import dataclasses
import doctest
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from click.testing import CliRunner

from matcalc import nodes as n
from matcalc.api import parse
from matcalc.cli import cli
from matcalc.errors import ShapeError
from matcalc.language.latex import translate
from matcalc.shapes import Shape

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


# LaTeX: compiled with pdflatex, and read back as input


def pdflatex(texts: list[str], directory: Path) -> tuple[bool, str]:
    """Compile the texts as display equations in one minimal document; (success, log)."""
    body = "\n".join(rf"\[ {text} \]" for text in texts)
    document = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                f"{body}\n\\end{{document}}\n")
    (directory / "results.tex").write_text(document)
    command = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "results.tex"]
    run = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300, check=False)
    log_path = directory / "results.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else run.stdout
    errors = "Undefined control sequence" in log or any(line.startswith("!") for line in log.splitlines())
    return run.returncode == 0 and not errors, log


def normal(node: n.Node):
    r"""A typed tree as LaTeX shows it: a product of juxtaposed factors as the list of its factors (LaTeX
    prints a (b C) and (a b) C alike), with its minus signs counted in front ((-a) b and -(a b) print
    alike), c 1 (a constant vector) as the product it is printed as, and a division of two whole
    numbers as the number (1/2 and 0.5 both print as \frac{1}{2}, read as the number); (A^T)^-1 and
    (A^-1)^T both print as A^{-\top}, log(det(X)) and logdet(X) as \log\det X, a row of ones and the
    transposed column of ones as \mathbf{1}^\top, the matrix of ones and the product of ones as
    \mathbf{1} \mathbf{1}^\top."""
    negative, form = _signed(node)
    return ("-", form) if negative else form


def _signed(node: n.Node) -> tuple[bool, object]:
    if isinstance(node, n.Apply) and node.function == "log" and isinstance(node.operand, n.Det):
        node = n.LogDet(node.operand.operand, shape=node.shape)  # both print as \log\det X
    if isinstance(node, n.Fill) and node.shape.is_matrix and node.value == n.Number(Fraction(1)):
        ones = dataclasses.replace(node, shape=Shape(node.shape.rows, 1))  # \mathbf{1} \mathbf{1}^\top
        row = n.Transpose(dataclasses.replace(node, shape=Shape(node.shape.cols, 1)), shape=Shape(1, node.shape.cols))
        return _product([ones, row], node.shape)
    if isinstance(node, n.Fill) and node.shape.is_row:  # a row of ones prints as \mathbf{1}^\top
        node = n.Transpose(dataclasses.replace(node, shape=Shape(node.shape.cols, 1)), shape=node.shape)
    if isinstance(node, n.Inverse):  # (A^T)^-1 and (A^-1)^T both print as A^{-\top}: transposes go outside
        form, transposes = normal(node.operand), 0
        while form[0] == "Transpose":
            form, transposes = form[2], transposes + 1
        form = ("Inverse", node.shape, form)
        for _ in range(transposes):
            form = ("Transpose", node.shape, form)
        return False, form
    if isinstance(node, n.Neg):
        negative, form = _signed(node.operand)
        return not negative, form
    if isinstance(node, n.Number) and node.value < 0:
        return True, ("Number", -node.value)
    if isinstance(node, n.Fill) and node.value != n.Number(Fraction(1)) and node.value != n.Number(Fraction(0)):
        return _product([node.value, dataclasses.replace(node, value=n.Number(Fraction(1)))], node.shape)
    if isinstance(node, n.Divide) and all(isinstance(side, n.Number) and side.value.denominator == 1
                                          for side in (node.left, node.right)):
        return _signed(n.Number(node.left.value / node.right.value))  # 1/2 and 0.5 both print \frac{1}{2}
    if isinstance(node, (n.MatMul, n.ScalarMul)):
        return _product(_factors(node), node.shape)
    if isinstance(node, (n.Hadamard, n.Divide)):
        negative, left = _signed(node.left)
        return negative, (type(node).__name__, node.shape, left, normal(node.right))
    parts = tuple(normal(value) if isinstance(value, n.Node) else value
                  for field in dataclasses.fields(node) if field.name != "span"
                  for value in [getattr(node, field.name)])
    return False, (type(node).__name__, *parts)


def _product(factors: list[n.Node], shape) -> tuple[bool, object]:
    negative, forms = False, []
    for factor in factors:
        minus, form = _signed(factor)
        negative ^= minus
        forms += form[2] if form[0] == "product" else [form]  # B (-(C B)) prints as B (-C B)
    return negative, ("product", shape, tuple(forms))


def _factors(node: n.Node) -> list[n.Node]:
    if isinstance(node, (n.MatMul, n.ScalarMul)):
        return _factors(node.left) + _factors(node.right)
    return [node]


def reads_back(expr: n.Node, latex: str, let: str) -> None:
    again = parse(latex, let).expr
    assert normal(again) == normal(expr), f"{latex} reads as {translate(latex).text}"


def sized(latex: str, let: str) -> bool:
    r"""Whether the LaTeX gives every I and \mathbf{1} a size: LaTeX writes eye(m) and ones(m) as I and
    \mathbf{1}, which take their size from what is around them, and on their own nothing is."""
    try:
        parse(latex, let)
    except ShapeError as error:
        return "gives this a size" not in error.message
    return True


def zero_matrix(expr: n.Node) -> bool:
    r"""\mathbf{0} is read as the zero vector; matcalc prints a zero matrix so too."""
    return any(isinstance(node, n.Fill) and node.value == n.Number(Fraction(0)) and node.shape.is_matrix
               for node in n.walk(expr))
