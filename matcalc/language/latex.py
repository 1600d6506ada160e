r"""LaTeX input: formulas as papers print them, read as matcalc's own language.

`translate` turns LaTeX into the plain language of SPEC §2, keeping for every
character it writes the span of the LaTeX it comes from, so the parser's
errors and the tree's spans point into what the user wrote:

    \frac{1}{2}\|\mathbf{y} - X\mathbf{w}\|_2^2   ->   ((1)/(2))||y-X w||_2^(2)
    \mathbf{x}^\top A \mathbf{x}                  ->   x'A x
    \frac{\partial}{\partial \mathbf{x}} f        ->   d/dx f
    \frac{\partial f}{\partial X}                 ->   (d/dX (f))

The tables below say what each command means. Names: `\mathbf{x}`,
`\boldsymbol{\beta}`, `\bm{x}`, `\mathit{weights}`, Greek letters, subscripts
(`W_{1}` is W1, `W_{\mathrm{out}}` is W_out, `I_{n}` is eye(n)). Functions are
called with or without parentheses (`\log\det X`, `\operatorname{tr}(AX)`);
`\sigma(z)` is the sigmoid unless sigma is declared. `^\top`, `^T`, `'`,
`^{-1}`, `^{-\top}`, `^{\circ 2}` (elementwise); `\odot`, `\circ`, `\oslash`,
`\cdot`; bars and norms (`\|x\|_2`, `\lVert X \rVert_F`, `\lvert x \rvert`);
`\left`, `\right`, `\big` and spacing are ignored, and so are `$`, `$$`, `\[`,
`\]`. Braces group. Anything else is refused: an unknown command with the
nearest known one suggested (exit 2), a known but unsupported construct
(`\sum_{i}`, `\nabla`, `\otimes`) with a message saying so (exit 3).

Nothing here evaluates text: commands are looked up in tables.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import TypeVar

from ..errors import MatcalcError, ParseError, Span, TokenizeError, UnknownSymbolError, UnsupportedError
from .syntax import FUNCTIONS, GREEK, BinOp, Literal, Syntax
from .tokens import MAX_SOURCE_LENGTH, is_latex  # noqa: F401 (is_latex: where LaTeX reading is asked for too)

MAX_NESTING = 200  # as the parser's: groups, fractions and scripts inside one another
_CAPITAL_GREEK = ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega")

# Commands that are names: Greek letters (`\lambda` is lambda); `\pi` is the constant.
_GREEK_COMMANDS = {f"\\{letter}": letter for letter in (*GREEK, *_CAPITAL_GREEK, "pi")}
# Commands that are functions, with the plain-language function they are.
_FUNCTION_COMMANDS = {
    r"\exp": "exp",
    r"\log": "log",
    r"\ln": "log",
    r"\sin": "sin",
    r"\cos": "cos",
    r"\tan": "tan",
    r"\tanh": "tanh",
    r"\arcsin": "arcsin",
    r"\arccos": "arccos",
    r"\arctan": "arctan",
    r"\det": "det",
    r"\max": "max",
    r"\min": "min",
    r"\tr": "tr",
    r"\Tr": "tr",
    r"\trace": "tr",
    r"\diag": "diag",
    r"\sgn": "sign",
    r"\sqrt": "sqrt",
}
# Names written in \operatorname{...}, \mathrm{...} or \text{...} that are functions.
_OPERATOR_NAMES = {name: name for name in FUNCTIONS if name not in ("eye", "ones", "vector", "matrix")} | {
    "Tr": "tr",
    "ln": "log",
    "sgn": "sign",
    "ReLU": "relu",
    "Relu": "relu",
    "LSE": "logsumexp",
    "softmax": "softmax",
    "Softmax": "softmax",
}
# Commands that make what follows one name: \mathbf{x} is x, \boldsymbol{\beta} is beta.
_NAME_COMMANDS = (r"\mathbf", r"\boldsymbol", r"\bm", r"\mathit", r"\mathsf", r"\vec", r"\pmb", r"\mathbold")
# Commands that name a function, or a name when what they hold is not a function.
_WORD_COMMANDS = (r"\operatorname", r"\mathrm", r"\text", r"\textrm", r"\operatorname*")
# Accents make a name of their own: \hat{y} is y_hat.
_ACCENTS = {
    r"\hat": "hat",
    r"\widehat": "hat",
    r"\bar": "bar",
    r"\overline": "bar",
    r"\tilde": "tilde",
    r"\widetilde": "tilde",
    r"\dot": "dot",
}
_FRACTIONS = (r"\frac", r"\tfrac", r"\dfrac", r"\cfrac")
# Operators between two operands, as the plain language writes them.
_OPERATOR_COMMANDS = {
    r"\odot": ".*",
    r"\circ": ".*",
    r"\oslash": "./",
    r"\cdot": "*",
    r"\times": "*",
    r"\ast": "*",
    r"\div": "/",
}
_BARS = {
    r"\|": "||",
    r"\lVert": "||",
    r"\rVert": "||",
    r"\Vert": "||",
    r"\lvert": "|",
    r"\rvert": "|",
    r"\vert": "|",
    "|": "|",
}
_LEFT_SIZES = (r"\left", r"\bigl", r"\Bigl", r"\biggl", r"\Biggl")
_RIGHT_SIZES = (r"\right", r"\bigr", r"\Bigr", r"\biggr", r"\Biggr")
_OPEN_DELIMITERS = {"(": "(", "[": "(", r"\lbrack": "("}
_CLOSE_DELIMITERS = {")": ")", "]": ")", r"\rbrack": ")"}
# Sizes of delimiters and spacing: they change how a formula looks, not what it means.
_IGNORED = frozenset(
    {
        r"\left",
        r"\right",
        r"\big",
        r"\Big",
        r"\bigg",
        r"\Bigg",
        r"\bigl",
        r"\bigr",
        r"\Bigl",
        r"\Bigr",
        r"\biggl",
        r"\biggr",
        r"\Biggl",
        r"\Biggr",
        r"\middle",
        r"\,",
        r"\;",
        r"\:",
        r"\!",
        r"\ ",
        r"\quad",
        r"\qquad",
        r"\enspace",
        r"\thinspace",
        r"\displaystyle",
        r"\textstyle",
        r"\[",
        r"\]",
        r"\(",
        r"\)",
        r"\nonumber",
        r"\notag",
        "$",
        "~",
    }
)
_PREFIXES = ("+", "-", "−", "*", "/", ".*", "./", "|", "||")  # what cannot end a factor
_SPACING = frozenset({r"\,", r"\;", r"\:", r"\ ", r"\quad", r"\qquad", r"\enspace", r"\thinspace", "~"})
_TRANSPOSES = (r"\top", r"\intercal", r"\mathsf{T}", r"\mathrm{T}", r"\prime", r"{\top}", r"{\intercal}")
# Well-formed constructs matcalc cannot read yet (exit 3), and what to write instead.
_UNSUPPORTED = {
    r"\sum": "a sum with limits is not supported; write it as \\mathbf{1}^\\top \\mathbf{x} or sum(x)",
    r"\prod": "products with limits are not supported",
    r"\int": "integrals are not supported",
    r"\lim": "limits are not supported",
    r"\nabla": "the gradient \\nabla is not supported; write \\frac{\\partial}{\\partial x} (with --layout "
    "denominator for a column gradient)",
    r"\otimes": "the Kronecker product is not supported",
    r"\oplus": "the direct sum is not supported",
    r"\dagger": "the pseudo-inverse is not supported",
    r"\partial": "a partial derivative is written \\frac{\\partial}{\\partial x} or \\frac{\\partial f}{\\partial x}",
    r"\mathbb": "blackboard letters (expectations, sets) are not supported",
    r"\mathcal": "calligraphic names are not supported; write the name plainly",
    r"\infty": "infinity is not supported",
    r"\sup": "suprema are not supported",
    r"\inf": "infima are not supported",
    r"\arg": "arg min and arg max are not supported; use matcalc solve",
    r"\operatorname{vec}": "vec is not supported",
    r"\operatorname{rank}": "rank is not supported",
    r"\operatorname{argmin}": "arg min is not supported; use matcalc solve",
    r"\operatorname{argmax}": "arg max is not supported",
    r"\operatorname{Var}": "variances are not supported",
    r"\operatorname{E}": "expectations are not supported",
    r"\ldots": "ellipses are not supported",
    r"\cdots": "ellipses are not supported",
    r"\begin": "environments (matrices, aligned equations) are not supported; write one formula",
    r"\leq": "inequalities are not supported",
    r"\geq": "inequalities are not supported",
    r"\in": "set membership is not supported; declare shapes with --let",
    r"\sqrt[": "only square roots are supported",
}
_KNOWN_COMMANDS = sorted(
    {
        *_GREEK_COMMANDS,
        *_FUNCTION_COMMANDS,
        *_NAME_COMMANDS,
        *_WORD_COMMANDS,
        *_ACCENTS,
        *_FRACTIONS,
        *_OPERATOR_COMMANDS,
        *_BARS,
        *_IGNORED,
        r"\top",
        r"\intercal",
        r"\sigma",
        *(command for command in _UNSUPPORTED if "{" not in command and "[" not in command),
    }
)

_LEXEME = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<command>\\(?:[A-Za-z]+\*?|.))
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<letters>[A-Za-z]+)
  | (?P<char>.)
""",
    re.VERBOSE | re.DOTALL,
)
_PLAIN_NAME = re.compile(r"[A-Za-z\u0391-\u03a9\u03b1-\u03c9][A-Za-z\u0391-\u03a9\u03b1-\u03c90-9]*(?:_[A-Za-z0-9]+)*")
_DENOMINATOR = re.compile(rf"({_PLAIN_NAME.pattern})'?(?:\^\(([2-9])\))?")
_SUBSCRIPT = re.compile(r"[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Lexeme:
    kind: str  # command, number, letters, char, or "{" / "}"
    text: str
    span: Span
    spaced: bool  # whitespace comes right before it


@dataclass
class _Piece:
    text: str
    span: Span
    exact: bool  # the text is the source's own characters at span, one by one
    glued: bool = False  # no space goes between it and the piece before


Tree = TypeVar("Tree", Syntax, tuple[Syntax, Syntax])  # an expression, or an equation's two sides


@dataclass(frozen=True)
class Translation:
    """Plain-language text and, for each of its characters, the span of the LaTeX it comes from."""

    source: str
    text: str
    origins: tuple[Span, ...]
    numbers: frozenset[Span] = frozenset()  # where a fraction of two whole numbers was written (\frac{1}{2})

    def original(self, span: Span) -> Span:
        """A span of `text` as a span of `source`."""
        if span.end > span.start:
            first, last = self.origins[span.start], self.origins[min(span.end, len(self.origins)) - 1]
            return Span(first.start, max(first.end, last.end))
        if span.start < len(self.origins):
            return Span(self.origins[span.start].start, self.origins[span.start].start)
        return Span(len(self.source), len(self.source))

    def restore(self, parse: Callable[[str], Tree]) -> Tree:
        """Parse the plain text; the tree (or trees) and any error get spans in the LaTeX."""
        try:
            result = parse(self.text)
        except MatcalcError as error:
            if error.span is not None:
                error.span = self.original(error.span)
            raise
        if isinstance(result, Syntax):
            return self._respan(result)
        lhs, rhs = result
        return self._respan(lhs), self._respan(rhs)

    def _respan(self, node: Syntax) -> Syntax:
        changes: dict[str, Syntax | tuple[Syntax, ...]] = {}
        for field in fields(node):
            value = getattr(node, field.name)
            if isinstance(value, Syntax):
                changes[field.name] = self._respan(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], Syntax):
                changes[field.name] = tuple(self._respan(item) for item in value)
        span = self.original(node.span)
        if isinstance(node, BinOp) and node.op == "/":
            top, bottom = node.left, node.right
            if isinstance(top, Literal) and isinstance(bottom, Literal) and self._written_as_number(top, bottom):
                return Literal(f"{top.text}/{bottom.text}", span=span)  # \frac{1}{2} is the number 1/2
        return replace(node, span=span, **changes)

    def _written_as_number(self, *sides: Literal) -> bool:
        if not all(side.text.isdigit() for side in sides):
            return False
        first, last = self.original(sides[0].span), self.original(sides[-1].span)
        return any(number.start <= first.start and last.end <= number.end for number in self.numbers)


def translate(source: str, declared: Collection[str] = (), functions: Collection[str] = ()) -> Translation:
    r"""LaTeX -> plain-language text with a map back to the LaTeX.

    >>> translate(r"\frac{1}{2}\|\mathbf{y} - X\mathbf{w}\|_2^2").text
    '((1)/(2))||y-X w||_2^(2)'
    >>> translate(r"\sigma(\mathbf{W}_1 \mathbf{x})").text
    'sigmoid(W1 x)'
    """
    if len(source) > MAX_SOURCE_LENGTH:
        raise TokenizeError(
            f"input is too long ({len(source)} characters; the limit is {MAX_SOURCE_LENGTH})",
            span=Span(MAX_SOURCE_LENGTH, len(source)),
        )
    translator = _Translator(source, _lex(source), frozenset(declared), frozenset(functions))
    translator.run()
    text: list[str] = []
    origins: list[Span] = []
    for piece in translator.pieces:
        if text and _spaced(text[-1], piece):
            text.append(" ")
            origins.append(Span(piece.span.start, piece.span.start))
        text.append(piece.text)
        if piece.exact:
            origins += [Span(piece.span.start + i, piece.span.start + i + 1) for i in range(len(piece.text))]
        else:
            origins += [piece.span] * len(piece.text)
    return Translation(source, "".join(text), tuple(origins), frozenset(translator.numbers))


def _spaced(before: str, piece: _Piece) -> bool:
    """Whether a space goes between two pieces: where they would otherwise run together into one token
    (x y, | |), or make a call of a product (f (x)), unless the piece is glued to the one before."""
    if piece.glued:
        return False
    last, first = before[-1], piece.text[0]
    if last.isalnum() or last == "_":
        return first.isalnum() or first in "_("
    return (last, first) in (("|", "|"), (".", "*"), (".", "/"), (".", "^"))


def _join(pieces: list[_Piece]) -> str:
    text = ""
    for piece in pieces:
        text += (" " if text and _spaced(text, piece) else "") + piece.text
    return text


def _lex(source: str) -> list[Lexeme]:
    """The lexemes of `source`, split as TeX reads arguments: `x^23` is x^2 3, `\\frac12` is 1/2, and in
    `\\frac{df}{dx}` the d is the differential's."""
    return _split_arguments(_lexemes(source))


def _lexemes(source: str) -> list[Lexeme]:
    lexemes: list[Lexeme] = []
    spaced = False
    for match in _LEXEME.finditer(source):
        kind = match.lastgroup or "char"
        text = match.group()
        if kind == "space":
            spaced = True
            continue
        if kind == "char" and text in "{}":
            kind = text
        if kind == "char" and text == "%":  # a comment runs to the end of the line
            break
        lexemes.append(Lexeme(kind, text, Span(match.start(), match.end()), spaced))
        spaced = False
    return lexemes


def _first_character(lexeme: Lexeme) -> list[Lexeme]:
    if lexeme.kind not in ("number", "letters") or len(lexeme.text) == 1:
        return [lexeme]
    start = lexeme.span.start
    return [
        Lexeme(lexeme.kind, lexeme.text[0], Span(start, start + 1), lexeme.spaced),
        Lexeme(lexeme.kind, lexeme.text[1:], Span(start + 1, lexeme.span.end), False),
    ]


def _split_arguments(lexemes: list[Lexeme]) -> list[Lexeme]:
    # A script or a fraction's argument that is not a {group} is one character: x^23, \frac12.
    result: list[Lexeme] = []
    pending = 0  # arguments still to come of the last ^, _ or \frac
    for lexeme in lexemes:
        queue = [lexeme]
        while queue:
            current = queue.pop()
            if pending and current.kind in ("number", "letters"):
                first, *rest = _first_character(current)
                result.append(first)
                pending -= 1
                queue += rest
                continue
            pending = pending - 1 if pending and current.kind == "command" else 0
            result.append(current)
            if current.text in ("^", "_"):
                pending = 1
            elif current.text in _FRACTIONS:
                pending = 2
    return _split_differentials(result)


def _matching(lexemes: list[Lexeme], index: int) -> int | None:
    depth = 0
    for k in range(index, len(lexemes)):
        depth += {"{": 1, "}": -1}.get(lexemes[k].kind, 0)
        if depth == 0:
            return k
    return None


def _split_differentials(lexemes: list[Lexeme]) -> list[Lexeme]:
    """In \\frac{df}{dx}, the d of each differential is a lexeme of its own."""
    marked: set[int] = set()
    for i, lexeme in enumerate(lexemes):
        if lexeme.text not in _FRACTIONS or i + 2 >= len(lexemes) or lexemes[i + 1].kind != "{":
            continue
        top = lexemes[i + 2]
        close = _matching(lexemes, i + 1)
        if close is None or top.kind != "letters" or not top.text.startswith("d"):
            continue
        marked.add(i + 2)
        if close + 1 < len(lexemes) and lexemes[close + 1].kind == "{":
            bottom_close = _matching(lexemes, close + 1) or len(lexemes)
            marked |= {
                k
                for k in range(close + 2, bottom_close)
                if lexemes[k].kind == "letters" and lexemes[k].text.startswith("d")
            }
    result: list[Lexeme] = []
    for i, lexeme in enumerate(lexemes):
        if i in marked and len(lexeme.text) > 1:
            result += _first_character(lexeme)
        else:
            result.append(lexeme)
    return result


class _Translator:
    """One pass over the lexemes, writing plain-language pieces."""

    def __init__(self, source: str, lexemes: list[Lexeme], declared: frozenset[str], functions: frozenset[str]):
        self.source = source
        self.lexemes = [lexeme for lexeme in lexemes if lexeme.text not in ("$",)]
        self.declared = declared | functions
        self.functions = functions
        self.pos = 0
        self.pieces: list[_Piece] = []
        self.glue_next = False
        self.bars: list[tuple[str, int, bool]] = []  # open bars, the depth they opened at, in parentheses?
        self.depth = 0
        self.implicit: list[tuple[int, int]] = []  # open implicit arguments: (depth, pieces when opened)
        self.numbers: set[Span] = set()  # spans of fractions of whole numbers
        self.in_exponent = 0
        self.nesting = 0  # groups, fractions and scripts being translated inside one another

    # Lexeme helpers

    def peek(self, offset: int = 0) -> Lexeme | None:
        index = self.pos + offset
        return self.lexemes[index] if index < len(self.lexemes) else None

    def next(self) -> Lexeme:
        lexeme = self.lexemes[self.pos]
        self.pos += 1
        return lexeme

    def at(self, *texts: str) -> bool:
        lexeme = self.peek()
        return lexeme is not None and lexeme.text in texts

    def emit(self, text: str, span: Span, exact: bool = False, glued: bool = False) -> None:
        if not text:  # \mathrm{} prints nothing, and reads as nothing
            return
        self.pieces.append(_Piece(text, span, exact, glued or self.glue_next))
        self.glue_next = False

    @contextmanager
    def captured(self):
        """Collect what is written inside the block apart, for a script or a derivative's variable."""
        saved = self.pieces, self.bars, self.depth, self.implicit, self.glue_next
        self.pieces, self.bars, self.depth, self.implicit, self.glue_next = [], [], 0, [], False
        try:
            yield self.pieces
        finally:
            self.close_implicit(0)
            self.pieces, self.bars, self.depth, self.implicit, self.glue_next = saved

    def argument(self, after: Lexeme) -> tuple[int, int]:
        """The lexemes of a macro's argument or a script: a {group}, or one token (one digit of 12)."""
        lexeme = self.peek()
        if lexeme is None or lexeme.text == "}":
            raise ParseError(f"{after.text} needs an argument", span=after.span)
        if lexeme.kind == "{":
            close = self.matching_brace(self.pos)
            first, self.pos = self.pos + 1, close + 1
            return first, close
        if lexeme.kind == "command" and lexeme.text in (*_NAME_COMMANDS, *_WORD_COMMANDS, *_ACCENTS):
            start = self.pos
            self.pos += 1
            self.argument(lexeme)
            return start, self.pos
        self.pos += 1
        return self.pos - 1, self.pos

    def matching_brace(self, index: int) -> int:
        close = _matching(self.lexemes, index)
        if close is not None:
            return close
        raise ParseError("unclosed '{'", span=self.lexemes[index].span, hint="expected '}' before the end")

    def translate_range(self, first: int, stop: int) -> None:
        saved_pos, saved_lexemes, depth = self.pos, self.lexemes, self.depth
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ParseError(
                f"expression is nested too deeply (more than {MAX_NESTING} groups, fractions and "
                "scripts inside one another)",
                span=self.lexemes[max(first - 1, 0)].span,
            )
        self.lexemes, self.pos = self.lexemes[:stop], first
        try:
            while self.pos < stop:
                self.item()
            self.close_implicit(depth + 1)
        finally:
            self.pos, self.lexemes = saved_pos, saved_lexemes
            self.nesting -= 1

    def captured_text(self, first: int, stop: int) -> tuple[str, list[_Piece]]:
        with self.captured() as pieces:
            self.translate_range(first, stop)
        return _join(pieces), pieces

    def raw(self, first: int, stop: int) -> str:
        return "".join(lexeme.text for lexeme in self.lexemes[first:stop])

    def closer(self, first: int, stop: int) -> Lexeme:
        """The lexeme that ends an argument: its closing brace, or its one lexeme."""
        if stop < len(self.lexemes) and self.lexemes[stop].kind == "}":
            return self.lexemes[stop]
        return self.lexemes[max(stop - 1, first)]

    def span_of(self, first: int, stop: int) -> Span:
        """The span of an argument's lexemes, with its closing brace."""
        return self.lexemes[min(first, len(self.lexemes) - 1)].span.cover(self.closer(first, stop).span)

    # The pass

    def run(self) -> None:
        self._strip_final_punctuation()
        while self.pos < len(self.lexemes):
            self.item()
        self.close_implicit(0)

    def _strip_final_punctuation(self) -> None:
        """`... = b.` at the end of a displayed formula: the full stop belongs to the sentence."""
        last = len(self.lexemes) - 1
        while last >= 0 and self.lexemes[last].text in _IGNORED:
            last -= 1
        if last >= 0 and self.lexemes[last].text in (".", ","):
            del self.lexemes[last]

    def item(self) -> None:
        lexeme = self.peek()
        assert lexeme is not None
        if self._ends_implicit(lexeme):
            self.close_implicit(self.depth, last_only=True)
            return
        self._item(lexeme)
        self._close_finished_arguments()

    def _close_finished_arguments(self) -> None:
        """A function written without parentheses takes one factor with its scripts: \\log x^2 is
        log(x^2), \\log\\det X \\mathbf{x} is logdet(X) x, \\exp -a is exp(-a)."""
        while self.implicit and self.implicit[-1][0] == self.depth and len(self.pieces) > self.implicit[-1][1]:
            last = self.pieces[-1].text
            if self.glue_next or self.at("^", "_", "'") or last.endswith("(") or last in _PREFIXES:
                return
            self.close_implicit(self.depth, last_only=True)

    def _item(self, lexeme: Lexeme) -> None:
        self.pos += 1
        kind, text = lexeme.kind, lexeme.text
        if text in _IGNORED:
            if text in (r"\left", r"\right") and self.at("."):
                self.pos += 1  # \left. and \right. are invisible delimiters
            return
        if kind == "{":
            self.pos -= 1
            first, stop = self.argument(lexeme)
            self.open_paren(lexeme)
            self.translate_range(first, stop)
            self.close_paren(self.lexemes[stop])
        elif kind == "}":
            raise ParseError("unmatched '}'", span=lexeme.span)
        elif kind == "letters":
            self.letters(lexeme)
        elif kind == "number" and self.in_exponent and self.at("/") and self._whole(self.peek(1)):
            self.pos += 2  # x^{1/2}: matcalc writes a fraction in an exponent inline, and it is a number
            span = lexeme.span.cover(self.lexemes[self.pos - 1].span)
            self.numbers.add(span)
            self.emit(f"({text}/{self.lexemes[self.pos - 1].text})", span)
        elif kind == "number":
            self.emit(text, lexeme.span, exact=True)
        elif text == "^":
            self.superscript(lexeme)
        elif text == "_":
            self.subscript(lexeme)
        elif text in _OPEN_DELIMITERS:
            self.open_paren(lexeme)
        elif text in _CLOSE_DELIMITERS:
            self.close_paren(lexeme)
        elif text in _BARS:
            self.bar(lexeme)
        elif text in _OPERATOR_COMMANDS:
            self.emit(_OPERATOR_COMMANDS[text], lexeme.span)
        elif kind == "command":
            self.command(lexeme)
        elif text in "&<>!":
            raise UnsupportedError(f"'{text}' is not supported in a formula", span=lexeme.span)
        else:
            self.emit(text, lexeme.span, exact=True)  # + - * / = , ' and Unicode: the plain language's own

    @staticmethod
    def _whole(lexeme: Lexeme | None) -> bool:
        return lexeme is not None and lexeme.kind == "number" and lexeme.text.isdigit()

    def _ends_implicit(self, lexeme: Lexeme) -> bool:
        """Whether `lexeme` ends the argument of a function written without parentheses (\\log x + 1)."""
        if not self.implicit or self.implicit[-1][0] != self.depth:
            return False
        if len(self.pieces) == self.implicit[-1][1]:
            return False  # nothing yet: \exp -x
        text = lexeme.text
        if text in ("+", "-", "=", ",", "}", *_CLOSE_DELIMITERS, *_OPERATOR_COMMANDS, "−", "/"):
            return True
        if text in (r"\right",):
            return True
        if text in _BARS:  # a bar that closes one opened outside the argument
            if text in (r"\lVert", r"\lvert") or self.lexemes[self.pos - 1].text in _LEFT_SIZES:
                return False
            return bool(self.bars) and self.bars[-1][0] == _BARS[text] and self.bars[-1][1] < self.depth - 1
        return text in _FUNCTION_COMMANDS  # \sin x \cos y

    def close_implicit(self, depth: int, last_only: bool = False) -> None:
        while self.implicit and self.implicit[-1][0] >= depth:
            _, _ = self.implicit.pop()
            end = self.pieces[-1].span if self.pieces else Span(0, 0)
            self.emit(")", Span(end.end, end.end), glued=True)
            self.depth -= 1
            if last_only:
                return

    def open_paren(self, lexeme: Lexeme) -> None:
        glued = self.glue_next or (not self._spaced_before(self.pos - 1) and self._after_name())
        self.emit("(", lexeme.span, glued=glued)
        self.depth += 1

    def _spaced_before(self, index: int) -> bool:
        """Whitespace or a spacing command before the lexeme at index, after \\left or \\big (f \\left( is spaced)."""
        while True:
            lexeme = self.lexemes[index]
            if lexeme.spaced or lexeme.text in _SPACING:
                return True
            if index == 0 or self.lexemes[index - 1].text not in _IGNORED:
                return False
            index -= 1

    def _after_name(self) -> bool:
        return (
            bool(self.pieces)
            and _PLAIN_NAME.fullmatch(self.pieces[-1].text) is not None
            and not self.pieces[-1].text.endswith(")")
        )

    def close_paren(self, lexeme: Lexeme) -> None:
        self.close_implicit(self.depth)
        if self.depth == 0:
            raise ParseError(f"unmatched '{lexeme.text}'", span=lexeme.span)
        self.emit(")", lexeme.span)
        self.depth -= 1

    def bar(self, lexeme: Lexeme) -> None:
        """A bar opens or closes as \\lvert, \\rVert, \\left| and \\right| say; a bare | or \\| closes the
        innermost bar of its kind if one is open. An opening bar that the plain language would read as
        closing (the second of \\lVert B \\lVert B \\rVert \\rVert) gets parentheses around its group."""
        bar = _BARS[lexeme.text]
        before = self.lexemes[self.pos - 2].text if self.pos >= 2 else ""
        innermost = bool(self.bars) and self.bars[-1][:2] == (bar, self.depth - 1)
        opening = lexeme.text in (r"\lVert", r"\lvert") or before in _LEFT_SIZES
        closing = lexeme.text in (r"\rVert", r"\rvert") or before in _RIGHT_SIZES or (innermost and not opening)
        if closing:
            self.close_implicit(self.depth)
            if not self.bars or self.bars[-1][:2] != (bar, self.depth - 1):
                raise ParseError(f"{lexeme.text} closes no {bar}", span=lexeme.span)
            wrapped = self.bars.pop()[2]
            self.depth -= 1
            self.emit(bar, lexeme.span)
            if wrapped:
                if self.at("_"):
                    self.subscript(self.next())
                self.emit(")", lexeme.span, glued=True)
                self.depth -= 1
            return
        wrapped = innermost or (bool(self.bars) and self.bars[-1][0] == bar and self._operand_done())
        if wrapped:
            self.emit("(", lexeme.span)
            self.depth += 1
        self.emit(bar, lexeme.span, glued=wrapped)
        self.depth += 1
        self.bars.append((bar, self.depth - 1, wrapped))

    def _operand_done(self) -> bool:
        """Whether the last piece ends an operand, so that a bar here would be read as closing."""
        if not self.pieces:
            return False
        last = self.pieces[-1].text
        return not (last.endswith("(") or last in ("+", "-", "*", "/", ".*", "./", "=", ",", "|", "||", "^"))

    def letters(self, lexeme: Lexeme) -> None:
        """A run of letters, for the plain language to split (`Xw` is X w). Digits right after it
        belong to it (`W1`); a subscript right after it belongs to its last letter (`Ax_i` is A x_i)."""
        following = self.peek()
        if (
            following is not None
            and following.kind == "number"
            and not following.spaced
            and re.fullmatch(r"\d+", following.text)
        ):
            self.pos += 1
            self.emit(lexeme.text + following.text, lexeme.span.cover(following.span), exact=True)
            return
        if len(lexeme.text) > 1 and self.at("_", "^"):
            start = lexeme.span.start
            self.emit(lexeme.text[:-1], Span(start, lexeme.span.end - 1), exact=True)
            self.emit(lexeme.text[-1], Span(lexeme.span.end - 1, lexeme.span.end), exact=True)
            return
        self.emit(lexeme.text, lexeme.span, exact=True)

    # Scripts

    def superscript(self, caret: Lexeme) -> None:
        first, stop = self.argument(caret)
        if self.at("_"):  # x^2_i: the subscript belongs to the base
            self.subscript(self.next())
        after, self.pos = self.pos, self.pos
        raw = self.raw(first, stop).replace(" ", "")
        span = caret.span.cover(self.span_of(first, stop))
        if raw in _TRANSPOSES or (raw == "T" and "T" not in self.declared) or raw in (r"\mathsf{T}", r"\mathrm{T}"):
            self.emit("'", span)
        elif raw in (r"-\top", "-T", r"-\intercal") and "T" not in self.declared:
            self.emit("⁻ᵀ", span)
        elif raw in (r"\dagger", "+", r"\star", "*"):
            raise UnsupportedError(
                f"the superscript {raw} is not supported",
                span=span,
                hint="write ^{-1} for an inverse, ^\\top for a transpose",
            )
        elif self.lexemes[first].text == r"\circ":
            self.in_exponent += 1
            text, _ = self.captured_text(first + 1, stop)
            self.in_exponent -= 1
            self.emit(f".^({text})", span)
        else:
            self.in_exponent += 1
            text, _ = self.captured_text(first, stop)
            self.in_exponent -= 1
            if not text:
                raise ParseError("an empty superscript", span=span)
            if re.fullmatch(r"-?\d+ / \d+|-?\d+/\d+", text):
                self.numbers.add(span)  # x^{1/2}: an inline fraction of whole numbers is a number
            self.emit(f"^({text})", span)
        self.pos = after

    def subscript(self, underscore: Lexeme) -> None:
        first, stop = self.argument(underscore)
        span = underscore.span.cover(self.span_of(first, stop))
        previous = self.pieces[-1] if self.pieces else None
        if previous is not None and previous.text == "||":
            self.norm_subscript(first, stop, span)
            return
        if previous is None or _PLAIN_NAME.fullmatch(previous.text) is None or previous.text in FUNCTIONS:
            raise UnsupportedError(
                "a subscript here is not supported; subscripts name variables (W_{1}) and norms (\\|x\\|_2)", span=span
            )
        text, _ = self.captured_text(first, stop)
        text = text.replace(" ", "")
        if not _SUBSCRIPT.fullmatch(text):
            raise UnsupportedError(
                f"the subscript {self.raw(first, stop)} is not supported; subscripts name "
                "variables (W_{1}, x_{i}, W_{\\mathrm{out}})",
                span=span,
            )
        name = previous.text
        if name == "I" and f"I_{text}" not in self.declared and "I" not in self.declared:
            previous.text, previous.span, previous.exact = f"eye({text})", previous.span.cover(span), False
            return
        if text.isdigit() and f"{name}_{text}" not in self.declared:
            joined = name + text  # W_{1} is W1, as matcalc writes it
        else:
            joined = f"{name}_{text.replace(',', '_')}"
        previous.text, previous.span, previous.exact = joined, previous.span.cover(span), False

    def norm_subscript(self, first: int, stop: int, span: Span) -> None:
        text, _ = self.captured_text(first, stop)
        norm = {"fro": "F", "Fro": "F", "F": "F", "1": "1", "2": "2"}.get(text.replace(" ", ""))
        if norm is None:
            raise UnsupportedError(
                f"the norm {self.raw(first, stop)} is not supported: a norm's subscript is 1, 2 or F", span=span
            )
        self.emit(f"_{norm}", span, glued=True)

    # Commands

    def command(self, lexeme: Lexeme) -> None:
        text = lexeme.text
        if text in _GREEK_COMMANDS:
            self.greek(lexeme)
        elif text in _FUNCTION_COMMANDS:
            self.function(_FUNCTION_COMMANDS[text], lexeme, lexeme.span)
        elif text in _FRACTIONS:
            self.fraction(lexeme)
        elif text in _NAME_COMMANDS:
            self.bold(lexeme)
        elif text in _WORD_COMMANDS:
            self.word(lexeme)
        elif text in _ACCENTS:
            first, stop = self.argument(lexeme)
            name, _ = self.captured_text(first, stop)
            self.emit(f"{name.replace(' ', '')}_{_ACCENTS[text]}", lexeme.span.cover(self.span_of(first, stop)))
        elif text in (r"\top", r"\intercal"):
            raise ParseError(f"{text} belongs in a superscript: ^\\top", span=lexeme.span)
        elif text in _UNSUPPORTED:
            raise UnsupportedError(_UNSUPPORTED[text], span=lexeme.span)
        else:
            suggestion = difflib.get_close_matches(text, _KNOWN_COMMANDS, n=1, cutoff=0.6)
            raise UnknownSymbolError(
                f"unknown LaTeX command {text}",
                span=lexeme.span,
                hint=f"did you mean {suggestion[0]}?" if suggestion else None,
            )

    def greek(self, lexeme: Lexeme) -> None:
        name = _GREEK_COMMANDS[lexeme.text]
        if name == "sigma" and "sigma" not in self.declared and self._paren_follows():
            self.function("sigmoid", lexeme, lexeme.span)  # \sigma(z) is the logistic sigmoid
            return
        self.emit(name, lexeme.span)

    def _paren_follows(self) -> bool:
        offset = 0
        while (lexeme := self.peek(offset)) is not None and lexeme.text in _IGNORED:
            offset += 1
        return lexeme is not None and lexeme.text in _OPEN_DELIMITERS

    def function(self, name: str, lexeme: Lexeme, span: Span) -> None:
        """A function, called with parentheses or without them (\\log x, \\operatorname{tr} A B)."""
        if name == "log" and self.at(r"\det"):  # \log\det X
            span = span.cover(self.next().span)
            name = "logdet"
        if name == "sqrt":
            if self.at("["):
                raise UnsupportedError(_UNSUPPORTED[r"\sqrt["], span=lexeme.span)
            first, stop = self.argument(lexeme)
            self.emit("sqrt", span)
            self.glue_next = True
            self.open_paren(lexeme)
            self.translate_range(first, stop)
            self.close_paren(self.closer(first, stop))
            return
        script = self.peek()
        if script is not None and script.text in ("^", "_"):
            raise UnsupportedError(
                f"a script on \\{name} is not supported",
                span=script.span,
                hint=f"write (\\{name} x)^2 for a power of the function's value",
            )
        self.emit(name, span)
        if self._paren_follows():
            self.glue_next = True
            return
        self.emit("(", Span(span.end, span.end), glued=True)
        self.depth += 1
        self.implicit.append((self.depth, len(self.pieces)))

    def word(self, lexeme: Lexeme) -> None:
        r"""\operatorname{tr}, \mathrm{diag}: a function; \mathrm{A}, \text{e}: a name."""
        first, stop = self.argument(lexeme)
        word = self.raw(first, stop).replace(" ", "")
        span = lexeme.span.cover(self.span_of(first, stop))
        unsupported = _UNSUPPORTED.get(rf"\operatorname{{{word}}}")
        if unsupported:
            raise UnsupportedError(unsupported, span=span)
        if word in _OPERATOR_NAMES or (word.lower() in _OPERATOR_NAMES and word.lower() != "e"):
            self.function(_OPERATOR_NAMES.get(word, _OPERATOR_NAMES.get(word.lower(), word)), lexeme, span)
        elif word in ("sigmoid", "sigma") or word == r"\sigma":
            self.function("sigmoid", lexeme, span)
        elif lexeme.text.startswith(r"\operatorname"):
            suggestion = difflib.get_close_matches(word, list(_OPERATOR_NAMES), n=1, cutoff=0.6)
            raise UnknownSymbolError(
                f"unknown function \\operatorname{{{word}}}",
                span=span,
                hint=f"did you mean \\operatorname{{{suggestion[0]}}}?" if suggestion else None,
            )
        elif _PLAIN_NAME.fullmatch(word):
            self.emit(word, span)
        else:
            text, _ = self.captured_text(first, stop)
            self.emit(text.replace(" ", ""), span)

    def bold(self, lexeme: Lexeme) -> None:
        r"""\mathbf{x} is x, \boldsymbol{\beta} beta, \mathbf{1} the vector of ones, \mathbf{I} the identity."""
        first, stop = self.argument(lexeme)
        span = lexeme.span.cover(self.span_of(first, stop))
        raw = self.raw(first, stop).replace(" ", "")
        if raw == "1" and self._ones_transposed_follows():  # \mathbf{1}\mathbf{1}^\top, the matrix of ones
            end = self.lexemes[self.pos + 5].span
            self.pos += 6
            self.emit("matrix(1)", span.cover(end))
            return
        if raw in ("1", "0"):
            self.emit(f"vector({raw})", span)
            return
        text, _ = self.captured_text(first, stop)
        name = text.replace(" ", "")
        if not name:
            raise ParseError(f"an empty {lexeme.text}{{}}: it makes a name of what is inside the braces", span=span)
        if not _PLAIN_NAME.fullmatch(name):
            raise UnsupportedError(f"{lexeme.text}{{...}} makes a name, not {self.raw(first, stop)}", span=span)
        self.emit(name, span)

    def _ones_transposed_follows(self) -> bool:
        texts = [lexeme.text for lexeme in self.lexemes[self.pos : self.pos + 6]]
        return texts[:5] == [r"\mathbf", "{", "1", "}", "^"] and texts[5:] in ([r"\top"], ["T"])

    def fraction(self, lexeme: Lexeme) -> None:
        r"""\frac{a}{b} is (a)/(b); \frac{\partial}{\partial x} and \frac{\partial f}{\partial x} are derivatives."""
        top = self.argument(lexeme)
        bottom = self.argument(lexeme)
        span = lexeme.span.cover(self.closer(*bottom).span)
        if self._derivative_head(*top) is not None:
            self.derivative(top, bottom, span)
            return
        top_end, bottom_end = self.closer(*top).span, self.closer(*bottom).span
        if all(re.fullmatch(r"\d+", self.raw(*part).replace(" ", "")) for part in (top, bottom)):
            self.numbers.add(span)
        self.emit("(", lexeme.span)
        self.emit("(", lexeme.span, glued=True)
        self.depth += 2
        self.translate_range(*top)
        self.emit(")", top_end, glued=True)
        self.emit("/", top_end, glued=True)
        self.emit("(", top_end, glued=True)
        self.translate_range(*bottom)
        self.emit(")", bottom_end, glued=True)
        self.emit(")", bottom_end, glued=True)
        self.depth -= 2

    # Derivatives

    def _derivative_head(self, first: int, stop: int) -> tuple[int, int] | None:
        r"""(order, index after the head) if the lexemes start with \partial, d or \mathrm{d}."""
        if first >= stop:
            return None
        lexeme = self.lexemes[first]
        if lexeme.text == r"\partial" or (lexeme.kind == "letters" and lexeme.text == "d" and "d" not in self.declared):
            index = first + 1
        elif lexeme.text in (r"\mathrm", r"\text", r"\mathit") and self.raw(first + 1, first + 4) == "{d}":
            index = first + 4
        else:
            return None
        order = 1
        if index < stop and self.lexemes[index].text == "^":
            caret = self.lexemes[index]
            self.pos, saved = index + 1, self.pos
            first_exponent, stop_exponent = self.argument(caret)
            index, self.pos = self.pos, saved
            exponent = self.raw(first_exponent, stop_exponent).replace(" ", "")
            if not re.fullmatch("[2-9]", exponent):
                raise UnsupportedError(
                    "the order of a derivative is a whole number from 2 to 9",
                    span=caret.span.cover(self.span_of(first_exponent, stop_exponent)),
                )
            order = int(exponent)
        return order, index

    def derivative(self, top: tuple[int, int], bottom: tuple[int, int], span: Span) -> None:
        head = self._derivative_head(*top)
        assert head is not None
        order, function_start = head
        function_stop = top[1]
        bottom_head = self._derivative_head(*bottom)
        if bottom_head is None:
            raise ParseError(
                "the denominator of a derivative is \\partial and the variable: \\partial x", span=self.span_of(*bottom)
            )
        _, variable_start = bottom_head
        variable, denominator_order = self.variable(variable_start, bottom[1], span)
        if denominator_order != order:
            raise ParseError(
                f"a derivative of order {order} needs the variable to the power {order} below",
                span=self.span_of(*bottom),
            )
        head_text = f"d/d{variable}" if order == 1 else f"d{order}/d{variable}{order}"
        if function_start >= function_stop:
            self.emit(head_text, span)
            return
        self.emit("(", span)
        self.emit(head_text, span, glued=True)
        self.emit("(", span)
        self.depth += 2
        self.translate_range(function_start, function_stop)
        self.emit(")", span, glued=True)
        self.emit(")", span, glued=True)
        self.depth -= 2

    def variable(self, first: int, stop: int, span: Span) -> tuple[str, int]:
        r"""The variable of \partial x, \partial \mathbf{x}^2, \partial x \partial x^\top: its name and order."""
        parts, start = [], first
        for index in range(first, stop + 1):
            if index == stop or self.lexemes[index].text in (r"\partial", "d"):
                if index > start:
                    parts.append((start, index))
                start = index + 1
        names, order = set(), 0
        for part in parts:
            text = self.captured_text(*part)[0].replace(" ", "")
            match = _DENOMINATOR.fullmatch(text)
            if match is None:
                raise ParseError(
                    "the denominator of a derivative is \\partial and a variable's name", span=self.span_of(*part)
                )
            names.add(match.group(1))
            order += int(match.group(2) or 1)
        if len(names) != 1:
            raise UnsupportedError("a mixed derivative (by two different variables) is not supported", span=span)
        return names.pop(), order
