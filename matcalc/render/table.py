"""Rich tables. The only renderer that imports rich."""

from __future__ import annotations

from rich.table import Table

from ..layout import Layout, result_shape
from ..shapes import Shape

_OUTPUTS = (("y scalar", Shape(1, 1)), ("y vector (m)", Shape("m", 1)), ("Y matrix (m, l)", Shape("m", "l")))
_VARIABLES = (("x scalar", Shape(1, 1)), ("x vector (n)", Shape("n", 1)), ("X matrix (n, k)", Shape("n", "k")))


def shape_table(layout: Layout) -> Table:
    """SPEC §3's table of the shape of ∂y/∂x, for one layout."""
    table = Table(title=f"shape of ∂y/∂x, {layout.value} layout")
    table.add_column("∂y/∂x")
    for label, _ in _VARIABLES:
        table.add_column(label, justify="center")
    for out_label, out in _OUTPUTS:
        cells = [_format(result_shape(out, wrt, layout)) for _, wrt in _VARIABLES]
        table.add_row(out_label, *cells)
    return table


def _format(dims: tuple) -> str:
    return "(" + ", ".join(str(dim) for dim in dims) + (",)" if len(dims) == 1 else ")")
