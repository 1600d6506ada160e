"""Rich tables. The only renderer that imports rich."""

from __future__ import annotations

from collections.abc import Iterator

from rich.table import Table
from rich.text import Text

from ..calculus.vec import vec_shape
from ..layout import Layout, result_shape
from ..shapes import Shape

_OUTPUTS = (("y scalar", Shape(1, 1)), ("y vector (m)", Shape("m", 1)), ("Y matrix (m, l)", Shape("m", "l")))
_VARIABLES = (("x scalar", Shape(1, 1)), ("x vector (n)", Shape("n", 1)), ("X matrix (n, k)", Shape("n", "k")))


def shape_table(layout: Layout, notation: str = "index") -> Table:
    """SPEC §3's table of the shape of ∂y/∂x, for one layout; in vec notation, a result with more than two
    axes is the Jacobian of vec(y) by vec(x), (rows·cols of y, rows·cols of x), transposed in denominator
    layout."""
    title = f"shape of ∂y/∂x, {layout.value} layout"
    if notation == "vec":
        title += "; ∂vec(y)/∂vec(x)ᵀ where it has more than two axes"
    table = Table(title=title)
    table.add_column("∂y/∂x")
    for label, _ in _VARIABLES:
        table.add_column(label, justify="center")
    for out_label, out in _OUTPUTS:
        cells = [_format(_shape(out, wrt, layout, notation)) for _, wrt in _VARIABLES]
        table.add_row(out_label, *cells)
    return table


def _shape(out: Shape, wrt: Shape, layout: Layout, notation: str) -> tuple:
    if notation == "vec" and vec_shape(out, wrt, layout, 1) is not None:
        rows, cols = ("·".join(str(d) for d in (s.rows, s.cols) if d != 1) for s in (out, wrt))
        return (cols, rows) if layout is Layout.DENOMINATOR else (rows, cols)
    return result_shape(out, wrt, layout)


def _format(dims: tuple) -> str:
    return "(" + ", ".join(str(dim) for dim in dims) + (",)" if len(dims) == 1 else ")")


_STATUS_STYLES = {
    "proved": "green",
    "holds (numerically)": "green",
    "FALSE": "bold red",
    "undecided": "magenta",
    "error": "yellow",
}


ROWS_AT_ONCE = 1000  # a longer report is rendered in blocks of this many rows, each printed before the next


def check_tables(results: list, show_file: bool = False) -> Iterator[Table]:
    """check_table of a report, in blocks of ROWS_AT_ONCE rows (the header on the first): Rich holds a
    table's rendering whole, which for a file of a hundred thousand lines is gigabytes."""
    for start in range(0, max(len(results), 1), ROWS_AT_ONCE):
        yield check_table(results[start : start + ROWS_AT_ONCE], show_file, show_header=start == 0)


def check_table(results: list, show_file: bool = False, show_header: bool = True) -> Table:
    """One row per identity: line, identity, status, detail."""
    table = Table(show_lines=False, show_header=show_header)
    if show_file:
        table.add_column("file")
    table.add_column("line", justify="right")
    table.add_column("identity")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for result in results:
        detail = result.detail
        if result.status == "error" and result.column is not None:
            detail = f"column {result.column}: {detail}"
        elif result.max_error is not None and result.status in ("proved", "holds (numerically)"):
            detail = f"max error {result.max_error:.1e}" + (f"; {detail}" if detail else "")
        cells = [
            Text(str(result.line)),
            Text(result.text),
            Text(result.status, style=_STATUS_STYLES[result.status]),
            Text(detail),
        ]
        table.add_row(*([Text(result.file)] if show_file else []), *cells)
    return table


def check_summary(results: list) -> Text:
    counts = {status: sum(r.status == status for r in results) for status in _STATUS_STYLES}
    parts = [
        f"{len(results)} identities",
        f"{counts['proved']} proved",
        f"{counts['holds (numerically)']} hold numerically",
        f"{counts['FALSE']} false",
        *([f"{counts['undecided']} undecided"] if counts["undecided"] else []),
        f"{counts['error']} could not be read",
    ]
    return Text(": ".join([parts[0], ", ".join(parts[1:])]))


def diff_table(summary: dict[str, str]) -> Table:
    """A derivative as a two-column table: expression, variable, layout, result shape, derivative, ..."""
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in summary.items():
        if value:
            table.add_row(label, Text(value))
    return table
