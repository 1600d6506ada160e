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
    """The roots with repeated subexpressions replaced by names, and the names' definitions."""
    base = next(letter for letter in "tuvsqr" if not any(_numbered(name, letter) for name in taken))
    definitions: list[tuple[str, n.Node]] = []
    while (chosen := _largest_repeated(roots + [node for _, node in definitions])) is not None:
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


def _largest_repeated(roots: list[n.Node]) -> n.Node | None:
    counts: Counter[n.Node] = Counter(sub for root in roots for sub in n.walk(root) if _worth_naming(sub))
    candidates = [node for node, count in counts.items() if count >= 2]
    return max(candidates, key=_size) if candidates else None


def _worth_naming(node: n.Node) -> bool:
    if isinstance(node, _NEVER_NAMED) or _size(node) < MIN_SIZE:
        return False
    return not (isinstance(node, (n.Transpose, n.Neg)) and isinstance(node.operand, n.Var))


def _size(node: n.Node) -> int:
    return sum(1 for _ in n.walk(node))


def _replace(node: n.Node, old: n.Node, new: n.Node) -> n.Node:
    if node == old:
        return new
    return node.map_children(lambda child: _replace(child, old, new))


def _substitute(roots, definitions, old: n.Node, new: n.Node):
    return ([_replace(root, old, new) for root in roots],
            [(name, _replace(node, old, new)) for name, node in definitions])
