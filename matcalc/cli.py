"""The `matcalc` command: the only module that prints, reads files or picks exit statuses."""

from __future__ import annotations

import json
import os
import sys

import click

from .errors import ExitStatus, MatcalcError, format_error
from .layout import Layout

LAYOUTS = [layout.value for layout in Layout]
DIFF_FORMATS = ["text", "latex", "table", "json", "numpy"]
_LET_HELP = 'declarations such as "x: vector(n), A: matrix(n, n)" (repeatable; "," or ";" separate)'


class MatcalcGroup(click.Group):
    """One error boundary: a MatcalcError becomes a message on stderr and an exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MatcalcError as error:
            click.echo(format_error(error), err=True)
            ctx.exit(error.exit_code)
        except RecursionError:
            click.echo("error: the input is too deeply nested to work with", err=True)
            ctx.exit(ExitStatus.INPUT)


@click.group(cls=MatcalcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcalc-symbolic", prog_name="matcalc")
def cli() -> None:
    """Symbolic matrix calculus: parse, differentiate and check expressions over
    scalars, vectors and matrices."""


# An expression may start with "-" ("-y' log(softmax(o))"): it is an argument, not an option.
EXPRESSION_COMMAND = {"ignore_unknown_options": True}


@cli.command("parse", context_settings=EXPRESSION_COMMAND)
@click.argument("expression")
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def parse_command(expression: str, let: tuple[str, ...], fmt: str) -> None:
    """Print the canonical form of EXPRESSION, its shape and the assumed shapes."""
    from .api import parse

    parsed = parse(expression, let)
    if fmt == "json":
        click.echo(json.dumps(parsed.to_json(), ensure_ascii=False))
        return
    click.echo(f"expression: {parsed.canonical}")
    click.echo(f"shape: {shape_text(parsed.shape)}")
    if parsed.assumed:
        click.echo(f"assumed: {parsed.assumed_text()}")


@cli.command("diff", context_settings=EXPRESSION_COMMAND)
@click.argument("expression")
@click.option("--wrt", required=True, metavar="VARIABLE", help="the variable to differentiate by")
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
@click.option("--layout", type=click.Choice(LAYOUTS), default=Layout.NUMERATOR.value, show_default=True)
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 for the Hessian of a scalar function")
@click.option("--format", "fmt", type=click.Choice(DIFF_FORMATS), default="text", show_default=True)
@click.option("--latex", "latex_mode", type=click.Choice(["equation", "rhs"]), default="equation", show_default=True,
              help="with --format latex: the whole equation or its right-hand side")
@click.option("--verify", is_flag=True, help="check the result against finite differences at random points")
@click.option("--at", "at", metavar="VALUES", help='evaluate the derivative at a point: "x=1, A=[[1, 2], [3, 4]]"')
def diff_command(expression: str, wrt: str, let: tuple[str, ...], layout: str, order: int, fmt: str,
                 latex_mode: str, verify: bool, at: str | None) -> None:
    """Differentiate EXPRESSION with respect to a variable."""
    from .api import diff
    from .result import TOLERANCE

    result = diff(expression, wrt, let, layout, order)
    value = result.value_at(at) if at is not None else None
    error = result.verify() if verify else None
    verdict = None
    if error is not None:
        verdict = (f"{'verified' if error < TOLERANCE else 'NOT verified'}: largest relative error {error:.1e} "
                   "against central finite differences at 3 random points (distinct sizes 3, 4, 5, ...)")
    if fmt == "json":
        data = result.to_json()
        if value is not None:
            data["value"] = value
        if error is not None:
            data["verified"] = {"max_relative_error": error, "holds": error < TOLERANCE}
        click.echo(json.dumps(data, ensure_ascii=False))
    elif fmt == "numpy":
        click.echo(result.numpy_function(), nl=False)
    elif fmt == "latex":
        click.echo(result.latex_text(latex_mode))  # one line and nothing else: safe to append to a paper
    elif fmt == "table":
        from rich.console import Console

        from .render.table import diff_table

        Console(soft_wrap=False).print(diff_table(result.summary()))
    else:
        _print_text(result.report() + ([f"at {at}: {_format_value(value)}"] if value is not None else []))
    if value is not None and fmt in ("latex", "numpy", "table"):
        click.echo(f"at {at}: {_format_value(value)}", err=fmt != "table")
    if verdict is not None and fmt in ("text", "table"):
        click.echo(verdict)
    elif verdict is not None:
        click.echo(verdict, err=True)
    if error is not None and error >= TOLERANCE:
        raise SystemExit(ExitStatus.FALSE)


def _format_value(value) -> str:
    return json.dumps(value)


@cli.command("solve", context_settings=EXPRESSION_COMMAND)
@click.argument("expression")
@click.option("--wrt", required=True, metavar="VARIABLE", help="the variable to solve for")
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
@click.option("--format", "fmt", type=click.Choice(DIFF_FORMATS), default="text", show_default=True)
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
        from rich.console import Console

        from .render.table import diff_table

        Console(soft_wrap=False).print(diff_table(result.summary()))
    else:
        _print_text(result.report())


@cli.command("plot", context_settings=EXPRESSION_COMMAND)
@click.argument("expression")
@click.option("--wrt", required=True, metavar="VARIABLE", help="a scalar or a 2-vector")
@click.option("--at", "at", required=True, metavar="POINT", help='the point: "1", or "0.5, -0.5" for a 2-vector')
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="a .png or .svg file")
@click.option("--let", "let", multiple=True, metavar="DECLS", help=_LET_HELP)
def plot_command(expression: str, wrt: str, at: str, output: str, let: tuple[str, ...]) -> None:
    """Draw EXPRESSION with its tangent line at a point (a function of a scalar), or its contour lines
    with gradient arrows (a function of a 2-vector). Needs the plot extra (matplotlib)."""
    from .plot import plot

    click.echo(plot(expression, wrt, at, output, let or None))


def _print_text(lines: list[str]) -> None:
    """Unicode text; the first line in bold on a terminal, plain through a pipe or with NO_COLOR."""
    from rich.console import Console
    from rich.text import Text

    console = Console(soft_wrap=True, highlight=False)
    if os.environ.get("NO_COLOR") or not console.is_terminal:
        for line in lines:
            click.echo(line)
        return
    for number, line in enumerate(lines):
        console.print(Text(line, style="bold" if number == 0 else ""))


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.File("r", encoding="utf-8"))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the random points")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="worker processes")
@click.option("--layout", type=click.Choice(LAYOUTS), default=Layout.NUMERATOR.value, show_default=True,
              help="the layout until a file's first layout line")
def check_command(files, fmt: str, seed: int, jobs: int, layout: str) -> None:
    """Check files of identities (FILE or - for standard input), numerically and symbolically.

    Exit status: 0 all hold, 1 some are false, 2 some could not be read."""
    from .batch import check_files

    sources = [(file.name if file.name != "<stdin>" else "-", file.read()) for file in files]
    progress = _progress_bar(sources)
    if progress is None:
        results = check_files(sources, Layout(layout), seed, jobs)
    else:
        with progress:
            task = progress.add_task("checking", total=None)
            results = check_files(sources, Layout(layout), seed, jobs,
                                  on_start=lambda total: progress.update(task, total=total),
                                  on_checked=lambda: progress.advance(task))
    if fmt == "json":
        from .batch import report_json

        click.echo(json.dumps(report_json(results), ensure_ascii=False))
    else:
        from rich.console import Console

        from .render.table import check_table, check_summary

        console = Console(soft_wrap=False)
        console.print(check_table(results, show_file=len(sources) > 1))
        console.print(check_summary(results))
    raise SystemExit(_check_status(results))


def _check_status(results) -> int:
    from .batch import ERROR, FALSE

    statuses = {result.status for result in results}
    if ERROR in statuses:
        return ExitStatus.INPUT
    return ExitStatus.FALSE if FALSE in statuses else ExitStatus.OK


def _progress_bar(sources):
    """A Rich progress bar on stderr for long files, when stderr is a terminal."""
    lines = sum(source.count("\n") for _, source in sources)
    if lines <= 36 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)


@cli.command("shapes")
@click.option("--layout", type=click.Choice(LAYOUTS), default=Layout.NUMERATOR.value, show_default=True)
def shapes_command(layout: str) -> None:
    """Print the shape of ∂y/∂x for each kind of y and x in a layout (SPEC §3)."""
    from rich.console import Console

    from .render.table import shape_table

    Console(soft_wrap=False).print(shape_table(Layout(layout)))


def shape_text(shape) -> str:
    from .shapes import describe

    if shape.is_row:
        return f"row vector (1×{shape.cols})"
    return describe(shape)


def main() -> None:
    cli(prog_name="matcalc")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
