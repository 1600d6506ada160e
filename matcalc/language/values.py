"""Values for variables: `x=1, w=[1, 2, 3]; X=[[1, 2], [3, 4]]` -> name -> number or nested lists.

    assignments := (assignment (("," | ";") assignment)*)?
    assignment  := NAME "=" value
    value       := a JSON number or an array of them (a vector), or an array of such arrays (a matrix)

The values are read with the JSON reader, never evaluated as Python.
"""

from __future__ import annotations

import json
import math
import re

from ..errors import InputError, Span

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
        raw = text[match.end() :].strip()
        where = Span(start + match.end(), start + len(text))
        try:
            value = json.loads(raw, parse_constant=_not_a_number)
        except (ValueError, RecursionError):
            value = None
        try:
            value = _numbers(value)
        except OverflowError:
            raise InputError(
                f"a number in the value of {match.group(1)} is too large (the largest is about 1.8e308)", span=where
            ) from None
        if value is None:
            raise InputError(
                f"the value of {match.group(1)} is not a number, a list of numbers or a list of lists of numbers",
                span=where,
            )
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


def _not_a_number(name: str):
    raise ValueError(f"{name} is not a number matcalc evaluates at")


def _numbers(value):
    """The value with every number a float; None unless it is a number or a rectangular array of them.
    OverflowError for a number too large for a float (1e400, or an integer of 400 digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number):
            raise OverflowError(value)
        return number
    if isinstance(value, list) and value:
        items = [_numbers(item) for item in value]
        if any(item is None for item in items):
            return None
        if all(isinstance(item, float) for item in items):
            return items
        if (
            all(isinstance(item, list) and all(isinstance(e, float) for e in item) for item in items)
            and len({len(item) for item in items}) == 1
        ):
            return items
    return None
