"""Values for variables: `x=1, w=[1, 2, 3]; X=[[1, 2], [3, 4]]` -> name -> number or nested lists.

    assignments := (assignment (("," | ";") assignment)*)?
    assignment  := NAME "=" value
    value       := a JSON number or an array of them (a vector), or an array of such arrays (a matrix)

The values are read with the JSON reader, never evaluated as Python.
"""

from __future__ import annotations

import json
import re

from .errors import InputError, Span

_NAME = re.compile(r"\s*([A-Za-z\u0391-\u03a9\u03b1-\u03c9][A-Za-z0-9_\u0391-\u03a9\u03b1-\u03c9]*)\s*=")


def parse_assignments(source: str) -> dict[str, float | list]:
    """Read the values given to variables.

    >>> parse_assignments("x=1, w=[1, 2.5]; X=[[1, 2], [3, 4]]")
    {'x': 1.0, 'w': [1.0, 2.5], 'X': [[1.0, 2.0], [3.0, 4.0]]}
    """
    values: dict[str, float | list] = {}
    for start, text in _top_level_parts(source):
        if not text.strip():
            continue
        match = _NAME.match(text)
        if match is None:
            raise InputError("expected name=value, as in x=1 or w=[1, 2]", span=Span(start, start + len(text)))
        raw = text[match.end():].strip()
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        value = _numbers(value)
        if value is None:
            where = start + match.end()
            raise InputError(f"the value of {match.group(1)} is not a number, a list of numbers or a list of "
                             "lists of numbers", span=Span(where, where + len(text) - match.end()))
        values[match.group(1)] = value
    return values


def _top_level_parts(source: str):
    """(offset, text) of the parts between commas or semicolons outside brackets."""
    depth, start = 0, 0
    for position, char in enumerate(source):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char in ",;" and depth == 0:
            yield start, source[start:position]
            start = position + 1
    yield start, source[start:]


def _numbers(value):
    """The value with every number a float; None unless it is a number or a rectangular array of them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list) and value:
        items = [_numbers(item) for item in value]
        if any(item is None for item in items):
            return None
        if all(isinstance(item, float) for item in items):
            return items
        if all(isinstance(item, list) and all(isinstance(e, float) for e in item) for item in items) \
                and len({len(item) for item in items}) == 1:
            return items
    return None
