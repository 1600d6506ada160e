"""Applying a local rewrite to every subexpression, children first, each distinct one once."""

from __future__ import annotations

from collections.abc import Callable

from .. import nodes as n

# A sum of more terms than this is rewritten whole, once. A shorter one is rewritten level by level, as the
# parser and collect build it (its rules' results depend on that grouping, and its cost is bounded).
WHOLE_SUM_ABOVE = 64


def bottom_up(node: n.Node, rewrite: Callable[[n.Node], n.Node], keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """rewrite applied to each subexpression after its children; shared subexpressions (a deep
    network's result repeats its layers) are rewritten once. Without recursion: results nest deeply.
    A rewrite that would change a subexpression's shape is not taken, and what is in keep (the
    function's own subexpressions: y - X w, D X E + F E) stays as the user wrote it.

    A long sum (more than WHOLE_SUM_ABOVE terms) is a balanced tree of Adds (syntax.SUM_BALANCE_ABOVE)
    whose grouping means nothing: its inner Adds are rebuilt but not rewritten, and the rewrite sees the
    whole sum once, at its top (a rewrite of a sum reads all its terms: rewriting each level of the tree
    would read them once per level)."""
    done: dict[n.Node, n.Node] = {}  # subexpression: rewritten
    # the same by the object's identity: a child's result is read without hashing it again (a node's hash is a
    # Python call); the objects live as long as the tree does, so their ids are not reused meanwhile
    done_ids: dict[int, n.Node] = {}
    # an inner Add of a long sum, by identity: its terms rewritten, itself not (nothing is saved by finding an
    # equal one, which only its terms' results make)
    inside_ids: dict[int, n.Node] = {}
    # (subexpression, it is an inner Add of a long sum, its children once visited, with their memos by id)
    stack: list[tuple[n.Node, bool, list | None]] = [(node, False, None)]
    while stack:
        current, inner, visited = stack.pop()
        if visited is None:
            memo_ids = inside_ids if inner else done_ids
            if id(current) in memo_ids:
                continue
            if not inner and current in done:  # equal to one rewritten already: a shared subexpression
                done_ids[id(current)] = done[current]
                continue
            if current in keep:
                if not inner:
                    done[current] = current
                memo_ids[id(current)] = current
                continue
            node_class: type = type(current)  # hashable, as every class is (mypy takes Node's __hash__ for it)
            children = [
                child for name in n.child_fields(node_class) if isinstance(child := getattr(current, name), n.Node)
            ]
            if not children:  # a leaf (never an inner Add): rewritten at once
                rewritten = rewrite(current)
                done[current] = done_ids[id(current)] = rewritten if rewritten.shape == current.shape else current
                continue
            inner_parts = isinstance(current, n.Add) and (inner or _long_sum(current))
            visited = [
                (child, inside_ids if inner_parts and isinstance(child, n.Add) else done_ids) for child in children
            ]
            stack.append((current, inner, visited))
            stack += [
                (child, child_ids is inside_ids, None) for child, child_ids in visited if id(child) not in child_ids
            ]
            continue
        rebuilt = _rebuilt(current, visited)
        if inner:
            inside_ids[id(current)] = rebuilt
            continue
        rewritten = rewrite(rebuilt)
        # a rule never changes a shape: B - (B - 2) is 2 broadcast to B's shape, not the number 2
        if rewritten is not rebuilt and rewritten.shape != rebuilt.shape:
            rewritten = rebuilt
        done[current] = done_ids[id(current)] = rewritten
    return done_ids[id(node)]


def _rebuilt(node: n.Node, visited: list[tuple[n.Node, dict[int, n.Node]]]) -> n.Node:
    """node with its children as rewritten (each looked up in its memo)."""
    rewritten = [memo_ids[id(child)] for child, memo_ids in visited]
    changed = False
    for new, (old, _) in zip(rewritten, visited):
        if new is not old:
            changed = True
            break
    if not changed:
        return node  # nothing changed: no copy (copies are what a pass over a large tree spends its time on)
    replacements = iter(rewritten)
    return node.map_children(lambda _: next(replacements))


def _long_sum(node: n.Add) -> bool:
    """Whether node is the top of a sum rewritten whole."""
    return len(n.flatten(node, n.Add)) > WHOLE_SUM_ABOVE


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
