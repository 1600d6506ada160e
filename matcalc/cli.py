"""The `matcalc` command: the only module that prints, reads files or picks exit statuses."""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import io
import json
import os
import re
import sys
from dataclasses import replace

import click

from .errors import (
    ExitStatus,
    FileError,
    InputError,
    MatcalcError,
    OutOfTime,
    UnsupportedError,
    format_error,
    time_limit,
)
from .layout import Layout

LAYOUTS = [layout.value for layout in Layout]
DIFF_FORMATS = ["text", "latex", "table", "json", "numpy", "sympy", "torch", "jax"]
SOLVE_FORMATS = ["text", "latex", "table", "json", "numpy"]
CODE_FORMATS = ("numpy", "torch", "jax")  # a module with f_and_grad and check_gradient
_LAYOUT_HELP = "numerator (the default), denominator or mixed; the environment variable MATCALC_LAYOUT sets the default"
_DIFF_FORMAT_HELP = (
    "text (Unicode math), latex (one line), table, json (one object; an array for several "
    "variables), numpy, torch or jax (a module with f_and_grad and check_gradient), sympy "
    "(Python code that builds the SymPy objects)"
)
MAX_ORDER = 6  # as matcalc.api.MAX_ORDER; not imported from there, so that --help stays fast
VERIFY_POINTS = 10
LATEX_WIDTH = 50  # as matcalc.render.latex.LINE_WIDTH: about a displayed line of an article page
INTERNAL_ERROR = "internal error"
MAX_FILE_BYTES = 10_000_000  # an identity file or standard input larger than this is refused
_LET_HELP = 'declarations such as "x: vector(n), A: matrix(n, n)" (repeatable; "," or ";" separate)'


class MatcalcGroup(click.Group):
    """One error boundary: a MatcalcError becomes a message on stderr and an exit status; output cut short
    by its reader (matcalc ... | head) ends quietly."""

    def invoke(self, ctx: click.Context):
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # the last of the output written here, where a reader that left is caught
        except BrokenPipeError:
            _discard_output()
            ctx.exit(READER_LEFT)
        except MatcalcError as error:
            click.echo(format_error(error), err=True)
            ctx.exit(error.exit_code)
        except RecursionError:
            click.echo("error: the input is too deeply nested to work with", err=True)
            ctx.exit(ExitStatus.INPUT)
        except MemoryError:
            click.echo("error: this input needs more memory than matcalc allows itself (500 MB)", err=True)
            ctx.exit(ExitStatus.UNSUPPORTED)
        except OutOfTime as limit:
            click.echo(
                f"error: not answered within {limit.args[0]:g} s of CPU time, what matcalc allows itself for "
                "one command: this input is too large for matcalc yet",
                err=True,
            )
            ctx.exit(ExitStatus.UNSUPPORTED)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:  # matcalc's own fault: a message that asks for a report, not a traceback
            if os.environ.get("MATCALC_DEBUG"):
                raise
            click.echo(
                f"{INTERNAL_ERROR}: {type(error).__name__}: {error}\n  this is a bug in matcalc; please "
                "report it with the command that caused it (MATCALC_DEBUG=1 shows the traceback)",
                err=True,
            )
            ctx.exit(ExitStatus.INTERNAL)


READER_LEFT = 128 + 13  # the status of a command-line tool that SIGPIPE ended: its reader stopped reading


def _discard_output() -> None:
    """Point standard output at the null device, so that the interpreter's last flush of what is left in
    its buffer does not fail again and print a complaint."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):  # no file descriptor: in memory
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@click.group(cls=MatcalcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcalc-symbolic", prog_name="matcalc")
def cli() -> None:
    """Symbolic matrix calculus: parse, differentiate and check expressions over
    scalars, vectors and matrices."""


_LONG_OPTION = re.compile(r"--[A-Za-z][A-Za-z0-9-]*(=.*)?", re.DOTALL)


class ExpressionCommand(click.Command):
    """A command whose argument is an expression, which may start with "-" (SPEC §2:
    "-y' log(softmax(o))", "-sum(tanh(x))"): such an argument is the expression, never a bundle of short
    options (the h of tanh is not -h). What looks like a long option (--fromat) stays an option, so an
    unknown one is an error that suggests the nearest. An expression "-" is read from standard input."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _expressions_last(self.get_params(ctx), list(args)))

    def invoke(self, ctx: click.Context):
        if ctx.params.get("expression") == "-":
            ctx.params["expression"] = read_text(None, "standard input").strip()
        limit = _time_limit(self.name)
        if (
            limit is not None
            and self.name in ("diff", "parse")
            and ctx.params.get("fmt") in SYMPY_FORMATS
            and not os.environ.get("MATCALC_TIME_LIMIT")
        ):
            limit += SYMPY_TIME  # importing SymPy and printing through it
        with time_limit(limit):
            return super().invoke(ctx)


# Limits of CPU time, a safety net under the work budgets (sizes, powers, terms); MATCALC_TIME_LIMIT
# sets them all (0: none). plot's includes drawing, and importing matplotlib can take seconds the first time.
TIME_LIMITS = {"parse": 2.0, "diff": 2.0, "solve": 2.0, "plot": 15.0}
SYMPY_FORMATS = ("numpy", "torch", "jax", "sympy")  # code formats, run before they are shown (numeric/codecheck.py)
SYMPY_TIME = 4.0  # more seconds for them: importing SymPy takes about 0.5 s of CPU time, torch about 2 s


def _time_limit(command: str | None) -> float | None:
    setting = os.environ.get("MATCALC_TIME_LIMIT")
    if setting:
        try:
            return max(float(setting), 0.0) or None
        except ValueError:
            raise InputError(f"MATCALC_TIME_LIMIT is a number of seconds, not {setting!r}") from None
    return TIME_LIMITS.get(command or "")


def default_layout() -> str:
    """The layout when --layout is not given: MATCALC_LAYOUT, else numerator (SPEC §4)."""
    setting = os.environ.get("MATCALC_LAYOUT", "").strip()
    if not setting:
        return Layout.NUMERATOR.value
    if setting.lower() not in LAYOUTS:
        raise InputError(f"MATCALC_LAYOUT is one of {', '.join(LAYOUTS)}, not {setting!r}")
    return setting.lower()


def several_variables(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    """The variables of --wrt: a comma list (--wrt W1,b1), --wrt repeated, or both, in order."""
    names = [name.strip() for text in value for name in re.split(r"[,;]", text)]
    if not all(names):
        raise InputError(
            f"--wrt needs variable names, as in --wrt x or --wrt W1,b1 (got {', '.join(map(repr, value))})"
        )
    return names


def one_variable(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> str:
    """The one variable of --wrt. Several (--wrt x --wrt y, --wrt x,y) are refused, never dropped."""
    names = [name.strip() for text in value for name in re.split(r"[,;]", text)]
    if len(names) > 1 and all(names):
        raise UnsupportedError(
            f"several variables ({', '.join(names)}) are not supported yet: give one --wrt "
            "and run the command once for each"
        )
    if not all(names):
        raise InputError(f"--wrt needs a variable name, as in --wrt x (got {', '.join(map(repr, value))})")
    return names[0]


def _expressions_last(params: list[click.Parameter], args: list[str]) -> list[str]:
    """The arguments with every positional one after "--", when one of them starts with "-"."""
    takes_value: set[str] = set()
    flags: set[str] = set()
    for param in params:
        if isinstance(param, click.Option):
            names = param.opts + param.secondary_opts
            (flags if param.is_flag or param.count else takes_value).update(names)
    options: list[str] = []
    positional: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            positional += args[position + 1 :]
            break
        if arg in takes_value:
            options += args[position : position + 2]
            position += 2
            continue
        if (
            arg in flags
            or (_LONG_OPTION.fullmatch(arg) and arg.split("=", 1)[0] not in flags)
            or any(arg.startswith(name) for name in takes_value if len(name) == 2)
        ):
            options.append(arg)  # --name, --name=value, -ovalue; an unknown --name is click's error
        else:
            positional.append(arg)
        position += 1
    if not any(arg.startswith("-") and arg != "-" for arg in positional):
        return args
    return options + ["--"] + positional


def read_text(path: str | None, name: str) -> str:
    """A file's text (standard input when path is None), as UTF-8; a byte-order mark is dropped.
    A file that cannot be read, is not UTF-8 or holds NUL characters (binary) is an InputError."""
    try:
        if path is None:
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        else:
            with open(path, "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise FileError(f"cannot read {name}: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileError(f"{name} is larger than {MAX_FILE_BYTES // 1_000_000} MB, more than matcalc reads")
    return decode_text(data, name)


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text without a byte-order mark; anything else is an InputError that says where."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise FileError(
            f"{name} is not UTF-8 text{hint}: byte 0x{data[error.start]:02x} on line {line} cannot be read", line
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileError(f"{name} is a binary file, not text (a NUL character on line {line})", line)
    return text


@cli.command(
    "parse",
    short_help="Print an expression's canonical form, its shape and assumed shapes.",
    cls=ExpressionCommand,
    epilog="""\b
Example:
  matcalc parse "||y - Xw||^2"
  echo "x'Ax" | matcalc parse -""",
)
@click.argument("expression")
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sympy"]),
    default="text",
    show_default=True,
    help="text, json (one object) or sympy (Python code that builds the expression in SymPy)",
)
def parse_command(expression: str, let: tuple[str, ...], fmt: str) -> None:
    """Print the canonical form of EXPRESSION, its shape and the assumed shapes."""
    from .api import parse

    parsed = parse(expression, let)
    if fmt == "json":
        click.echo(json.dumps(parsed.to_json(), ensure_ascii=False))
        return
    if fmt == "sympy":
        click.echo(parsed.sympy_code(), nl=False)
        return
    click.echo(f"expression: {parsed.canonical}")
    click.echo(f"shape: {shape_text(parsed.shape)}")
    if parsed.assumed:
        click.echo(f"assumed: {parsed.assumed_text()}")
    for note in parsed.notes:
        click.echo(f"note: {note}")


@cli.command(
    "diff",
    short_help="Differentiate an expression by one or more variables, self-checked.",
    cls=ExpressionCommand,
    epilog="""\b
Examples:
  matcalc diff "x'Ax" --wrt x
  matcalc diff "sigmoid(w'x)" --wrt w --layout denominator --format latex --latex-derivative nabla --latex-matrices bold
  matcalc diff "-y' log(softmax(W2 tanh(W1 x + b1)))" --wrt W1,b1,W2 --format torch
  echo "||y - Xw||^2" | matcalc diff - --wrt w --layout denominator
  matcalc diff "x'Ax" --wrt x --at "x=[1, 2], A=[[1, 2], [3, 4]]\"""",
)
@click.argument("expression")
@click.option(
    "--wrt",
    required=True,
    multiple=True,
    callback=several_variables,
    metavar="VARIABLE[,VARIABLE...]",
    help="the variable to differentiate by; several (--wrt W1,b1 or --wrt repeated) give one result each",
)
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
@click.option("--layout", type=click.Choice(LAYOUTS), default=default_layout, help=_LAYOUT_HELP)
@click.option(
    "--order",
    type=click.IntRange(1, MAX_ORDER),
    default=1,
    show_default=True,
    help="2 for the Hessian (or second derivative), and so on",
)
@click.option(
    "--format", "fmt", type=click.Choice(DIFF_FORMATS), default="text", show_default=True, help=_DIFF_FORMAT_HELP
)
@click.option(
    "--latex",
    "latex_mode",
    type=click.Choice(["equation", "rhs"]),
    default="equation",
    show_default=True,
    help="with --format latex: the whole equation or its right-hand side",
)
@click.option(
    "--latex-width",
    "latex_width",
    type=click.IntRange(0, None),
    default=LATEX_WIDTH,
    show_default=True,
    help="with --format latex: break a result that would set wider than this many characters (of "
    "6.5 pt, estimated from the glyphs) into an aligned block (still one line of text); 0 never "
    "breaks",
)
@click.option(
    "--latex-derivative",
    "latex_derivative",
    type=click.Choice(["frac", "nabla"]),
    default="frac",
    show_default=True,
    help="with --format latex: \\frac{\\partial f}{\\partial \\mathbf{w}}, or \\nabla_{\\mathbf{w}} f for a "
    "scalar function of a vector or matrix (\\nabla^{2} for its Hessian)",
)
@click.option(
    "--latex-matrices",
    "latex_matrices",
    type=click.Choice(["italic", "bold"]),
    default="italic",
    show_default=True,
    help="with --format latex: matrices as A, or as \\mathbf{A} (d2l, the Matrix Cookbook)",
)
@click.option(
    "--latex-sigmoid",
    "latex_sigmoid",
    type=click.Choice(["sigma", "name"]),
    default="sigma",
    show_default=True,
    help="with --format latex: the sigmoid as \\sigma(z), or as \\operatorname{sigmoid}(z)",
)
@click.option(
    "--latex-step",
    "latex_step",
    type=click.Choice(["name", "indicator", "heaviside"]),
    default="name",
    show_default=True,
    help="with --format latex: the step (the derivative of relu) as \\operatorname{step}(z), as the "
    "indicator \\mathbb{I}[z > 0], or as Heaviside's H(z)",
)
@click.option(
    "--latex-notes",
    "latex_notes",
    type=click.Choice(["text", "comment", "none"]),
    default=None,
    help="with --format latex: the notes (subgradients at kinks, inverses assumed, a symmetric variable) "
    "as \\text{} after the formula, as % lines before it, or none  [default: text; with "
    "--latex rhs, none]",
)
@click.option(
    "--notation",
    "notation",
    type=click.Choice(["index", "vec"]),
    default="index",
    show_default=True,
    help="a result with more than two axes in index notation, or (vec) as Magnus and Neudecker write it: the "
    "Jacobian matrix of vec(F) by vec(X), with ⊗, I_n and the commutation matrix K(m, n)",
)
@click.option(
    "--steps",
    "show_steps",
    is_flag=True,
    help="show the derivation step by step, each step's rule named as the course notes name it",
)
@click.option(
    "--no-check",
    "no_check",
    is_flag=True,
    help="skip the self-check of the result against finite differences (faster start-up)",
)
@click.option("--verify", is_flag=True, help="check the result harder: more random points, the largest error printed")
@click.option(
    "--at",
    "at",
    metavar="VALUES",
    help="evaluate the derivative at a point: a value for each variable, a vector's as a list and a matrix's "
    'as a list of rows, as in --at "x=[1, 2], A=[[1, 2], [3, 4]]" for x\'Ax',
)
def diff_command(
    expression: str,
    wrt: list[str],
    let: tuple[str, ...],
    layout: str,
    order: int,
    fmt: str,
    latex_mode: str,
    latex_width: int,
    latex_derivative: str,
    latex_matrices: str,
    latex_sigmoid: str,
    latex_step: str,
    latex_notes: str | None,
    show_steps: bool,
    no_check: bool,
    verify: bool,
    at: str | None,
    notation: str = "index",
) -> None:
    """Differentiate EXPRESSION with respect to a variable, or to several (one result each, in order,
    sharing their named subexpressions).

    Every result is first compared with central finite differences of the function at random
    points; one that disagrees is never printed (exit status 4)."""
    from .api import diff, run_check

    if not no_check:
        from .numeric import selfcheck  # noqa: F401 (imported before the work, to be set aside with the rest)
    _imports_set_aside()
    results = diff(
        expression, wrt, let, layout, order, check=not no_check and not verify, steps=show_steps, notation=notation
    )
    several = len(results) > 1
    for result in results:
        if verify:
            result.check = run_check(result.parsed, result.derivative, points=VERIFY_POINTS)
    forms = [result.vec for result in results]
    if verify:  # diff did not check them: the vec forms are checked as the results are
        from .numeric.vec_check import check_vec_form

        for result in results:
            if result.vec is not None:
                check_vec_form(result.derivative, result.vec, result.parsed.env, expression)
    if any(forms) and (fmt == "sympy" or at is not None):
        raise InputError(
            "--notation vec is shown as text, latex, json, table or code; sympy and --at take index notation"
        )
    values = [result.value_at(at) if at is not None else None for result in results]
    # several plain results show the names they share once (a derivation or a vec form shows its own)
    shared = all(result.derivation is None and result.vec is None for result in results)
    if fmt == "json":
        objects = [
            result.to_json() | ({"value": value} if value is not None else {}) for result, value in zip(results, values)
        ]
        click.echo(json.dumps(objects if several else objects[0], ensure_ascii=False))
    elif fmt in CODE_FORMATS:
        click.echo(results.code(fmt), nl=False)
    elif fmt == "sympy":
        click.echo(results.sympy_code(), nl=False)
    elif fmt == "latex":
        style = {
            "derivative": latex_derivative,
            "matrices": latex_matrices,
            "sigmoid": latex_sigmoid,
            "step": latex_step,
        }
        if several and shared:  # a line per variable, then the names they share and their notes, once
            from .render.latex import several_latex

            derivatives = [result.derivative for result in results]
            latex_lines = several_latex(derivatives, latex_mode, latex_width or None, notes=latex_notes, **style)
            click.echo("\n".join(latex_lines))
        else:  # one line each and nothing else (but --latex-notes comment's % lines before it)
            for result in results:
                click.echo(result.latex_text(latex_mode, latex_width or None, notes=latex_notes, **style))
    elif fmt == "table":
        from .render.table import diff_table

        for result in results:
            _console().print(diff_table(result.summary()))
    else:
        lines: list[str] = []
        for number, (result, value) in enumerate(zip(results, values)):
            shown = replace(result, derivative=replace(result.derivative, where=[])) if several and shared else result
            lines += ([""] if number else []) + shown.report()
            lines += [f"at {at}: {_format_value(value)}"] if value is not None else []
        if several and shared:  # the names the results share, once, after them all
            from .render.text import shared_where_lines

            names = shared_where_lines([result.derivative for result in results])
            lines += ["", *names] if names else []
        _print_text(lines)
    for result, value in zip(results, values):
        if value is not None and fmt not in ("json", "text"):
            label = f" (d/d{result.wrt})" if several else ""
            click.echo(f"at {at}{label}: {_format_value(value)}", err=fmt != "table")
        if verify and fmt not in ("json", "text", "table"):
            click.echo(result.check.text(), err=True)


def _format_value(value) -> str:
    return json.dumps(value)


@cli.command(
    "solve",
    short_help="Solve ∇f = 0 for a variable, where it has a closed form.",
    cls=ExpressionCommand,
    epilog="""\b
Example:
  matcalc solve "||y - Xw||^2 + lambda ||w||^2" --wrt w""",
)
@click.argument("expression")
@click.option(
    "--wrt", required=True, multiple=True, callback=one_variable, metavar="VARIABLE", help="the variable to solve for"
)
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SOLVE_FORMATS),
    default="text",
    show_default=True,
    help="text, latex, table, json, or numpy (one NumPy expression for the solution)",
)
def solve_command(expression: str, wrt: str, let: tuple[str, ...], fmt: str) -> None:
    """Set the gradient of EXPRESSION to zero and solve for the variable, where it has a closed form.

    Exit status 1 when the gradient is not affine in the variable (no closed form)."""
    from .api import solve

    result = solve(expression, wrt, let)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    elif fmt == "latex":
        click.echo(result.latex)
    elif fmt == "numpy":
        click.echo(result.numpy)
    elif fmt == "table":
        from .render.table import diff_table

        _console().print(diff_table(result.summary()))
    else:
        _print_text(result.report())


@cli.command(
    "plot",
    short_help="Draw a function with its tangent line or its gradient field.",
    cls=ExpressionCommand,
    epilog="""\b
Example:
  matcalc plot "3x^2 - 4x" --wrt x --let "x: scalar" --at 1 -o tangent.png""",
)
@click.argument("expression")
@click.option(
    "--wrt", required=True, multiple=True, callback=one_variable, metavar="VARIABLE", help="a scalar or a 2-vector"
)
@click.option("--at", "at", required=True, metavar="POINT", help='the point: "1", or "0.5, -0.5" for a 2-vector')
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="a .png, .svg or .pdf file")
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
def plot_command(expression: str, wrt: str, at: str, output: str, let: tuple[str, ...]) -> None:
    """Draw EXPRESSION with its tangent line at a point (a function of a scalar), or its contour lines
    with gradient arrows (a function of a 2-vector). Needs the plot extra (matplotlib)."""
    from .plotting import plot

    click.echo(plot(expression, wrt, at, output, let or None))


def _print_text(lines: list[str]) -> None:
    """Unicode text; the first line in bold on a terminal, plain through a pipe or with NO_COLOR."""
    console = _console(soft_wrap=True, highlight=False) if _may_style() else None
    if console is None or not console.is_terminal:
        for line in lines:
            click.echo(line)
        return
    from rich.text import Text

    for number, line in enumerate(lines):
        console.print(Text(line, style="bold" if number == 0 else ""))


def _may_style() -> bool:
    """Whether standard output may take styles: not with NO_COLOR; else where Rich might find a terminal
    (or FORCE_COLOR or TTY_COMPATIBLE say there is one). Rich, slow to import, is asked only then."""
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty() or "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ


def _console(soft_wrap: bool = False, **options):
    """A Rich console on standard output whose reader leaving (matcalc ... | head) ends the command as
    any other write's does, at the one error boundary, rather than with Rich's exit status 1."""
    return _quiet_console_class()(soft_wrap=soft_wrap, file=_EchoedStdout(), **options)


class _EchoedStdout:
    """Standard output as click.echo writes it, for Rich: what the stream cannot encode (é or ᵀ where it
    is ASCII only, a byte of the input that was not UTF-8) is written as the rest of the output is, not
    an internal error."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        click.echo(text, nl=False, color=True)  # Rich has decided whether to style it
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()


@functools.cache
def _quiet_console_class():
    from rich.console import Console

    class QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    return QuietConsole


@cli.command(
    "check",
    short_help="Check files of identities, numerically and symbolically.",
    epilog="""\b
Example:
  matcalc check examples/matrix-cookbook.txt
  echo "d/dx x'Ax = x'(A + A')" | matcalc check -""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table (one row per identity) or json (schemas/check-report.schema.json)",
)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the random points")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="worker processes")
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default=default_layout,
    help="the layout until a file's first layout line (default: MATCALC_LAYOUT, else numerator)",
)
def check_command(files, fmt: str, seed: int, jobs: int, layout: str) -> None:
    """Check files of identities (FILE or - for standard input), numerically and symbolically.

    Exit status: 0 all hold, 1 some are false, 2 some could not be read, 3 some are undecided."""
    from .batch import check_files

    # (name, text), or (name, the error that kept it from being read): one error row for it
    sources: list[tuple[str, str | MatcalcError]] = []
    for path in files:
        try:
            sources.append((path, read_text(None if path == "-" else path, "standard input" if path == "-" else path)))
        except MatcalcError as error:
            sources.append((path, error))
    progress = _progress_bar(sources)
    if progress is None:
        results = check_files(sources, Layout(layout), seed, jobs)
    else:
        with progress:
            task = progress.add_task("checking", total=None)
            results = check_files(
                sources,
                Layout(layout),
                seed,
                jobs,
                on_start=lambda total: progress.update(task, total=total),
                on_checked=lambda: progress.advance(task),
            )
    if fmt == "json":
        from .batch import write_report_json

        write_report_json(results, lambda text: click.echo(text, nl=False))
        click.echo()
    else:
        from .render.table import check_summary, check_tables

        console = _console()
        for table in check_tables(results, show_file=len(sources) > 1):  # a long report a block at a time
            console.print(table)
        console.print(check_summary(results))
    raise SystemExit(_check_status(results))


def _check_status(results) -> int:
    from .batch import exit_status

    return exit_status(results)


def _progress_bar(sources):
    """A Rich progress bar on stderr for long files, when stderr is a terminal."""
    lines = sum(source.count("\n") for _, source in sources if isinstance(source, str))
    if lines <= 36 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)


@cli.command(
    "shapes",
    short_help="Print the shape of ∂y/∂x for each kind of y and x in a layout.",
    epilog="""\b
Example:
  matcalc shapes --layout denominator""",
)
@click.option("--layout", type=click.Choice(LAYOUTS), default=default_layout, help=_LAYOUT_HELP)
@click.option(
    "--notation",
    type=click.Choice(["index", "vec"]),
    default="index",
    show_default=True,
    help="vec: a result with more than two axes as the Jacobian of vec(y) by vec(x)",
)
def shapes_command(layout: str, notation: str = "index") -> None:
    """Print the shape of ∂y/∂x for each kind of y and x in a layout."""
    from .render.table import shape_table

    _console().print(shape_table(Layout(layout), notation))


def shape_text(shape) -> str:
    from .shapes import describe

    if shape.is_row:
        return f"row vector (1×{shape.cols})"
    return describe(shape)


def _imports_set_aside() -> None:
    """Keep what the imports made (modules, classes, functions: thousands of objects that live as long as the
    process) out of the garbage collector's full passes, which a long expression's many nodes set off: each
    would walk them all again for nothing. The youngest generation is collected every 50,000 allocations, not
    700: a long expression's tree is tens of thousands of nodes that live until the answer and hold no cycles,
    and each collection walked those made since the last, then again as they aged."""
    gc.freeze()
    gc.set_threshold(50_000, *gc.get_threshold()[1:])


def main() -> None:
    cli(prog_name="matcalc")


if __name__ == "__main__":  # pragma: no cover
    main()  # exits with the command's status, as click does
