"""The public pipeline: text -> parsed, shape-checked expression.

These functions are the only place that attaches the source text to an
escaping error, so the CLI can show it with a caret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import nodes
from .checker import check
from .decls import Decl, Env, parse_declarations
from .errors import MatcalcError
from .layout import Layout
from .parser import parse as parse_syntax
from .render.canonical import canonical
from .shapes import Shape

Declarations = str | Iterable[str] | Env | None


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

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.source,
            "canonical": self.canonical,
            "shape": self.shape.dims(),
            "kind": self.shape.kind,
            "shapes": {name: shape.dims() for name, shape in self.shapes().items()},
            "assumed": list(self.assumed),
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
