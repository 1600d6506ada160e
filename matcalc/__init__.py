"""matcalc: symbolic matrix calculus for scalars, vectors and matrices.

>>> from matcalc import diff, parse
>>> parse("x'Ax").shape.kind
'scalar'
>>> diff("x'Ax", "x", layout="denominator").text
"(A + A')x"

The functions `diff`, `parse`, `solve`, `check` and `plot` are the API (docs/python-api.md); every
result they return has `.text`, `.latex` and shows as math in a notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

from .api import (
    Declarations,
    Derivation,
    DiffResult,
    DiffResults,
    IdentityReport,
    IdentityRow,
    Parsed,
    Plot,
    SolveResult,
    check,
    declarations,
    diff,
    parse,
    solve,
)
from .calculus.solve import NoClosedForm
from .errors import ExitStatus, InputError, MatcalcError, UnsupportedError
from .layout import Layout

__all__ = [
    "Derivation",
    "DiffResult",
    "DiffResults",
    "ExitStatus",
    "IdentityReport",
    "IdentityRow",
    "InputError",
    "Layout",
    "MatcalcError",
    "NoClosedForm",
    "Parsed",
    "Plot",
    "SelfCheckError",
    "SolveResult",
    "UnsupportedError",
    "check",
    "declarations",
    "diff",
    "parse",
    "plot",
    "solve",
]
__version__ = "0.2.0"


def plot(
    expression: str,
    wrt: str,
    at: float | str | tuple[float, float],
    output: str | os.PathLike | None = None,
    let: Declarations = None,
    width_inches: float = 6.4,
    height_inches: float = 4.8,
    dpi: float = 100,
) -> Path | Plot:
    """Draw a scalar function around a point: the curve and its tangent line (a function of a scalar), or
    contour lines with gradient arrows (a function of a 2-vector). With `output` (a .png, .svg or .pdf
    path) the figure is written there and its path returned; without, a Plot (an SVG) comes back, which a
    notebook shows. Needs matplotlib (the `plot` extra).
    """
    # defined here, not in api.py: matcalc.plotting builds on api (and imports NumPy), so it is loaded
    # only when a figure is drawn
    from tempfile import TemporaryDirectory

    from .plotting import plot as draw

    if output is not None:
        return draw(expression, wrt, at, Path(output), let, width_inches, height_inches, dpi)
    with TemporaryDirectory() as folder:
        path = draw(expression, wrt, at, Path(folder) / "plot.svg", let, width_inches, height_inches, dpi)
        return Plot(expression, wrt, at, path.read_text(encoding="utf-8"))


def __getattr__(name: str):
    """SelfCheckError, loaded when asked for: its module imports NumPy, which `matcalc diff --no-check`
    does without."""
    if name == "SelfCheckError":
        from .numeric.selfcheck import SelfCheckError

        return SelfCheckError
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
