"""The typed expression tree: what an expression means, with every node's shape.

The checker builds it from the parser's syntax tree, settling what the syntax
leaves open (is `a b` a matrix product, a Hadamard product or a scaling?).
Later stages (lowering to SymPy, differentiation, rendering, numeric
evaluation) work on this tree only. Spans never take part in equality; shapes
do, so two equal trees mean the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import cache
from typing import Any

from .errors import NO_SPAN, Span
from .shapes import SCALAR, Dim, Shape


@dataclass(frozen=True)
class Node:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)
    shape: Shape = field(default=SCALAR, kw_only=True)

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()

    def children(self) -> Iterator[Node]:
        node_class: type = type(self)  # hashable, as every class is (mypy takes Node's own __hash__ for it)
        for name in _field_names(node_class):
            value = getattr(self, name)
            if isinstance(value, Node):
                yield value

    def map_children(self, fn: Callable[[Node], Node], **changes: Any) -> Node:
        """A copy with every child replaced by fn(child), plus other field changes."""
        node_class: type = type(self)  # hashable, as every class is (mypy takes Node's own __hash__ for it)
        for name in _field_names(node_class):
            value = getattr(self, name)
            if isinstance(value, Node):
                changes[name] = fn(value)
        return _copy(self, changes)


# Leaves


@dataclass(frozen=True)
class Number(Node):
    value: Fraction


@dataclass(frozen=True)
class Const(Node):
    name: str  # "pi" or "e"


@dataclass(frozen=True)
class Var(Node):
    name: str


@dataclass(frozen=True)
class DimSize(Node):
    """A dimension name used as a number, as in 1/(2n)."""

    name: str


@dataclass(frozen=True)
class Identity(Node):
    """I or eye(n); its size is in its shape."""


@dataclass(frozen=True)
class Fill(Node):
    """A vector or matrix with every entry equal to a scalar: ones(n), vector(c), matrix(c)."""

    value: Node


# Arithmetic


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Add(Node):
    """Sum; a scalar operand is expanded to the other's shape."""

    left: Node
    right: Node


@dataclass(frozen=True)
class ScalarMul(Node):
    """A product in which at least one side is a scalar."""

    left: Node
    right: Node


@dataclass(frozen=True)
class MatMul(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Hadamard(Node):
    """Elementwise product of two operands of the same shape."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Divide(Node):
    """Elementwise division; a scalar operand is expanded to the other's shape."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Power(Node):
    """Elementwise (or scalar) power; a scalar operand is expanded."""

    base: Node
    exponent: Node


@dataclass(frozen=True)
class MatPower(Node):
    """Integer power of a square matrix (negative: a power of the inverse)."""

    base: Node
    exponent: int


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node


@dataclass(frozen=True)
class Inverse(Node):
    operand: Node


# Functions


@dataclass(frozen=True)
class Trace(Node):
    operand: Node


@dataclass(frozen=True)
class Det(Node):
    operand: Node


@dataclass(frozen=True)
class LogDet(Node):
    operand: Node


@dataclass(frozen=True)
class Norm(Node):
    """p is "2" (vector 2-norm), "F" (Frobenius), "1" (sum of absolute values)
    or "spectral" (the matrix 2-norm, written ||A||_2 for a matrix)."""

    operand: Node
    p: str


@dataclass(frozen=True)
class Sum(Node):
    operand: Node


@dataclass(frozen=True)
class Mean(Node):
    operand: Node


@dataclass(frozen=True)
class DiagMatrix(Node):
    """diag(v): the square matrix with v on its diagonal."""

    operand: Node


@dataclass(frozen=True)
class DiagOf(Node):
    """diag(A): the diagonal of a square matrix, as a vector."""

    operand: Node


ELEMENTWISE_FUNCTIONS = (
    "exp",
    "log",
    "sin",
    "cos",
    "tan",
    "tanh",
    "arcsin",
    "arccos",
    "arctan",
    "sqrt",
    "sigmoid",
    "relu",
    "sign",
    "abs",
    "step",
)  # step (Heaviside, step(0) = 1/2) is the derivative of relu; matcalc writes it in results


def is_unspecified(function: str) -> bool:
    """f, f', f'': an unspecified function declared `f: function`, or one of its derivatives."""
    return function not in ELEMENTWISE_FUNCTIONS


def primes(function: str) -> int:
    """How many times an unspecified function is differentiated: f'' -> 2."""
    return len(function) - len(function.rstrip("'"))


@dataclass(frozen=True)
class Apply(Node):
    """An elementwise function: one of ELEMENTWISE_FUNCTIONS, or an unspecified function `f` declared
    `f: function` (its derivatives written f', f'')."""

    function: str
    operand: Node


@dataclass(frozen=True)
class Maximum(Node):
    """Elementwise max; a scalar operand is expanded."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Minimum(Node):
    """Elementwise min; a scalar operand is expanded."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Softmax(Node):
    operand: Node


@dataclass(frozen=True)
class LogSumExp(Node):
    operand: Node


# Kronecker products and vec (Magnus and Neudecker's notation)


@dataclass(frozen=True)
class Kron(Node):
    """left ⊗ right: the block matrix of left's entries times right."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Vec(Node):
    """vec(A): the columns of A stacked into one column."""

    operand: Node


@dataclass(frozen=True)
class Commutation(Node):
    """K(m, n): the permutation with K(m, n) vec(X) = vec(Xᵀ) for an m×n matrix X."""

    m: Dim
    n: Dim


def product_dim(*dims: Dim) -> Dim:
    """The product of dimensions: a number where all are numbers, else their names joined by · (in
    one order, so that m·n and n·m are the same dimension); factors of 1 left out."""
    number, names = 1, []
    for dim in dims:
        for part in str(dim).split("·") if isinstance(dim, str) else [dim]:
            if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
                number *= int(part)
            else:
                names.append(str(part))
    if not names:
        return number
    return "·".join(([str(number)] if number != 1 else []) + sorted(names))


# Calculus


@dataclass(frozen=True)
class Derivative(Node):
    """d/dV E (order 1) or d2/dV2 E (order 2); its shape follows the layout."""

    operand: Node
    wrt: Var
    order: int
    layout: str
    notation: str = (
        "index"  # "vec": the Jacobian of vec(operand) by vec(wrt), a matrix (identity files' `notation vec`)
    )


def _copy(node: Node, changes: dict[str, Any]) -> Node:
    """dataclasses.replace without its cost per node (no node class has an __init__ or __post_init__ of its
    own): the fields copied, changed, and the cached hash dropped."""
    node_class: type = type(node)  # hashable, as every class is (mypy takes Node's own __hash__ for it)
    unknown = changes.keys() - _all_field_names(node_class)
    if unknown:
        raise TypeError(f"{node_class.__name__} has no field {sorted(unknown)[0]!r}")
    copy: Node = object.__new__(node_class)
    state = copy.__dict__
    state.update(node.__dict__)
    state.pop("_hash", None)
    state.update(changes)
    return copy


@cache
def _all_field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    """The fields of a node class that may hold children (walks are hot: dataclasses.fields is slow)."""
    return tuple(f.name for f in fields(cls) if f.name not in ("span", "shape"))


child_fields = _field_names  # for walks outside this module


def constant_value(node: Node) -> Fraction | None:
    """The rational value of an expression made of numbers alone (1/2, -3, 2^-1); else None."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Neg):
        inner = constant_value(node.operand)
        return None if inner is None else -inner
    if isinstance(node, (Add, ScalarMul, Divide)):
        left, right = constant_value(node.left), constant_value(node.right)
        if left is None or right is None or (isinstance(node, Divide) and right == 0):
            return None
        if isinstance(node, Add):
            return left + right
        return left * right if isinstance(node, ScalarMul) else left / right
    if isinstance(node, Power) and isinstance(node.exponent, Number) and node.exponent.value.denominator == 1:
        base = constant_value(node.base)
        exponent = int(node.exponent.value)
        return base**exponent if base is not None and abs(exponent) <= 64 and (base or exponent > 0) else None
    return None


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        node_class: type = type(current)  # hashable, as every class is (mypy takes Node's own __hash__ for it)
        for name in reversed(_field_names(node_class)):  # children() inlined: walks are hot
            child = getattr(current, name)
            if isinstance(child, Node):
                stack.append(child)


def flatten(node: Node, kind: type[Add] | type[MatMul] | type[Hadamard]) -> list[Node]:
    """The operands of a chain of one associative operation, left to right, however it is nested:
    ((A B) C) x -> [A, B, C, x] for MatMul; a node of another kind is its own one operand. Without
    recursion: a network's products and a long sum's terms nest deeply."""
    operands: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            stack += [current.right, current.left]
        else:
            operands.append(current)
    return operands


def size(node: Node) -> int:
    """The number of nodes of the tree, a shared subexpression counted at each place it appears."""
    return sum(1 for _ in walk(node))


def variables(node: Node) -> dict[str, Shape]:
    """The variables of an expression with their shapes, in order of first appearance."""
    found: dict[str, Shape] = {}
    for sub in walk(node):
        if isinstance(sub, Var):
            found.setdefault(sub.name, sub.shape)
    return found


def _cache_hash(cls: type[Node]) -> None:
    """Trees are immutable and hashed often (memo tables, CSE): compute each hash once."""
    generated = cls.__hash__

    def __hash__(self: object) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = generated(self)
            object.__setattr__(self, "_hash", cached)
        return cached

    cls.__hash__ = __hash__  # type: ignore[method-assign]


def _all_subclasses(cls: type[Node]) -> list[type[Node]]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_all_subclasses(direct))]


for _cls in _all_subclasses(Node):
    _cache_hash(_cls)
