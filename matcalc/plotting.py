"""Figures of a scalar function: a curve with its tangent line, or contour lines with gradient arrows.

For a scalar function of a scalar, `plot` draws the curve around a point with
its tangent line there (the course notes' figure: f(x) = 3x^2 - 4x with its
tangent y = 2x - 3 at x = 1); for a scalar function of a 2-vector, contour
lines over a square around the point with the gradient as arrows on a coarse
grid. Values come from `evaluate` and slopes from the derivative matcalc shows
(in denominator layout, evaluated by `evaluate_shown`), so a wrong derivative
would draw a visibly wrong tangent. matplotlib is optional (the `plot` extra)
and imported only when a figure is drawn; NumPy stays in `evaluate` and
`numeric`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import nodes as n
from .api import Declarations, DiffResult, declarations, diff, parse
from .calculus.differentiate import Derivative
from .errors import InputError, UnsupportedError
from .language.decls import Decl, Env
from .numeric.differences import Point, dimension_sizes, evaluate_shown
from .numeric.evaluate import evaluate
from .shapes import SCALAR, Shape, describe

FORMATS = (".png", ".svg", ".pdf")
HALF_WIDTH = 2.0  # the curve spans at ± 2, the contour plot the square at ± 2 in each coordinate
CURVE_POINTS = 401
CONTOUR_POINTS = 61  # per axis
ARROWS = 11  # per axis; odd, so that the point itself carries an arrow
MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'matcalc-symbolic[plot]'"

Number = float | int
At = Number | str | Sequence[Number]
Arrow = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Function:
    """A scalar expression in one variable, a scalar or a 2-vector, ready to be evaluated at numbers."""

    source: str
    wrt: str
    expr: n.Node
    derivative: Derivative  # in denominator layout: a gradient is a column like the variable
    variable: Shape
    sizes: dict[str | int, int]  # dimension sizes, as numeric/differences.dimension_sizes keys them

    @property
    def of_scalar(self) -> bool:
        return self.variable.is_scalar

    def _values(self, point: Sequence[float]) -> dict[str, np.ndarray]:
        return {self.wrt: np.array([[float(coordinate)] for coordinate in point])}  # reshaped to the variable's shape

    def value(self, point: Sequence[float]) -> float:
        """f at the point (a tuple of one or two numbers); nan where it is not defined."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's log(-1), 1/0: nan and inf are enough
                value = float(evaluate(self.expr, self._values(point), self.sizes).item())
        except (ArithmeticError, ValueError):  # a singular inverse of a 1×1 zero is a LinAlgError
            return math.nan
        return value if math.isfinite(value) else math.nan

    def slope(self, point: Sequence[float]) -> tuple[float, ...]:
        """f'(x) for a scalar (one number) or the gradient (two numbers); nan where not defined."""
        size = len(point)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                value = evaluate_shown(self.derivative, Point(self._values(point), dict(self.sizes)))
        except (ArithmeticError, ValueError):
            return (math.nan,) * size
        if value.size != size:
            raise UnsupportedError(
                f"the derivative of {self.source} has {value.size} entries where {size} were expected"
            )
        numbers = tuple(float(entry) for entry in value.reshape(-1))
        return tuple(entry if math.isfinite(entry) else math.nan for entry in numbers)


def function(expression: str, wrt: str, at: At, let: Declarations = None) -> tuple[Function, tuple[float, ...]]:
    """The expression as a Function of `wrt`, and the point `at` as a tuple (one or two numbers).

    An undeclared `wrt` with one number for `at` is declared a scalar; a
    vector's dimension is set to 2. Everything else is an InputError.

    >>> f, point = function("3x^2 - 4x", "x", 1)
    >>> f.value(point), f.slope(point)
    (-1.0, (2.0,))
    """
    point = _point(_without_name(at, wrt))
    env = declarations(let)
    if wrt not in env.decls and len(point) == 1:
        env = Env({**env.decls, wrt: Decl("scalar", SCALAR)})
    parsed = parse(expression, env)
    variables = parsed.shapes()
    if wrt not in variables:
        raise InputError(f"the variable {wrt} does not appear in {expression}")
    others = [name for name in variables if name != wrt]
    if others:
        raise InputError(
            f"plot needs an expression in the one variable {wrt}; {expression} also has "
            f"{_names(others)}: replace {'it' if len(others) == 1 else 'them'} with numbers"
        )
    if not parsed.shape.is_scalar:
        raise InputError(f"plot draws a scalar function, and {expression} is {describe(parsed.shape)}")
    variable = variables[wrt]
    sizes = _sizes(wrt, variable)
    if variable.is_scalar and len(point) != 1:
        raise InputError(f"{wrt} is a scalar, so the point is one number, not {len(point)}")
    if not variable.is_scalar and len(point) != 2:
        raise InputError(f"{wrt} is a 2-vector, so the point is two numbers, like 0.5,-0.5, not {len(point)}")
    for name in dimension_sizes(parsed.expr):
        if isinstance(name, str) and name not in sizes:  # a large integer size is evaluated as it is
            raise InputError(
                f"the dimension {name} in {expression} has no size: plot needs numbers there, "
                f"like ones(2) for ones({name})"
            )
    result = diff(expression, wrt, env, layout="denominator")
    assert isinstance(result, DiffResult)  # one variable, one result
    f = Function(expression, wrt, parsed.expr, result.derivative, variable, sizes)
    if math.isnan(f.value(point)):
        raise InputError(f"{expression} is not defined at {_where(wrt, point)}")
    if any(math.isnan(entry) for entry in f.slope(point)):
        raise InputError(f"the derivative of {expression} is not defined at {_where(wrt, point)}")
    return f, point


def tangent_line(expression: str, wrt: str, at: At, let: Declarations = None) -> tuple[float, float]:
    """(slope, intercept) of the tangent line y = slope·x + intercept of a scalar function of a scalar.

    >>> tangent_line("3x^2 - 4x", "x", 1, let="x: scalar")
    (2.0, -3.0)
    """
    f, point = function(expression, wrt, at, let)
    if not f.of_scalar:
        raise InputError(f"a tangent line needs a function of a scalar, and {wrt} is a 2-vector")
    return _tangent(f, point[0])


def gradient_field(
    expression: str, wrt: str, at: At, let: Declarations = None, half_width: float = HALF_WIDTH, count: int = ARROWS
) -> list[Arrow]:
    """((x1, x2), gradient) on a count×count grid over the square at ± half_width; undefined ones left out.

    >>> gradient_field("x'x", "x", (1, 0), count=3)[4]
    ((1.0, 0.0), (2.0, 0.0))
    """
    f, point = function(expression, wrt, at, let)
    if f.of_scalar:
        raise InputError(f"a gradient field needs a function of a 2-vector, and {wrt} is a scalar")
    return _arrows(f, point, half_width, count)


def plot(
    expression: str,
    wrt: str,
    at: At,
    output: str | Path,
    let: Declarations = None,
    width_inches: float = 6.4,
    height_inches: float = 4.8,
    dpi: float = 100,
) -> Path:
    """Draw the function around the point into a .png, .svg or .pdf file; return its path.

    A PNG is width_inches·dpi × height_inches·dpi pixels; an SVG is
    width_inches·72 × height_inches·72 points.
    """
    path = Path(output)
    if path.suffix.lower() not in FORMATS:
        raise InputError(
            f"plot writes .png, .svg or .pdf files, not {path.suffix or 'a name without a suffix'} ({path.name})"
        )
    for name, number in (("width", width_inches), ("height", height_inches), ("dpi", dpi)):
        if not (isinstance(number, (int, float)) and math.isfinite(number) and number > 0):
            raise InputError(f"the {name} of a plot is a positive number, not {number}")
    f, point = function(expression, wrt, at, let)
    try:
        import matplotlib
        from matplotlib.figure import Figure  # no pyplot: no global backend, no windows
    except ImportError as error:
        raise UnsupportedError(MISSING_MATPLOTLIB) from error
    with matplotlib.rc_context({"svg.hashsalt": "matcalc", "savefig.bbox": "standard"}):
        figure = Figure(layout="constrained")
        figure.set_size_inches(width_inches, height_inches)
        if f.of_scalar:
            _draw_curve(figure, f, point[0])
        else:
            _draw_contours(figure, f, point)
        # the same input, the same file: no dates in the metadata
        metadata = (
            {"Date": None}
            if path.suffix.lower() == ".svg"
            else {"CreationDate": None, "ModDate": None}
            if path.suffix.lower() == ".pdf"
            else None
        )
        try:
            figure.savefig(path, format=path.suffix.lower()[1:], dpi=dpi, metadata=metadata)
        except OSError as error:
            raise InputError(f"cannot write {path}: {error.strerror or error}") from error
    return path


def _draw_curve(figure, f: Function, a: float) -> None:
    xs = _grid(a, HALF_WIDTH, CURVE_POINTS)
    ys = [f.value((x,)) for x in xs]
    first, last = _finite_run(ys, CURVE_POINTS // 2)  # where f is undefined, the interval shrinks
    xs, ys = xs[first : last + 1], ys[first : last + 1]
    slope, intercept = _tangent(f, a)
    fa = f.value((a,))
    x = _label(f.wrt)
    axes = figure.add_subplot()
    axes.plot(xs, ys, label=f"f({x}) = {_label(f.source)}")
    ends = [xs[0], xs[-1]]
    axes.plot(
        ends,
        [slope * end + intercept for end in ends],
        "--",
        label=f"tangent at {x} = {a:g}: y = {_line(slope, intercept, x)}",
    )
    axes.plot([a], [fa], "o", color="black", label=f"({a:g}, {fa:g})")
    low, high = _visible_range(ys, fa)
    if low is not None:
        axes.set_ylim(low, high)
    axes.set_xlabel(x)
    axes.set_ylabel(f"f({x})")
    axes.grid(True, alpha=0.3)
    axes.legend()


def _draw_contours(figure, f: Function, center: tuple[float, ...]) -> None:
    x1s = _grid(center[0], HALF_WIDTH, CONTOUR_POINTS)
    x2s = _grid(center[1], HALF_WIDTH, CONTOUR_POINTS)
    heights = [[f.value((x1, x2)) for x1 in x1s] for x2 in x2s]  # rows follow the second coordinate
    finite = [z for row in heights for z in row if not math.isnan(z)]
    axes = figure.add_subplot()
    if max(finite) > min(finite):  # a constant function has no contour lines
        lines = axes.contour(x1s, x2s, heights, levels=12, cmap="viridis", linewidths=1)
        axes.clabel(lines, fontsize=7)
    arrows = _arrows(f, center, HALF_WIDTH, ARROWS)
    if arrows:
        axes.quiver(
            [p[0] for p, _ in arrows],
            [p[1] for p, _ in arrows],
            [g[0] for _, g in arrows],
            [g[1] for _, g in arrows],
            color="tab:red",
            angles="xy",
            width=0.004,
        )
    x = _label(f.wrt)
    axes.plot([center[0]], [center[1]], "o", color="black", label=f"{x} = ({center[0]:g}, {center[1]:g})")
    axes.set_xlim(x1s[0], x1s[-1])
    axes.set_ylim(x2s[0], x2s[-1])
    axes.set_aspect("equal")
    axes.set_xlabel(f"{x}₁")
    axes.set_ylabel(f"{x}₂")
    axes.set_title(f"f({x}) = {_label(f.source)}: contour lines, gradient arrows", fontsize=10)
    axes.legend(loc="upper right", fontsize=8)


def _tangent(f: Function, a: float) -> tuple[float, float]:
    (slope,) = f.slope((a,))
    return slope, f.value((a,)) - slope * a


def _arrows(f: Function, center: Sequence[float], half_width: float, count: int) -> list[Arrow]:
    if count < 1:
        raise InputError(f"a gradient field needs at least one arrow per axis, not {count}")
    arrows = []
    for x2 in _grid(center[1], half_width, count):
        for x1 in _grid(center[0], half_width, count):
            gradient = f.slope((x1, x2))
            if not any(math.isnan(entry) for entry in gradient):
                arrows.append(((x1, x2), (gradient[0], gradient[1])))
    return arrows


def _grid(center: float, half_width: float, count: int) -> list[float]:
    """count numbers evenly over center ± half_width; the middle one (count odd) is center itself."""
    if count == 1:
        return [float(center)]
    step = 2 * half_width / (count - 1)
    return [center + (k - (count - 1) / 2) * step for k in range(count)]


def _finite_run(values: list[float], middle: int) -> tuple[int, int]:
    """The first and last index of the stretch of defined values around `middle`."""
    first = last = middle
    while first > 0 and not math.isnan(values[first - 1]):
        first -= 1
    while last < len(values) - 1 and not math.isnan(values[last + 1]):
        last += 1
    return first, last


def _visible_range(ys: list[float], keep: float) -> tuple[float | None, float | None]:
    """y limits that cut off a pole's few huge values (None, None: let matplotlib choose)."""
    ordered = sorted(ys)
    if len(ordered) < 20:
        return None, None
    low, high = ordered[len(ordered) // 50], ordered[-1 - len(ordered) // 50]
    if high <= low or ordered[-1] - ordered[0] <= 4 * (high - low):
        return None, None
    low, high = min(low, keep), max(high, keep)
    margin = 0.1 * (high - low)
    return low - margin, high + margin


def _without_name(at: At, wrt: str) -> At:
    """ "x=1" and "x=[0.5, -0.5]" as `diff --at` writes them: the value after the variable's name."""
    if isinstance(at, str) and "=" in at:
        name, _, value = at.partition("=")
        if name.strip() != wrt:
            raise InputError(f"the point is a value of {wrt}, not of {name.strip()}")
        return value
    return at


def _point(at: At) -> tuple[float, ...]:
    """One or two finite numbers from a number, a sequence, or text like "1" or "0.5, -0.5"."""
    parts: Sequence[str | Number] | None
    if isinstance(at, str):
        parts = at.strip().strip("()[]").replace(",", " ").split()
    elif isinstance(at, bool):
        parts = None  # refused below: True is not the number 1 here
    elif isinstance(at, (int, float)):
        parts = [at]
    else:
        try:
            parts = list(at)
        except TypeError:
            parts = None
    try:
        if not parts or isinstance(at, bool) or any(isinstance(part, bool) for part in parts):
            raise ValueError
        numbers = tuple(float(part) for part in parts)
    except (TypeError, ValueError):
        raise InputError(f"the point is a number or two numbers, like 1 or 0.5,-0.5, not {at!r}") from None
    if len(numbers) > 2 or not all(math.isfinite(number) for number in numbers):
        raise InputError(f"the point is a number or two finite numbers, like 1 or 0.5,-0.5, not {at!r}")
    return numbers


def _sizes(wrt: str, variable: Shape) -> dict[str | int, int]:
    """Dimension sizes: a vector variable's dimension is 2."""
    if variable.is_scalar:
        return {}
    length = variable.rows if variable.is_column else variable.cols
    if variable.is_matrix or (isinstance(length, int) and length != 2):
        raise InputError(
            f"plot draws a function of a scalar or of a 2-vector, and {wrt} is "
            f"{describe(variable) if not variable.is_row else f'a row vector of size {length}'}"
        )
    return {} if isinstance(length, int) else {str(length): 2}


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _where(wrt: str, point: tuple[float, ...]) -> str:
    return f"{wrt} = {point[0]:g}" if len(point) == 1 else f"{wrt} = ({point[0]:g}, {point[1]:g})"


def _line(slope: float, intercept: float, x: str) -> str:
    """`2x - 3`, `-x + 0.5`, `4`: the tangent line's right-hand side."""
    if slope == 0:
        return f"{intercept:g}"
    head = {1.0: x, -1.0: f"-{x}"}.get(slope, f"{slope:g}{x}")
    if intercept == 0:
        return head
    return f"{head} {'-' if intercept < 0 else '+'} {abs(intercept):g}"


def _label(text: str) -> str:
    """Text for matplotlib, where $ would start math: one line, $ escaped."""
    return " ".join(text.split()).replace("$", r"\$")
