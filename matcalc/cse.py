"""Name repeated subexpressions: `... where t1 = W1 x`.

The largest subexpression that occurs twice or more is named first, then the
next within what is left, so that the derivative of a k-layer chain is shown
in size linear in k. Names are numbered innermost first.
"""

from __future__ import annotations

from collections import Counter

from . import nodes as n

MIN_SIZE = 3  # nodes: W x is worth a name, x' is not
_NEVER_NAMED = (n.Var, n.Number, n.Const, n.DimSize, n.Identity, n.Fill)


def name_repeated(roots: list[n.Node], taken: set[str]) -> tuple[list[n.Node], list[tuple[str, n.Node]]]:
    """The roots with repeated subexpressions replaced by names, and the names' definitions.

    The largest subexpression that occurs twice or more is named first, then the next within
    what is left. One pass does it: taking the distinct subexpressions from the largest down,
    every place a subexpression occurs is inside a larger one, already decided, so its count is
    final when it is reached: a named parent contributes once (its definition), any other its
    own count.
    """
    base = next(letter for letter in "tuvsqr" if not any(_numbered(name, letter) for name in taken))
    order = _distinct_in_reading_order(roots)
    sizes: dict[n.Node, int] = {}
    _add_sizes(order, sizes)
    position = {node: k for k, node in enumerate(order)}
    parents: dict[n.Node, list[n.Node]] = {node: [] for node in order}
    for node in order:
        for child in node.children():
            parents[child].append(node)
    as_root = Counter(roots)
    counts: dict[n.Node, int] = {}
    chosen: list[n.Node] = []
    named: set[n.Node] = set()
    for node in sorted(order, key=lambda v: (-sizes[v], position[v])):
        counts[node] = as_root[node] + sum(1 if p in named else counts[p] for p in parents[node])
        if counts[node] >= 2 and _worth_naming(node, sizes):
            named.add(node)
            chosen.append(node)
    names = {node: n.Var(f"{base}{len(chosen) - k}", shape=node.shape) for k, node in enumerate(chosen)}
    memo: dict[n.Node, n.Node] = {}

    def written(node: n.Node) -> n.Node:
        """The node with its named subexpressions replaced by their names."""
        if node not in memo:
            memo[node] = node.map_children(lambda child: names.get(child) or written(child))
        return memo[node]

    shown = [names.get(root) or written(root) for root in roots]
    return shown, [(names[node].name, written(node)) for node in reversed(chosen)]


def _numbered(name: str, letter: str) -> bool:
    return name.startswith(letter) and name[len(letter):].isdigit()


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


def _add_sizes(order: list[n.Node], sizes: dict[n.Node, int]) -> None:
    """The number of nodes of each subexpression written out in full, added to sizes."""
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
            stack.pop()


def _worth_naming(node: n.Node, sizes: dict[n.Node, int]) -> bool:
    """Long enough to save reading, and not a mere transpose, negation or inverse of something: a name
    for X⁻ᵀ, x - a, P x or t1ᵀ costs more than it saves."""
    if isinstance(node, _NEVER_NAMED) or sizes[node] < MIN_SIZE:
        return False
    if isinstance(node, (n.Transpose, n.Neg)):
        return False  # its operand gets the name, and t1ᵀ is shown
    if isinstance(node, (n.Inverse, n.MatPower)) and sizes[node] <= 3:
        return False  # X⁻¹, X⁻ᵀ
    return _written_length(node) >= MIN_LENGTH  # P x, x - a, A x - b: as quick to read as a name


MIN_LENGTH = 10  # characters, about: tanh(W1 x) is worth a name, A x - b is not


def _written_length(node: n.Node) -> int:
    """About how many characters the node takes written out (without recursion limits: trees here are
    shallow after naming, and the estimate stops counting at MIN_LENGTH)."""
    total, stack = 0, [node]
    while stack and total < MIN_LENGTH:
        current = stack.pop()
        if isinstance(current, n.Var):
            total += len(current.name)
        elif isinstance(current, n.Apply):
            total += len(current.function) + 2
        elif isinstance(current, (n.Add, n.Hadamard, n.Divide)):
            total += 3
        elif isinstance(current, (n.Softmax, n.LogSumExp, n.LogDet)):
            total += 9
        elif isinstance(current, (n.Sum, n.Mean, n.Trace, n.Det, n.DiagMatrix, n.DiagOf, n.Maximum, n.Minimum)):
            total += 5
        else:
            total += 1
        stack.extend(current.children())
    return total
