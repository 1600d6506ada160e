"""Text -> tokens. Every token keeps its span so later errors can point at it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ..errors import Span, TokenizeError

MAX_SOURCE_LENGTH = 10_000


def is_latex(source: str) -> bool:
    r"""An input that starts with `\` or `$`, or holds a command or a brace, is LaTeX (SPEC §2), read by
    language/latex.py (imported only then: it is large, and most inputs are plain text).

    >>> is_latex(r"\mathbf{x}^\top A"), is_latex("$x'Ax$"), is_latex("x^{2}"), is_latex("x'Ax")
    (True, True, True, False)
    """
    return source.lstrip().startswith("$") or any(char in source for char in "\\{}")


class Kind(Enum):
    NUMBER = "number"
    NAME = "name"
    OP = "operator"
    END = "end of input"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # for OP, the canonical spelling (e.g. "'" for ᵀ); else the source text
    span: Span


# Longest spellings first; the value is the canonical operator.
_OPERATORS = {
    "||": "||",
    ".*": ".*",
    "./": "./",
    ".^": ".^",
    "⁻¹": "⁻¹",
    "+": "+",
    "-": "-",
    "−": "-",
    "*": "*",
    "/": "/",
    "@": "@",
    "^": "^",
    "(": "(",
    ")": ")",
    ",": ",",
    ";": ";",
    ":": ":",
    "=": "=",
    "_": "_",
    "'": "'",
    "ᵀ": "'",
    "|": "|",
    "‖": "||",
    "⊙": ".*",
    "⊗": "⊗",
    "⁻ᵀ": "^-T",
}
# Superscript exponents: x² is x^2, A⁻² is A^-2 (⁻¹ and ⁻ᵀ are operators of their own).
_SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPERSCRIPT = re.compile(f"(⁻?)([{_SUPERSCRIPT_DIGITS}]+)")
# A dot right before * / ^ T belongs to the operator, not the number: 2.*x is 2 .* x.
_NUMBER = re.compile(r"(?:\d+(?:\.(?![*/^T])\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LETTER = "A-Za-z\u0391-\u03a9\u03b1-\u03c9"  # ASCII and Greek
_NAME = re.compile(rf"[{_LETTER}][{_LETTER}0-9]*(?:_[{_LETTER}0-9]+)*")
_NAME_BEFORE = re.compile(rf"[{_LETTER}][{_LETTER}0-9_]*$")
_DOT_T = re.compile(rf"\.T(?![{_LETTER}0-9_])")


def tokenize(source: str, limit: int | None = MAX_SOURCE_LENGTH) -> list[Token]:
    """Split `source` into tokens, ending with an END token; text longer than `limit` is refused.

    >>> [t.text for t in tokenize("x'Ax .* 2.5e3")]
    ['x', "'", 'Ax', '.*', '2.5e3', '']
    """
    if limit is not None and len(source) > limit:
        raise TokenizeError(
            f"input is too long ({len(source)} characters; the limit is {limit})",
            span=Span(MAX_SOURCE_LENGTH, len(source)),
        )
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char.isspace():
            pos += 1
            continue
        if superscript := _read_superscript(source, pos):
            tokens.extend(superscript)
            pos = superscript[-1].span.end
            continue
        if source.startswith("**", pos):
            raise _python_power(source, pos, tokens[-1] if tokens else None)
        token = _read_token(source, pos)
        tokens.append(token)
        pos = token.span.end
    tokens.append(Token(Kind.END, "", Span(len(source), len(source))))
    return tokens


def _read_superscript(source: str, pos: int) -> list[Token]:
    """x² -> x ^ 2 and A⁻² -> A ^ - 2, each token spanning the superscript it comes from.

    >>> [t.text for t in tokenize("‖x‖² + A⁻¹ + B⁻²")]
    ['||', 'x', '||', '^', '2', '+', 'A', '⁻¹', '+', 'B', '^', '-', '2', '']
    """
    match = _SUPERSCRIPT.match(source, pos)
    if match is None or match.group() == "⁻¹":
        return []
    span = Span(pos, match.end())
    digits = match.group(2).translate(str.maketrans(_SUPERSCRIPT_DIGITS, "0123456789"))
    tokens = [Token(Kind.OP, "^", Span(pos, pos + 1))]
    if match.group(1):
        tokens.append(Token(Kind.OP, "-", Span(pos, pos + 1)))
    tokens.append(Token(Kind.NUMBER, digits, Span(match.start(2), span.end)))
    return tokens


def _python_power(source: str, pos: int, before: Token | None) -> TokenizeError:
    """x**2 is Python's power: refused with the ^ that writes it here.

    >>> print(_python_power("(x + 1)**2", 7, Token(Kind.OP, ")", Span(6, 7))).hint)
    write (x + 1)^2
    """
    exponent = re.match(r"\s*(-?[\w.]+)", source[pos + 2 :])
    return TokenizeError(
        "** is Python's power: use ^ for powers",
        span=Span(pos, pos + 2),
        hint=f"write {_base_text(source, before)}^{exponent.group(1) if exponent else '...'}",
    )


def _base_text(source: str, before: Token | None) -> str:
    """The operand written before a power: a name, a number or a parenthesized group; else `...`."""
    if before is None:
        return "..."
    if before.kind in (Kind.NAME, Kind.NUMBER):
        return before.text
    if before.text != ")":
        return "..."
    depth = 0
    for start in range(before.span.start, -1, -1):
        depth += {")": 1, "(": -1}.get(source[start], 0)
        if depth == 0:
            called = _NAME_BEFORE.search(source, 0, start)  # exp(x)**2: the function's name with its group
            return source[called.start() if called else start : before.span.end]
    return "..."


def _read_token(source: str, pos: int) -> Token:
    if match := _NUMBER.match(source, pos):
        return Token(Kind.NUMBER, match.group(), Span(pos, match.end()))
    if match := _DOT_T.match(source, pos):
        return Token(Kind.OP, "'", Span(pos, match.end()))
    if match := _NAME.match(source, pos):
        return Token(Kind.NAME, match.group(), Span(pos, match.end()))
    for spelling in (source[pos : pos + 2], source[pos]):
        if spelling in _OPERATORS:
            return Token(Kind.OP, _OPERATORS[spelling], Span(pos, pos + len(spelling)))
    raise TokenizeError(f"unexpected character {source[pos]!r}", span=Span(pos, pos + 1))
