"""Name repeated subexpressions: `... where t1 = W1 x`, only where a careful author would.

A textbook writes a derivative out in full, `σ(w'x)(1 - σ(w'x))x` (PRML 4.88), and introduces a
name only when the formula written out would be too long to read on one line. So:

- a result whose text, written out without names, fits in WIDTH characters gets no names;
- a longer one gets names, the largest repeated subexpression first, until it fits (the names'
  definitions counted in) or no further name saves characters. A name for a subexpression of
  length L used u times saves u·L - (u·len("t1") + L + len(", t1 = ")) characters; it is given
  only if that is positive;
- never a name for what is as quick to read as a name (`x - a`, `P x`, `X⁻ᵀ`: shorter than
  MIN_LENGTH), nor for a transpose or a negation (its operand gets the name: `t1ᵀ`, never
  `t2 = t1ᵀ`).

Taking subexpressions from the largest down makes each one's count of uses final when it is
reached, so one pass does it and the derivative of a k-layer chain is shown in size linear in k.
Names are numbered innermost first.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from .. import nodes as n
from ..language.notation import FUNCTION_NAMES, POSTFIX, POWER, PRODUCT, UNARY, precedence

# Characters of ASCII text a formula may take on one line before names are worth their cost: the
# width of a line meant to be read (72, as for mail and commit messages), which leaves room in an
# 80-column terminal for the `∂/∂x ... = ` before it, and the longest formula the textbook corpus
# prints on one line (PRML 5.53, `((σ(W x + b) - y) ⊙ σ(W x + b) ⊙ (1 - σ(W x + b)))xᵀ`, 72
# characters in ASCII).
WIDTH = 72
NAME = len("t1")
DEFINITION = len(", t1 = ")  # what a name adds to the where clause besides the value it names
BETWEEN_ROOTS = len(" + ")  # between the expressions shown together (index notation's factors, results)
MIN_SIZE = 3  # nodes: W x may be worth a name, x' is not
MIN_LENGTH = 10  # characters: tanh(W1 x) may be worth a name; A x - b, x - a, P x never are
_NEVER_NAMED = (n.Var, n.Number, n.Const, n.DimSize, n.Identity, n.Fill)


def name_repeated(
    roots: list[n.Node], taken: set[str], width: int = WIDTH
) -> tuple[list[n.Node], list[tuple[str, n.Node]]]:
    """The roots with repeated subexpressions replaced by names, and the names' definitions.

    The roots are the expressions shown together (one or several results, or the factors of an
    index form); names are given only while their text is longer than `width` (module docstring).
    One pass does it: taking the distinct subexpressions from the largest down, every place a
    subexpression occurs is inside a larger one, already decided, so its count is final when it is
    reached: a named parent contributes once (its definition), any other its own count.
    """
    base = next(letter for letter in "tuvsqr" if not any(_numbered(name, letter) for name in taken))
    order = _distinct_in_reading_order(roots)
    sizes: dict[n.Node, int] = {}
    lengths: dict[n.Node, int] = {}
    _measure(order, sizes, lengths)
    shown = sum(lengths[root] for root in roots) + BETWEEN_ROOTS * max(len(roots) - 1, 0)
    chosen: list[n.Node] = []
    if shown > width:
        position = {node: k for k, node in enumerate(order)}
        parents: dict[n.Node, list[n.Node]] = {node: [] for node in order}
        for node in order:
            for child in node.children():
                parents[child].append(node)
        as_root = Counter(roots)
        counts: dict[n.Node, int] = {}
        named: set[n.Node] = set()
        for node in sorted(order, key=lambda v: (-sizes[v], position[v])):
            if shown <= width:
                break
            uses = counts[node] = as_root[node] + sum(1 if p in named else counts[p] for p in parents[node])
            if uses < 2 or not _worth_naming(node, sizes, lengths):
                continue
            saving = uses * (lengths[node] - NAME) - lengths[node] - DEFINITION
            if saving > 0:
                named.add(node)
                chosen.append(node)
                shown -= saving
    names = {node: n.Var(f"{base}{len(chosen) - k}", shape=node.shape) for k, node in enumerate(chosen)}
    memo: dict[n.Node, n.Node] = {}

    def written(node: n.Node) -> n.Node:
        """The node with its named subexpressions replaced by their names."""
        if node not in memo:
            memo[node] = node.map_children(lambda child: names.get(child) or written(child))
        return memo[node]

    if not names:
        return list(roots), []
    shown_roots = [names.get(root) or written(root) for root in roots]
    return shown_roots, [(names[node].name, written(node)) for node in reversed(chosen)]


def _numbered(name: str, letter: str) -> bool:
    return name.startswith(letter) and name[len(letter) :].isdigit()


def _distinct_in_reading_order(roots: list[n.Node]) -> list[n.Node]:
    """Each distinct subexpression once, in the order a left-to-right reading first meets it."""
    seen: set[n.Node] = set()
    order: list[n.Node] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed(list(node.children())))
    return order


def _measure(order: list[n.Node], sizes: dict[n.Node, int], lengths: dict[n.Node, int]) -> None:
    """The number of nodes of each subexpression written out in full, and about how many characters
    its ASCII text takes (written_length), added to sizes and lengths: children before parents,
    without recursion."""
    for node in order:
        stack = [node]
        while stack:
            top = stack[-1]
            if top in sizes:
                stack.pop()
                continue
            pending = [child for child in top.children() if child not in sizes]
            if pending:
                stack.extend(pending)
                continue
            sizes[top] = 1 + sum(sizes[child] for child in top.children())
            lengths[top] = written_length(top, lengths)
            stack.pop()


def _worth_naming(node: n.Node, sizes: dict[n.Node, int], lengths: dict[n.Node, int]) -> bool:
    """Long enough to save reading, and not a mere transpose, negation or inverse of something: a name
    for X⁻ᵀ, x - a, P x or t1ᵀ costs more than it saves."""
    if isinstance(node, _NEVER_NAMED) or sizes[node] < MIN_SIZE:
        return False
    if isinstance(node, (n.Transpose, n.Neg)):
        return False  # its operand gets the name, and t1ᵀ is shown
    if isinstance(node, (n.Inverse, n.MatPower)) and sizes[node] <= 3:
        return False  # X⁻¹, X⁻ᵀ
    return lengths[node] >= MIN_LENGTH  # P x, x - a, A x - b: as quick to read as a name


def written_length(node: n.Node, lengths: dict[n.Node, int]) -> int:
    """About how many characters the node's ASCII text takes (`result.text`), from its children's in
    `lengths`: the printer's spelling and parentheses, give or take a space."""

    def wrapped(child: n.Node, loosest: int) -> int:
        return lengths[child] + (2 if precedence(child) < loosest else 0)

    if isinstance(node, (n.Var, n.Const, n.DimSize)):
        return len(node.name)
    if isinstance(node, n.Number):
        value = node.value
        return len(str(value.numerator)) if value.denominator == 1 else len(f"({value.numerator}/{value.denominator})")
    if isinstance(node, n.Identity):
        return 1
    if isinstance(node, n.Fill):  # 0, 1 (a vector of ones), 1' (a row), 1 1' (a matrix)
        ones = 1 if node.shape.cols == 1 else 2 if node.shape.rows == 1 else 3
        if node.value == n.Number(Fraction(0)):
            return 1
        return ones if node.value == n.Number(Fraction(1)) else wrapped(node.value, POWER) + 1 + ones
    if type(node) in FUNCTION_NAMES:
        children = list(node.children())
        return len(FUNCTION_NAMES[type(node)]) + 2 + sum(lengths[c] for c in children) + 2 * (len(children) - 1)
    if isinstance(node, n.Apply):
        return len(node.function) + 2 + lengths[node.operand]
    if isinstance(node, n.Neg):
        return 1 + wrapped(node.operand, PRODUCT)
    if isinstance(node, n.Add):
        right_term = node.right.operand if isinstance(node.right, n.Neg) else node.right  # a - b, not a + -b
        return lengths[node.left] + 3 + wrapped(right_term, PRODUCT)
    if isinstance(node, (n.ScalarMul, n.MatMul)):
        left = wrapped(node.left, PRODUCT)
        right = wrapped(node.right, PRODUCT if isinstance(node.right, (n.ScalarMul, n.MatMul)) else POWER)
        tight = (
            left > lengths[node.left] or right > lengths[node.right] or isinstance(node.left, (n.Transpose, n.Number))
        )  # (a + b)x, x'A, 2x: no space
        return left + right + (0 if tight else 1)
    if isinstance(node, n.Hadamard):
        return wrapped(node.left, PRODUCT) + 4 + wrapped(node.right, UNARY)
    if isinstance(node, n.Divide):
        return wrapped(node.left, PRODUCT) + (3 if node.right.shape.is_scalar else 4) + wrapped(node.right, UNARY)
    if isinstance(node, n.Power):
        operator = 1 if node.exponent.shape.is_scalar and not node.base.shape.is_matrix else 2
        return wrapped(node.base, POSTFIX) + operator + wrapped(node.exponent, UNARY)
    if isinstance(node, n.MatPower):
        return wrapped(node.base, POSTFIX) + 1 + len(str(node.exponent))
    if isinstance(node, (n.Transpose, n.Inverse)):
        operand = node.operand
        if isinstance(operand, (n.Transpose, n.Inverse)) and type(operand) is not type(node):
            return wrapped(operand.operand, POSTFIX) + 3  # X^-T
        return wrapped(operand, POSTFIX) + (1 if isinstance(node, n.Transpose) else 3)
    if isinstance(node, n.Norm):
        return lengths[node.operand] + 4 + (2 if node.p in ("1", "spectral") else 0)
    return sum(lengths[child] for child in node.children()) + 2 * max(len(list(node.children())), 1)
