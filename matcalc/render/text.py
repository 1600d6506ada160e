"""Readable one-line math for results: `x'(A + A')`, `2A x`, `softmax(o)(1'y) - y`.

ASCII by default (the JSON `derivative` field); with unicode=True it uses
ᵀ, ⊙, ⊘, ‖·‖, ⁻¹ and 𝟏. Unlike canonical text it is written for people:
products associate without parentheses and spacing follows the usual habits.
Results of order 3 and 4 are written in index notation: `∂y_i/∂X_jk = A_ij b_k`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TypedDict

from .. import nodes as n
from ..calculus.differentiate import Derivative, IndexTerm
from ..calculus.rules import Kink
from ..calculus.vec import VecForm, transposed_layout
from ..language.notation import ATOM, POSTFIX, POWER, PRODUCT, UNARY, precedence
from ..language.syntax import SUM_BALANCE_ABOVE
from .canonical import Printer, flat_terms, format_number

_GREEK_LETTERS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "pi": "π",
}
_Symbols = TypedDict(
    "_Symbols",
    {"'": str, ".*": str, "./": str, "||": str, "^-1": str, "1": str, "δ": str, "subscripts": dict[str, str]},
)
_ASCII: _Symbols = {
    "'": "'",
    ".*": " .* ",
    "./": " ./ ",
    "||": "||",
    "^-1": "^-1",
    "1": "1",
    "δ": "delta",
    "subscripts": {"1": "_1", "spectral": "_2"},
}
_UNICODE: _Symbols = {
    "'": "ᵀ",
    ".*": " ⊙ ",
    "./": " ⊘ ",
    "||": "‖",
    "^-1": "⁻¹",
    "1": "𝟏",
    "δ": "δ",
    "subscripts": {"1": "₁", "spectral": "₂"},
}


_VULGAR = {
    Fraction(1, 2): "½",
    Fraction(1, 3): "⅓",
    Fraction(2, 3): "⅔",
    Fraction(1, 4): "¼",
    Fraction(3, 4): "¾",
    Fraction(1, 5): "⅕",
    Fraction(1, 6): "⅙",
    Fraction(1, 8): "⅛",
}


_SIMPLE_SCALARS = (n.Number, n.Var, n.DimSize, n.Const)  # a quotient of two of these is written a/b


def _is_slashed(node: n.Node, printer: MathPrinter) -> bool:
    """A number printed as a/b, which needs brackets next to another factor: (2/3) x."""
    return (
        isinstance(node, n.Number)
        and node.value.denominator != 1
        and not (printer.symbols is _UNICODE and node.value in _VULGAR)
    )


def _scalar_product_before(node: n.Node, left: n.Node) -> bool:
    """xᵀx as the scalar of a product is bracketed: (xᵀx) I, never xᵀx I."""
    return (
        isinstance(node, n.ScalarMul)
        and isinstance(left, n.MatMul)
        and left.shape.is_scalar
        and not node.shape.is_scalar
    )


class MathPrinter(Printer):
    def __init__(self, unicode: bool = False):
        super().__init__()
        self.symbols = _UNICODE if unicode else _ASCII

    def _identity(self, node: n.Identity) -> str:
        return "I"

    def _fill(self, node: n.Fill) -> str:
        if node.value == n.Number(Fraction(0)):
            return "0"
        ones = self.symbols["1"]
        if node.shape.is_row:
            ones += self.symbols["'"]
        elif node.shape.is_matrix:
            prime = self.symbols["'"]
            ones = f"{ones}{ones}{prime}"  # 1 1' is the matrix of ones
        if node.value == n.Number(Fraction(1)):
            return ones
        return f"{self.wrap(node.value, POWER)} {ones}"

    def _var(self, node: n.Var) -> str:
        return _GREEK_LETTERS.get(node.name, node.name) if self.symbols is _UNICODE else node.name

    in_exponent = 0

    def _power(self, node: n.Power) -> str:
        caret = node.exponent.shape.is_scalar and not node.base.shape.is_matrix
        op = "^" if caret else self.symbols.get(".^", ".^")
        base = self.wrap(node.base, POSTFIX)
        self.in_exponent += 1
        try:
            exponent = self.wrap(node.exponent, UNARY)
        finally:
            self.in_exponent -= 1
        return f"{base}{op}{exponent}"

    def _number(self, node: n.Number) -> str:
        """Exact: ½ (Unicode) or (1/2), never 0.5 for a half that came from 1/2 or a derivative."""
        value = node.value
        if value.denominator == 1 or self.in_exponent:  # a^0.5, as written: an exponent is not a coefficient
            return format_number(value)
        if self.symbols is _UNICODE and value in _VULGAR:
            return _VULGAR[value]
        return f"{value.numerator}/{value.denominator}"

    def _juxtaposed(self, node: n.Node, left: n.Node, right: n.Node) -> str:
        if self._infix_kron(left) or self._infix_kron(right):
            left_text = f"({self.text(left)})" if self._infix_kron(left) else self.wrap(left, PRODUCT)
            right_text = f"({self.text(right)})" if self._infix_kron(right) else self.wrap(right, POWER)
            return f"{left_text} {right_text}"
        # a quotient next to another factor is bracketed: (1 / n) y', not 1 / n y'
        bracketed = (
            (isinstance(left, (n.Divide, n.Hadamard)) and not self._vulgar_quotient(left))
            or _is_slashed(left, self)
            or _scalar_product_before(node, left)
        )  # (u ⊙ v) xᵀ: ⊙ binds tighter, but is not read so
        left_text = f"({self.text(left)})" if bracketed else self.wrap(left, PRODUCT)
        scalar_after = isinstance(node, n.ScalarMul) and right.shape.is_scalar and not left.shape.is_scalar
        associative = isinstance(right, (n.MatMul, n.ScalarMul)) and not scalar_after
        if scalar_after and isinstance(right, (n.MatMul, n.ScalarMul)):
            right_text = f"({self.text(right)})"  # softmax(o)(1'y)
        elif isinstance(right, n.Divide):
            right_text = f"({self.text(right)})"
        else:
            right_text = self.wrap(right, PRODUCT if associative else POWER)
        closed = left_text.endswith(")") and (precedence(left) < PRODUCT or isinstance(left, n.Hadamard))
        tight = (
            closed
            or right_text.startswith("(")
            or left_text.endswith(self.symbols["'"])
            or (isinstance(left, n.Number) and right_text[0].isalpha())
        )
        return left_text + right_text if tight else f"{left_text} {right_text}"

    def _vulgar_quotient(self, node: n.Node) -> bool:
        """1/2 written by the user, printed as ½: a single character needs no brackets."""
        return (
            self.symbols is _UNICODE
            and isinstance(node, n.Divide)
            and isinstance(node.left, n.Number)
            and isinstance(node.right, n.Number)
            and node.right.value != 0
            and node.left.value / node.right.value in _VULGAR
        )

    def _kron(self, node: n.Kron) -> str:
        if self.symbols is not _UNICODE:
            return self._call("kron", node.left, node.right)
        left = self.text(node.left) if isinstance(node.left, n.Kron) else self._factor(node.left)
        return f"{left} ⊗ {self._factor(node.right)}"

    def _factor(self, node: n.Node) -> str:
        """A Kronecker factor: bare if it binds as tightly as a power (Aᵀ, X⁻¹, vec(A)), else bracketed."""
        return self.wrap(node, POWER) if not isinstance(node, n.Kron) else f"({self.text(node)})"

    def _commutation(self, node: n.Commutation) -> str:
        return f"K({node.m}, {node.n})"

    def _vec(self, node: n.Vec) -> str:
        return f"vec({self.text(node.operand)})"

    def _infix_kron(self, node: n.Node) -> bool:
        """A ⊗ at the top of the node, which a product or a sign next to it must bracket (kron(A, B) need not)."""
        return isinstance(node, n.Kron) and self.symbols is _UNICODE

    def _add(self, node: n.Add) -> str:
        terms = flat_terms(node)
        if len(terms) > SUM_BALANCE_ABOVE:  # a long sum reads the same however it is grouped
            return self.join_terms(terms)
        return super()._add(node)

    def _hadamard(self, node: n.Hadamard) -> str:
        # (Wᵀδ) ⊙ σ′(z): a product before ⊙ is bracketed for the reader (the parser needs no brackets)
        left = self.text(node.left) if isinstance(node.left, n.Hadamard) else self.wrap(node.left, UNARY)
        return f"{left}{self.symbols['.*']}{self.wrap(node.right, UNARY)}"

    def _divide(self, node: n.Divide) -> str:
        if isinstance(node.left, n.Number) and isinstance(node.right, n.Number) and node.right.value != 0:
            return self.text(n.Number(node.left.value / node.right.value))  # 1/2 as written: ½
        if all(isinstance(side, _SIMPLE_SCALARS) and side.shape.is_scalar for side in (node.left, node.right)):
            return f"{self.text(node.left)}/{self.text(node.right)}"  # 1/n and 2/N, as a coefficient is written
        if node.right.shape.is_scalar:
            return super()._divide(node)
        return f"{self.wrap(node.left, PRODUCT)}{self.symbols['./']}{self.wrap(node.right, UNARY)}"

    def _neg(self, node: n.Neg) -> str:
        if self._infix_kron(node.operand):
            return f"-({self.text(node.operand)})"
        return "-" + self.wrap(node.operand, PRODUCT)  # -(a b) = (-a) b: no parentheses needed

    def _inverse(self, node: n.Inverse) -> str:
        if isinstance(node.operand, n.Transpose):  # (X')^-1 = (X^-1)' = X^-T
            return self._transpose(n.Transpose(n.Inverse(node.operand.operand, shape=node.shape), shape=node.shape))
        return f"{self.wrap(node.operand, POSTFIX)}{self.symbols['^-1']}"

    def _transpose(self, node: n.Transpose) -> str:
        if isinstance(node.operand, n.Inverse):  # X^-T
            inverse_transpose = "^-T" if self.symbols is _ASCII else "⁻ᵀ"
            return f"{self.wrap(node.operand.operand, POSTFIX)}{inverse_transpose}"
        prime = self.symbols["'"]
        return f"{self.wrap(node.operand, POSTFIX)}{prime}"

    def _norm(self, node: n.Norm) -> str:
        bars = self.symbols["||"]
        saved, self.bar_depth = self.bar_depth, 0
        inner = self.text(node.operand)
        self.bar_depth = saved
        return f"{bars}{inner}{bars}{self.symbols['subscripts'].get(node.p, '')}"


class VecPrinter(MathPrinter):
    """Magnus and Neudecker's notation: A ⊗ B, K(m, n), vec(A), and each identity with its size (I_n)."""

    def _identity(self, node: n.Identity) -> str:
        """I_n; a product of sizes as M&N write it, I_mn (I_(m1·n) where a name is longer than a letter)."""
        parts = str(node.shape.rows).split("·")
        size = "".join(parts) if all(len(part) == 1 for part in parts) else "(" + "·".join(parts) + ")"
        return f"I_{size if len(parts) > 1 else parts[0]}"


def vec_text(node: n.Node, unicode: bool = False) -> str:
    """A vec/Kronecker form: `Bᵀ ⊗ A`, `-(X⁻ᵀ ⊗ X⁻¹)`, `(Bᵀ ⊗ A) K(n, k)` (ASCII: kron(B', A))."""
    return VecPrinter(unicode).text(node)


def expression_text(node: n.Node, unicode: bool = False) -> str:
    """>>> from matcalc.api import parse
    >>> expression_text(parse("2 (x' A)").expr)
    "2x'A"
    """
    return MathPrinter(unicode).text(node)


def derivative_text(result: Derivative, unicode: bool = False) -> str:
    """The derivative alone: matrix notation, or index notation for order 3 and 4."""
    printer = MathPrinter(unicode)
    if result.matrix is not None:
        return printer.text(result.matrix)
    return index_text(result, printer)


def shared_where(results: list[Derivative]) -> list[tuple[str, n.Node]]:
    """The named subexpressions of several derivatives of one expression (share_names gives each name
    one meaning in all of them), each once, every name defined after the names its definition uses."""
    definitions: dict[str, n.Node] = {}
    for result in results:
        definitions.update(result.where)
    ordered: dict[str, n.Node] = {}

    def define(name: str) -> None:
        if name in ordered:
            return
        for sub in n.walk(definitions[name]):
            if isinstance(sub, n.Var) and sub.name in definitions and sub.name != name:
                define(sub.name)
        ordered[name] = definitions[name]

    for name in definitions:
        define(name)
    return list(ordered.items())


def shared_where_lines(results: list[Derivative], unicode: bool = True) -> list[str]:
    """`where t1 = ...`, a line each, for the names that several results share (after all the results)."""
    return [f"where {name} = {expression_text(node, unicode)}" for name, node in shared_where(results)]


def where_text(result: Derivative, unicode: bool = False) -> str:
    printer = MathPrinter(unicode)
    return ", ".join(f"{name} = {printer.text(node)}" for name, node in result.where)


def index_text(result: Derivative, printer: MathPrinter) -> str:
    """∂y_i/∂X_jk = A_ij b_k + ...; ∂²f/∂X_ij ∂X_kl = ... for higher orders."""
    names = result.index_names
    wrt = result.wrt.name if result.wrt.name.isalpha() else f"({result.wrt.name})"
    out_indices = "".join(names[i] for i in result.out_axes if i in names)
    below = " ".join(
        f"∂{wrt}_{''.join(names[i] for i in group)}" if group else f"∂{wrt}" for group in result.wrt_groups
    )
    head = f"{partial(result.order)}{output_name(result)}{'_' + out_indices if out_indices else ''}/{below}"
    body = join_signed(_index_term(term, names, printer) for term in result.index_form or [])
    return f"{head} = {body}"


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def partial(order: int) -> str:
    """∂, ∂², ∂³, ..."""
    return "∂" if order == 1 else "∂" + str(order).translate(SUPERSCRIPTS)


def output_name(result: Derivative) -> str:
    if isinstance(result.expr, n.Var):
        return result.expr.name
    used = {sub.name for sub in n.walk(result.expr) if isinstance(sub, n.Var)}
    preferred = ("Y", "F", "G") if result.expr.shape.is_matrix else ("y", "f", "g")
    return next((name for name in preferred if name not in used), "f")


def _index_term(term: IndexTerm, names: dict[str, str], printer: MathPrinter) -> str:
    parts = []
    for scalar in term.scalars:
        parts.append(printer.wrap(scalar, POWER))
    for piece in sorted(term.pieces, key=lambda p: isinstance(p.elements[0], n.Identity)):  # deltas last
        subscript = "".join(names[i] for i in piece.indices)
        if len(piece.elements) == 1 and isinstance(piece.elements[0], n.Identity):
            parts.append(f"{printer.symbols['δ']}_{subscript}")
            continue
        element = piece.elements[0]
        if len(piece.elements) == 1 and (
            (isinstance(element, n.Var) and element.name.isalpha())
            or (precedence(element) == ATOM and not isinstance(element, n.Var))
        ):
            body = printer.text(element)  # b_k, softmax(x)_i; but (x1)_k, (Q⁻¹)_ik
        elif len(piece.elements) == 1:  # one pair of parentheses: (B + Bᵀ)_ik, (1 - tanh(X a)²)_i
            body = f"({printer.text(element)})"
        else:
            body = "(" + " ".join(printer.wrap(e, PRODUCT) for e in piece.elements) + ")"
        parts.append(f"{body}_{subscript}")
    coefficient = term.coefficient
    text = " ".join(parts) if parts else "1"
    if term.summed:
        text = f"Σ_{''.join(names[i] for i in term.summed)} " + text
    if coefficient == 1:
        return text
    if coefficient == -1:
        return f"-{text}"
    number = printer.text(n.Number(abs(coefficient)))  # ½ or 1/2, as in matrix notation: never 0.5
    number = f"({number})" if "/" in number else number  # (17/6) x_k, not 17/6 x_k
    return f"{number} {text}" if coefficient > 0 else f"-{number} {text}"


def join_signed(texts) -> str:
    """Terms joined with + and -: a term that starts with - is subtracted."""
    result = ""
    for text in texts:
        if not result:
            result = text
        elif text.startswith("-"):
            result += f" - {text[1:]}"
        else:
            result += f" + {text}"
    return result or "0"


def report(result: Derivative, source: str, assumed: str, unicode: bool = True) -> list[str]:
    """The lines of `matcalc diff`'s text output."""
    symbol = partial(result.order)
    variable = result.wrt.name if result.order == 1 else result.wrt.name + str(result.order).translate(SUPERSCRIPTS)
    body = derivative_text(result, unicode)
    lines = [
        f"{symbol}/∂{variable} {source} = {body}"
        if result.matrix is not None
        else f"{body}    ({output_name(result)} = {source})"
    ]
    lines += [f"  where {name} = {expression_text(node, unicode)}" for name, node in result.where]
    shape = "(" + ", ".join(str(d) for d in result.shape) + (",)" if len(result.shape) == 1 else ")")
    lines.append(f"shape: {shape} ({result.layout.value} layout)")
    if result.matrix is None:
        names = result.index_names
        lines[-1] += f", axes in the order {', '.join(names[i] for i in result.free)}"
    if assumed:
        lines.append(f"assumed: {assumed}")
    lines += [f"note: {note}" for note in notes(result, unicode)]
    return lines


def notes(result: Derivative, unicode: bool = False) -> list[str]:
    """The kinks stated as subdifferentials, the inverses the result assumes, then any other notes."""
    inverses = [f"assumes {expression_text(m, unicode)} invertible" for m in result.invertible]
    return [kink_text(kink, unicode) for kink in result.kinks] + inverses + result.notes


def kink_text(kink: Kink, unicode: bool = False) -> str:
    texts = [expression_text(operand, unicode) for operand in kink.operands]
    u = texts[0]
    if kink.kind == "abs":
        return f"d|{u}| = sign({u}) d({u}); at {u} = 0 it is not differentiable: any value in [-1, 1]"
    if kink.kind == "relu":
        return (
            f"d relu({u}) = step({u}) d({u}); at {u} = 0 it is not differentiable: any value in [0, 1] "
            "(step(0) = 1/2 is used)"
        )
    if kink.kind in ("sign", "step"):
        return f"{kink.kind}({u}) has derivative 0 where {u} ≠ 0 and none at {u} = 0"
    if kink.kind in ("max", "min"):
        v = texts[1]
        where = f"{v} = 0" if u == "0" else f"{u} = 0" if v == "0" else f"{u} = {v}"
        return (
            f"{kink.kind}({u}, {v}) is not differentiable where {where}: there any convex combination "
            f"of the derivatives of {u} and {v} is a subgradient (matcalc weighs them 1/2 each)"
        )
    if kink.kind == "norm2":
        return f"d||{u}|| = {u}'d({u}) / ||{u}|| for {u} ≠ 0; at {u} = 0: any g with ||g|| ≤ 1"
    return f"d||{u}||_1 = sign({u})'d({u}); where an entry of {u} is 0: any value in [-1, 1] for it"


def vec_head(result: Derivative, unicode: bool = True) -> str:
    """∂vec(F)/∂vec(X)ᵀ, ∂²f/∂vec(X)∂vec(X)ᵀ, or their transposes (denominator layout)."""
    prime = "ᵀ" if unicode else "'"
    variable = result.wrt.name
    if result.order == 2:
        head = f"∂²f/∂vec({variable})∂vec({variable}){prime}"
        return f"({head}){prime}" if transposed_layout(result) else head
    if transposed_layout(result):
        return f"∂vec(F){prime}/∂vec({variable})"
    return f"∂vec(F)/∂vec({variable}){prime}"


def vec_report(result: Derivative, form: VecForm, source: str, assumed: str, unicode: bool = True) -> list[str]:
    """The lines of `matcalc diff --notation vec`'s text output for a result in vec/Kronecker form."""
    function = "f" if result.order == 2 else "F"
    lines = [f"{vec_head(result, unicode)} = {vec_text(form.matrix, unicode)}    ({function} = {source})"]
    rows, cols = form.shape
    lines.append(f"shape: ({rows}, {cols}) ({result.layout.value} layout; vec stacks columns)")
    if assumed:
        lines.append(f"assumed: {assumed}")
    lines += [f"note: {note}" for note in notes(result, unicode)]
    return lines
