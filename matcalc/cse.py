"""Name repeated subexpressions: `... where t1 = W1 x`.

The largest subexpression that occurs twice or more is named first, then the
next within what is left, so that the derivative of a k-layer chain is shown
in size linear in k. Names are numbered innermost first.
"""

from __future__ import annotations

from . import nodes as n

MIN_SIZE = 3  # nodes: W x is worth a name, x' is not
_NEVER_NAMED = (n.Var, n.Number, n.Const, n.DimSize, n.Identity, n.Fill)


def name_repeated(roots: list[n.Node], taken: set[str]) -> tuple[list[n.Node], list[tuple[str, n.Node]]]:
    """The roots with repeated subexpressions replaced by names, and the names' definitions."""
    base = next(letter for letter in "tuvsqr" if not any(_numbered(name, letter) for name in taken))
    definitions: list[tuple[str, n.Node]] = []
    sizes: dict[n.Node, int] = {}  # subexpressions outlive each round of naming, and so do their sizes
    while (chosen := _largest_repeated(roots + [node for _, node in definitions], sizes)) is not None:
        name = f"{base}_{len(definitions)}"
        roots, definitions = _substitute(roots, definitions, chosen, n.Var(name, shape=chosen.shape))
        definitions.append((name, chosen))
    for number, (old, node) in enumerate(reversed(definitions[:]), start=1):  # innermost is t1
        roots, definitions = _substitute(roots, definitions, n.Var(old, shape=node.shape),
                                         n.Var(f"{base}{number}", shape=node.shape))
        definitions = [(f"{base}{number}" if name == old else name, d) for name, d in definitions]
    return roots, list(reversed(definitions))


def _numbered(name: str, letter: str) -> bool:
    return name.startswith(letter) and name[len(letter):].isdigit()


def _largest_repeated(roots: list[n.Node], sizes: dict[n.Node, int]) -> n.Node | None:
    """The largest subexpression worth naming that occurs twice or more in the roots (the first
    found, in reading order, among equally large ones). Trees share subtrees, so occurrences are
    counted on the graph of distinct subexpressions, never by walking every copy."""
    order = _distinct_in_reading_order(roots)
    counts = _occurrences(roots, order)
    _add_sizes(order, sizes)
    best: n.Node | None = None
    for node in order:
        if counts[node] >= 2 and (best is None or sizes[node] > sizes[best]) and _worth_naming(node, sizes):
            best = node
    return best


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


def _occurrences(roots: list[n.Node], order: list[n.Node]) -> dict[n.Node, int]:
    """How many times each subexpression occurs in the roots written out in full (paths in the graph)."""
    parents: dict[n.Node, int] = dict.fromkeys(order, 0)
    for node in order:
        for child in node.children():
            parents[child] += 1
    counts: dict[n.Node, int] = dict.fromkeys(order, 0)
    for root in roots:
        counts[root] += 1
    ready = [node for node in order if parents[node] == 0]
    while ready:
        node = ready.pop()
        for child in node.children():
            counts[child] += counts[node]
            parents[child] -= 1
            if parents[child] == 0:
                ready.append(child)
    return counts


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
    if isinstance(node, _NEVER_NAMED) or sizes[node] < MIN_SIZE:
        return False
    return not (isinstance(node, (n.Transpose, n.Neg)) and isinstance(node.operand, n.Var))


def _replace(node: n.Node, old: n.Node, new: n.Node, memo: dict[n.Node, n.Node]) -> n.Node:
    if node == old:
        return new
    if node not in memo:
        memo[node] = node.map_children(lambda child: _replace(child, old, new, memo))
    return memo[node]


def _substitute(roots, definitions, old: n.Node, new: n.Node):
    memo: dict[n.Node, n.Node] = {}
    return ([_replace(root, old, new, memo) for root in roots],
            [(name, _replace(node, old, new, memo)) for name, node in definitions])
