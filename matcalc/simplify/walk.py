"""Applying a local rewrite to every subexpression, children first, each distinct one once."""

from __future__ import annotations

from collections.abc import Callable

from .. import nodes as n


def bottom_up(node: n.Node, rewrite: Callable[[n.Node], n.Node], keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """rewrite applied to each subexpression after its children; shared subexpressions (a deep
    network's result repeats its layers) are rewritten once. Without recursion: results nest deeply.
    A rewrite that would change a subexpression's shape is not taken, and what is in keep (the
    function's own subexpressions: y - X w, D X E + F E) stays as the user wrote it."""
    done: dict[n.Node, n.Node] = {}
    stack: list[tuple[n.Node, bool]] = [(node, False)]
    while stack:
        current, expanded = stack.pop()
        if current in done:
            continue
        if current in keep:
            done[current] = current
            continue
        if not expanded:
            stack.append((current, True))
            stack += [(child, False) for child in current.children() if child not in done]
            continue
        rebuilt = current.map_children(lambda child: done[child]) if any(True for _ in current.children()) else current
        rewritten = rewrite(rebuilt)
        # a rule never changes a shape: B - (B - 2) is 2 broadcast to B's shape, not the number 2
        done[current] = rewritten if rewritten.shape == rebuilt.shape else rebuilt
    return done[node]


def outer_applications(node: n.Node) -> list[n.Apply]:
    """The elementwise functions of node that are not inside another's argument, in reading order: in
    (relu(z) - y) ⊙ v, relu(z) but not what z holds (a deep network's layers are not looked through
    again and again)."""
    found: list[n.Apply] = []
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if isinstance(current, n.Apply):
            found.append(current)
        else:
            stack += reversed(list(current.children()))
    return found
