"""Tokens -> syntax tree, by recursive descent. The whole grammar:

    equation    := expression "=" expression
    expression  := sum
    sum         := product (("+" | "-") product)*
    product     := unary (("*" | "@" | ".*" | "/" | "./") unary | power)*
                   # a power right after a factor is a juxtaposed product: Xw, 2n, a(b + c)
    unary       := ("-" | "+") unary | power
    power       := postfix (("^" | ".^") unary)?    # right-associative: a^b^c is a^(b^c)
    postfix     := primary ("'" | ".T" | "ᵀ" | "^T" | "⁻¹" | "^-T")*
    primary     := NUMBER | NAME | FUNCTION "(" expression ("," expression)* ")"
                 | "(" expression ")" | "||" expression "||" ("_" ("1" | "2" | "F"))?
                 | "|" expression "|" | derivative
    derivative  := "d/dV" sum | "d2/dV2" sum | "d(" expression ")/dV"
                   # written without spaces; d/dV takes everything to its right

Before parsing, an undeclared name that is not a function, a constant or a
Greek letter is split into declared or single-letter names (`Xw` -> `X w`,
`x'Ax` -> `x' A x`), so juxtaposition does the rest.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

from .errors import ParseError, Span, UnknownSymbolError
from .syntax import (
    CONSTANTS, FUNCTIONS, GREEK, BinOp, Bars, Call, Deriv, Literal, Name, Negate,
    PostfixInverse, PostfixTranspose, Syntax,
)
from .tokens import Kind, Token, tokenize

MAX_NESTING = 60  # parentheses, bars, calls and signs inside one another
MAX_TREE_DEPTH = 200  # levels of operations, so later recursive passes stay bounded

_PRODUCT_OPERATORS = ("*", "@", ".*", "/", "./")
_SIMPLE_NAME = re.compile(r"[A-Za-z\u0391-\u03a9\u03b1-\u03c9][0-9]*|.+_.+")
_DERIV_HEAD = re.compile(r"d2?")


def parse(source: str, declared: Collection[str] = ()) -> Syntax:
    """Parse one expression. `declared` names are never split."""
    parser = Parser(source, declared)
    tree = parser.parse_expression()
    parser.expect_end()
    return _bounded(tree)


def parse_equation(source: str, declared: Collection[str] = ()) -> tuple[Syntax, Syntax]:
    """Parse `lhs = rhs`."""
    parser = Parser(source, declared)
    lhs = parser.parse_expression()
    parser.expect("=", "'=' between the two sides")
    rhs = parser.parse_expression()
    parser.expect_end()
    return _bounded(lhs), _bounded(rhs)


class Parser:
    def __init__(self, source: str, declared: Collection[str] = ()):
        self.source = source
        self.declared = frozenset(declared)
        self.tokens = split_names(tokenize(source), self.declared)
        self.closing_paren = _match_parens(self.tokens)
        self.pos = 0
        self.nesting = 0
        self.open_bars: list[str] = []

    # Token helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def at(self, *ops: str) -> bool:
        return self.token.kind is Kind.OP and self.token.text in ops

    def advance(self) -> Token:
        token = self.token
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def expect(self, op: str, what: str) -> Token:
        if not self.at(op):
            raise ParseError(f"expected {what}, found {_describe(self.token)}", span=self.token.span)
        return self.advance()

    def expect_end(self) -> None:
        if self.token.kind is not Kind.END:
            if self.at(")"):
                raise ParseError("unmatched ')'", span=self.token.span)
            raise ParseError(f"unexpected {_describe(self.token)}", span=self.token.span)

    def nested(self, opener: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ParseError(f"expression is nested too deeply (more than {MAX_NESTING} levels)",
                             span=opener.span)

    # Grammar rules

    def parse_expression(self) -> Syntax:
        if self.token.kind is Kind.END:
            what = "empty expression" if not self.tokens[:-1] else "expected an expression, found end of input"
            raise ParseError(what, span=self.token.span)
        return self._parse_sum()

    def _parse_sum(self) -> Syntax:
        node = self._parse_product()
        while self.at("+", "-"):
            op = self.advance().text
            right = self._parse_product()
            node = BinOp(op, node, right, span=node.span.cover(right.span))
        return node

    def _parse_product(self) -> Syntax:
        node = self._parse_unary()
        while True:
            if self.at(*_PRODUCT_OPERATORS):
                op = self.advance().text
                right = self._parse_unary()
            elif self._starts_primary():
                op, right = "*", self._parse_power()
            else:
                return node
            node = BinOp(op, node, right, span=node.span.cover(right.span))

    def _parse_unary(self) -> Syntax:
        if self.at("-", "+"):
            sign = self.advance()
            self.nested(sign)
            operand = self._parse_unary()
            self.nesting -= 1
            if sign.text == "+":
                return operand
            return Negate(operand, span=sign.span.cover(operand.span))
        return self._parse_power()

    def _parse_power(self) -> Syntax:
        base = self._parse_postfix()
        if self.at("^", ".^"):
            op = self.advance()
            self.nested(op)
            exponent = self._parse_unary()
            self.nesting -= 1
            return BinOp(op.text, base, exponent, span=base.span.cover(exponent.span))
        return base

    def _parse_postfix(self) -> Syntax:
        node = self._parse_primary()
        while True:
            if self.at("'"):
                end = self.advance().span
                node = PostfixTranspose(node, span=node.span.cover(end))
            elif self.at("⁻¹"):
                end = self.advance().span
                node = PostfixInverse(node, span=node.span.cover(end))
            elif self.at("^") and self._names_t(self.peek()):
                self.advance()
                end = self.advance().span
                node = PostfixTranspose(node, span=node.span.cover(end))
            elif self.at("^") and self.peek().text == "-" and self._names_t(self.peek(2)):  # X^-T
                self.advance()
                self.advance()
                end = self.advance().span
                node = PostfixTranspose(PostfixInverse(node, span=node.span.cover(end)), span=node.span.cover(end))
            else:
                return node

    def _names_t(self, token: Token) -> bool:
        """T after ^ is the transpose unless T is a declared name."""
        return token.kind is Kind.NAME and token.text == "T" and "T" not in self.declared

    def _parse_primary(self) -> Syntax:
        token = self.token
        if token.kind is Kind.NUMBER:
            self.advance()
            return Literal(token.text, span=token.span)
        if token.kind is Kind.NAME:
            if self._at_derivative():
                return self._parse_derivative()
            if token.text in FUNCTIONS and token.text not in self.declared:
                return self._parse_call()
            self.advance()
            return Name(token.text, span=token.span)
        if self.at("("):
            return self._parse_group()
        if self.at("||", "|"):
            return self._parse_bars()
        if token.kind is Kind.END:
            raise ParseError("expected an expression, found end of input", span=token.span)
        if self.at(")"):
            raise ParseError("unmatched ')'" if self.nesting == 0 else "expected an expression, found ')'",
                             span=token.span)
        raise ParseError(f"expected an expression, found {_describe(token)}", span=token.span)

    def _parse_group(self) -> Syntax:
        opener = self.advance()
        self.nested(opener)
        saved_bars, self.open_bars = self.open_bars, []
        inner = self.parse_expression()
        self._close(opener, ")")
        self.open_bars = saved_bars
        self.nesting -= 1
        return _with_span(inner, opener.span.cover(self.tokens[self.pos - 1].span))

    def _parse_call(self) -> Syntax:
        name = self.advance()
        if not self.at("("):
            raise ParseError(f"function {name.text} needs its argument in parentheses: {name.text}(...)",
                             span=name.span)
        opener = self.advance()
        self.nested(opener)
        saved_bars, self.open_bars = self.open_bars, []
        args = [self.parse_expression()]
        while self.at(","):
            self.advance()
            args.append(self.parse_expression())
        closer = self._close(opener, ")")
        self.open_bars = saved_bars
        self.nesting -= 1
        span = name.span.cover(closer.span)
        if len(args) != FUNCTIONS[name.text]:
            count = FUNCTIONS[name.text]
            raise ParseError(f"{name.text} takes {count} argument{'s' if count > 1 else ''}, "
                             f"not {len(args)}", span=span)
        return Call(name.text, tuple(args), span=span)

    def _parse_bars(self) -> Syntax:
        opener = self.advance()
        self.nested(opener)
        self.open_bars.append(opener.text)
        inner = self.parse_expression()
        closer = self._close(opener, opener.text)
        self.open_bars.pop()
        self.nesting -= 1
        subscript = ""
        if opener.text == "||" and self.at("_") and self.token.span.start == closer.span.end:
            self.advance()
            sub = self.advance()
            if sub.text not in ("1", "2", "F"):
                raise ParseError("a norm's subscript is 1, 2 or F", span=sub.span)
            subscript, closer = sub.text, sub
        return Bars(inner, opener.text == "||", subscript, span=opener.span.cover(closer.span))

    def _close(self, opener: Token, closer: str) -> Token:
        if self.at(closer):
            return self.advance()
        shown = "‖" if self.source[opener.span.start] == "‖" else opener.text
        wanted = "‖" if shown == "‖" else closer
        if self.token.kind is Kind.END or self.at(")", "|", "||"):
            raise ParseError(f"unclosed '{shown}'", span=opener.span,
                             hint=f"expected '{wanted}' before {_describe(self.token)}")
        raise ParseError(f"expected an operator or '{wanted}', found {_describe(self.token)}",
                         span=self.token.span)

    def _starts_primary(self) -> bool:
        token = self.token
        if token.kind in (Kind.NUMBER, Kind.NAME) or self.at("("):
            return True
        if self.at("|", "||"):  # a bar opens a new factor unless it closes the innermost one
            return not self.open_bars or self.open_bars[-1] != token.text
        return False

    # Derivatives: d/dx E, d2/dx2 E, d(E)/dx

    def _at_derivative(self) -> bool:
        head, slash, denominator = self.token, self.peek(1), self.peek(2)
        if not _DERIV_HEAD.fullmatch(head.text):
            return False
        if slash.text == "/" and _adjacent(head, slash, denominator) and _is_denominator(head, denominator):
            return True
        if head.text != "d" or not self.at_adjacent_paren():
            return False
        close = self.closing_paren.get(self.pos + 1)
        if close is None or close + 2 >= len(self.tokens):
            return False
        closer, slash, denominator = self.tokens[close : close + 3]
        return slash.text == "/" and _adjacent(closer, slash, denominator) and _is_denominator(head, denominator)

    def at_adjacent_paren(self) -> bool:
        following = self.peek()
        return following.kind is Kind.OP and following.text == "(" and _adjacent(self.token, following)

    def _parse_derivative(self) -> Syntax:
        head = self.advance()
        order = 2 if head.text == "d2" else 1
        if self.at("("):  # d(E)/dV
            operand = self._parse_group()
            slash = self.expect("/", "'/dV' after d(...)")
            denominator = self.advance()
            if not (_adjacent(slash, denominator) and _is_denominator(head, denominator)):
                raise ParseError("expected the variable as /dV right after d(...)", span=denominator.span)
            return Deriv(operand, self._wrt(denominator, order), order, span=head.span.cover(denominator.span))
        self.advance()
        denominator = self.advance()
        wrt = self._wrt(denominator, order)
        self.nested(head)
        operand = self._parse_sum()
        self.nesting -= 1
        return Deriv(operand, wrt, order, span=head.span.cover(operand.span))

    def _wrt(self, denominator: Token, order: int) -> Name:
        name = denominator.text[1:-1] if order == 2 else denominator.text[1:]
        start = denominator.span.start + 1
        return Name(name, span=Span(start, start + len(name)))


def _is_denominator(head: Token, token: Token) -> bool:
    if token.kind is not Kind.NAME or not token.text.startswith("d") or len(token.text) < 2:
        return False
    return head.text == "d" or (token.text.endswith("2") and len(token.text) > 2)


def _adjacent(*tokens: Token) -> bool:
    return all(a.span.end == b.span.start for a, b in zip(tokens, tokens[1:]))


def _match_parens(tokens: list[Token]) -> dict[int, int]:
    """Index of each '(' -> index of its ')', for the d(E)/dV lookahead."""
    matches: dict[int, int] = {}
    open_at: list[int] = []
    for i, token in enumerate(tokens):
        if token.kind is Kind.OP and token.text == "(":
            open_at.append(i)
        elif token.kind is Kind.OP and token.text == ")" and open_at:
            matches[open_at.pop()] = i
    return matches


def _describe(token: Token) -> str:
    if token.kind is Kind.END:
        return "end of input"
    return f"'{token.text}'"


def _with_span(node: Syntax, span: Span) -> Syntax:
    from dataclasses import replace

    return replace(node, span=span)


def _bounded(tree: Syntax) -> Syntax:
    """Refuse trees so deep that later recursive passes could overflow the stack."""
    from dataclasses import fields

    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise ParseError(f"expression is too deep (more than {MAX_TREE_DEPTH} levels of operations)",
                             span=node.span)
        for f in fields(node):
            value = getattr(node, f.name)
            children = value if isinstance(value, tuple) else (value,)
            stack.extend((child, depth + 1) for child in children if isinstance(child, Syntax))
    return tree


# Splitting undeclared names: Xw -> X w


def split_names(tokens: list[Token], declared: frozenset[str]) -> list[Token]:
    """Replace each splittable undeclared NAME token by its pieces."""
    result: list[Token] = []
    denominators = _derivative_denominators(tokens)
    for i, token in enumerate(tokens):
        if token.kind is not Kind.NAME or i in denominators or _keeps_whole(token.text, declared):
            result.append(token)
            continue
        pieces = _split(token.text, declared)
        called = tokens[i + 1].text == "(" and _adjacent(token, tokens[i + 1])
        if called and not all(piece in declared for piece in pieces):
            raise UnknownSymbolError(f"unknown function '{token.text}'", span=token.span,
                                     hint=_suggest(token.text, FUNCTIONS))
        if _looks_like_typo(token.text, pieces, declared):
            hint = _suggest(token.text, [*FUNCTIONS, *GREEK, *(d for d in declared if len(d) > 1)])
            raise UnknownSymbolError(
                f"unknown name '{token.text}'", span=token.span,
                hint=f"{hint}\nfor a product of {', '.join(pieces)}, put spaces between them")
        start = token.span.start
        for piece in pieces:
            result.append(Token(Kind.NAME, piece, Span(start, start + len(piece))))
            start += len(piece)
    return result


def _keeps_whole(text: str, declared: frozenset[str]) -> bool:
    if text in declared or text in FUNCTIONS or text in CONSTANTS or _is_greek(text):
        return True
    return _SIMPLE_NAME.fullmatch(text) is not None or _DERIV_HEAD.fullmatch(text) is not None


def _derivative_denominators(tokens: list[Token]) -> set[int]:
    """Indices of the dV tokens of d/dV, d2/dV2 and d(E)/dV: they name a variable, not a product."""
    closing = _match_parens(tokens)
    heads = {i for i, token in enumerate(tokens) if _DERIV_HEAD.fullmatch(token.text)}
    # d(E)/dV: the ')' of a '(' written right after d
    head_of = {closing[i + 1]: i for i in heads if i + 1 in closing and _adjacent(tokens[i], tokens[i + 1])}
    head_of.update({i: i for i in heads})
    found = set()
    for i in range(2, len(tokens)):
        before, slash, token = tokens[i - 2], tokens[i - 1], tokens[i]
        if i - 2 in head_of and slash.text == "/" and _adjacent(before, slash, token) \
                and _is_denominator(tokens[head_of[i - 2]], token):
            found.add(i)
    return found


def _is_greek(text: str) -> bool:
    return text.rstrip("0123456789") in GREEK


def _split(text: str, declared: frozenset[str]) -> list[str]:
    """The fewest pieces, each declared, Greek, a constant or a letter with digits."""
    best: list[list[str] | None] = [None] * (len(text) + 1)
    best[len(text)] = []
    for start in range(len(text) - 1, -1, -1):
        for end in range(len(text), start, -1):
            piece, rest = text[start:end], best[end]
            if rest is None or not _is_piece(piece, declared):
                continue
            if best[start] is None or len(rest) + 1 < len(best[start]):
                best[start] = [piece, *rest]
    return best[0] or [text]


def _is_piece(piece: str, declared: frozenset[str]) -> bool:
    return piece in declared or piece in CONSTANTS or _is_greek(piece) or \
        re.fullmatch(r"[A-Za-z\u0391-\u03a9\u03b1-\u03c9][0-9]*", piece) is not None


def _looks_like_typo(text: str, pieces: list[str], declared: frozenset[str]) -> bool:
    if len(text) < 3 or not all(len(piece) == 1 and piece not in declared for piece in pieces):
        return False
    known = [*FUNCTIONS, *GREEK, *(d for d in declared if len(d) > 1)]
    return bool(difflib.get_close_matches(text, known, n=1, cutoff=0.75))


def _suggest(text: str, known: Collection[str]) -> str:
    matches = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else ""
