"""Declarations: `x: vector(n), A: matrix(n, n); a: scalar` -> Env.

declarations := (declaration (("," | ";") declaration)*)?
declaration  := NAME ":" type
type         := "scalar" | ("vector" | "vec") "(" dim ")"
              | ("matrix" | "mat") "(" dim "," dim ")"
              | ("symmetric" | "posdef") "(" dim ")"
              | ("onehot" | "simplex") "(" dim ")"   # vectors whose entries sum to 1
              | "function"          # an unspecified elementwise scalar function f
dim          := NAME | positive integer
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..errors import DeclarationError, Span
from ..shapes import SCALAR, Dim, Shape
from .tokens import Kind, Token, tokenize

KINDS = ("scalar", "vector", "matrix", "symmetric", "posdef", "onehot", "simplex", "function")
_ALIASES = {"vec": "vector", "mat": "matrix"}
_ARITY = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 1, "posdef": 1, "onehot": 1, "simplex": 1, "function": 0}
UNIT_SUM = ("onehot", "simplex")  # 1'y = 1


@dataclass(frozen=True)
class Decl:
    kind: str  # one of KINDS
    shape: Shape  # a function's is SCALAR: it maps scalars to scalars, entry by entry

    def __str__(self) -> str:
        if self.kind in ("scalar", "function"):
            return self.kind
        if self.kind == "matrix":
            return f"matrix({self.shape.rows}, {self.shape.cols})"
        return f"{self.kind}({self.shape.rows})"


@dataclass(frozen=True)
class Env:
    """What the user declared: name -> Decl."""

    decls: dict[str, Decl] = field(default_factory=dict)

    @property
    def dimension_names(self) -> set[str]:
        return {
            dim for decl in self.decls.values() for dim in (decl.shape.rows, decl.shape.cols) if isinstance(dim, str)
        }

    @property
    def functions(self) -> set[str]:
        """The names declared `f: function`."""
        return {name for name, decl in self.decls.items() if decl.kind == "function"}

    @property
    def unit_sums(self) -> frozenset[str]:
        """The vectors whose entries sum to 1 (onehot, simplex): 1'y = 1."""
        return frozenset(name for name, decl in self.decls.items() if decl.kind in UNIT_SUM)

    def is_symmetric(self, name: str) -> bool:
        decl = self.decls.get(name)
        return decl is not None and decl.kind in ("symmetric", "posdef")


def parse_declarations(source: str) -> Env:
    """Read declarations; an empty text declares nothing.

    >>> env = parse_declarations("x: vec(n); A: matrix(n, 3)")
    >>> str(env.decls["A"]), env.decls["x"].shape.rows
    ('matrix(n, 3)', 'n')
    """
    reader = _Reader(tokenize(source))
    decls: dict[str, Decl] = {}
    while not reader.at_end():
        name, decl = reader.declaration()
        if name.text in decls and decls[name.text] != decl:
            raise DeclarationError(
                f"{name.text} is declared twice, as {decls[name.text]} and as {decl}", span=name.span
            )
        decls[name.text] = decl
        if not reader.at_end():
            reader.expect_op(",", ";")
    env = Env(decls)
    for both in env.dimension_names & decls.keys():
        raise DeclarationError(f"{both} is declared as a variable and used as a dimension", span=_find(source, both))
    return env


def _find(source: str, name: str) -> Span:
    start = max(source.find(name), 0)
    return Span(start, start + len(name))


class _Reader:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0

    def at_end(self) -> bool:
        return self.tokens[self.pos].kind is Kind.END

    def next(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not Kind.END:
            self.pos += 1
        return token

    def expect_op(self, *ops: str) -> Token:
        token = self.next()
        if token.kind is not Kind.OP or token.text not in ops:
            found = "end of input" if token.kind is Kind.END else f"'{token.text}'"
            wanted = " or ".join(f"'{op}'" for op in ops)
            raise DeclarationError(f"expected {wanted} in the declarations, found {found}", span=token.span)
        return token

    def declaration(self) -> tuple[Token, Decl]:
        name = self.next()
        if name.kind is not Kind.NAME:
            raise DeclarationError("expected a name to declare, as in 'x: vector(n)'", span=name.span)
        self.expect_op(":")
        kind_token = self.next()
        kind = _ALIASES.get(kind_token.text, kind_token.text)
        if kind_token.kind is not Kind.NAME or kind not in KINDS:
            close = difflib.get_close_matches(kind_token.text, [*KINDS, *_ALIASES], n=1)
            suggestion = f"did you mean '{close[0]}'? " if close else ""
            raise DeclarationError(
                f"unknown shape '{kind_token.text}'",
                span=kind_token.span,
                hint=f"{suggestion}a shape is scalar, vector(n), matrix(m, n), symmetric(n), posdef(n) or function",
            )
        dims = self.dimensions(_ARITY[kind])
        return name, Decl(kind, _shape(kind, dims))

    def dimensions(self, arity: int) -> list[Dim]:
        if arity == 0:
            return []
        self.expect_op("(")
        dims = [self.dimension()]
        while len(dims) < arity:
            self.expect_op(",")
            dims.append(self.dimension())
        self.expect_op(")")
        return dims

    def dimension(self) -> Dim:
        token = self.next()
        if token.kind is Kind.NAME:
            return token.text
        if token.kind is Kind.NUMBER and token.text.isdigit() and int(token.text) > 0:
            return int(token.text)
        raise DeclarationError("a dimension is a name or a positive integer", span=token.span)


def _shape(kind: str, dims: list[Dim]) -> Shape:
    if kind in ("scalar", "function"):
        return SCALAR
    if kind == "matrix":
        return Shape(dims[0], dims[1])
    if kind in ("vector", *UNIT_SUM):
        return Shape(dims[0], 1)
    return Shape(dims[0], dims[0])
