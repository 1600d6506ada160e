"""What every printer of Python code shares: how tightly Python's operators bind (one table), the Python
name of each name the user chose, numbers as literals, and text that is safe in a docstring or a comment.

A printed operand is a `Code`: its text, how tightly its outermost operator binds, and how deeply it
nests. Operators put their operands in parentheses from OPERATORS alone, so no printer decides
precedence on its own, and a printer that nests too deeply (Python refuses more than 200 open
parentheses, and its compiler recurses) names a part first (`hoist`).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction


class Level(IntEnum):
    """How tightly a printed expression binds, loosest first (Python's own order)."""

    SUM = 1  # a + b, a - b
    PRODUCT = 2  # a * b, a / b, a @ b
    UNARY = 3  # -a
    POWER = 4  # a ** b
    ATOM = 5  # names, numbers, calls, a.T, a[:, None], (anything)


# operator -> (the level of what it makes, the loosest left operand it takes bare, the loosest right one).
# Left-associative operators take a right operand of their own level only in parentheses (a - (b - c));
# ** is right-associative and binds tighter than a unary minus on its left (-a ** 2 is -(a ** 2)), looser
# than one on its right (a ** -2).
OPERATORS: dict[str, tuple[Level, Level, Level]] = {
    "+": (Level.SUM, Level.SUM, Level.PRODUCT),
    "-": (Level.SUM, Level.SUM, Level.PRODUCT),
    "*": (Level.PRODUCT, Level.PRODUCT, Level.UNARY),
    "/": (Level.PRODUCT, Level.PRODUCT, Level.UNARY),
    "@": (Level.PRODUCT, Level.PRODUCT, Level.UNARY),
    "**": (Level.POWER, Level.ATOM, Level.UNARY),
}
NEGATION = Level.UNARY  # -a: the loosest operand it takes bare
POSTFIX = Level.ATOM  # a.T, a[:, None], a.shape[0]: the loosest operand they take bare

# A printed expression nested deeper than this (operators, calls and parentheses, counted together) has
# a part named first: far below Python's limits (200 open parentheses; its compiler's recursion).
MAX_DEPTH = 50


@dataclass(frozen=True)
class Code:
    """A printed Python expression: its text, its binding level, and how deeply it nests."""

    text: str
    level: Level = Level.ATOM
    depth: int = 1

    def bare_at(self, loosest: Level) -> Code:
        """The expression as an operand that must bind at least as tightly as `loosest`."""
        if self.level >= loosest:
            return self
        return Code(f"({self.text})", Level.ATOM, self.depth + 1)


def binary(operator: str, left: Code, right: Code) -> Code:
    level, loosest_left, loosest_right = OPERATORS[operator]
    left, right = left.bare_at(loosest_left), right.bare_at(loosest_right)
    return Code(f"{left.text} {operator} {right.text}", level, max(left.depth, right.depth) + 1)


def negation(operand: Code) -> Code:
    operand = operand.bare_at(NEGATION)
    return Code(f"-{operand.text}", Level.UNARY, operand.depth + 1)


def postfix(operand: Code, suffix: str) -> Code:
    """a.T, a[:, None]: an operand followed by an attribute or a subscript."""
    operand = operand.bare_at(POSTFIX)
    return Code(f"{operand.text}{suffix}", Level.ATOM, operand.depth + 1)


def call(function: str, *arguments: Code | str) -> Code:
    """function(arguments): a string argument is a literal (a keyword argument, a subscript string)."""
    codes = [a if isinstance(a, Code) else Code(a) for a in arguments]
    return Code(
        f"{function}({', '.join(c.text for c in codes)})", Level.ATOM, max((c.depth for c in codes), default=0) + 1
    )


# A number is written exactly where Python reads it exactly, else as the nearest float (what matcalc's
# evaluator computes with): a Python int beyond 2**53 overflows NumPy's arithmetic or loses digits.
EXACT_INTEGERS = 2**53


def number(value: Fraction) -> Code:
    """A number as a Python literal: 3, -2, 0.25, 1/3; inf as 1e999 (what Python reads as inf)."""
    if value.denominator == 1 and abs(value.numerator) < EXACT_INTEGERS:
        text = str(value.numerator)
    elif max(abs(value.numerator), value.denominator) < EXACT_INTEGERS:
        text = _decimal_or_fraction(value)
    else:
        try:
            text = repr(float(value))
        except OverflowError:
            text = "1e999" if value > 0 else "-1e999"
    level = Level.UNARY if text.startswith("-") else Level.PRODUCT if "/" in text else Level.ATOM
    return Code(text, level)


def _decimal_or_fraction(value: Fraction) -> str:
    """0.25 where the fraction is a short decimal, else numerator/denominator (true division in Python)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
        if len(text) <= 24:
            return text
        return repr(float(value))
    return f"{value.numerator}/{value.denominator}"


# Names that printed code needs for itself: the array modules as the printed code imports them (a
# variable named np would hide NumPy), and the keywords. A variable or dimension with one of these names
# is bound with a trailing underscore, as SPEC §4 binds a keyword (lambda_).
MODULE_NAMES = frozenset({"np", "numpy", "torch", "jax", "jnp", "math"})
RESERVED = frozenset(keyword.kwlist) | MODULE_NAMES


def python_names(names, reserved=frozenset()) -> dict[str, str]:
    """Each name -> its name in Python: itself, or with trailing underscores where it is a keyword, a
    module name or in `reserved`, as many as keep it distinct from every other name (lambda and lambda_
    both declared: lambda__ and lambda_)."""
    names = list(dict.fromkeys(names))
    taken = set(names)
    chosen: dict[str, str] = {}
    for name in names:
        python = name
        if python in RESERVED or python in reserved:
            python += "_"
            while python in taken or python in RESERVED or python in reserved:
                python += "_"
            taken.add(python)
        chosen[name] = python
    return chosen


def python_name(name: str) -> str:
    """One name in Python, on its own (python_names keeps several distinct)."""
    return python_names([name])[name]


def docstring_text(text: str) -> tuple[str, str]:
    """(prefix, text) for a triple-quoted docstring that holds `text` exactly: r and the text as it is where
    that is safe (LaTeX's backslashes read as written, \\xi), else no prefix and the text escaped."""
    raw_safe = '"""' not in text and not text.endswith(("\\", '"')) and all(c.isprintable() for c in text)
    return ("r", text) if "\\" in text and raw_safe else ("", in_docstring(text))


def in_docstring(text: str) -> str:
    """`text` as it may stand inside a triple-quoted string that holds it exactly: its backslashes, double
    quotes, line breaks and control characters escaped, so that nothing of it is read as Python."""
    return "".join(_escaped(c) for c in text.replace("\\", "\\\\").replace('"', '\\"'))


def comment(text: str) -> str:
    """Text for a `#` comment: on one line, with its line breaks and control characters escaped."""
    return "".join(_escaped(c) for c in text)


def _escaped(char: str) -> str:
    """A character that may stand in Python source as it is (inside a string or comment), else its escape."""
    if char.isprintable() or char == " ":
        return char
    return char.encode("unicode_escape").decode("ascii")
