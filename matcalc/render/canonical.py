"""Typed tree -> canonical ASCII text that parses back to the same tree.

Canonical text says what the checker decided: a matrix product or a scaling
is a juxtaposition (`X w`, `2 x`), an elementwise product is `.*`, an
elementwise power of a matrix is `.^`. Parentheses appear only where the
grammar needs them.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .. import nodes as n
from ..language.notation import FUNCTION_NAMES, POSTFIX, POWER, PRODUCT, SUM, UNARY, precedence
from ..language.syntax import sum_split


def canonical(node: n.Node) -> str:
    """>>> from matcalc.api import parse
    >>> canonical(parse("x'Ax + ||y - Xw||^2").expr)
    "x' A x + ||y - X w||^2"
    """
    return Printer().text(node)


def format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        return format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return f"{value.numerator}/{value.denominator}"


def flat_terms(node: n.Node) -> list[n.Node]:
    """The terms of a sum in order, however its Adds are nested (without recursion)."""
    return n.flatten(node, n.Add)


def sum_terms(node: n.Add) -> list[n.Node]:
    """Terms to print with + and - between them so that the text parses back to `node`.

    The parser groups a sum of k terms as `sum_split(k)` says (left-nested when short, balanced
    halves when long), so a tree grouped that way prints flat: `a + b + c + d`. A sum grouped
    otherwise keeps the terms that the parser would group differently as parenthesized sums:
    `a + (b + c)`."""
    terms = flat_terms(node)
    if _grouped_as_parsed(node, terms, 0, len(terms)):
        return terms
    left = sum_terms(node.left) if isinstance(node.left, n.Add) else [node.left]
    candidate = [*left, node.right]
    if _grouped_as_parsed(node, candidate, 0, len(candidate)):
        return candidate
    return [node.left, node.right]


def _grouped_as_parsed(node: n.Node, terms: list[n.Node], start: int, stop: int) -> bool:
    """Whether `node` is terms[start:stop] grouped as the parser groups a sum."""
    count = stop - start
    if count == 1:
        return node is terms[start]
    if not isinstance(node, n.Add):
        return False
    left_count = sum_split(count)
    if left_count is None:
        return node.right is terms[stop - 1] and _grouped_as_parsed(node.left, terms, start, stop - 1)
    return _grouped_as_parsed(node.left, terms, start, start + left_count) and _grouped_as_parsed(
        node.right, terms, start + left_count, stop
    )


class Printer:
    """Canonical text; subclasses change the spelling of single constructs."""

    def __init__(self) -> None:
        self.bar_depth = 0

    def text(self, node: n.Node) -> str:
        if type(node) in FUNCTION_NAMES:
            return self._call(FUNCTION_NAMES[type(node)], *node.children())
        if isinstance(node, n.Apply):
            return self._call(node.function, node.operand)
        return getattr(self, f"_{node.kind}")(node)

    def wrap(self, node: n.Node, loosest_bare: int) -> str:
        """The node's text, in parentheses unless it binds at least as tightly as `loosest_bare`."""
        text = self.text(node)
        return text if precedence(node) >= loosest_bare else f"({text})"

    # Leaves

    def _number(self, node: n.Number) -> str:
        text = format_number(node.value)
        return f"({text})" if "/" in text else text

    def _const(self, node: n.Const) -> str:
        return node.name

    def _var(self, node: n.Var) -> str:
        return node.name

    def _dimsize(self, node: n.DimSize) -> str:
        return node.name

    def _identity(self, node: n.Identity) -> str:
        return f"eye({node.shape.rows})"

    def _fill(self, node: n.Fill) -> str:
        if node.value == n.Number(Fraction(1)) and node.shape.cols == 1:
            return f"ones({node.shape.rows})"
        if node.value == n.Number(Fraction(1)) and node.shape.rows == 1:
            return f"ones({node.shape.cols})'"
        kind = "vector" if node.shape.cols == 1 else "matrix"
        return f"{kind}({self.text(node.value)})"

    # Operators

    def _add(self, node: n.Add) -> str:
        return self.join_terms(sum_terms(node))

    def join_terms(self, terms: list[n.Node]) -> str:
        """Terms joined with + and -; a term that is itself a sum is in parentheses."""
        first = self.text(terms[0])
        parts = [f"({first})" if isinstance(terms[0], n.Add) or precedence(terms[0]) < SUM else first]
        for term in terms[1:]:
            if isinstance(term, n.Neg):
                parts.append(f"- {self.wrap(term.operand, PRODUCT)}")
            else:
                parts.append(f"+ {self.wrap(term, PRODUCT)}")
        return " ".join(parts)

    def _neg(self, node: n.Neg) -> str:
        return "-" + self.wrap(node.operand, UNARY)

    def _juxtaposed(self, node: n.Node, left: n.Node, right: n.Node) -> str:
        # a juxtaposed factor is a power, so a negated right factor needs parentheses
        return f"{self.wrap(left, PRODUCT)} {self.wrap(right, POWER)}"

    def _scalarmul(self, node: n.ScalarMul) -> str:
        return self._juxtaposed(node, node.left, node.right)

    def _matmul(self, node: n.MatMul) -> str:
        return self._juxtaposed(node, node.left, node.right)

    def _hadamard(self, node: n.Hadamard) -> str:
        return f"{self.wrap(node.left, PRODUCT)} .* {self.wrap(node.right, UNARY)}"

    def _divide(self, node: n.Divide) -> str:
        op = "/" if node.right.shape.is_scalar else "./"
        return f"{self.wrap(node.left, PRODUCT)} {op} {self.wrap(node.right, UNARY)}"

    def _power(self, node: n.Power) -> str:
        op = "^" if node.exponent.shape.is_scalar and not node.base.shape.is_matrix else ".^"
        return f"{self.wrap(node.base, POSTFIX)}{op}{self.wrap(node.exponent, UNARY)}"

    def _matpower(self, node: n.MatPower) -> str:
        return f"{self.wrap(node.base, POSTFIX)}^{node.exponent}"

    def _inverse(self, node: n.Inverse) -> str:
        return f"{self.wrap(node.operand, POSTFIX)}^-1"

    def _transpose(self, node: n.Transpose) -> str:
        return f"{self.wrap(node.operand, POSTFIX)}'"

    # Functions

    def _call(self, name: str, *args: n.Node) -> str:
        saved, self.bar_depth = self.bar_depth, 0
        inner = ", ".join(self.text(arg) for arg in args)
        self.bar_depth = saved
        return f"{name}({inner})"

    def _norm(self, node: n.Norm) -> str:
        subscript = {"2": "", "F": "", "1": "_1", "spectral": "_2"}[node.p]
        if self.bar_depth:  # bars inside bars would be ambiguous
            name = {"": "norm", "_1": "norm1", "_2": "norm2"}[subscript]
            return self._call(name, node.operand)
        self.bar_depth += 1
        inner = self.text(node.operand)
        self.bar_depth -= 1
        return f"||{inner}||{subscript}"

    def _kron(self, node: n.Kron) -> str:
        return self._call("kron", node.left, node.right)

    def _vec(self, node: n.Vec) -> str:
        return self._call("vec", node.operand)

    def _commutation(self, node: n.Commutation) -> str:
        return f"K({node.m}, {node.n})"

    def _derivative(self, node: n.Derivative) -> str:
        head = f"d/d{node.wrt.name}" if node.order == 1 else f"d{node.order}/d{node.wrt.name}{node.order}"
        return f"{head} {self.wrap(node.operand, SUM)}"
