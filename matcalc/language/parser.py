"""Tokens -> syntax tree, by recursive descent. The whole grammar:

    equation    := expression "=" expression
    expression  := sum
    sum         := product (("+" | "-") product)*
                   # built as a balanced tree when long, so a 1,000-term sum is not 1,000 deep
    product     := unary (("*" | "@" | ".*" | "/" | "./" | "⊗") unary | power)*
                   # a power right after a factor is a juxtaposed product: Xw, 2n, a (b + c)
    unary       := ("-" | "+") unary | power
    power       := postfix (("^" | ".^") unary)?    # right-associative: a^b^c is a^(b^c)
    postfix     := primary ("'" | ".T" | "ᵀ" | "^T" | "⁻¹" | "^-T" | "⁻ᵀ")*
    primary     := NUMBER | NAME | FUNCTION "(" expression ("," expression)* ")"
                 | DECLARED_FUNCTION "'"* "(" expression ")"
                 | "K(" DIMENSION "," DIMENSION ")"   # the commutation matrix, K not declared
                 | "(" expression ")" | "||" expression "||" ("_" ("1" | "2" | "F"))?
                 | "|" expression "|" | derivative
    derivative  := "d/dV" sum | "dK/dVK" sum (K = 2..9) | "d(" expression ")/dV"
                   # written without spaces; d/dV takes everything to its right

Superscripts are read by the tokenizer: `x²` is `x^2`, `A⁻¹` the inverse, `Xᵀ` the transpose.

Before parsing, names are split as SPEC §2 says (`split_names`): a run of
letters that is not declared, not a function and not a constant is split into
declared names if it can be (`xy` with x and y declared), or into single
letters (with their digits) where it mixes upper- and lowercase (`Xw` -> `X w`,
`x'Ax` -> `x' A x`, `W1x` -> `W1 x`); otherwise it is one name (`weights`,
`theta`, `b1`). Juxtaposition does the rest. A name written like a call
(`f(x)`, no space before the parenthesis) is a call: an error unless the name
is a known function or declared `f: function`. A declared variable written so
(`A(x + y)`) is a product.

Limits, so that later recursive passes stay shallow: nesting (parentheses,
bars, calls, signs and exponents inside one another) at most MAX_NESTING;
one product at most MAX_FACTORS factors; the tree at most MAX_TREE_DEPTH
levels. Sums are balanced, so the number of terms does not count as depth.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Collection
from itertools import pairwise

from ..errors import ParseError, Span, TokenizeError, UnknownSymbolError
from .syntax import (
    CONSTANTS,
    FUNCTIONS,
    GREEK,
    Bars,
    BinOp,
    Call,
    Deriv,
    Literal,
    Name,
    Negate,
    PostfixInverse,
    PostfixTranspose,
    Syntax,
    children,
    sum_split,
)
from .tokens import MAX_SOURCE_LENGTH, Kind, Token, is_latex, tokenize

COMMUTATION = "K"  # K(m, n), written like a call

MAX_NESTING = 200  # parentheses, bars, calls, signs and exponents inside one another
MAX_FACTORS = 100  # factors of one product: a product is left-nested, so its length is depth
MAX_TREE_DEPTH = 500  # levels of the whole tree, the backstop that keeps later recursive passes bounded
# Recursive passes (this parser, the checker, the differentiator, the printers) take a few
# Python frames per level of the tree; the limits above need more than Python's default 1,000.
RECURSION_LIMIT = 6_000  # well within an 8 MB C stack where recursion goes through C (==, hash)

_PRODUCT_OPERATORS = ("*", "@", ".*", "/", "./", "⊗")
_SIMPLE_NAME = re.compile(r"[A-Za-z\u0391-\u03a9\u03b1-\u03c9][0-9]*|.+_.+")
_LETTER_PIECE = re.compile(r"[A-Za-z\u0391-\u03a9\u03b1-\u03c9][0-9]*")
_DERIV_HEAD = re.compile(r"d[2-9]?")  # d/dx, d2/dx2, ..., d9/dx9
_WORD_STRETCH = 3  # this many single lowercase letters in a row read as a word, not a product


def parse(source: str, declared: Collection[str] = (), functions: Collection[str] | None = None) -> Syntax:
    """Parse one expression. `declared` names are never split; `functions` (declared `f: function`)
    are called as f(x). When `declared` is the keys of a dict of declarations, the functions are
    read from it. LaTeX (`tokens.is_latex`) is read as the plain text it translates to, with the
    tree's and the errors' spans in the LaTeX."""
    if is_latex(source):  # the LaTeX's length was checked; its translation may be longer
        return _translated(source, declared, functions).restore(
            lambda text: _expression(Parser(text, declared, functions, limit=None))
        )
    return _expression(Parser(source, declared, functions))


def _expression(parser: Parser) -> Syntax:
    tree = parser.parse_expression()
    parser.expect_end()
    return _bounded(tree)


def parse_equation(
    source: str, declared: Collection[str] = (), functions: Collection[str] | None = None
) -> tuple[Syntax, Syntax]:
    """Parse `lhs = rhs`."""
    if is_latex(source):
        return _translated(source, declared, functions).restore(
            lambda text: _equation(Parser(text, declared, functions, limit=None))
        )
    return _equation(Parser(source, declared, functions))


def _equation(parser: Parser) -> tuple[Syntax, Syntax]:
    lhs = parser.parse_expression()
    parser.expect("=", "'=' between the two sides")
    rhs = parser.parse_expression()
    parser.expect_end()
    return _bounded(lhs), _bounded(rhs)


def _translated(source: str, declared: Collection[str], functions: Collection[str] | None):
    from .latex import translate  # only for LaTeX: a large module that plain text never needs

    _ensure_recursion_limit()  # the translation recurses into groups as the parser does
    functions = frozenset(functions) if functions is not None else _declared_functions(declared)
    return translate(source, declared, functions)


def _declared_functions(declared: Collection[str]) -> frozenset[str]:
    """The names declared `function`, when `declared` is `env.decls.keys()`."""
    mapping = getattr(declared, "mapping", None)
    if mapping is None:
        return frozenset()
    return frozenset(name for name, decl in mapping.items() if getattr(decl, "kind", None) == "function")


def _ensure_recursion_limit() -> None:
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


class Parser:
    def __init__(
        self,
        source: str,
        declared: Collection[str] = (),
        functions: Collection[str] | None = None,
        limit: int | None = MAX_SOURCE_LENGTH,
    ):
        _ensure_recursion_limit()
        self.source = source
        self.functions = frozenset(functions) if functions is not None else _declared_functions(declared)
        self.declared = frozenset(declared) | self.functions
        self.tokens = split_names(_tokens(source, limit), self.declared)
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
            raise ParseError(
                f"expression is nested too deeply (more than {MAX_NESTING} levels of "
                "parentheses, bars, calls, signs and powers inside one another)",
                span=opener.span,
            )

    # Grammar rules

    def parse_expression(self) -> Syntax:
        if self.token.kind is Kind.END:
            what = "empty expression" if not self.tokens[:-1] else "expected an expression, found end of input"
            raise ParseError(what, span=self.token.span)
        return self._parse_sum()

    def _parse_sum(self) -> Syntax:
        first = self._parse_product()
        if not self.at("+", "-"):
            return first
        terms: list[tuple[Token | None, Syntax]] = [(None, first)]
        while self.at("+", "-"):
            op = self.advance()
            terms.append((op, self._parse_product()))
        return _build_sum(terms)

    def _parse_product(self) -> Syntax:
        node = self._parse_unary()
        factors = 1
        while True:
            if self.at(*_PRODUCT_OPERATORS):
                op = self.advance().text
                right = self._parse_unary()
            elif self._starts_primary():
                op, right = "*", self._parse_power()
            else:
                return node
            factors += 1
            if factors > MAX_FACTORS:
                raise ParseError(
                    f"a product of more than {MAX_FACTORS} factors is too long to work with",
                    span=node.span.cover(right.span),
                    hint="group it with parentheses, e.g. (A B ... )(C D ...), or write a power",
                )
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
            elif self.at("^-T"):  # X⁻ᵀ
                end = self.advance().span
                node = PostfixTranspose(PostfixInverse(node, span=node.span.cover(end)), span=node.span.cover(end))
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
            if token.text in self.functions:
                return self._parse_user_call()
            if token.text == COMMUTATION and token.text not in self.declared and self.at_adjacent_paren():
                return self._parse_commutation()
            if self.at_adjacent_paren() and token.text not in self.declared and token.text != "pi":
                raise _call_of_unknown(token)
            self.advance()
            return Name(token.text, span=token.span)
        if self.at("("):
            return self._parse_group()
        if self.at("||", "|"):
            return self._parse_bars()
        if token.kind is Kind.END:
            raise ParseError("expected an expression, found end of input", span=token.span)
        if self.at(")"):
            raise ParseError(
                "unmatched ')'" if self.nesting == 0 else "expected an expression, found ')'", span=token.span
            )
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
            raise ParseError(
                f"function {name.text} needs its argument in parentheses: {name.text}(...)", span=name.span
            )
        args, closer = self._arguments(name.text)
        span = name.span.cover(closer.span)
        if len(args) != FUNCTIONS[name.text]:
            count = FUNCTIONS[name.text]
            raise ParseError(
                f"{name.text} takes {count} argument{'s' if count > 1 else ''}, not {len(args)}", span=span
            )
        return Call(name.text, tuple(args), span=span)

    def _arguments(self, function: str) -> tuple[list[Syntax], Token]:
        """( expression ("," expression)* ): the arguments of a call, and its closing parenthesis."""
        opener = self.advance()
        self.nested(opener)
        saved_bars, self.open_bars = self.open_bars, []
        args = [self.parse_expression()]
        while self.at(","):
            self.advance()
            args.append(self.parse_expression())
        if self.at("=") and len(args) > 1 and isinstance(args[-1], Name):  # sum(X, axis=0)
            raise _keyword_argument(function, self.source[args[0].span.start : args[0].span.end], args[-1], self.token)
        closer = self._close(opener, ")")
        self.open_bars = saved_bars
        self.nesting -= 1
        return args, closer

    def _parse_commutation(self) -> Syntax:
        """K(m, n): the commutation matrix, its two arguments dimensions (checked by the checker)."""
        name = self.advance()
        args, closer = self._arguments(name.text)
        span = name.span.cover(closer.span)
        if len(args) != 2:
            raise ParseError(f"K(m, n) takes two dimensions, not {len(args)}", span=span)
        return Call(COMMUTATION, tuple(args), span=span)

    def _parse_user_call(self) -> Syntax:
        """f(x), f'(x), f''(x) for a declared `f: function`."""
        name = self.advance()
        primes = 0
        while self.at("'"):
            primes += 1
            self.advance()
        if not self.at("("):
            raise ParseError(
                f"{name.text} is declared a function: write {name.text}(...)",
                span=name.span.cover(self.tokens[self.pos - 1].span),
            )
        args, closer = self._arguments(name.text)
        span = name.span.cover(closer.span)
        if len(args) != 1:
            raise ParseError(
                f"{name.text} is a function of one argument (it applies entry by entry), not {len(args)}", span=span
            )
        return Call(name.text + "'" * primes, tuple(args), span=span)

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
            raise ParseError(
                f"unclosed '{shown}'", span=opener.span, hint=f"expected '{wanted}' before {_describe(self.token)}"
            )
        raise ParseError(f"expected an operator or '{wanted}', found {_describe(self.token)}", span=self.token.span)

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
        order = int(head.text[1:] or 1)
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
        name = denominator.text[1:-1] if order > 1 else denominator.text[1:]
        start = denominator.span.start + 1
        return Name(name, span=Span(start, start + len(name)))


def _tokens(source: str, limit: int | None) -> list[Token]:
    """The tokens of `source`; Python written where matcalc's language was expected (np.log(x),
    x.dot(y)) is refused with the way to write it here."""
    try:
        return tokenize(source, limit)
    except TokenizeError as error:
        if error.span is not None and source[error.span.start : error.span.end] == ".":
            raise _python_dot(source, error.span.start) or error from None
        raise


# Python habits: a module prefix, a method call, a keyword argument

# What Python libraries call matcalc's functions, where the name differs
_PYTHON_NAMES = {
    "maximum": "max",
    "minimum": "min",
    "fmax": "max",
    "fmin": "min",
    "absolute": "abs",
    "fabs": "abs",
    "trace": "tr",
    "expit": "sigmoid",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "inner": "dot",
    "vdot": "dot",
    "identity": "eye",
    "mT": "'",
    "T": "'",
    "transpose": "'",
}
_PYTHON_MODULES = frozenset(
    ["np", "numpy", "torch", "math", "cmath", "jnp", "jax", "scipy", "sp", "sympy", "tf", "F", "nn", "la", "linalg"]
)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ATOM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.T|')?")
_DOTTED_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?$")


def _python_dot(source: str, dot: int) -> ParseError | None:
    """A dot that is not an operator of matcalc's: np.log(x) (a module prefix), x.dot(y) (a method), np.pi."""
    before = _DOTTED_BEFORE.search(source, 0, dot)
    after = _DOTTED.match(source, dot + 1)
    if before is None or after is None:
        return None
    path = before.group().split(".") + after.group().split(".")
    start, end = before.start(), after.end()
    opening = re.compile(r"\s*\(").match(source, end)
    arguments = _parenthesized(source, opening.end() - 1) if opening else None
    span = Span(start, end)
    written = source[start:end]
    if path[0] in _PYTHON_MODULES:
        return _module_function(written, path[-1], arguments, span)
    if arguments is not None:
        return _method_call(written, before.group().removesuffix("()"), path[-1], arguments, span)
    return None


def _module_function(written: str, name: str, arguments: str | None, span: Span) -> ParseError:
    """np.log(x) -> log(x); np.pi -> pi; np.transpose(A) -> A'."""
    message = f"{written} is Python: matcalc's functions and constants have no module prefix"
    return ParseError(message, span=span, hint=_written_here(_PYTHON_NAMES.get(name, name), arguments))


def _method_call(written: str, receiver: str, method: str, arguments: str, span: Span) -> ParseError:
    """x.dot(y) -> dot(x, y); A.transpose() -> A'; x.sum() -> sum(x)."""
    ours = _PYTHON_NAMES.get(method, method)
    if ours not in FUNCTIONS and ours != "'":
        return ParseError(
            f"{written}(...) is a Python method call",
            span=span,
            hint="write functions as f(x): matcalc's expressions have no methods",
        )
    arguments = receiver if ours == "'" else ", ".join(part for part in (receiver, arguments) if part)
    return ParseError(f"{written}(...) is a Python method call", span=span, hint=_written_here(ours, arguments))


def _written_here(function: str, arguments: str | None) -> str | None:
    """How to write a Python call (or a constant, when `arguments` is None) in matcalc's language."""
    if arguments is None:
        return f"write {function}" if function in CONSTANTS else None
    parts = _top_level_parts(arguments)
    if any(re.match(r"\s*\w+\s*=(?!=)", part) for part in parts):
        return f"write {function}(...) with its arguments in order, without keywords such as ord= or axis="
    if function == "'" and parts:
        return f"write {_operand(parts[0])}' (or {_operand(parts[0])}^T)"
    if function in ("dot", "matmul") and len(parts) == 2:
        product = " @ ".join(_operand(part) for part in parts)
        return (
            f"write {product}"
            if function == "matmul"
            else f"write dot({arguments}) for vectors, or {product} for a matrix"
        )
    if function in FUNCTIONS:
        return f"write {function}({arguments})"
    suggestion = _suggest(function, FUNCTIONS)
    return f"matcalc has no function {function}" + (f"; {suggestion}" if suggestion else "")


def _top_level_parts(arguments: str) -> list[str]:
    """`x, max(a, b)` -> ["x", "max(a, b)"]: the arguments of a call, split at its own commas."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(arguments):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(arguments[start:position].strip())
            start = position + 1
    return [*parts, arguments[start:].strip()] if arguments.strip() else []


def _parenthesized(source: str, opening: int) -> str:
    """The text between the parenthesis at `opening` and the one that closes it; `...` if none does."""
    depth = 0
    for position in range(opening, len(source)):
        depth += {"(": 1, ")": -1}.get(source[position], 0)
        if depth == 0:
            return source[opening + 1 : position].strip()
    return "..."  # unclosed


def _operand(text: str) -> str:
    """A name as it is, anything else in parentheses: x, A.T, (A + B)."""
    return text if _ATOM.fullmatch(text) else f"({text})"


def _keyword_argument(function: str, first: str, keyword: Name, equals: Token) -> ParseError:
    """sum(X, axis=0): a Python keyword argument. sum adds every entry; 1'X sums each column."""
    hint = "matcalc's functions take their arguments in order, without names"
    if keyword.id in ("axis", "dim") and function == "sum":
        first = _operand(first)
        hint = (
            f"sum adds every entry: for the sum of each column write vector(1)'{first}, of each row {first} vector(1)"
        )
    return ParseError(f"{keyword.id}= is a Python keyword argument", span=keyword.span.cover(equals.span), hint=hint)


def _is_denominator(head: Token, token: Token) -> bool:
    if token.kind is not Kind.NAME or not token.text.startswith("d") or len(token.text) < 2:
        return False
    return head.text == "d" or (token.text.endswith(head.text[1:]) and len(token.text) > 2)


def _adjacent(*tokens: Token) -> bool:
    return all(a.span.end == b.span.start for a, b in pairwise(tokens))


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


def _build_sum(terms: list[tuple[Token | None, Syntax]]) -> Syntax:
    """Terms with their signs -> a tree of BinOps, in order. Short sums are left-nested
    (`a - b - c` is `(a - b) - c`); a long one is split in halves as `sum_split` says, so its depth
    grows with the logarithm of its length. The first term of a right half carries its own sign:
    `... - c - d` becomes `... + (-c - d)`, which means the same."""
    count = len(terms)
    left_count = sum_split(count)
    if left_count is None:
        node = terms[0][1]
        for op, term in terms[1:]:
            assert op is not None
            node = BinOp(op.text, node, term, span=node.span.cover(term.span))
        return node
    left = _build_sum(terms[:left_count])
    op, first = terms[left_count]
    if op is not None and op.text == "-":
        first = Negate(first, span=op.span.cover(first.span))
    right = _build_sum([(None, first), *terms[left_count + 1 :]])
    return BinOp("+", left, right, span=left.span.cover(right.span))


def _call_of_unknown(token: Token) -> UnknownSymbolError:
    """f(x) with f neither a function nor declared: refused, never read as a product."""
    name = token.text
    if _SIMPLE_NAME.fullmatch(name) and "_" not in name:
        return UnknownSymbolError(
            f"{name}(...) is written like a call of a function {name}, which is not declared",
            span=token.span,
            hint=f'declare it "{name}: function" (--let or a let line), or for a product put a space or * before '
            f"the parenthesis: {name} (...) or {name}*(...)",
        )
    suggestion = _suggest(name, FUNCTIONS)
    return UnknownSymbolError(
        f"unknown function '{name}'",
        span=token.span,
        hint=suggestion
        or f'declare it "{name}: function" (--let or a let line), or for a product put a space before the parenthesis',
    )


def _describe(token: Token) -> str:
    if token.kind is Kind.END:
        return "end of input"
    return f"'{token.text}'"


def _with_span(node: Syntax, span: Span) -> Syntax:
    from dataclasses import replace

    return replace(node, span=span)


def _bounded(tree: Syntax) -> Syntax:
    """Refuse trees so deep that later recursive passes could overflow the stack."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise ParseError(
                f"expression is too deep (more than {MAX_TREE_DEPTH} levels of operations inside one another)",
                span=node.span,
                hint="long sums do not count; nested calls, products and powers do",
            )
        stack.extend((child, depth + 1) for child in children(node))
    return tree


# Splitting undeclared names (SPEC §2): Xw -> X w, weights stays whole


def split_names(tokens: list[Token], declared: frozenset[str]) -> list[Token]:
    """Replace each splittable undeclared NAME token by its pieces.

    A name that is declared, a function, a constant, Greek, a letter with digits (`W1`) or written
    with `_` is whole. Otherwise it is split into declared names if it can be (`xy` with x and y
    declared), else into single letters with their digits where it mixes upper- and lowercase
    (`Xw`, `Ax`, `W1x`), else it is one name (`weights`, `thetax`). What looks like a mistake is
    refused with a suggestion: a misspelt function or Greek name (`lamda`), a function without its
    parentheses (`trA`), a word read as letters (`Weights`), a product of declared names with a
    letter added (`xy` with only x declared).
    """
    result: list[Token] = []
    denominators = _derivative_denominators(tokens)
    for i, token in enumerate(tokens):
        if token.kind is not Kind.NAME or i in denominators or _keeps_whole(token.text, declared):
            result.append(token)
            continue
        text = token.text
        called = tokens[i + 1].text == "(" and _adjacent(token, tokens[i + 1])
        pieces = _declared_split(text, declared)
        if pieces is None and _mixes_case(text):
            _refuse_function_prefix(token)
            pieces = _split(text, declared)
            _refuse_word(token, pieces, declared)
        if pieces is None:  # one name
            if not called:
                _refuse_typo(token, declared)
                _refuse_near_product(token, declared)
            result.append(token)
            continue
        if called and not all(piece in declared for piece in pieces):
            raise UnknownSymbolError(f"unknown function '{text}'", span=token.span, hint=_suggest(text, FUNCTIONS))
        start = token.span.start
        for piece in pieces:
            result.append(Token(Kind.NAME, piece, Span(start, start + len(piece))))
            start += len(piece)
    return result


def _keeps_whole(text: str, declared: frozenset[str]) -> bool:
    if text in declared or text in FUNCTIONS or text in CONSTANTS or _is_greek(text):
        return True
    return _SIMPLE_NAME.fullmatch(text) is not None or _DERIV_HEAD.fullmatch(text) is not None


def _mixes_case(text: str) -> bool:
    return any(char.isupper() for char in text) and any(char.islower() for char in text)


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
        if (
            i - 2 in head_of
            and slash.text == "/"
            and _adjacent(before, slash, token)
            and _is_denominator(tokens[head_of[i - 2]], token)
        ):
            found.add(i)
    return found


def _is_greek(text: str) -> bool:
    """alpha, lambda2, and the capitals matrices are named by: Sigma, Lambda, Omega1, Pi."""
    letters = text.rstrip("0123456789")
    lowered = letters[:1].lower() + letters[1:]
    return letters in GREEK or (letters[:1].isupper() and (lowered in GREEK or lowered == "pi"))


def _fewest_pieces(text: str, is_piece, longest: int) -> list[str] | None:
    """`text` cut into the fewest pieces, each at most `longest` characters, that each satisfy
    `is_piece`; None if it cannot be. Linear in the length of text for a fixed `longest`."""
    best: list[int | None] = [None] * (len(text) + 1)  # the fewest pieces for text[start:]
    cut: list[int] = [0] * (len(text) + 1)
    best[len(text)] = 0
    for start in range(len(text) - 1, -1, -1):
        for end in range(min(len(text), start + longest), start, -1):
            rest, fewest = best[end], best[start]
            if rest is None or (fewest is not None and rest + 1 >= fewest):
                continue
            if is_piece(text[start:end]):
                best[start], cut[start] = rest + 1, end
    if best[0] is None:
        return None
    pieces, start = [], 0
    while start < len(text):
        pieces.append(text[start : cut[start]])
        start = cut[start]
    return pieces


def _longest_piece(text: str, names) -> int:
    """The longest a piece of text can be: a name, a Greek name, or a letter with its digits."""
    digits = min(max((len(run) for run in re.findall(r"[0-9]+", text)), default=0), 6)  # W123456 at most
    return max([len(name) for name in names] + [len("varepsilon") + digits, 1 + digits])


def _declared_split(text: str, declared: frozenset[str]) -> list[str] | None:
    """`xy` -> [x, y] when x and y are declared; None unless every piece is."""
    if not declared:
        return None
    pieces = _fewest_pieces(text, lambda piece: piece in declared, max(len(name) for name in declared))
    return pieces if pieces is not None and len(pieces) > 1 else None


def _split(text: str, declared: frozenset[str]) -> list[str]:
    """The fewest pieces, each declared, Greek, a constant or a letter with digits."""
    return _fewest_pieces(text, lambda piece: _is_piece(piece, declared), _longest_piece(text, declared)) or [text]


def _is_piece(piece: str, declared: frozenset[str]) -> bool:
    return (
        piece in declared
        or _LETTER_PIECE.fullmatch(piece) is not None
        or piece in CONSTANTS
        or (piece[1:2].isalpha() and _is_greek(piece))
    )


def _refuse_function_prefix(token: Token) -> None:
    """trA, detX, logdetP: a function without its parentheses, not the product t r A."""
    text = token.text
    for length in range(len(text) - 1, 1, -1):
        head, rest = text[:length], text[length:]
        if head in FUNCTIONS and rest[0].isupper():
            raise UnknownSymbolError(
                f"unknown name '{text}'",
                span=token.span,
                hint=f"for the function write {head}({rest}); for a product put spaces between the factors",
            )


def _refuse_word(token: Token, pieces: list[str], declared: frozenset[str]) -> None:
    """Weights would be W e i g h t s: a word, not a product of seven letters."""
    run = 0
    for piece in pieces:
        run = run + 1 if len(piece) == 1 and piece.islower() and piece not in declared else 0
        if run >= _WORD_STRETCH:
            raise UnknownSymbolError(
                f"unknown name '{token.text}': it mixes upper- and lowercase letters, so it would be read as "
                f"the product {' '.join(pieces)}",
                span=token.span,
                hint=f"declare {token.text} to use it as one name, or put spaces between the factors",
            )


def _refuse_typo(token: Token, declared: frozenset[str]) -> None:
    """lamda, sigmod: close to a function or Greek name but not an extension of it (betas and
    logits are fine); weight with weights declared: close to a declared name."""
    text = token.text
    if len(text) < 3:
        return
    near_declared = difflib.get_close_matches(text, [d for d in declared if len(d) > 1], n=1, cutoff=0.75)
    matches = difflib.get_close_matches(text, [*FUNCTIONS, *GREEK], n=3, cutoff=0.75)
    if near_declared or (matches and not any(match in text or match.startswith(text) for match in matches)):
        raise UnknownSymbolError(
            f"unknown name '{text}'",
            span=token.span,
            hint=f"did you mean '{(near_declared or matches)[0]}'? (declare {text} to use it as a name of its own)",
        )


def _refuse_near_product(token: Token, declared: frozenset[str]) -> None:
    """xy with x declared and y not: most likely the product x y, so say so rather than guess."""
    text = token.text
    if not declared:
        return
    pieces = _split(text, declared)
    named = [piece for piece in pieces if piece in declared]
    if len(pieces) < 2 or not named or 2 * sum(len(piece) for piece in named) < len(text):
        return
    declared_text = ", ".join(dict.fromkeys(named))
    raise UnknownSymbolError(
        f"unknown name '{text}': it looks like the product {' '.join(pieces)} "
        f"({declared_text} {'is' if len(set(named)) == 1 else 'are'} declared)",
        span=token.span,
        hint=f"write {' '.join(pieces)} with spaces for the product, or declare {text} to use it as one name",
    )


def _suggest(text: str, known: Collection[str]) -> str:
    matches = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else ""
