"""The public pipeline: text -> parsed, shape-checked expression.

These functions are the only place that attaches the source text to an
escaping error, so the CLI can show it with a caret.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import nodes
from .assign import parse_assignments
from .checker import check
from .decls import Decl, Env, parse_declarations
from .errors import InputError, MatcalcError, UnknownSymbolError
from .layout import Layout
from .parser import parse as parse_syntax
from .render.canonical import canonical
from .render.latex import LINE_WIDTH, latex_expression, latex_name, latex_text
from .render.numpy import NumpyPrinter, dimension_sources, numpy_expression, numpy_function
from .render.text import derivative_text, expression_text, notes, report
from .result import Derivative, IndexTerm, differentiate, share_names

if TYPE_CHECKING:
    from .selfcheck import CheckReport
    from .steps import Derivation
from .closed_form import Solution
from .closed_form import solve as stationary_point
from .shapes import Shape

Declarations = str | Iterable[str] | Env | None
MAX_ORDER = 6  # each order multiplies the terms; beyond the sixth no one asks, and the work grows fast


@dataclass(frozen=True)
class Parsed:
    """A parsed, shape-checked expression."""

    source: str
    expr: nodes.Node
    env: Env
    assumed: dict[str, Decl]  # undeclared names and the shapes inferred for them
    notes: tuple[str, ...] = ()  # what the inference took that the user may not have meant (SPEC §1)

    @property
    def shape(self) -> Shape:
        return self.expr.shape

    @property
    def written(self) -> str:
        """The expression as the user wrote it, or its canonical text where it was written in LaTeX."""
        from .latex_input import is_latex

        return self.canonical if is_latex(self.source) else self.source

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
        return {"shapes": {name: shape.dims() for name, shape in self.shapes().items()}, "assumed": list(self.assumed)}

    def to_sympy(self):
        """The expression as a SymPy object: a matrix expression over MatrixSymbols whose dimensions are
        positive integer Symbols (a scalar expression for a scalar).

        >>> parse("x'Ax").to_sympy()
        Trace((x.T*A)*x)
        """
        from .lower import to_sympy

        return to_sympy(self.expr)

    def sympy_code(self) -> str:
        """Python code that builds `to_sympy()` (as `expression`): what `parse --format sympy` prints."""
        from .render.sympy import sympy_code

        return sympy_code({"expression": self.to_sympy()}, f"{self.source}, built by matcalc")

    def __repr__(self) -> str:
        return f"<Parsed {self.canonical}, {self.shape.kind} {_shape_text(self.shape.dims())}>"

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.source,
            "canonical": self.canonical,
            "shape": self.shape.dims(),
            "kind": self.shape.kind,
            **self.shape_facts(),
            "notes": list(self.notes),
        }


def declarations(let: Declarations) -> Env:
    """Read declarations given as one text, several texts (each a --let), or an Env."""
    if isinstance(let, Env):
        return let
    text = let if isinstance(let, str) else "; ".join(let or ())
    try:
        return parse_declarations(text)
    except MatcalcError as error:
        raise error.with_source(text) from None


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
        raise error.with_source(source) from None
    return Parsed(source, checked.expr, env, checked.assumed, checked.notes)


@dataclass
class DiffResult:
    """The derivative of an expression, with everything needed to show, check and use it."""

    parsed: Parsed
    derivative: Derivative
    check: CheckReport | None = None  # the self-check against finite differences (None: skipped)
    derivation: Derivation | None = None  # the steps (diff(..., steps=True)), each self-checked

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
        """The derivative as one line of LaTeX: the whole equation, as an aligned block if it would not
        fit a displayed line of an article page (LINE_WIDTH)."""
        return latex_text(self.derivative, "equation", LINE_WIDTH)

    def latex_text(
        self,
        mode: str = "equation",
        width: int | None = None,
        *,
        derivative: str = "frac",
        matrices: str = "italic",
        sigmoid: str = "sigma",
        notes: str | None = None,
    ) -> str:
        """One line of LaTeX: mode "equation" (∂f/∂x = ...) or "rhs" (the right-hand side alone); a
        result wider than `width` characters broken into an aligned block; with steps, the
        derivation as one align* block. The notation: `derivative` "frac" or "nabla", `matrices`
        "italic" or "bold", `sigmoid` "sigma" or "name", `notes` "text", "comment" or "none" (by
        default "text" for the equation, "none" for the right-hand side); see matcalc.render.latex.

        >>> print(diff("x'Ax", "x", layout="denominator").latex_text(derivative="nabla", matrices="bold"))
        \\nabla_{\\mathbf{x}} \\mathbf{x}^\\top \\mathbf{A} \\mathbf{x} = (\\mathbf{A} + \\mathbf{A}^\\top) \\mathbf{x}
        """
        if self.derivation is not None:
            from .render.steps import steps_latex

            return steps_latex(self.derivation)
        return latex_text(
            self.derivative, mode, width, derivative=derivative, matrices=matrices, sigmoid=sigmoid, notes=notes
        )

    def report(self, unicode: bool = True) -> list[str]:
        """The lines of `matcalc diff`'s text output (after the derivation's steps, with steps), ending
        with what the self-check found."""
        lines = report(self.derivative, self.parsed.written, self.parsed.assumed_text(), unicode)
        if self.derivation is not None:
            from .render.steps import steps_text

            lines = [
                f"{self.parsed.source}: the derivation, step by step",
                *steps_text(self.derivation, unicode),
                *lines,
            ]
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

    def __repr__(self) -> str:
        """<Derivative ∂(x'Ax)/∂x = (A + A')x, shape (n, 1), denominator>"""
        power = "" if self.order == 1 else str(self.order).translate(_SUPERSCRIPTS)
        where = "".join(f", {name} = {value}" for name, value in self.where)
        return (
            f"<Derivative ∂{power}({self.parsed.source})/∂{self.wrt}{power} = {self.text}{where}, "
            f"shape {_shape_text(self.shape)}, {self.layout.value}>"
        )

    def to_sympy(self):
        """The derivative as a SymPy object with the shape's dimension symbols: a matrix expression over
        MatrixSymbols for results with at most two axes, an array expression (sympy.tensor.array.expressions)
        for more. Named subexpressions are written out.

        >>> diff("x'Ax", "x", layout="denominator").to_sympy()
        (A + A.T)*x
        """
        return _sympy_of(self.derivative.inline_matrix, self.derivative.inline_index_form, self.derivative)

    def sympy_code(self) -> str:
        """Python code that builds the expression and `to_sympy()`: what `--format sympy` prints."""
        return DiffResults([self]).sympy_code()

    def code(self, backend: str = "numpy") -> str:
        """A self-contained module for numpy, torch or jax: f, derivative, f_and_grad, check_gradient."""
        return DiffResults([self]).code(backend)

    def numpy_code(self) -> str:
        """The text of `--format numpy`: a NumPy module (see `code`)."""
        return self.code("numpy")

    def function(self):
        """A NumPy function of the variables (positional in the order they appear, or by keyword; vectors
        as 1-D arrays) that returns the derivative as an array, size-1 axes left out (SPEC §4).

        >>> import numpy as np
        >>> g = diff("x'Ax", "x").function()
        >>> g(x=np.array([1.0, 2.0]), A=np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
        [12.0, 21.0]
        """
        import numpy as np

        from .numeric import evaluate_shown, point_from

        names = list(self.parsed.shapes())
        dimensions = {sub.name for sub in nodes.walk(self.parsed.expr) if isinstance(sub, nodes.DimSize)}

        def derivative(*args, **kwargs):
            values = dict(zip(names, args)) | kwargs
            point = point_from(
                {name: np.asarray(value, dtype=float).tolist() for name, value in values.items()},
                self.parsed.shapes(),
                dimensions,
            )
            return np.asarray(evaluate_shown(self.derivative, point), dtype=float)

        derivative.__name__ = f"d_{self.wrt}"
        derivative.__doc__ = f"∂({self.parsed.source})/∂{self.wrt} in {self.layout.value} layout"
        return derivative

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        lines = [
            f"$${self.latex_text(notes='none')}$$",
            "",  # the notes follow, as text
            f"shape {self.summary()['result shape']}, {self.layout.value} layout",
        ]
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
            raise error.with_source(source) from None
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
            **({"steps": self._steps_json()} if self.derivation is not None else {}),
        }

    def _steps_json(self) -> list[dict[str, Any]]:
        from .render.steps import steps_json

        return steps_json(self.derivation)


class DiffResults(list):
    """The derivatives of one expression by several variables, in the order asked, sharing their
    `where` names (a subexpression repeated anywhere among them is named once for all). A list of
    DiffResult; `to_json()` is the array `matcalc diff --format json` prints."""

    def to_json(self) -> list[dict[str, Any]]:
        return [result.to_json() for result in self]

    @property
    def where(self) -> list[tuple[str, str]]:
        """Every named subexpression of the results, once, in order of definition."""
        seen: dict[str, str] = {}
        for result in self:
            seen.update(result.where)
        return list(seen.items())

    def __repr__(self) -> str:
        return "[" + ",\n ".join(repr(result) for result in self) + "]"

    def to_sympy(self) -> list:
        return [result.to_sympy() for result in self]

    def sympy_code(self) -> str:
        """Python code that builds the expression (`expression`) and each derivative (`d_<variable>`)."""
        from .render.sympy import sympy_code

        first = self[0]
        objects = {"expression": first.parsed.to_sympy()}
        objects |= {f"d_{result.wrt}": result.to_sympy() for result in self}
        layout = first.layout.value
        return sympy_code(
            objects,
            f"{first.parsed.source} and its derivative{'s' if len(self) > 1 else ''} by "
            f"{', '.join(r.wrt for r in self)} ({layout} layout), built by matcalc",
        )

    def code(self, backend: str = "numpy") -> str:
        """One self-contained module for numpy, torch or jax: f(...), derivative(...) returning every
        derivative (a tuple, in order, for several), f_and_grad(...) with shape assertions, and
        check_gradient() against central finite differences, printed by SymPy's code printers."""
        import numpy as np

        from .lower import to_sympy
        from .numeric import sample_point
        from .render.sympy import BACKENDS, Gradient, framework_module

        if backend not in BACKENDS:
            raise InputError(f"no code for {backend!r}: one of {', '.join(BACKENDS)}")
        first = self[0]
        parsed = first.parsed
        variables = {name: tuple(shape.dims()) for name, shape in parsed.shapes().items()}
        sources = dimension_sources(parsed.expr)
        where: dict[str, Any] = {}
        gradients = []
        for result in self:
            d = result.derivative
            for name, definition in d.where:
                where.setdefault(name, to_sympy(definition))
            gradients.append(
                Gradient(
                    result.wrt,
                    _sympy_of(d.matrix, d.index_form, d),
                    tuple(_plain(dim) for dim in d.shape if dim != 1),
                    _contraction(d),
                )
            )
        # example inputs for check_gradient: where the expression is defined (det(C B) may be singular)
        point = sample_point(parsed.expr, parsed.env, np.random.default_rng(0), symbolic_derivatives=False)
        values = {}
        for name, shape in parsed.shapes().items():
            value = np.asarray(point.values[name], dtype=float)
            value = value.item() if shape.is_scalar else value.ravel() if shape.is_column else value
            values[name] = np.round(value, 6).tolist() if not shape.is_scalar else round(value, 6)
        value_shape = tuple(_plain(dim) for dim in (parsed.shape.rows, parsed.shape.cols) if dim != 1)
        title = (
            f"{parsed.source}: its value and its derivative{'s' if len(self) > 1 else ''} by "
            f"{', '.join(r.wrt for r in self)} ({first.layout.value} layout"
            f"{'' if first.order == 1 else f', order {first.order}'})"
        )
        return framework_module(
            backend,
            title=title,
            variables=variables,
            sizes_from=sources,
            value=to_sympy(parsed.expr),
            value_shape=value_shape,
            where=list(where.items()),
            gradients=gradients,
            order=first.order,
            point=values,
            sample_sizes={k: v for k, v in point.sizes.items() if isinstance(k, str)},
        )

    def numpy_code(self) -> str:
        return self.code("numpy")


def _plain_name(name: str) -> str:
    r"""A variable written as in LaTeX (\mathbf{w}, \beta, W_{1}) by its plain name (w, beta, W1)."""
    from .latex_input import is_latex, translate

    return translate(name).text.strip() if name and is_latex(name) else name


def variable_names(wrt: str | Iterable[str]) -> list[str]:
    """The variables of `wrt`: one name, a comma list ("W1,b1") or a list of names (each may be a
    comma list). Empty names and repeated ones are input errors."""
    texts = [wrt] if isinstance(wrt, str) else list(wrt)
    names = [_plain_name(name.strip()) for text in texts for name in re.split(r"[,;]", text)]
    if not names or not all(names):
        raise InputError(f"a variable name is needed, as in --wrt x or --wrt W1,b1 (got {', '.join(map(repr, texts))})")
    repeated = [name for k, name in enumerate(names) if name in names[:k]]
    if repeated:
        raise InputError(f"the variable {repeated[0]} is given twice")
    return names


def diff(
    source: str,
    wrt: str | Iterable[str],
    let: Declarations = None,
    layout: Layout | str = Layout.NUMERATOR,
    order: int = 1,
    check: bool = True,
    steps: bool = False,
) -> DiffResult | DiffResults:
    """Differentiate an expression with respect to a variable, or to several.

    One name gives a DiffResult; a list of names or a comma list ("W1,b1") gives a DiffResults, a list
    with one DiffResult per variable, in that order, sharing their `where` names. Every result is
    self-checked against finite differences (SelfCheckError, exit 4, if one disagrees) unless
    check is False.

    >>> result = diff("x'Ax", "x")
    >>> result.text, result.shape
    ("x'(A + A')", (1, 'n'))
    >>> diff("x'Ax", "x", layout="denominator").text
    "(A + A')x"
    >>> [r.text for r in diff("w'x + b", ["w", "b"])]
    ["x'", '1']
    """
    names = variable_names(wrt)
    parsed = parse(source, let, layout)
    if not 1 <= order <= MAX_ORDER:
        raise InputError(f"the order of a derivative is a whole number from 1 to {MAX_ORDER}, not {order}")
    variables = [_variable(parsed, name) for name in names]
    try:
        derivatives = [
            differentiate(parsed.expr, variable, parsed.env, Layout(layout), order) for variable in variables
        ]
    except MatcalcError as error:
        raise error.with_source(source) from None
    for derivative in derivatives:
        derivative.notes[:0] = parsed.notes  # the inference's notes, shown with the result's in every format
    if len(derivatives) > 1:
        share_names(derivatives)
    results = [
        DiffResult(parsed, derivative, run_check(parsed, derivative) if check else None) for derivative in derivatives
    ]
    if steps:
        for result in results:
            result.derivation = explain(parsed, result.derivative, check)
    if isinstance(wrt, str) and len(results) == 1:
        return results[0]
    return DiffResults(results)


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _plain(dim):
    return dim if isinstance(dim, int) else str(dim)


def _shape_text(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + (",)" if len(dims) == 1 else ")")


def _sympy_of(matrix: nodes.Node | None, index_form: list[IndexTerm] | None, derivative: Derivative):
    """A shown form of a derivative (matrix or index notation) as a SymPy object."""
    from .lower import index_array, to_sympy

    if matrix is not None:
        return to_sympy(matrix)
    terms = [
        (t.coefficient, t.scalars, [(p.elements, p.indices) for p in t.pieces], t.summed) for t in index_form or []
    ]
    return index_array(terms, derivative.free, derivative.dims)


def _contraction(d: Derivative) -> str:
    """einsum subscripts: the derivative's axes and one direction per differentiation -> the function's."""
    letters = dict(zip(d.free, "abcdefghijklmnopqrstuvwxyz"))
    groups = ",".join("".join(letters[i] for i in group) for group in d.wrt_groups)
    return f"{''.join(letters[i] for i in d.free)},{groups}->{''.join(letters[i] for i in d.out_axes)}"


def explain(parsed: Parsed, derivative: Derivative, check: bool = True) -> Derivation:
    """The derivation of a derivative, step by step, every step's result self-checked too."""
    from .steps import derive_steps, differentiate_again

    try:
        orders = [
            differentiate(parsed.expr, derivative.wrt, parsed.env, derivative.layout, k)
            for k in range(1, derivative.order)
        ] + [derivative]
        derivation = derive_steps(parsed.expr, derivative.wrt, parsed.env, derivative.layout, orders[0])
        differentiate_again(derivation, parsed.env, orders[1:])
        if check:
            for result in derivation.results():
                if result is not derivative:
                    run_check(Parsed(parsed.source, result.expr, parsed.env, {}), result)
    except MatcalcError as error:
        raise error.with_source(parsed.source) from None
    return derivation


def run_check(parsed: Parsed, derivative: Derivative, seed: int = 0, points: int = 3) -> CheckReport:
    """SPEC §3's self-check; a result that fails it raises SelfCheckError (exit 4) and is never shown."""
    from .selfcheck import internal_error, self_check

    lower = [
        differentiate(parsed.expr, derivative.wrt, parsed.env, derivative.layout, k) for k in range(1, derivative.order)
    ]
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
        return (
            f"{latex_name(self.wrt, bold=self.solution.wrt.shape.is_vector)} = {latex_expression(self.solution.value)}"
        )

    @property
    def numpy(self) -> str:
        """One NumPy expression for the solution (SPEC §4's array contract)."""
        sources = dimension_sources(self.parsed.expr, without=self.wrt)  # the solution does not know the variable
        return NumpyPrinter(sources).text(self.solution.value)

    def report(self, unicode: bool = True) -> list[str]:
        offset = expression_text(self.solution.gradient_at_zero, unicode)
        offset = (
            ""
            if offset == "0" or set(offset) <= {"0", " "}
            else f" - {offset[1:]}"
            if offset.startswith("-")
            else f" + {offset}"
        )
        hessian = self.solution.hessian
        slope = expression_text(hessian, unicode)
        slope = f"({slope})" if isinstance(hessian, nodes.Add) else slope  # (Aᵀ + A) x, not Aᵀ + A x
        lines = [
            f"{self.wrt} = {expression_text(self.solution.value, unicode)}",
            f"the stationary point of {self.parsed.source}, where its gradient {slope} {self.wrt}{offset} is 0",
        ]
        if self.parsed.assumed:
            lines.append(f"assumed: {self.parsed.assumed_text()}")
        return lines

    def summary(self) -> dict[str, str]:
        return {
            "expression": self.parsed.source,
            "variable": self.wrt,
            "solution": f"{self.wrt} = {expression_text(self.solution.value, unicode=True)}",
            "assumptions": self.parsed.assumed_text(),
        }

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
        raise error.with_source(source) from None


def _variable(parsed: Parsed, wrt: str) -> nodes.Var:
    variables = parsed.shapes()
    if wrt not in variables:
        hint = difflib.get_close_matches(wrt, list(variables), n=1, cutoff=0.0)
        raise UnknownSymbolError(
            f"the variable {wrt} does not appear in {parsed.source}", hint=f"did you mean {hint[0]}?" if hint else None
        )
    return nodes.Var(wrt, shape=variables[wrt])
