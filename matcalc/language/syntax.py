"""The syntax tree the parser builds: what was written, before shapes give it meaning.

`a b` is a `BinOp("*")` here whether it will be a matrix product, a Hadamard
product or a scaling; the checker decides, and builds the typed tree of
`nodes.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import cache

from ..errors import NO_SPAN, Span

# Function name -> number of arguments. Aliases map to the same meaning in the checker.
FUNCTIONS: dict[str, int] = {
    "sum": 1,
    "mean": 1,
    "tr": 1,
    "trace": 1,
    "det": 1,
    "logdet": 1,
    "diag": 1,
    "inv": 1,
    "norm": 1,
    "norm1": 1,
    "norm2": 1,
    "exp": 1,
    "log": 1,
    "sin": 1,
    "cos": 1,
    "tan": 1,
    "tanh": 1,
    "arcsin": 1,
    "arccos": 1,
    "arctan": 1,
    "sqrt": 1,
    "sigmoid": 1,
    "relu": 1,
    "sign": 1,
    "abs": 1,
    "step": 1,
    "softmax": 1,
    "logsumexp": 1,
    "max": 2,
    "min": 2,
    "dot": 2,
    "kron": 2,
    "vec": 1,
    "eye": 1,
    "ones": 1,
    "vector": 1,
    "matrix": 1,
}
# Functions whose argument is a dimension (a name or a positive integer), not an expression.
DIMENSION_FUNCTIONS = ("eye", "ones")

CONSTANTS = ("pi", "e")

GREEK = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
)  # "pi" is the constant


# Sums of more terms than this are built as balanced trees (see `sum_split`).
SUM_BALANCE_ABOVE = 8


def sum_split(count: int) -> int | None:
    """How the parser groups a sum of `count` terms: None for a left-nested chain
    (`((a + b) + c) + d`), else the number of terms in the left half of a balanced tree,
    whose halves are grouped the same way. Printers use it to print such a tree flat.

    >>> sum_split(8), sum_split(9), sum_split(1000)
    (None, 4, 500)
    """
    return None if count <= SUM_BALANCE_ABOVE else count // 2


@dataclass(frozen=True)
class Syntax:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Syntax):
    text: str


@dataclass(frozen=True)
class Name(Syntax):
    id: str


@dataclass(frozen=True)
class Call(Syntax):
    function: str
    args: tuple[Syntax, ...]


@dataclass(frozen=True)
class BinOp(Syntax):
    """op is one of + - * @ .* / ./ ^ .^ ; juxtaposition is "*"."""

    op: str
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Negate(Syntax):
    operand: Syntax


@dataclass(frozen=True)
class PostfixTranspose(Syntax):
    operand: Syntax


@dataclass(frozen=True)
class PostfixInverse(Syntax):
    operand: Syntax


@dataclass(frozen=True)
class Bars(Syntax):
    """||a|| (norm, with subscript "", "1", "2" or "F") or |a| (abs)."""

    operand: Syntax
    is_norm: bool
    subscript: str = ""


@dataclass(frozen=True)
class Deriv(Syntax):
    """d/dV E, d2/dV2 E or d(E)/dV."""

    operand: Syntax
    wrt: Name
    order: int


@cache
def _child_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name != "span")


def children(node: Syntax) -> Iterator[Syntax]:
    """The node's subtrees, in order."""
    kind: type = type(node)  # plain `type`: mypy reads type[Syntax] as unhashable (the instances' __hash__)
    for name in _child_fields(kind):
        value = getattr(node, name)
        if isinstance(value, Syntax):
            yield value
        elif isinstance(value, tuple):
            yield from value


def walk(tree: Syntax) -> Iterator[Syntax]:
    """Every node of the tree, parents before children, without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        kind: type = type(node)  # plain `type`, as in children()
        for name in reversed(_child_fields(kind)):  # children() inlined: walks are hot
            value = getattr(node, name)
            if isinstance(value, Syntax):
                stack.append(value)
            elif isinstance(value, tuple):
                stack.extend(reversed(value))
