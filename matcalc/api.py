"""The public pipeline: text -> parsed, shape-checked expression -> derivatives, solutions, checked identities.

These functions are the only place that attaches the source text to an
escaping error, so the CLI can show it with a caret. Every result they return
has `.text` (one line of ASCII math, or lines of text), `.latex`, a one-line
repr and a notebook display as math (`_repr_latex_`, `_repr_markdown_`).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from . import nodes
from .calculus.differentiate import Derivative, IndexTerm, differentiate, share_names
from .errors import ExitStatus, FileError, InputError, MatcalcError, UnknownSymbolError, UnsupportedError
from .language.checker import check as check_shapes
from .language.decls import Decl, Env, parse_declarations
from .language.parser import parse as parse_syntax
from .language.values import parse_assignments
from .layout import Layout
from .render.canonical import canonical
from .render.text import derivative_text, expression_text, notes, report, vec_report, vec_text

if TYPE_CHECKING:
    from .batch import CheckResult
    from .calculus import steps
    from .calculus.solve import Solution
    from .calculus.vec import VecForm
    from .numeric.codecheck import Subject
    from .numeric.selfcheck import CheckReport
    from .render.module import ModuleSpec
from .shapes import Dim, Shape

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
        from .language.tokens import is_latex

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
        from .render.to_sympy import sympy_object

        return sympy_object(self.expr)

    def sympy_code(self, check: bool = True) -> str:
        """Python code that builds `to_sympy()` (as `expression`): what `parse --format sympy` prints. Unless
        not `check`, it is run first: it must build that object, whose value SymPy computes at random
        points must be the expression's (else SelfCheckError, exit 4)."""
        from .numeric.codecheck import Subject, sympy_text

        subject = Subject(self.source, self.expr, self.env, ())
        return sympy_text({"expression": self.to_sympy()}, f"{self.source}, built by matcalc", subject, check)

    @property
    def text(self) -> str:
        """The expression in one line of ASCII math, as the derivatives are written."""
        return expression_text(self.expr)

    @property
    def latex(self) -> str:
        from .render.latex import latex_expression

        return latex_expression(self.expr)

    def function(self):
        """A NumPy function of the variables (positional in the order they appear, or by keyword; vectors as
        1-D arrays) that returns the expression's value: a 0-d array for a scalar, 1-D for a vector.

        >>> f = parse("x'Ax").function()
        >>> float(f(x=[1.0, 2.0], A=[[1.0, 2.0], [3.0, 4.0]]))
        27.0
        """
        from .numeric.evaluate import evaluate

        def value(*args, **kwargs):
            point = _point(args, kwargs, self.shapes(), self.expr)
            return _plain_array(evaluate(self.expr, point.values, point.sizes), self.shape)

        value.__name__ = "f"
        value.__doc__ = f"{self.source}, a function of {', '.join(self.shapes())}"
        return value

    def __repr__(self) -> str:
        """<Parsed x' A x, scalar>, <Parsed A x, vector (n)>, <Parsed A X, matrix (n, k)>"""
        return f"<Parsed {self.canonical}, {_kind_text(self.shape)}>"

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        facts = _kind_text(self.shape)
        if self.assumed:
            facts += f"; assumed {self.assumed_text()}"
        return f"$${self.latex}$$\n\n{_markdown_text(facts)}"

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
        checked = check_shapes(tree, env, source, Layout(layout))
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
    vec: VecForm | None = None  # the Kronecker form (diff(..., notation="vec")), where the result has one

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
    def shape(self) -> tuple[Dim, ...]:
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
        """The derivative in one line of ASCII math (matrix, index or vec/Kronecker notation)."""
        if self.vec is not None:
            return vec_text(self.vec.matrix)
        return derivative_text(self.derivative)

    @property
    def where(self) -> list[tuple[str, str]]:
        return [(name, expression_text(node)) for name, node in self.derivative.where]

    @property
    def numpy(self) -> str:
        """One NumPy expression in the variables computing the derivative (SPEC §4). Where the result was
        self-checked, so is this: evaluated at the check's points, it must give the checked result."""
        if self.derivative.output_splits:  # d(A ⊗ X) has only its vec form
            return self._vec_fields("json")["numpy"]
        if self.check is None:
            from .render.numpy import numpy_expression

            return numpy_expression(self.derivative)
        from .numeric.codecheck import numpy_field

        return numpy_field(self.derivative, self._subject())

    def numpy_function(self):
        """A NumPy function computing the derivative: the same callable as `function()`."""
        return self.function()

    def numpy_function_code(self) -> str:
        """The source of one Python function (`def derivative(...)`) computing the derivative with NumPy,
        its named subexpressions as assignments; `numpy_code()` is a whole module. Checked as `numpy` is."""
        if self.check is None:
            from .render.module import function_code

            return function_code(self.derivative)
        from .numeric.codecheck import function_text

        return function_text(self.derivative, self._subject())

    def _subject(self) -> Subject:
        from .numeric.codecheck import Subject

        return Subject(self.parsed.source, self.parsed.expr, self.parsed.env, (self.derivative,))

    @property
    def latex(self) -> str:
        """The derivative as one line of LaTeX: the whole equation, as an aligned block if it would not
        fit a displayed line of an article page (LINE_WIDTH)."""
        from .render.latex import LINE_WIDTH, latex_text, vec_latex

        if self.vec is not None:
            return vec_latex(self.derivative, self.vec)
        return latex_text(self.derivative, "equation", LINE_WIDTH)

    def latex_text(
        self,
        mode: str = "equation",
        width: int | None = None,
        *,
        derivative: str = "frac",
        matrices: str = "italic",
        sigmoid: str = "sigma",
        step: str = "name",
        notes: str | None = None,
    ) -> str:
        """One line of LaTeX: mode "equation" (∂f/∂x = ...) or "rhs" (the right-hand side alone); a
        result wider than `width` characters broken into an aligned block; with steps, the
        derivation as one align* block. The notation: `derivative` "frac" or "nabla", `matrices`
        "italic" or "bold", `sigmoid` "sigma" or "name", `step` "name", "indicator" or "heaviside",
        `notes` "text", "comment" or "none" (by
        default "text" for the equation, "none" for the right-hand side); see matcalc.render.latex.

        >>> print(diff("x'Ax", "x", layout="denominator").latex_text(derivative="nabla", matrices="bold"))
        \\nabla_{\\mathbf{x}} \\mathbf{x}^\\top \\mathbf{A} \\mathbf{x} = (\\mathbf{A} + \\mathbf{A}^\\top) \\mathbf{x}
        """
        from .render.latex import latex_text, vec_latex

        if self.derivation is not None:
            return self.derivation.latex
        if self.vec is not None:
            return vec_latex(self.derivative, self.vec, mode)
        return latex_text(
            self.derivative,
            mode,
            width,
            derivative=derivative,
            matrices=matrices,
            sigmoid=sigmoid,
            step=step,
            notes=notes,
        )

    def report(self, unicode: bool = True) -> list[str]:
        """The lines of `matcalc diff`'s text output (after the derivation's steps, with steps), ending
        with what the self-check found."""
        lines = report(self.derivative, self.parsed.written, self.parsed.assumed_text(), unicode)
        if self.vec is not None:
            lines = vec_report(self.derivative, self.vec, self.parsed.written, self.parsed.assumed_text(), unicode)
        if self.derivation is not None:
            lines = [
                f"{self.parsed.source}: the derivation, step by step",
                *self.derivation.lines(unicode),
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
        } | self._vec_fields("summary")

    def __repr__(self) -> str:
        """<Derivative ∂(x'Ax)/∂x = (A + A')x, shape (n, 1), denominator>"""
        where = "".join(f", {name} = {value}" for name, value in self.where)
        return (
            f"<Derivative {_partial(self.parsed.source, self.wrt, self.order)} = {self.text}{where}, "
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

    def sympy_code(self, check: bool | None = None) -> str:
        """Python code that builds the expression and `to_sympy()`: what `--format sympy` prints (checked
        as `code` is)."""
        return DiffResults([self]).sympy_code(check)

    def code(self, backend: str = "numpy", check: bool | None = None) -> str:
        """A self-contained module for numpy, torch or jax: f, derivative, f_and_grad, check_gradient. It is
        run before it is returned where the result was self-checked (or `check`): what it computes at the
        self-check's points must be the checked result (else SelfCheckError, exit 4)."""
        return DiffResults([self]).code(backend, check)

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

        from .numeric.differences import evaluate_shown

        def derivative(*args, **kwargs):
            point = _point(args, kwargs, self.parsed.shapes(), self.parsed.expr)
            return np.asarray(evaluate_shown(self.derivative, point), dtype=float)

        derivative.__name__ = f"d_{self.wrt}"
        derivative.__doc__ = f"∂({self.parsed.source})/∂{self.wrt} in {self.layout.value} layout"
        return derivative

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        """The equation, then its shape, layout, assumptions and notes as text (after the derivation's
        steps, with steps)."""
        steps = self.derivation._repr_markdown_() + "\n\n" if self.derivation is not None else ""
        return steps + self._answer_markdown()

    def _answer_markdown(self) -> str:
        from .render.latex import LINE_WIDTH, latex_text

        lines = [
            f"$${latex_text(self.derivative, 'equation', LINE_WIDTH, notes='none')}$$",
            "",  # the notes follow, as text
            f"shape {self.summary()['result shape']}, {self.layout.value} layout",
        ]
        if self.parsed.assumed:
            lines.append(f"; assumed {self.parsed.assumed_text()}")
        lines += [f"\n\n*note:* {_markdown_text(note)}" for note in self.notes]
        return "".join(lines[:2]) + "\n\n" + "".join(lines[2:])

    def value_at(self, at: str | dict) -> float | list:
        """The derivative at a point: `at` is "x=1, A=[[1, 2], [3, 4]]" or a dict of numbers and lists.
        A scalar comes back as a float, a vector or matrix as nested lists (size-1 axes left out)."""
        from .numeric.differences import as_plain, evaluate_shown, point_from

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
        from .render.latex import latex_text

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
            "numpy": self.numpy if self.vec is None else None,  # the vec fields give it
            "notes": self.notes,
            "checked": self.check.to_json() if self.check is not None else None,
            **({"steps": self.derivation.to_json()} if self.derivation is not None else {}),
        } | self._vec_fields("json")

    def _vec_fields(self, kind: str) -> dict:
        """What the vec notation changes in the JSON object or the table (nothing without a vec form)."""
        if self.vec is None:
            return {}
        from .numeric.vec_check import vec_json, vec_summary

        if kind == "summary":
            return vec_summary(self.derivative, self.vec)
        return vec_json(self._subject(), self.vec, self.check is not None)


@dataclass(frozen=True)
class Derivation:
    """The derivation of a derivative, step by step, as `matcalc diff --steps` shows it: each step an
    equation and the rule that justifies it (the steps as data: `steps`, matcalc.steps.Step)."""

    source: str  # the expression differentiated
    data: steps.Derivation = field(repr=False)
    answer: Derivative = field(repr=False)  # the derivative the last step reaches

    @property
    def steps(self) -> list[steps.Step]:
        return self.data.steps

    def results(self) -> list[Derivative]:
        """Every derivative the steps state (each self-checked, unless diff(..., check=False))."""
        return self.data.results()

    def lines(self, unicode: bool = True) -> list[str]:
        """One numbered line per step, its rule in a column."""
        from .render.steps import steps_text

        return steps_text(self.data, unicode)

    @property
    def text(self) -> str:
        """The steps as `matcalc diff --steps` prints them, in Unicode (xᵀ, ∂y/∂u)."""
        return "\n".join(self.lines())

    @property
    def latex(self) -> str:
        """One align* block, ready to paste into a paper: each step's rule as its tag."""
        from .render.steps import steps_latex

        return steps_latex(self.data)

    def to_json(self) -> list[dict[str, Any]]:
        """The `steps` array of `--format json`: {lhs, rhs, rule, latex} per equation."""
        from .render.steps import steps_json

        return steps_json(self.data)

    def __repr__(self) -> str:
        """<Derivation of ∂(x'Ax)/∂x in 2 steps = (A + A')x>"""
        count = len(self.steps)
        return (
            f"<Derivation of {_partial(self.source, self.answer.wrt.name, self.answer.order)} in {count} "
            f"step{'s' if count != 1 else ''} = {derivative_text(self.answer)}>"
        )

    def _repr_latex_(self) -> str:
        return f"$${_aligned(self.latex)}$$"

    def _repr_markdown_(self) -> str:
        remarks = [f"\n\n*note:* {_markdown_text(step.note)}" for step in self.steps if step.note]
        return f"$${_aligned(self.latex)}$$" + "".join(remarks)


def _aligned(align: str) -> str:
    r"""An align* block as an `aligned` one, which display math in a notebook takes: each `\tag*{rule}`
    (not allowed in `aligned`) becomes a last column."""
    body = align.replace(r"\begin{align*}", r"\begin{aligned}").replace(r"\end{align*}", r"\end{aligned}")
    tag = r" \tag*{"
    while tag in body:
        start = body.index(tag)
        end = _closing_brace(body, start + len(tag))
        body = body[:start] + r" && " + body[start + len(tag) : end] + body[end + 1 :]
    return body


def _closing_brace(latex: str, start: int) -> int:
    """The position of the } that closes the group opened just before `start`."""
    depth = 1
    for position in range(start, len(latex)):
        depth += {"{": 1, "}": -1}.get(latex[position], 0) if latex[position - 1] != "\\" else 0
        if depth == 0:
            return position
    raise ValueError(f"an unbalanced group in {latex!r}")


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

    @property
    def text(self) -> str:
        """One line per variable, `d/dW = x t1'`, then the named subexpressions they share (ASCII)."""
        lines = [f"d/d{result.wrt} = {result.text}" for result in self]
        return "\n".join(lines + [f"where {name} = {value}" for name, value in self.where])

    @property
    def latex(self) -> str:
        """One `gathered` block: an equation per variable, then the named subexpressions, each once."""
        from .render.latex import LINE_WIDTH, latex_expression, latex_text, vec_latex

        rows = [
            vec_latex(result.derivative, result.vec)
            if result.vec is not None
            else latex_text(replace(result.derivative, where=[]), "equation", LINE_WIDTH)
            for result in self
        ]
        shared: dict[str, nodes.Node] = {}
        for result in self:
            shared.update(result.derivative.where)
        for position, (name, node) in enumerate(shared.items()):
            lead = r"\text{where } " if position == 0 else ""
            rows.append(f"{lead}{latex_expression(nodes.Var(name, shape=node.shape))} = {latex_expression(node)}")
        return r"\begin{gathered} " + r" \\ ".join(rows) + r" \end{gathered}"

    def function(self):
        """A NumPy function of the variables (as DiffResult.function takes them) returning every derivative,
        a tuple in the order of the variables.

        >>> by_w, by_b = diff("w'x + b", ["w", "b"]).function()(w=[1.0, 2.0], x=[3.0, -1.0], b=0.5)
        >>> by_w.tolist(), float(by_b)
        ([3.0, -1.0], 1.0)
        """
        functions = [result.function() for result in self]

        def derivatives(*args, **kwargs):
            return tuple(function(*args, **kwargs) for function in functions)

        derivatives.__name__ = "derivatives"
        derivatives.__doc__ = ", ".join(function.__doc__ or "" for function in functions)
        return derivatives

    def __repr__(self) -> str:
        return "[" + ",\n ".join(repr(result) for result in self) + "]"

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        return "\n\n".join(result._repr_markdown_() for result in self)

    def to_sympy(self) -> list:
        return [result.to_sympy() for result in self]

    def sympy_code(self, check: bool | None = None) -> str:
        """Python code that builds the expression (`expression`) and each derivative (`d_<variable>`), run
        before it is returned where the results were self-checked (or `check`): it must build matcalc's
        objects, and SymPy's values of them at the self-check's points must be the checked ones."""
        from .numeric.codecheck import sympy_text

        first = self[0]
        objects = {"expression": first.parsed.to_sympy()}
        objects |= {f"d_{result.wrt}": result.to_sympy() for result in self}
        title = (
            f"{first.parsed.source} and its derivative{'s' if len(self) > 1 else ''} by "
            f"{', '.join(r.wrt for r in self)} ({first.layout.value} layout), built by matcalc"
        )
        return sympy_text(objects, title, self._subject(), self._checked(check))

    def code(self, backend: str = "numpy", check: bool | None = None) -> str:
        """One self-contained module for numpy, torch or jax: f(...), derivative(...) returning every
        derivative (a tuple, in order, for several), f_and_grad(...) with shape assertions, and
        check_gradient() against central finite differences. It is run before it is returned where the
        results were self-checked (or `check`): what it computes at the self-check's points must be the
        checked results (else SelfCheckError, exit 4); where torch or jax is not installed, its NumPy twin
        is run, and the module says so."""
        from .render.numpy import BACKENDS

        if backend not in BACKENDS:
            raise InputError(f"no code for {backend!r}: one of {', '.join(BACKENDS)}")
        checked = self._checked(check)
        from .numeric.codecheck import module_code

        return module_code(backend, self._module_spec(), self._subject(), checked)

    def _checked(self, check: bool | None) -> bool:
        return all(result.check is not None for result in self) if check is None else check

    def _subject(self) -> Subject:
        from .numeric.codecheck import Subject

        first = self[0]
        return Subject(first.parsed.source, first.parsed.expr, first.parsed.env, tuple(r.derivative for r in self))

    def _module_spec(self) -> ModuleSpec:
        """What the module computes, with example inputs for its check_gradient()."""
        import numpy as np

        from .render.module import ModuleSpec

        first = self[0]
        parsed = first.parsed
        where: dict[str, nodes.Node] = {}
        for result in self:
            for name, definition in result.derivative.where:
                where.setdefault(name, definition)
        point = _example_point(parsed)
        values: dict[str, object] = {}
        for name, shape in parsed.shapes().items():
            value = np.asarray(point.values[name], dtype=float)
            value = value.item() if shape.is_scalar else value.ravel() if shape.is_column else value
            values[name] = np.round(value, 6).tolist() if not shape.is_scalar else round(float(value), 6)
        title = (
            f"{parsed.source}: its value and its derivative{'s' if len(self) > 1 else ''} by "
            f"{', '.join(r.wrt for r in self)} ({first.layout.value} layout"
            f"{'' if first.order == 1 else f', order {first.order}'})"
        )
        return ModuleSpec(
            title,
            parsed.expr,
            parsed.shapes(),
            tuple(result.derivative for result in self),
            tuple(where.items()),
            values,
            {k: v for k, v in point.sizes.items() if isinstance(k, str)},
            tuple(result.vec for result in self),
        )

    def numpy_code(self) -> str:
        return self.code("numpy")


def _example_point(parsed: Parsed):
    """Example inputs for a module's check_gradient(): where the expression is defined and away from kinks
    (det(C B) may be singular), or, where no point is away from kinks (the norm of relu(y - n), 0 wherever
    it is drawn), where it is defined, or else anywhere."""
    import numpy as np

    from .numeric.differences import Point, dimension_sizes, sample, sample_point

    choices: tuple[list[nodes.Node] | None, ...] = (None, [])  # away from every kink, then from none
    for differentiated in choices:
        try:
            return sample_point(
                parsed.expr,
                parsed.env,
                np.random.default_rng(0),
                differentiated=differentiated,
                symbolic_derivatives=False,
            )
        except UnsupportedError:
            continue
    sizes: dict[str | int, int] = {
        name: size for name, size in dimension_sizes(parsed.expr).items() if isinstance(name, str)
    }
    return Point(sample(parsed.shapes(), parsed.env, sizes, np.random.default_rng(0)), sizes)


def _plain_name(name: str) -> str:
    r"""A variable written as in LaTeX (\mathbf{w}, \beta, W_{1}) by its plain name (w, beta, W1)."""
    from .language.tokens import is_latex

    if not (name and is_latex(name)):
        return name
    from .language.latex import translate  # only for LaTeX: a large module that plain text never needs

    return translate(name).text.strip()


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


@overload
def diff(
    source: str,
    wrt: str,
    let: Declarations = None,
    layout: Layout | str = Layout.NUMERATOR,
    order: int = 1,
    check: bool = True,
    steps: bool = False,
    notation: str = "index",
) -> DiffResult | DiffResults: ...  # a comma list ("W1,b1") gives DiffResults


@overload
def diff(
    source: str,
    wrt: list[str] | tuple[str, ...],
    let: Declarations = None,
    layout: Layout | str = Layout.NUMERATOR,
    order: int = 1,
    check: bool = True,
    steps: bool = False,
    notation: str = "index",
) -> DiffResults: ...


@overload
def diff(
    source: str,
    wrt: Iterable[str],
    let: Declarations = None,
    layout: Layout | str = Layout.NUMERATOR,
    order: int = 1,
    check: bool = True,
    steps: bool = False,
    notation: str = "index",
) -> DiffResult | DiffResults: ...  # DiffResults, but a str is an Iterable[str] too


def diff(
    source: str,
    wrt: str | Iterable[str],
    let: Declarations = None,
    layout: Layout | str = Layout.NUMERATOR,
    order: int = 1,
    check: bool = True,
    steps: bool = False,
    notation: str = "index",
) -> DiffResult | DiffResults:
    """Differentiate an expression with respect to a variable, or to several.

    One name gives a DiffResult; a list of names or a comma list ("W1,b1") gives a DiffResults, a list
    with one DiffResult per variable, in that order, sharing their `where` names. Every result is
    self-checked against finite differences (SelfCheckError, exit 4, if one disagrees) unless
    check is False. With notation="vec", a result with more than two axes (a first derivative, or a
    scalar's Hessian) is shown as Magnus and Neudecker write it, ∂vec(F)/∂vec(X)ᵀ (docs/vec-notation.md).

    >>> result = diff("x'Ax", "x")
    >>> result.text, result.shape
    ("x'(A + A')", (1, 'n'))
    >>> diff("x'Ax", "x", layout="denominator").text
    "(A + A')x"
    >>> [r.text for r in diff("w'x + b", ["w", "b"])]
    ["x'", '1']
    """
    names = variable_names(wrt)
    if notation not in ("index", "vec"):
        raise InputError(f"the notation is index or vec, not {notation!r}")
    parsed = parse(source, let, layout)
    if not 1 <= order <= MAX_ORDER:
        raise InputError(f"the order of a derivative is a whole number from 1 to {MAX_ORDER}, not {order}")
    variables = [_variable(parsed, name) for name in names]
    targets = [parsed.expr] * len(variables)
    if notation == "vec":  # d vec(F) is differentiated as F, whose vec form is vec(F)'s
        from .numeric.vec_check import vec_target

        targets = [vec_target(parsed.expr, v, Layout(layout), order) for v in variables]
    try:
        derivatives = [
            differentiate(target, variable, parsed.env, Layout(layout), order, output_splits=notation == "vec")
            for target, variable in zip(targets, variables)
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
    if notation == "vec":
        from .numeric.vec_check import vec_forms

        for result, form in zip(results, vec_forms(derivatives, parsed.env, source, check, parsed.expr)):
            result.vec = form
    if steps:
        shared = explain_together(parsed, [r.derivative for r in results], check) if len(results) > 1 else None
        if shared is not None:  # one derivation, shown once: the backward pass shared by the variables
            results[0].derivation = shared
        else:
            for result in results:
                result.derivation = explain(parsed, result.derivative, check)
    if isinstance(wrt, str) and len(results) == 1:
        return results[0]
    return DiffResults(results)


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _partial(source: str, wrt: str, order: int) -> str:
    """∂(x'Ax)/∂x, ∂²(x'Ax)/∂x²"""
    power = "" if order == 1 else str(order).translate(_SUPERSCRIPTS)
    return f"∂{power}({source})/∂{wrt}{power}"


def _point(args: tuple, kwargs: dict, shapes: dict[str, Shape], expr: nodes.Node):
    """The numeric point of a function's arguments: positional in the order of `shapes`, or by keyword;
    the dimensions the expression names (1/(2n)) are read off the arrays, and one that no array has
    (ones(n) alone) is given by name (n=3), as the printed code takes it."""
    import numpy as np

    from .numeric.differences import point_from

    if len(args) > len(shapes):
        raise InputError(f"{len(args)} values given for the {len(shapes)} variables {', '.join(shapes)}")
    dimensions = {dim for sub in nodes.walk(expr) for dim in (sub.shape.rows, sub.shape.cols) if isinstance(dim, str)}
    dimensions |= {sub.name for sub in nodes.walk(expr) if isinstance(sub, nodes.DimSize)}
    given = {name: value for name, value in kwargs.items() if name in dimensions and name not in shapes}
    for name, size in given.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InputError(f"the size {name} is a positive whole number, not {size!r}")
    values = dict(zip(shapes, args)) | {
        _variable_name(name, shapes): value for name, value in kwargs.items() if name not in given
    }
    written = {sub.name for sub in nodes.walk(expr) if isinstance(sub, nodes.DimSize)}
    point = point_from(
        {name: np.asarray(value, dtype=float).tolist() for name, value in values.items()}, shapes, written - set(given)
    )
    for name, size in given.items():
        if point.sizes.setdefault(name, size) != size:
            raise InputError(f"the arrays make {name} {point.sizes[name]}, not {size}")
    return point


def _variable_name(argument: str, shapes: dict[str, Shape]) -> str:
    """The variable an argument names: itself, or the variable printed code binds by that name (`lambda_`
    is lambda, `np_` is np: a keyword or a module's name gets a trailing underscore)."""
    from .render.python import python_names

    if argument in shapes:
        return argument
    return {python: name for name, python in python_names(shapes).items()}.get(argument, argument)


def _plain_array(value, shape: Shape):
    """A value evaluated as a matrix (a vector n×1) as SPEC §4's arrays: a scalar 0-d, a vector 1-D."""
    import numpy as np

    array = np.asarray(value, dtype=float)
    if shape.is_scalar:
        return array.reshape(())
    return array.reshape(-1) if shape.is_vector else array


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|$~#])")


def _markdown_text(text: str) -> str:
    """Text shown as it is in Markdown: its punctuation that Markdown or a notebook's math would read
    (x*y, W_1, ||x||, $) escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _shape_text(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + (",)" if len(dims) == 1 else ")")


def _kind_text(shape: Shape) -> str:
    """`scalar`, `vector (n)`, `row vector (1, n)`, `matrix (m, n)`: the kind and the dimensions."""
    dims = shape.dims()
    return shape.kind + (f" ({', '.join(str(d) for d in dims)})" if dims else "")


def _sympy_of(matrix: nodes.Node | None, index_form: list[IndexTerm] | None, derivative: Derivative):
    """A shown form of a derivative (matrix or index notation) as a SymPy object."""
    from .render.to_sympy import index_array, sympy_object

    if matrix is not None:
        return sympy_object(matrix)
    terms = [
        (t.coefficient, t.scalars, [(p.elements, p.indices) for p in t.pieces], t.summed) for t in index_form or []
    ]
    return index_array(terms, derivative.free, derivative.dims)


def explain_together(parsed: Parsed, derivatives: list[Derivative], check: bool = True) -> Derivation | None:
    """One derivation for several variables of a network (steps.derive_together), every step's result
    self-checked; None where each variable needs its own."""
    from .calculus.steps import derive_together

    if any(d.order != 1 for d in derivatives):
        return None
    try:
        data = derive_together(
            parsed.expr, [d.wrt for d in derivatives], parsed.env, derivatives[0].layout, derivatives
        )
        for result in data.results() if data is not None and check else []:
            if all(result is not d for d in derivatives):
                run_check(Parsed(parsed.source, result.expr, parsed.env, {}), result)
    except MatcalcError as error:
        raise error.with_source(parsed.source) from None
    return None if data is None else Derivation(parsed.source, data, derivatives[0])


def explain(parsed: Parsed, derivative: Derivative, check: bool = True) -> Derivation:
    """The derivation of a derivative, step by step, every step's result self-checked too."""
    from .calculus.steps import derive_steps, differentiate_again

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
    return Derivation(parsed.source, derivation, derivative)


def run_check(parsed: Parsed, derivative: Derivative, seed: int = 0, points: int = 3) -> CheckReport:
    """SPEC §3's self-check; a result that fails it raises SelfCheckError (exit 4) and is never shown."""
    from .numeric.selfcheck import internal_error, self_check

    if derivative.output_splits:  # d(A ⊗ X) has only a vec form: checked as the Jacobian of vec(F)
        from .numeric.vec_check import check_split_terms

        report = check_split_terms(derivative, parsed.env, seed, points)
    else:
        lower = [
            differentiate(parsed.expr, derivative.wrt, parsed.env, derivative.layout, k)
            for k in range(1, derivative.order)
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
        from .render.latex import latex_expression, latex_name

        return (
            f"{latex_name(self.wrt, bold=self.solution.wrt.shape.is_vector)} = {latex_expression(self.solution.value)}"
        )

    @property
    def numpy(self) -> str:
        """One NumPy expression for the solution (SPEC §4's array contract)."""
        from .render.numpy import node_expression

        # sizes are read off the expression's arrays, not the variable's: the solution does not know it
        return node_expression(self.solution.value, self.parsed.expr, without=self.wrt)

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

    def function(self):
        """A NumPy function of the other variables (positional in the order they appear in the solution, or
        by keyword; vectors as 1-D arrays) that returns the solution: a 0-d array for a scalar.

        >>> w = solve("||y - Xw||^2", "w").function()
        >>> w(X=[[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], y=[1.0, 4.0, 5.0]).tolist()
        [1.0, 2.0]
        """
        from .numeric.evaluate import evaluate

        value = self.solution.value
        shapes = nodes.variables(value)

        def solution(*args, **kwargs):
            point = _point(args, kwargs, shapes, value)
            return _plain_array(evaluate(value, point.values, point.sizes), value.shape)

        solution.__name__ = self.wrt
        solution.__doc__ = f"{self.text}, the stationary point of {self.parsed.source}"
        return solution

    def __repr__(self) -> str:
        """<Solution w = (X'X)^-1 X'y, the stationary point of ||y - Xw||^2>"""
        return f"<Solution {self.text}, the stationary point of {self.parsed.source}>"

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        lines = self.report()
        return f"$${self.latex}$$\n\n" + "; ".join(_markdown_text(line) for line in lines[1:])

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
    from .calculus.solve import solve as stationary_point

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


MAX_FILE_BYTES = 10_000_000  # an identity file larger than this is refused, as on the command line


def check(source: str | os.PathLike, layout: Layout | str = Layout.NUMERATOR, seed: int = 0, jobs: int = 1):
    """Check identities (SPEC §5): `source` is the text of an identity file (one identity, or lines with
    `let` and `layout` lines) or the path of one. Each identity is checked numerically at random points and
    proved symbolically where possible; a bad line is a row with the verdict "error", not an exception.

    >>> report = check("d/dx x'Ax = (A + A')x")
    >>> [(row.line, row.verdict) for row in report], report.exit_status.name
    ([(1, 'FALSE')], 'FALSE')
    >>> check("layout denominator\\nd/dx x'Ax = (A + A')x").ok
    True
    """
    from .batch import check_source

    file, text = _identity_source(source)
    try:
        layout = Layout(layout)
    except ValueError:
        raise InputError(f"unknown layout {layout!r}: numerator, denominator or mixed") from None
    return IdentityReport(check_source(text, layout, file, seed, jobs), text, file, layout)


def _identity_source(source: str | os.PathLike) -> tuple[str, str]:
    """(file name, text) of check's argument: the text itself ("-") or the text of the file it names.
    A single line without `=` that names no file is taken for a path that cannot be read."""
    if isinstance(source, str) and ("\n" in source or "=" in source or not source.strip()) and not _is_file(source):
        return "-", source
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"check takes the text of identities or a path, not {type(source).__name__}")
    path = Path(source)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise FileError(
            f"cannot read {path}: {error.strerror or error}"
            + (" (and it is not an identity: it has no '=')" if isinstance(source, str) and "=" not in source else "")
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise FileError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB, more than matcalc reads")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise FileError(f"{path} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line}", line) from None
    if "\x00" in text:
        raise FileError(f"{path} is a binary file, not text", text.count("\n", 0, text.index("\x00")) + 1)
    return str(source), text


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL: not a path
        return False


@dataclass(frozen=True)
class IdentityRow:
    """One identity of a checked file and its verdict."""

    line: int
    text: str  # the identity as written, without its comment
    verdict: str  # "proved", "holds (numerically)", "FALSE", "error" (and whatever else matcalc.batch says)
    message: str  # for FALSE the counterexample, for error what is wrong; else a remark or ""
    holds: bool  # proved, or holds numerically
    max_error: float | None = None  # the largest relative difference of the sides at the random points
    column: int | None = None  # for error: the column of the problem
    file: str = "-"

    @classmethod
    def of(cls, result: CheckResult) -> IdentityRow:
        return cls(
            result.line,
            result.text,
            result.status,
            result.detail,
            result.holds,
            None if result.max_error is None else float(result.max_error),
            result.column,
            result.file,
        )

    @property
    def place(self) -> str:
        """`line 4`, or `file.txt:4` for an identity read from a file."""
        return f"line {self.line}" if self.file == "-" else f"{self.file}:{self.line}"

    @property
    def detail(self) -> str:
        """The message with the column of an error, or the largest difference where the identity held."""
        if self.column is not None:
            return f"column {self.column}: {self.message}"
        if self.max_error is not None and self.holds:
            return f"max error {self.max_error:.1e}" + (f"; {self.message}" if self.message else "")
        return self.message


class IdentityReport:
    """The report of `check`: one IdentityRow per identity, in order (`rows`, or iterate the report), a
    summary, and the exit status `matcalc check` would give (`ok`: every identity holds)."""

    def __init__(self, results: list[CheckResult], source: str, file: str = "-", layout: Layout = Layout.NUMERATOR):
        self._results = results
        self.rows = [IdentityRow.of(result) for result in results]
        self.source = source  # the text checked
        self.file = file
        self.layout = layout  # the layout before the text's first `layout` line

    def __iter__(self) -> Iterator[IdentityRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def exit_status(self) -> ExitStatus:
        """SPEC §5: 0 every identity holds, 1 some are false, 2 some could not be read, 3 some are undecided
        (and none false or unreadable); 4 where a row is matcalc's own error."""
        from .batch import ERROR, FALSE, INTERNAL_ERROR

        verdicts = {row.verdict for row in self.rows}
        if any(row.verdict == ERROR and row.message.startswith(INTERNAL_ERROR) for row in self.rows):
            return ExitStatus.INTERNAL
        if ERROR in verdicts:
            return ExitStatus.INPUT
        if FALSE in verdicts:
            return ExitStatus.FALSE
        return ExitStatus.OK if all(row.holds for row in self.rows) else ExitStatus.UNSUPPORTED

    @property
    def ok(self) -> bool:
        return self.exit_status == ExitStatus.OK

    @property
    def summary(self) -> dict[str, int]:
        """How many identities, and how many of each verdict (the JSON report's summary)."""
        return self.to_json()["summary"]

    def summary_text(self) -> str:
        """`4 identities: 1 proved, 0 hold numerically, 2 false, 1 could not be read`"""
        counts = self.summary
        parts = [f"{counts['proved']} proved", f"{counts['holds']} hold numerically", f"{counts['false']} false"]
        parts += [f"{count} {name}" for name, count in counts.items() if name not in _REPORTED and count]
        parts.append(f"{counts['errors']} could not be read")
        return f"{counts['identities']} identit{'y' if counts['identities'] == 1 else 'ies'}: {', '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        """What `matcalc check --format json` prints (schemas/check-report.schema.json)."""
        from .batch import report_json

        return report_json(self._results)

    @property
    def text(self) -> str:
        """One line per identity (where, verdict, identity), its detail indented below, then the summary."""
        lines = []
        for row in self.rows:
            lines.append(f"{row.place}: {row.verdict}  {row.text}")
            if row.detail:
                lines.append(f"    {row.detail}")
        return "\n".join([*lines, self.summary_text()])

    @property
    def latex(self) -> str:
        r"""An `array` of the identities as LaTeX, one row each: the line, the identity, the verdict (a line
        that could not be read says so)."""
        identities = self._identities_latex()
        unread = r"\text{(could not be read)}"
        rows = [rf"{row.line} & {identities.get(row.line, unread)} & \text{{{row.verdict}}}" for row in self.rows]
        return "\\begin{array}{rll}\n" + " \\\\\n".join(rows) + "\n\\end{array}"

    def _identities_latex(self) -> dict[int, str]:
        """Line -> `lhs = rhs` in LaTeX, for the identities that parse with the declarations in force."""
        from .batch import Identity, read_identities
        from .language.checker import check_all
        from .language.parser import parse_equation
        from .render.latex import latex_expression

        latex = {}
        for item in read_identities(self.source, self.layout, self.file):
            if not isinstance(item, Identity):
                continue
            try:
                trees = parse_equation(item.text, item.env.decls.keys())
                lhs, rhs = (c.expr for c in check_all(list(trees), item.env, item.text, item.layout, same_shape=True))
            except MatcalcError:
                continue
            latex[item.line] = f"{latex_expression(lhs)} = {latex_expression(rhs)}"
        return latex

    def __repr__(self) -> str:
        """<IdentityReport 3 identities: 1 proved, ..., exit status 1>"""
        return f"<IdentityReport {self.summary_text()}; exit status {int(self.exit_status)}>"

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_markdown_(self) -> str:
        identities = self._identities_latex()
        items = []
        for row in self.rows:
            identity = f"${identities[row.line]}$" if row.line in identities else _code(row.text)
            detail = f": {_code(row.detail)}" if row.detail else ""
            items.append(f"- {_markdown_text(row.place)}: {identity} **{_markdown_text(row.verdict)}**{detail}")
        head = f"**{self.summary_text()}** (exit status {int(self.exit_status)})"
        return "\n".join([head, "", *items])


_REPORTED = ("identities", "proved", "holds", "false", "errors")  # the summary's counts that summary_text names


def _code(text: str) -> str:
    """Text as a Markdown code span, whatever backticks it holds."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


@dataclass(frozen=True)
class Plot:
    """A figure drawn by `matcalc.plot` without a file to write: an SVG, shown as the image in a notebook."""

    expression: str
    wrt: str
    at: object
    svg: str = field(repr=False)

    def __repr__(self) -> str:
        return f"<Plot of {self.expression} by {self.wrt} at {self.at}>"

    def _repr_svg_(self) -> str:
        return self.svg
