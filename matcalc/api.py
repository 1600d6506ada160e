"""The public pipeline: text -> parsed, shape-checked expression.

These functions are the only place that attaches the source text to an
escaping error, so the CLI can show it with a caret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import difflib

from . import nodes
from .assign import parse_assignments
from .checker import check
from .decls import Decl, Env, parse_declarations
from .errors import InputError, MatcalcError, UnknownSymbolError
from .layout import Layout
from .parser import parse as parse_syntax
from .render.canonical import canonical
from .render.latex import latex_expression, latex_name, latex_text
from .render.numpy import NumpyPrinter, dimension_sources, numpy_expression, numpy_function
from .render.text import derivative_text, expression_text, notes, report
from .result import Derivative, differentiate

if TYPE_CHECKING:
    from .selfcheck import CheckReport
from .shapes import Shape
from .solve import Solution
from .solve import solve as stationary_point

Declarations = str | Iterable[str] | Env | None
MAX_ORDER = 6  # each order multiplies the terms; beyond the sixth no one asks, and the work grows fast


@dataclass(frozen=True)
class Parsed:
    """A parsed, shape-checked expression."""

    source: str
    expr: nodes.Node
    env: Env
    assumed: dict[str, Decl]  # undeclared names and the shapes inferred for them

    @property
    def shape(self) -> Shape:
        return self.expr.shape

    @property
    def canonical(self) -> str:
        """Text that parses back to the same tree."""
        return canonical(self.expr)

    def shapes(self) -> dict[str, Shape]:
        """Every variable's shape, in order of first appearance."""
        return nodes.variables(self.expr)

    def assumed_text(self) -> str:
        """`w: vector(n), X: matrix(m, n)`, as SPEC §1 shows the inference."""
        return ", ".join(f"{name}: {decl}" for name, decl in self.assumed.items())

    def shape_facts(self) -> dict[str, Any]:
        """The JSON fields every command shares: each variable's shape, and which were assumed."""
        return {"shapes": {name: shape.dims() for name, shape in self.shapes().items()},
                "assumed": list(self.assumed)}

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.source,
            "canonical": self.canonical,
            "shape": self.shape.dims(),
            "kind": self.shape.kind,
            **self.shape_facts(),
        }


def declarations(let: Declarations) -> Env:
    """Read declarations given as one text, several texts (each a --let), or an Env."""
    if isinstance(let, Env):
        return let
    text = let if isinstance(let, str) else "; ".join(let or ())
    try:
        return parse_declarations(text)
    except MatcalcError as error:
        raise error.with_source(text)


def parse(source: str, let: Declarations = None, layout: Layout | str = Layout.NUMERATOR) -> Parsed:
    """Parse and shape-check an expression.

    >>> parsed = parse("||y - Xw||^2")
    >>> parsed.shape.kind, parsed.assumed_text()
    ('scalar', 'y: vector(n), X: matrix(n, m), w: vector(m)')
    """
    env = declarations(let)
    try:
        tree = parse_syntax(source, env.decls.keys())
        checked = check(tree, env, source, Layout(layout))
    except MatcalcError as error:
        raise error.with_source(source)
    return Parsed(source, checked.expr, env, checked.assumed)


@dataclass
class DiffResult:
    """The derivative of an expression, with everything needed to show, check and use it."""

    parsed: Parsed
    derivative: Derivative
    check: CheckReport | None = None  # the self-check against finite differences (None: skipped)

    @property
    def wrt(self) -> str:
        return self.derivative.wrt.name

    @property
    def layout(self) -> Layout:
        return self.derivative.layout

    @property
    def order(self) -> int:
        return self.derivative.order

    @property
    def shape(self) -> tuple[int | str, ...]:
        """SPEC §3's result shape, e.g. (1, 'n') for a scalar by a vector in numerator layout."""
        return self.derivative.shape

    @property
    def notes(self) -> list[str]:
        """Subdifferentials at kinks and other remarks, as text."""
        return notes(self.derivative)

    @property
    def assumptions(self) -> dict[str, Decl]:
        return self.parsed.assumed

    @property
    def text(self) -> str:
        """The derivative in one line of ASCII math (matrix or index notation)."""
        return derivative_text(self.derivative)

    @property
    def where(self) -> list[tuple[str, str]]:
        return [(name, expression_text(node)) for name, node in self.derivative.where]

    @property
    def numpy(self) -> str:
        """One NumPy expression in the variables computing the derivative (SPEC §4)."""
        return numpy_expression(self.derivative)

    def numpy_function(self) -> str:
        return numpy_function(self.derivative)

    @property
    def latex(self) -> str:
        """The derivative as one line of LaTeX: the whole equation."""
        return latex_text(self.derivative, "equation")

    def latex_text(self, mode: str = "equation") -> str:
        """One line of LaTeX: mode "equation" (∂f/∂x = ...) or "rhs" (the right-hand side alone)."""
        return latex_text(self.derivative, mode)

    def report(self, unicode: bool = True) -> list[str]:
        """The lines of `matcalc diff`'s text output, ending with what the self-check found."""
        lines = report(self.derivative, self.parsed.source, self.parsed.assumed_text(), unicode)
        return lines + ([self.check.text()] if self.check is not None else [])

    def summary(self) -> dict[str, str]:
        """Label -> text, for tables: expression, variable, layout, result shape, derivative, ..."""
        where = "; ".join(f"{name} = {value}" for name, value in self.where)
        return {
            "expression": self.parsed.source,
            "variable": self.wrt,
            "layout": self.layout.value,
            "result shape": "(" + ", ".join(str(d) for d in self.shape) + (",)" if len(self.shape) == 1 else ")"),
            "derivative": derivative_text(self.derivative, unicode=True) + (f"  where {where}" if where else ""),
            "assumptions": self.parsed.assumed_text(),
            "notes": "\n".join(self.notes),
            "checked": self.check.text() if self.check is not None else "not checked (--no-check)",
        }

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        lines = [f"$${self.latex}$$", "", f"shape {self.summary()['result shape']}, {self.layout.value} layout"]
        if self.parsed.assumed:
            lines.append(f"; assumed {self.parsed.assumed_text()}")
        lines += [f"\n\n*note:* {note}" for note in self.notes]
        return "".join(lines[:2]) + "\n\n" + "".join(lines[2:])

    def value_at(self, at: str | dict) -> float | list:
        """The derivative at a point: `at` is "x=1, A=[[1, 2], [3, 4]]" or a dict of numbers and lists.
        A scalar comes back as a float, a vector or matrix as nested lists (size-1 axes left out)."""
        from .numeric import as_plain, evaluate_shown, point_from

        source = at if isinstance(at, str) else ""
        try:
            assignments = parse_assignments(at) if isinstance(at, str) else at
            dimensions = {sub.name for sub in nodes.walk(self.parsed.expr) if isinstance(sub, nodes.DimSize)}
            point = point_from(assignments, self.parsed.shapes(), dimensions)
        except MatcalcError as error:
            raise error.with_source(source)
        return as_plain(evaluate_shown(self.derivative, point))

    def verify(self, seed: int = 0, points: int = 10) -> float:
        """The largest relative error against central finite differences at random points
        (the self-check, at more points); nan if no point could be used."""
        report = run_check(self.parsed, self.derivative, seed, points)
        return report.max_error if report.points else float("nan")

    def to_json(self) -> dict[str, Any]:
        parsed = self.parsed
        return {
            "expression": parsed.source,
            "wrt": self.wrt,
            "layout": self.layout.value,
            "order": self.order,
            **parsed.shape_facts(),
            "result_shape": list(self.shape),
            "derivative": self.text,
            "where": [{"name": name, "value": value} for name, value in self.where],
            "latex": latex_text(self.derivative, "rhs"),
            "numpy": self.numpy,
            "notes": self.notes,
            "checked": self.check.to_json() if self.check is not None else None,
        }


def diff(source: str, wrt: str, let: Declarations = None, layout: Layout | str = Layout.NUMERATOR,
         order: int = 1, check: bool = True) -> DiffResult:
    """Differentiate an expression with respect to a variable.

    >>> result = diff("x'Ax", "x")
    >>> result.text, result.shape
    ("x'(A + A')", (1, 'n'))
    >>> diff("x'Ax", "x", layout="denominator").text
    "(A + A')x"
    """
    parsed = parse(source, let, layout)
    if not 1 <= order <= MAX_ORDER:
        raise InputError(f"the order of a derivative is a whole number from 1 to {MAX_ORDER}, not {order}")
    variable = _variable(parsed, wrt)
    try:
        derivative = differentiate(parsed.expr, variable, parsed.env, Layout(layout), order)
    except MatcalcError as error:
        raise error.with_source(source)
    report = run_check(parsed, derivative) if check else None
    return DiffResult(parsed, derivative, report)


def run_check(parsed: Parsed, derivative: Derivative, seed: int = 0, points: int = 3) -> CheckReport:
    """SPEC §3's self-check; a result that fails it raises SelfCheckError (exit 4) and is never shown."""
    from .selfcheck import internal_error, self_check

    lower = [differentiate(parsed.expr, derivative.wrt, parsed.env, derivative.layout, k)
             for k in range(1, derivative.order)]
    report = self_check(lower + [derivative], parsed.env, seed, points)
    if report.points and not report.holds:
        raise internal_error(derivative, parsed.source, report).with_source(parsed.source)
    return report


@dataclass
class SolveResult:
    """The stationary point of a scalar function whose gradient is affine in the variable."""

    parsed: Parsed
    solution: Solution

    @property
    def wrt(self) -> str:
        return self.solution.wrt.name

    @property
    def text(self) -> str:
        """`w = (X'X)^-1 X'y`, in ASCII."""
        return f"{self.wrt} = {expression_text(self.solution.value)}"

    @property
    def latex(self) -> str:
        return f"{latex_name(self.wrt, bold=self.solution.wrt.shape.is_vector)} = " \
               f"{latex_expression(self.solution.value)}"

    @property
    def numpy(self) -> str:
        """One NumPy expression for the solution (SPEC §4's array contract)."""
        return NumpyPrinter(dimension_sources(self.parsed.expr)).text(self.solution.value)

    def report(self, unicode: bool = True) -> list[str]:
        offset = expression_text(self.solution.gradient_at_zero, unicode)
        offset = f"- {offset[1:]}" if offset.startswith("-") else f"+ {offset}"
        lines = [f"{self.wrt} = {expression_text(self.solution.value, unicode)}",
                 f"the stationary point of {self.parsed.source}, where its gradient "
                 f"{expression_text(self.solution.hessian, unicode)} {self.wrt} {offset} is 0"]
        if self.parsed.assumed:
            lines.append(f"assumed: {self.parsed.assumed_text()}")
        return lines

    def summary(self) -> dict[str, str]:
        return {"expression": self.parsed.source, "variable": self.wrt,
                "solution": f"{self.wrt} = {expression_text(self.solution.value, unicode=True)}",
                "assumptions": self.parsed.assumed_text()}

    def to_json(self) -> dict[str, Any]:
        parsed = self.parsed
        return {
            "expression": parsed.source,
            "wrt": self.wrt,
            **parsed.shape_facts(),
            "result_shape": self.solution.value.shape.dims(),
            "solution": expression_text(self.solution.value),
            "latex": self.latex,
            "numpy": self.numpy,
            "hessian": expression_text(self.solution.hessian),
            "gradient_at_zero": expression_text(self.solution.gradient_at_zero),
        }


def solve(source: str, wrt: str, let: Declarations = None) -> SolveResult:
    """Set the gradient to zero and solve, where it is affine in the variable.

    >>> solve("||y - Xw||^2", "w").text
    "w = (X'X)^-1 X'y"
    """
    parsed = parse(source, let)
    variable = _variable(parsed, wrt)
    try:
        return SolveResult(parsed, stationary_point(parsed.expr, variable, parsed.env))
    except MatcalcError as error:
        raise error.with_source(source)


def _variable(parsed: Parsed, wrt: str) -> nodes.Var:
    variables = parsed.shapes()
    if wrt not in variables:
        hint = difflib.get_close_matches(wrt, list(variables), n=1, cutoff=0.0)
        raise UnknownSymbolError(f"the variable {wrt} does not appear in {parsed.source}",
                                 hint=f"did you mean {hint[0]}?" if hint else None)
    return nodes.Var(wrt, shape=variables[wrt])
