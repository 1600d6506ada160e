r"""LaTeX for expressions and derivatives: one line, no `$`, for amsmath and amssymb.

Notation: a vector is bold (`\mathbf{x}`, `\boldsymbol{\theta}`), a matrix or a
scalar italic (`A`, `a`); Greek names are Greek letters (`lambda`, `λ` ->
`\lambda`); digits and underscores make subscripts (`W1`, `W_1` -> `W_{1}`).
`^\top` transposes, `^{-1}` inverts, `^{-\top}` does both; `\odot` and
`\oslash` are elementwise, `\frac{a}{b}` divides by a scalar and
`\mathbf{x}^{\circ 2}` is an elementwise power. Norms carry their subscript
(`\lVert \mathbf{x} \rVert_2`, `_F`, `_1`); `\mathbf{1}` is the
vector of ones, `I` the identity. Results of order 3 and 4 are written in
index notation with italic entries and Kronecker deltas:
`\frac{\partial y_{i}}{\partial X_{jk}} = A_{ij} b_{k}`.

The notation choices authors differ on are options of `latex_text` (the CLI's `--latex-*`
flags), each defaulting to the first: `derivative` "frac" (`\frac{\partial f}{\partial
\mathbf{w}}`, a Hessian `\frac{\partial^{2} f}{\partial \mathbf{x} \, \partial \mathbf{x}^\top}`)
or "nabla" (`\nabla_{\mathbf{w}} f`, `\nabla^{2}_{\mathbf{x}} f`); `matrices` "italic" (`A`) or
"bold" (`\mathbf{A}`); `sigmoid` "sigma" (`\sigma(z)`) or "name" (`\operatorname{sigmoid}(z)`); `step`, the
derivative of relu, "name" (`\operatorname{step}(z)`), "indicator" (`\mathbb{I}[z > 0]`, amssymb having no double-struck 1) or "heaviside" (`H(z)`);
`notes` (subgradients at kinks, the inverses assumed, a symmetric variable) "text" (`\quad
(\text{assumes } A \text{ invertible})`), "comment" (`%` lines before the formula) or "none".
"""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction

from .. import nodes as n
from ..calculus.differentiate import Derivative, IndexTerm
from ..calculus.rules import Kink
from ..calculus.vec import VecForm, transposed_layout
from ..errors import InputError
from ..language.notation import ATOM, POSTFIX, POWER, PRODUCT, SUM, UNARY, precedence
from ..language.syntax import GREEK, SUM_BALANCE_ABOVE
from ..layout import Layout
from .canonical import Printer, flat_terms, format_number
from .text import join_signed, output_name, shared_where
from .text import notes as text_notes

MODES = ("equation", "rhs")
DERIVATIVES = ("frac", "nabla")  # \frac{\partial f}{\partial \mathbf{w}} or \nabla_{\mathbf{w}} f
MATRICES = ("italic", "bold")  # A or \mathbf{A}
SIGMOIDS = ("sigma", "name")  # \sigma(z) or \operatorname{sigmoid}(z)
STEPS = ("name", "indicator", "heaviside")  # \operatorname{step}(z), \mathbb{I}[z > 0] or H(z)
NOTES = ("text", "comment", "none")  # \quad (\text{...}) after the formula, % lines before it, or nothing

# Upper-case Greek names that LaTeX has a letter for (the others look like Latin capitals).
_GREEK_CAPITALS = ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega")
# The tokenizer's Greek letters (U+0391-U+03A9, U+03B1-U+03C9) as LaTeX.
_UNICODE_GREEK = dict(
    zip(
        "αβγδεζηθικλμνξοπρςστυφχψω",
        [
            r"\alpha",
            r"\beta",
            r"\gamma",
            r"\delta",
            r"\varepsilon",
            r"\zeta",
            r"\eta",
            r"\theta",
            r"\iota",
            r"\kappa",
            r"\lambda",
            r"\mu",
            r"\nu",
            r"\xi",
            "o",
            r"\pi",
            r"\rho",
            r"\varsigma",
            r"\sigma",
            r"\tau",
            r"\upsilon",
            r"\varphi",
            r"\chi",
            r"\psi",
            r"\omega",
        ],
    )
) | dict(
    zip(
        "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
        [
            r"\mathrm{A}",
            r"\mathrm{B}",
            r"\Gamma",
            r"\Delta",
            r"\mathrm{E}",
            r"\mathrm{Z}",
            r"\mathrm{H}",
            r"\Theta",
            r"\mathrm{I}",
            r"\mathrm{K}",
            r"\Lambda",
            r"\mathrm{M}",
            r"\mathrm{N}",
            r"\Xi",
            r"\mathrm{O}",
            r"\Pi",
            r"\mathrm{P}",
            r"\Sigma",
            r"\mathrm{T}",
            r"\Upsilon",
            r"\Phi",
            r"\mathrm{X}",
            r"\Psi",
            r"\Omega",
        ],
    )
)

# Function names (canonical text) -> LaTeX operators; any other name is an \operatorname.
_OPERATORS = {
    "exp": r"\exp",
    "log": r"\log",
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "tanh": r"\tanh",
    "arcsin": r"\arcsin",
    "arccos": r"\arccos",
    "arctan": r"\arctan",
    "det": r"\det",
    "logdet": r"\log\det",
    "max": r"\max",
    "min": r"\min",
}
# Every function matcalc itself writes as a call; any other name is a declared `f: function` (or f', f'').
_KNOWN_CALLS = (
    frozenset(n.ELEMENTWISE_FUNCTIONS)
    | set(_OPERATORS)
    | {"sum", "mean", "diag", "tr", "trace", "softmax", "logsumexp", "dot", "norm", "norm1", "norm2", "inv"}
)
_NORM_SUBSCRIPTS = {"2": "2", "F": "F", "1": "1", "spectral": "2"}
_LARGEST_FRACTION_DENOMINATOR = 100  # 0.25 is \frac{1}{4}; 0.001 stays 0.001
_ZERO, _ONE = n.Number(Fraction(0)), n.Number(Fraction(1))


def latex_expression(node: n.Node, *, matrices: str = "italic", sigmoid: str = "sigma", step: str = "name") -> str:
    r"""One line of LaTeX for a typed expression (`matrices`, `sigmoid` and `step` as for latex_text).

    >>> from matcalc.api import parse
    >>> print(latex_expression(parse("x'Ax + ||y - Xw||^2").expr))
    \mathbf{x}^\top A \mathbf{x} + \lVert \mathbf{y} - X \mathbf{w} \rVert_2^{2}
    >>> print(latex_expression(parse("sigmoid(W x)").expr, matrices="bold"))
    \sigma(\mathbf{W} \mathbf{x})
    """
    return LatexPrinter(matrices, _sigmoid_style(sigmoid, [node]), _step_style(step, [node])).text(node)


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"the LaTeX {option} is one of {', '.join(choices)}, not {value}")
    return value


def _sigmoid_style(sigmoid: str, nodes: list[n.Node]) -> str:
    r"""σ for the sigmoid, unless a variable is called sigma (σ): then \sigma(z) would read as sigma times z."""
    if _choice("sigmoid", sigmoid, SIGMOIDS) == "sigma" and any(
        getattr(sub, "name", getattr(sub, "function", None)) in ("sigma", "σ") for node in nodes for sub in n.walk(node)
    ):
        return "name"
    return sigmoid


def _step_style(step: str, nodes: list[n.Node]) -> str:
    """H(z) for the step, unless a variable is called H: then H(z) would read as H times z."""
    if _choice("step", step, STEPS) == "heaviside" and any(
        getattr(sub, "name", getattr(sub, "function", None)) == "H" for node in nodes for sub in n.walk(node)
    ):
        return "name"
    return step


LINE_WIDTH = 50  # characters of 6.5pt as set (set_width): a displayed line of an article page at 10pt


def latex_text(
    result: Derivative,
    mode: str = "equation",
    width: int | None = None,
    *,
    derivative: str = "frac",
    matrices: str = "italic",
    sigmoid: str = "sigma",
    step: str = "name",
    notes: str | None = None,
) -> str:
    r"""The derivative as one line of LaTeX.

    mode "equation" (the default) gives the whole equation,
    `\frac{\partial f}{\partial \mathbf{x}} = ...` (`\partial^{2}` for order 2, and
    `\frac{\partial y_{i}}{\partial X_{jk}} = ...` in index notation for order 3 and 4,
    followed by what y stands for); mode "rhs" gives the right-hand side alone.
    Named subexpressions follow in both modes: `, \quad \text{where } t_{1} = ...`.
    A result whose whole line (head, `=`, right-hand side, `where` clauses and notes) would set wider
    than `width` characters of 6.5pt (set_width's estimate; LINE_WIDTH is an article page's line;
    None: never) is broken into an `aligned` block, still on one line of text: a sum after its terms,
    one long product between its factors, the `where` clauses and the notes each on rows of their own.
    A head too wide (over half the line, or leaving no room for the widest row) is written ∂y/∂x,
    with y defined on the `where` row.

    The notation (see the module's docstring): `derivative` "frac" or "nabla" (a scalar function of a
    vector or matrix: `\nabla_{\mathbf{w}} f`, `(\nabla_{\mathbf{w}} f)^\top` in numerator layout,
    where the derivative is the gradient's transpose; a Jacobian and a derivative by a scalar keep
    \frac); `matrices` "italic" or "bold"; `sigmoid` "sigma" or "name"; `step` "name", "indicator" (0 at
    z = 0, a subgradient too: the relu note then names no value) or "heaviside"; `notes` "text", "comment" or
    "none", by default "text" for the equation and "none" for the right-hand side (JSON's `latex`, an
    author's own equation). A `text` note follows the formula after `\quad`, or in an aligned block
    has a row of its own; `comment` notes are `%` lines before the formula, so that `\[ ... \]`
    around the output still closes.

    >>> from matcalc.api import diff
    >>> print(latex_text(diff("x'Ax", "x").derivative))
    \frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + A^\top)
    >>> print(latex_text(diff("x'Ax", "x").derivative, "rhs"))
    \mathbf{x}^\top (A + A^\top)
    >>> print(latex_text(diff("sigmoid(w'x)", "w", layout="denominator").derivative, derivative="nabla"))
    \nabla_{\mathbf{w}} \sigma(\mathbf{w}^\top \mathbf{x}) = \sigma(\mathbf{w}^\top \mathbf{x}) (1 - \sigma(\mathbf{w}^\top \mathbf{x})) \mathbf{x}
    """
    if mode not in MODES:
        raise InputError(f"the LaTeX mode is one of {', '.join(MODES)}, not {mode}")
    _choice("derivative notation", derivative, DERIVATIVES)
    notes = _choice("notes", notes or ("text" if mode == "equation" else "none"), NOTES)
    printer = _printer(result, [], matrices, sigmoid, step)
    remarks = _latex_notes(result, printer) if notes == "text" else []
    definitions: list[tuple[n.Node, n.Node]] = []
    if result.matrix is not None:
        terms = _signed_terms(result.matrix, printer)
        head = _matrix_head(result, printer, derivative) if mode == "equation" else ""
    else:
        terms = [_index_term(term, result.index_names, printer) for term in result.index_form or []] or ["0"]
        head = _index_head(result, printer) if mode == "equation" else ""
        if mode == "equation" and not isinstance(result.expr, n.Var):
            definitions.append((n.Var(output_name(result), shape=result.expr.shape), result.expr))
    definitions += [(n.Var(name, shape=node.shape), node) for name, node in result.where]
    clauses = [f"{printer.text(name)} = {printer.text(node)}" for name, node in definitions]
    body = join_signed(terms)
    line = f"{head} = {body}" if head else body
    if clauses:
        line += r", \quad \text{where } " + r", \quad ".join(clauses)
    line += "".join(rf" \quad ({remark})" for remark in remarks)
    if width is None or _set_characters(line) <= width:
        return _commented(result, line, notes)
    # Too wide for one line: an aligned block, the right-hand side in rows (a sum broken after its
    # terms, one long product between its factors), each definition and each note on rows of its own.
    if head and result.matrix is not None and _head_too_wide(head, terms, definitions, remarks, printer, width):
        # ∂y/∂x, with y defined below
        output = n.Var(output_name(result), shape=result.expr.shape)
        head = _matrix_head(replace(result, expr=output), printer, derivative)
        definitions.insert(0, (output, result.expr))
    # every row's right-hand part starts where the first row's `=` does, after the head
    indent = _set_characters(head) if head else 0
    if result.matrix is not None:
        terms = _pieces(result.matrix, terms, f"{head} = ", width, printer)
    rows = _packed(f"{head} &= " if head else "& ", terms, width, indent)
    rows += _definition_rows(definitions, printer, width, indent)
    rows += [f"&({remark})" for remark in remarks]
    return _commented(result, r"\begin{aligned} " + r" \\ ".join(rows) + r" \end{aligned}", notes)


def _printer(result: Derivative, others: list[Derivative], matrices: str, sigmoid: str, step: str) -> LatexPrinter:
    """The printer in the chosen notation (σ and H by name where a variable would read as a factor)."""
    shown = [
        node
        for one in [result, *others]
        for node in (one.expr, one.matrix, *(value for _, value in one.where))
        if node is not None
    ]
    return LatexPrinter(
        _choice("matrices", matrices, MATRICES), _sigmoid_style(sigmoid, shown), _step_style(step, shown)
    )


def _definition_rows(
    definitions: list[tuple[n.Node, n.Node]], printer: LatexPrinter, width: int, indent: float
) -> list[str]:
    """The rows of an aligned block that define the names: `&\\text{where } t_{1} = ...`, then each
    further name under the first, a long definition broken as the right-hand side is."""
    rows: list[str] = []
    for position, (name, node) in enumerate(definitions):
        lead = r"&\text{where } " if position == 0 else r"&\phantom{\text{where }} "
        lead += f"{printer.text(name)} = "
        pieces = _pieces(node, _signed_terms(node, printer), lead, width - indent, printer)
        rows += _packed(lead, pieces, width, indent, indent)
    return rows


def several_latex(
    results: list[Derivative],
    mode: str = "equation",
    width: int | None = None,
    *,
    derivative: str = "frac",
    matrices: str = "italic",
    sigmoid: str = "sigma",
    step: str = "name",
    notes: str | None = None,
) -> list[str]:
    r"""Derivatives of one expression by several variables as lines of LaTeX: a line per variable, as
    latex_text writes it but without the named subexpressions, then one line that defines the names they
    share (share_names gives each one meaning in all of them) and states the notes they share, each once.
    In the equation mode a function that would not sit over \partial (OPERATOR_FORM_ABOVE, a fraction) or
    is shown in index notation is named too, once: `\frac{\partial f}{\partial W_{1}}`, ..., `f = ...`.

    >>> from matcalc.api import diff
    >>> lines = several_latex([r.derivative for r in diff("1/2 ||W x - y||^2 + c||x||^2", "W, c")])
    >>> for line in lines:
    ...     print(line)
    \frac{\partial f}{\partial W} = \mathbf{x} (W \mathbf{x} - \mathbf{y})^\top
    \frac{\partial f}{\partial c} = \lVert \mathbf{x} \rVert_2^{2}
    \text{where } f = \frac{1}{2} \lVert W \mathbf{x} - \mathbf{y} \rVert_2^{2} + c \lVert \mathbf{x} \rVert_2^{2}
    """
    if mode not in MODES:
        raise InputError(f"the LaTeX mode is one of {', '.join(MODES)}, not {mode}")
    notes = _choice("notes", notes or ("text" if mode == "equation" else "none"), NOTES)
    first = results[0]
    printer = _printer(first, results[1:], matrices, sigmoid, step)
    common = replace(
        first,
        kinks=[kink for kink in first.kinks if all(kink in other.kinks for other in results)],
        invertible=[m for m in first.invertible if all(m in other.invertible for other in results)],
        notes=[note for note in first.notes if all(note in other.notes for other in results)],
    )
    definitions: list[tuple[n.Node, n.Node]] = [
        (n.Var(name, shape=node.shape), node) for name, node in shared_where(results)
    ]
    function = first.expr
    written = printer.text(function)
    if (
        mode == "equation"
        and not isinstance(function, n.Var)
        and (
            any(result.matrix is None for result in results)
            or r"\frac" in written
            or _set_characters(written) > OPERATOR_FORM_ABOVE
        )
    ):
        function = n.Var(output_name(first), shape=first.expr.shape)
        definitions.insert(0, (function, first.expr))
    lines = []
    for result in results:
        own = replace(
            result,
            expr=function,
            where=[],
            kinks=[kink for kink in result.kinks if kink not in common.kinks],
            invertible=[m for m in result.invertible if m not in common.invertible],
            notes=[note for note in result.notes if note not in common.notes],
        )
        lines.append(
            latex_text(
                own, mode, width, derivative=derivative, matrices=matrices, sigmoid=sigmoid, step=step, notes=notes
            )
        )
    lines[0] = _commented(common, lines[0], notes)  # the shared notes as % lines, before the first
    remarks = _latex_notes(common, printer) if notes == "text" else []
    if definitions or remarks:
        lines.append(_where_line(definitions, remarks, printer, width))
    return lines


def _where_line(
    definitions: list[tuple[n.Node, n.Node]], remarks: list[str], printer: LatexPrinter, width: int | None
) -> str:
    """`\\text{where } t_{1} = ..., \\quad t_{2} = ...` and the notes, or an aligned block if too wide."""
    clauses = [f"{printer.text(name)} = {printer.text(node)}" for name, node in definitions]
    parts = [r"\text{where } " + r", \quad ".join(clauses)] if clauses else []
    line = r" \quad ".join(parts + [f"({remark})" for remark in remarks])
    if width is None or _set_characters(line) <= width:
        return line
    rows = _definition_rows(definitions, printer, width, 0) + [f"&({remark})" for remark in remarks]
    return r"\begin{aligned} " + r" \\ ".join(rows) + r" \end{aligned}"


def _commented(result: Derivative, latex: str, notes: str) -> str:
    """The LaTeX after the notes as `%` comment lines (with notes "comment"), in plain ASCII text."""
    if notes != "comment":
        return latex
    ascii_text = str.maketrans({"≠": "!=", "≤": "<=", "∈": "in"})
    return "".join(f"% {note.translate(ascii_text)}\n" for note in text_notes(result)) + latex


def _latex_notes(result: Derivative, printer: LatexPrinter) -> list[str]:
    """Short notes for after the formula, each in math mode with words in \\text: a subgradient at
    each kink, the matrices assumed invertible, a symmetric variable's entries treated as independent.
    (That a result is in index notation, the formula shows.)"""
    remarks = [_kink_note(kink, printer) for kink in result.kinks]
    if result.invertible:
        matrices = ", ".join(printer.text(m) for m in result.invertible)
        remarks.append(rf"\text{{assumes }} {matrices} \text{{ invertible}}")
    for note in result.notes:
        kind = re.match(rf"{re.escape(result.wrt.name)} is (\w+): its entries are treated as independent", note)
        if kind:
            word = {"posdef": "positive definite"}.get(kind.group(1), kind.group(1))
            remarks.append(rf"{printer.text(result.wrt)} \text{{ {word}, entries treated as independent}}")
        expanded = re.match(r"(\w+) is taken as a scalar added to every entry", note)
        if expanded:
            remarks.append(rf"{printer.text(n.Var(expanded.group(1)))} \text{{ a scalar added to every entry}}")
    return remarks


def _kink_note(kink: Kink, printer: LatexPrinter) -> str:
    """As render.text.kink_text says it, shorter: where the function has a kink, and the subgradient there.
    With the step as an indicator, I[u > 0] is 0 at u = 0 (a subgradient too), so no value is named there."""
    u = printer.text(kink.operands[0])
    halved = printer.step != "indicator"  # step(0) = 1/2, as H(0) and \operatorname{step}(0) are read
    if kink.kind == "abs":
        return rf"\text{{subgradient at }} {u} = 0\text{{: any value in }} [-1, 1]"
    if kink.kind == "relu":
        used = r"\text{, } \tfrac{1}{2} \text{ used}" if halved else ""
        return rf"\text{{subgradient at }} {u} = 0\text{{: any value in }} [0, 1]{used}"
    if kink.kind in ("sign", "step"):
        return rf"\text{{derivative 0 where }} {u} \neq 0\text{{, none at }} {u} = 0"
    if kink.kind in ("max", "min"):
        v = printer.text(kink.operands[1])
        where = f"{v} = 0" if u == "0" else f"{u} = 0" if v == "0" else f"{u} = {v}"
        return rf"\text{{subgradient where }} {where}" + (r"\text{: weights } \tfrac{1}{2}" if halved else "")
    if kink.kind == "norm2":
        return rf"\text{{subgradient at }} {u} = 0\text{{: any }} \mathbf{{g}} \text{{ with }} \lVert \mathbf{{g}} \rVert_2 \le 1"
    return rf"\text{{subgradient where an entry of }} {u} \text{{ is 0: any value in }} [-1, 1]"


def _signed_terms(node: n.Node, printer: LatexPrinter) -> list[str]:
    """The terms of a sum as join_signed takes them (a subtracted one starting with -)."""
    if not isinstance(node, n.Add):
        return [printer.text(node)]
    texts = []
    for term in flat_terms(node):
        if isinstance(term, n.Neg):
            texts.append("-" + printer._negated(term.operand))
        else:
            texts.append(printer.wrap(term, SUM) if not texts else printer.wrap(term, PRODUCT))
    return texts


def _factors(node: n.Node, printer: LatexPrinter) -> list[str]:
    """A product as its factors, each as written in the product, the second on starting with the space
    that joins it: split only where the product's text is its two sides' texts side by side (so never
    inside parentheses the product adds, nor at a `\\cdot`)."""

    def split(current: n.Node) -> list[str]:
        if not isinstance(current, (n.MatMul, n.ScalarMul)):
            return [printer.text(current)]
        left_text, right_text = printer.sides(current, current.left, current.right)
        if _juxtapose(left_text, right_text) != f"{left_text} {right_text}":
            return [printer.text(current)]
        left = split(current.left) if left_text == printer.text(current.left) else [left_text]
        right = split(current.right) if right_text == printer.text(current.right) else [right_text]
        return left + right

    factors = split(node)
    return [" " + factor if position else factor for position, factor in enumerate(factors)]


def _pieces(node: n.Node, terms: list[str], lead: str, width: float, printer: LatexPrinter) -> list[str]:
    """The terms of a sum, or one term's factors if it is a product too wide to follow `lead`."""
    if len(terms) == 1 and _set_characters(lead + terms[0]) > width:
        return _factors(node, printer)
    return terms


def _head_too_wide(
    head: str,
    terms: list[str],
    definitions: list[tuple[n.Node, n.Node]],
    remarks: list[str],
    printer: LatexPrinter,
    width: int,
) -> bool:
    """Whether the head ∂f/∂x takes more than half the line, or leaves too little room after it for the
    widest piece that must sit on a row of its own: a term (or factor), a note, a definition's first term."""
    pieces = [f"= {terms[0]}", *(f"+ {term.strip()}" for term in terms[1:]), *(f"({remark})" for remark in remarks)]
    pieces += [
        rf"\text{{where }} {printer.text(name)} = {_signed_terms(node, printer)[0]}" for name, node in definitions
    ]
    head_width = _set_characters(head)
    return head_width > width / 2 or head_width + max(_set_characters(piece) for piece in pieces) > width


def _packed(lead: str, pieces: list[str], width: int, indent: float = 0, first_indent: float = 0) -> list[str]:
    """Rows at most `width` characters wide as set (_set_characters), as few as the pieces allow and as
    even as they can be, so that no row is left with a short piece alone (a sum's last term, a
    product's last factor). The first row starts with `lead` (after `first_indent` characters of the
    alignment), the others with `&\\quad` (after `indent`); a term of a sum keeps its sign, a factor
    of a product (starting with a space) joins as is."""
    joined = [_joined(piece) if position else piece for position, piece in enumerate(pieces)]
    starts = (_set_characters(lead) + first_indent, indent)
    # each piece's share of a row's width, after another piece and first in a row (a sign after \quad
    # has no space around it): a row sets about as wide as its pieces' shares added up
    sizes = [
        (_set_characters(f"x {piece}") - _set_characters("x"), _set_characters(_CONTINUED + piece)) for piece in joined
    ]
    fewest = _groups(sizes, width, starts)
    # the narrowest limit that keeps the fewest rows, in tenths of a character: the most even rows
    narrowest, widest = 0, int(width * 10)
    while narrowest < widest:
        limit = (narrowest + widest) // 2
        if len(_groups(sizes, limit / 10, starts)) <= len(fewest):
            widest = limit
        else:
            narrowest = limit + 1
    balanced = _rows(lead, joined, _groups(sizes, widest / 10, starts))
    offsets = [first_indent] + [indent] * (len(balanced) - 1)
    if all(offset + _set_characters(row) <= width for offset, row in zip(offsets, balanced)):
        return balanced
    return _rows(lead, joined, fewest)  # the shares fell short of the row as set: rows as filled in turn


_CONTINUED = r"&\quad "


def _joined(piece: str) -> str:
    """A piece after the first of its row: a term with its sign (`+ a`, `- b`), a factor as it is."""
    if piece.startswith(" "):
        return piece.strip()
    return f"- {piece[1:]}" if piece.startswith("-") else f"+ {piece}"


def _groups(sizes: list[tuple[float, float]], width: float, starts: tuple[float, float]) -> list[list[int]]:
    """The pieces' positions in rows filled in turn, each with as many as fit in `width` (one at least);
    `sizes` holds each piece's width after another and first in a continued row."""
    groups: list[list[int]] = [[]]
    used = starts[0]
    for position, (size, first) in enumerate(sizes):
        if groups[-1] and used + size > width:
            groups.append([position])
            used = starts[1] + first
            continue
        groups[-1].append(position)
        used += size
    return groups


def _rows(lead: str, joined: list[str], groups: list[list[int]]) -> list[str]:
    return [
        (lead if number == 0 else _CONTINUED) + " ".join(joined[position].strip() for position in group)
        for number, group in enumerate(groups)
    ]


# How wide LaTeX sets, in points of Computer Modern at 10pt (an article page's line is 345pt): widths of
# the glyphs (math italic, bold, roman) and the spacing TeX puts around binary operators and relations.
LINE_POINTS = 345.0
# `width` counts characters of 6.5pt: LINE_WIDTH of them fill the line but for the 20pt or so that the
# estimate can fall short by (it is within 6% of what pdflatex sets on the corpus)
_POINTS_PER_CHARACTER = 6.5
_ITALIC = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        (
            5.3,
            4.3,
            4.3,
            5.2,
            4.7,
            4.9,
            4.8,
            5.8,
            3.4,
            4.1,
            5.2,
            3.0,
            8.8,
            6.0,
            4.9,
            5.0,
            4.5,
            4.5,
            4.7,
            3.6,
            5.7,
            4.9,
            7.2,
            5.7,
            4.9,
            4.6,
        ),
    )
)
_ITALIC_CAPITALS = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",  # with the italic correction TeX adds in math
        (
            7.5,
            7.6,
            7.9,
            8.3,
            7.9,
            7.8,
            7.9,
            9.1,
            5.2,
            6.5,
            9.2,
            6.8,
            10.8,
            9.1,
            7.6,
            7.8,
            7.9,
            7.6,
            6.7,
            7.2,
            7.9,
            8.1,
            10.8,
            9.1,
            8.0,
            7.5,
        ),
    )
)
_BOLD = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        (
            5.6,
            6.4,
            5.1,
            6.4,
            5.3,
            3.5,
            5.8,
            6.4,
            3.2,
            3.5,
            6.1,
            3.2,
            9.6,
            6.4,
            5.8,
            6.4,
            6.1,
            4.7,
            4.5,
            4.5,
            6.4,
            6.1,
            8.3,
            6.1,
            6.1,
            5.1,
        ),
    )
)
_ROMAN = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        (
            5.0,
            5.6,
            4.4,
            5.6,
            4.4,
            3.1,
            5.0,
            5.6,
            2.8,
            3.1,
            5.3,
            2.8,
            8.3,
            5.6,
            5.0,
            5.6,
            5.3,
            3.9,
            3.9,
            3.9,
            5.6,
            5.3,
            7.2,
            5.3,
            5.3,
            4.4,
        ),
    )
)
_SYMBOLS = {  # commands and characters that set as one glyph: (width, TeX's class)
    "(": (3.9, "open"),
    "[": (2.8, "open"),
    ")": (3.9, "close"),
    "]": (2.8, "close"),
    r"\lVert": (5.0, "open"),
    r"\rVert": (5.0, "close"),
    r"\lvert": (2.8, "open"),
    r"\rvert": (2.8, "close"),
    "+": (7.8, "bin"),
    "-": (7.8, "bin"),
    r"\odot": (7.8, "bin"),
    r"\oslash": (7.8, "bin"),
    r"\cdot": (2.8, "bin"),
    r"\otimes": (7.8, "bin"),
    "=": (7.8, "rel"),
    ">": (7.8, "rel"),
    "<": (7.8, "rel"),
    r"\le": (7.8, "rel"),
    r"\neq": (7.8, "rel"),
    r"\ge": (7.8, "rel"),
    r"\in": (6.7, "rel"),
    ",": (2.8, "punct"),
    ";": (2.8, "punct"),
    ":": (2.8, "rel"),
    ".": (2.8, "ord"),
    "/": (5.0, "ord"),
    "'": (2.8, "ord"),
    "|": (2.8, "ord"),
    r"\top": (7.8, "ord"),
    r"\circ": (5.0, "bin"),
    r"\partial": (5.7, "ord"),
    r"\nabla": (8.3, "ord"),
    r"\infty": (10.0, "ord"),
    r"\sum": (14.4, "op"),
    r"\pi": (5.7, "ord"),
    r"\delta": (4.4, "ord"),
}
_SPACES = {r"\quad": 10.0, r"\qquad": 20.0, r"\,": 1.7, r"\;": 2.8, r"\:": 2.2, r"\!": -1.7, "~": 3.3}
_SCALES = {"D": 1.0, "T": 1.0, "S": 0.7, "SS": 0.5}
_SMALLER = {"D": "S", "T": "S", "S": "SS", "SS": "SS"}  # the style of a script
_FRACTION_PARTS = {"D": "T", "T": "S", "S": "SS", "SS": "SS"}  # the style of a fraction's parts
_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|\s+|.")


def set_width(latex: str) -> float:
    r"""About how wide one line of LaTeX (math) sets in a display, in points of 10pt Computer Modern:
    each glyph its width (italic, bold and roman letters apart), a command as the glyph it makes,
    scripts smaller, a fraction as its wider part, the spaces TeX puts around `+` and `=`.

    pdflatex sets the two below 26.4pt and 59.2pt wide:

    >>> round(set_width(r"\mathbf{x}^\top A \mathbf{x}")), round(set_width(r"\operatorname{softmax}(W \mathbf{x})"))
    (26, 59)
    """
    return _Measure(_TOKEN.findall(latex)).width("D")


def _set_characters(latex: str) -> float:
    """set_width in characters, each 1/LINE_WIDTH of an article page's line (as `width` counts)."""
    return set_width(latex) / _POINTS_PER_CHARACTER


class _Measure:
    """A walk over LaTeX tokens adding up widths; a group ({...}) is measured as one ordinary atom."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = [token for token in tokens if token != "&"]
        self.at = 0

    def _next(self) -> str | None:
        while self.at < len(self.tokens) and self.tokens[self.at].isspace():
            self.at += 1
        if self.at == len(self.tokens):
            return None
        self.at += 1
        return self.tokens[self.at - 1]

    def _group(self) -> list[str]:
        """The tokens of the next argument: a {group} or one token."""
        token = self._next()
        if token != "{":
            return [token] if token else []
        depth, start = 1, self.at
        while self.at < len(self.tokens) and depth:
            depth += {"{": 1, "}": -1}.get(self.tokens[self.at], 0)
            self.at += 1
        return self.tokens[start : self.at - 1]

    def width(self, style: str) -> float:
        """The width of the tokens set in `style` (D, T, S or SS: display, text, script, scriptscript)."""
        scale, total, previous = _SCALES[style], 0.0, None
        atoms: list[tuple[float, str]] = []
        while (token := self._next()) is not None:
            if token in ("^", "_"):
                script = _Measure(self._group()).width(_SMALLER[style]) + 0.5 * scale
                if atoms and atoms[-1][1] == "script":  # x_{i}^{2}: the two stacked, as wide as the wider
                    script = max(script, atoms.pop()[0])
                atoms.append((script, "script"))
                continue
            atoms.append(self._atom(token, style))
        for size, kind in atoms:
            if kind == "script":
                total += size
                continue
            if kind == "bin" and previous in (None, "bin", "op", "rel", "open", "punct"):
                kind = "ord"  # a sign: -x
            total += _space(previous, kind, style) + size
            previous = kind
        return total

    def _atom(self, token: str, style: str) -> tuple[float, str]:
        scale = _SCALES[style]
        if token == "{":
            return self._inner(self._group(), style), "ord"
        if token in _SPACES:
            return _SPACES[token] * (1 if token.startswith(r"\q") else scale), "space"
        if token in (r"\frac", r"\dfrac", r"\tfrac"):
            parts = _FRACTION_PARTS[style] if token == r"\frac" else {r"\dfrac": "T"}.get(token, "S")
            above, below = self._inner(self._group(), parts), self._inner(self._group(), parts)
            return max(above, below) + 2.4 * scale, "inner"
        if token in (r"\left", r"\right"):
            delimiter = self._next() or "."
            size = 0.0 if delimiter == "." else 1.2 * _SYMBOLS.get(delimiter, (3.9, ""))[0] * scale
            return size, "open" if token == r"\left" else "close"
        if token in (r"\mathbf", r"\boldsymbol", r"\mathbb"):
            return self._letters(self._group(), _BOLD, 8.6, style), "ord"
        if token in (r"\operatorname", r"\mathrm", r"\text", r"\mathit"):
            table = _ITALIC if token == r"\mathit" else _ROMAN
            if token == r"\text":
                return self._text(self._group(), scale), "ord"
            return self._letters(self._group(), table, 7.5, style), "op" if token == r"\operatorname" else "ord"
        if token in (r"\sqrt", r"\phantom"):
            inner = self._inner(self._group(), style)
            return inner + (8.3 * scale if token == r"\sqrt" else 0), "ord"
        if token in (r"\begin", r"\end"):
            self._group()
            return 0.0, "space"
        if token in _SYMBOLS:
            size, kind = _SYMBOLS[token]
            return size * scale, kind
        if token.startswith("\\") and token[1:] in _OPERATORS_SET:
            return sum(_ROMAN.get(c, 5.0) for c in token[1:]) * scale, "op"
        if token.startswith("\\") and len(token) > 2:  # a Greek letter, a symbol
            return (7.2 if token[1].isupper() else 5.7) * scale, "ord"
        return self._letters([token], _ITALIC, 7.6, style), "ord"

    @staticmethod
    def _inner(tokens: list[str], style: str) -> float:
        return _Measure(tokens).width(style)

    @staticmethod
    def _letters(tokens: list[str], table: dict[str, float], capital: float, style: str) -> float:
        """Letters in one font (digits 5pt, capitals `capital`); anything else as measured in `style`."""
        total = 0.0
        for token in tokens:
            if len(token) == 1 and (token.isalnum()):
                total += (
                    table.get(token, 5.0)
                    if not token.isupper()
                    else _ITALIC_CAPITALS[token]
                    if table is _ITALIC and token.isascii()
                    else capital
                ) * _SCALES[style]
            elif not token.isspace():
                total += _Measure([token]).width(style)
        return total

    @staticmethod
    def _text(tokens: list[str], scale: float) -> float:
        """Roman text: letters, 3.3pt spaces, punctuation."""
        total = 0.0
        for token in tokens:
            for char in [token] if token.startswith("\\") else token:
                total += (
                    3.3
                    if char.isspace()
                    else 7.5
                    if char.isupper()
                    else _ROMAN.get(char, 5.0 if char.isdigit() else 2.8)
                )
        return total * scale


_OPERATORS_SET = frozenset(word for command in _OPERATORS.values() for word in command.split("\\") if word)


def _space(before: str | None, after: str, style: str) -> float:
    """TeX's spacing between two atoms (its table in the TeXbook, ch. 18): thin, medium, thick."""
    if before is None or "space" in (before, after):
        return 0.0
    script = style in ("S", "SS")
    if "bin" in (before, after):
        return 0.0 if script else 2.2
    if "rel" in (before, after):
        return 0.0 if script else 2.8
    if (before == "op" and after in ("ord", "op")) or (after == "op" and before in ("ord", "close")):
        return 1.7 * _SCALES[style]
    if before == "punct":
        return 0.0 if script else 1.7
    if "inner" in (before, after) and before != "open" and after not in ("close", "punct"):
        return 0.0 if script else 1.7
    return 0.0


# ---------------------------------------------------------------- names


def latex_name(name: str, bold: bool = False) -> str:
    r"""A variable's name: `W1` and `W_1` -> `W_{1}`, `lambda` -> `\lambda`, bold `theta` -> `\boldsymbol{\theta}`.

    >>> print(latex_name("W_out2"), latex_name("x", bold=True), latex_name("α1", bold=True))
    W_{\mathrm{out2}} \mathbf{x} \boldsymbol{\alpha}_{1}
    """
    head, *parts = name.split("_")
    letters = head.rstrip("0123456789")
    if letters and letters != head:
        parts.insert(0, head[len(letters) :])
        head = letters
    base = _letters(head, bold)
    if not parts:
        return base
    return base + "_{" + ",".join(_subscript(part) for part in parts) + "}"


def _letters(word: str, bold: bool) -> str:
    if word in GREEK or word in _GREEK_CAPITALS:
        return rf"\boldsymbol{{\{word}}}" if bold else f"\\{word}"
    if word.isascii():
        if bold:
            return rf"\mathbf{{{word}}}"
        return word if len(word) == 1 else rf"\mathit{{{word}}}"
    text = " ".join(_UNICODE_GREEK.get(char, char) for char in word)
    return rf"\boldsymbol{{{text}}}" if bold else text


def _subscript(part: str) -> str:
    if part.isdigit() or (len(part) == 1 and part.isascii()):
        return part
    if part in GREEK or part in _GREEK_CAPITALS:
        return f"\\{part}"
    if part.isascii():
        return rf"\mathrm{{{part}}}"
    return " ".join(_UNICODE_GREEK.get(char, char) for char in part)


def _number(value: Fraction, inline: bool = False) -> str:
    """`2`, `\\frac{1}{2}` (`1/2` in an exponent), `-3`; a decimal if the denominator is large (0.001)."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value.denominator == 1:
        return f"{sign}{value.numerator}"
    decimal = format_number(value)
    if value.denominator > _LARGEST_FRACTION_DENOMINATOR and "/" not in decimal:
        return sign + decimal
    if inline:
        return f"{sign}{value.numerator}/{value.denominator}"
    return rf"{sign}\frac{{{value.numerator}}}{{{value.denominator}}}"


# ---------------------------------------------------------------- the printer


class LatexPrinter(Printer):
    """Canonical text's structure with LaTeX spellings; parentheses of one size, \\left( ... \\right)
    only around a fraction or sum (see _parens)."""

    def __init__(self, matrices: str = "italic", sigmoid: str = "sigma", step: str = "name") -> None:
        super().__init__()
        self.in_exponent = 0
        self.bold_matrices = matrices == "bold"  # \mathbf{A}, \mathbf{I}, as d2l and the Matrix Cookbook
        self.sigma = sigmoid == "sigma"  # \sigma(z), as papers print the sigmoid
        self.step = step

    def precedence(self, node: n.Node) -> int:
        if isinstance(node, n.Kron):
            return PRODUCT
        if isinstance(node, n.Number):
            if node.value < 0:
                return UNARY
            return ATOM if node.value.denominator == 1 else POWER  # \frac binds like a power
        if isinstance(node, n.Divide) and node.right.shape.is_scalar:
            return POWER
        if isinstance(node, n.Fill):
            if node.value not in (_ZERO, _ONE) or (node.value == _ONE and node.shape.is_matrix):
                return PRODUCT  # c 1, 1 1^T
            return POSTFIX if node.shape.is_row else ATOM  # 1^T, 0^T; 1, 0
        return precedence(node)

    def wrap(self, node: n.Node, loosest_bare: int) -> str:
        text = self.text(node)
        return text if self.precedence(node) >= loosest_bare else _parens(text)

    def _base(self, node: n.Node) -> str:
        """The node under a superscript: in parentheses unless atomic and not superscripted itself."""
        text = self.wrap(node, POSTFIX)
        superscripted = isinstance(node, (n.Transpose, n.Inverse)) or (
            isinstance(node, n.Fill) and node.shape.is_row and self.precedence(node) == POSTFIX
        )
        return _parens(text) if superscripted else text

    # Leaves

    def _number(self, node: n.Number) -> str:
        return _number(node.value, inline=self.in_exponent > 0)

    def _const(self, node: n.Const) -> str:
        return r"\pi" if node.name == "pi" else "e"

    def _var(self, node: n.Var) -> str:
        return latex_name(node.name, bold=node.shape.is_vector or (self.bold_matrices and node.shape.is_matrix))

    def _dimsize(self, node: n.DimSize) -> str:
        return latex_name(node.name)

    def _identity(self, node: n.Identity) -> str:
        return r"\mathbf{I}" if self.bold_matrices else "I"

    def _fill(self, node: n.Fill) -> str:
        value = node.value
        symbol = r"\mathbf{0}" if value == _ZERO else r"\mathbf{1}"
        if node.shape.is_column:
            body = symbol
        elif node.shape.is_row:
            body = symbol + r"^\top"
        else:
            body = symbol if value == _ZERO else r"\mathbf{1} \mathbf{1}^\top"
        if value in (_ZERO, _ONE):
            return body
        return _juxtapose(self.wrap(value, PRODUCT), body)

    # Operators

    def _add(self, node: n.Add) -> str:
        terms = flat_terms(node)
        if len(terms) > SUM_BALANCE_ABOVE:  # a long sum is a balanced tree: it reads the same flat
            text = self.wrap(terms[0], SUM)
            for term in terms[1:]:
                text += (
                    f" - {self._negated(term.operand)}" if isinstance(term, n.Neg) else f" + {self.wrap(term, PRODUCT)}"
                )
            return text
        left = self.wrap(node.left, SUM)
        right = node.right
        if isinstance(right, n.Neg):
            return f"{left} - {self._negated(right.operand)}"
        if isinstance(right, n.Number) and right.value < 0:
            return f"{left} - {_number(-right.value, inline=self.in_exponent > 0)}"
        return f"{left} + {self.wrap(right, PRODUCT)}"

    def _neg(self, node: n.Neg) -> str:
        return "-" + self._negated(node.operand)

    def _plain_negated(self, operand: n.Node) -> str:
        """The operand of a minus sign: -(a b) = (-a) b needs no parentheses, - -a does."""
        if self.precedence(operand) == UNARY:
            return _parens(self.text(operand))
        return self.wrap(operand, PRODUCT)

    def _kron(self, node: n.Kron) -> str:
        left = self.text(node.left) if isinstance(node.left, n.Kron) else self.wrap(node.left, POWER)
        right = _parens(self.text(node.right)) if isinstance(node.right, n.Kron) else self.wrap(node.right, POWER)
        return f"{left} \\otimes {right}"

    def _commutation(self, node: n.Commutation) -> str:
        return f"K_{{{latex_name(str(node.m))}{latex_name(str(node.n))}}}"

    def _vec(self, node: n.Vec) -> str:
        return f"\\operatorname{{vec}}{_parens(self.text(node.operand))}"

    def _negated(self, operand: n.Node) -> str:
        return _parens(self.text(operand)) if isinstance(operand, n.Kron) else self._plain_negated(operand)

    def _juxtaposed(self, node: n.Node, left: n.Node, right: n.Node) -> str:
        if not (isinstance(left, n.Kron) or isinstance(right, n.Kron)):
            return _juxtapose(*self.sides(node, left, right))
        left_text = _parens(self.text(left)) if isinstance(left, n.Kron) else self.wrap(left, PRODUCT)
        right_text = _parens(self.text(right)) if isinstance(right, n.Kron) else self.wrap(right, POWER)
        return _juxtapose(left_text, right_text)

    def sides(self, node: n.Node, left: n.Node, right: n.Node) -> tuple[str, str]:
        """A product's two sides as it writes them, parenthesized where they need it."""
        if (isinstance(left, (n.Hadamard, n.Divide)) and self.precedence(left) == PRODUCT) or (
            isinstance(node, n.ScalarMul)
            and isinstance(left, n.MatMul)
            and left.shape.is_scalar
            and not node.shape.is_scalar
        ):
            left_text = _parens(self.text(left))  # (x ⊙ y) A, never x ⊙ y A; (x^T x) I
        else:
            left_text = self.wrap(left, PRODUCT)
        scalar_after = isinstance(node, n.ScalarMul) and right.shape.is_scalar and not left.shape.is_scalar
        associative = isinstance(right, (n.MatMul, n.ScalarMul)) and not scalar_after
        if associative and not left.shape.is_scalar and _starts_with_scalar_product(right):
            associative = False  # x^T (z^T z B), never x^T z^T z B: x^T z^T would not conform
        if scalar_after and isinstance(right, (n.MatMul, n.ScalarMul)):
            right_text = _parens(self.text(right))  # softmax(o) (1'y)
        else:
            right_text = self.wrap(right, PRODUCT if associative else POWER)
        if right_text.startswith("-"):
            right_text = _parens(right_text)  # A (-B x), never A -B x
        return left_text, right_text

    def _elementwise(self, left: n.Node, op: str, right: n.Node) -> str:
        """`a \\odot b`, `a \\oslash b`: a product or a negation on either side gets parentheses."""
        if isinstance(left, n.Hadamard) and op == r"\odot":
            left_text = self.text(left)  # x ⊙ y ⊙ z
        else:
            left_text = self.wrap(left, UNARY)
        return f"{left_text} {op} {self.wrap(right, POWER)}"

    def _hadamard(self, node: n.Hadamard) -> str:
        return self._elementwise(node.left, r"\odot", node.right)

    def _divide(self, node: n.Divide) -> str:
        if node.right.shape.is_scalar and isinstance(node.left, n.Neg):  # -\frac{1}{2}, never \frac{-1}{2}
            return rf"-\frac{{{self.text(node.left.operand)}}}{{{self.text(node.right)}}}"
        if node.right.shape.is_scalar:
            return rf"\frac{{{self.text(node.left)}}}{{{self.text(node.right)}}}"
        return self._elementwise(node.left, r"\oslash", node.right)

    def _power(self, node: n.Power) -> str:
        base = self._base(node.base)
        self.in_exponent += 1
        if node.shape.is_scalar:
            exponent = self.text(node.exponent)
        else:
            exponent = r"\circ " + self.wrap(node.exponent, UNARY)
        self.in_exponent -= 1
        return f"{base}^{{{exponent}}}"

    def _matpower(self, node: n.MatPower) -> str:
        return f"{self._base(node.base)}^{{{node.exponent}}}"

    def _inverse(self, node: n.Inverse) -> str:
        if isinstance(node.operand, n.Transpose):
            return f"{self._base(node.operand.operand)}^{{-\\top}}"
        return f"{self._base(node.operand)}^{{-1}}"

    def _transpose(self, node: n.Transpose) -> str:
        if isinstance(node.operand, n.Inverse):
            return f"{self._base(node.operand.operand)}^{{-\\top}}"
        return f"{self._base(node.operand)}^\\top"

    # Functions

    def _call(self, name: str, *args: n.Node) -> str:
        inner = ", ".join(self.text(arg) for arg in args)
        if name == "sqrt":
            return rf"\sqrt{{{inner}}}"
        if name == "abs":
            return _delimited(r"\lvert", inner, r"\rvert")
        if name == "sigmoid" and self.sigma:
            operator = r"\sigma"
        elif name == "step" and self.step == "indicator":
            return rf"\mathbb{{I}}[{inner} > 0]"
        elif name == "step" and self.step == "heaviside":
            operator = "H"
        elif name not in _KNOWN_CALLS:
            operator = latex_name(name.rstrip("'")) + "'" * n.primes(name)  # f'(x)
        else:
            operator = _OPERATORS.get(name, rf"\operatorname{{{name}}}")
        if (
            name == "log"
            and len(args) == 1
            and isinstance(args[0], n.Det)
            and isinstance(args[0].operand, (n.Var, n.Const))
        ):
            return rf"\log\det {self.text(args[0].operand)}"
        if name in _BARE_ARGUMENT and len(args) == 1 and isinstance(args[0], (n.Var, n.Const)):
            return rf"{operator} {inner}"  # \log\det X, \det A, \log x: as books set them
        return operator + _parens(inner)

    def _norm(self, node: n.Norm) -> str:
        return _delimited(r"\lVert", self.text(node.operand), r"\rVert") + f"_{_NORM_SUBSCRIPTS[node.p]}"

    def _derivative(self, node: n.Derivative) -> str:
        variable = self.text(node.wrt)
        head = (
            rf"\frac{{\partial}}{{\partial {variable}}}"
            if node.order == 1
            else rf"\frac{{\partial^{{{node.order}}}}}{{\partial {variable}^{{{node.order}}}}}"
        )
        return f"{head} {self.wrap(node.operand, PRODUCT)}"

    # Index notation

    def entry(self, node: n.Node, subscript: str) -> str:
        """An entry of a vector or matrix expression: `A_{ij}`, `b_{k}`, `(A^{-1})_{ik}`."""
        if isinstance(node, n.Var):
            text = latex_name(node.name)  # entries are scalars: italic, not bold
            bare = "_" not in text
        else:
            text = self.text(node)
            function = isinstance(node, (n.Apply, n.DiagMatrix, n.DiagOf, n.Softmax, n.Maximum, n.Minimum))
            bare = (function and text.endswith(")")) or (  # \exp(\mathbf{x})_{i}, as text writes exp(x)_i
                isinstance(node, n.Fill) and self.precedence(node) == ATOM
            )
        if not subscript:
            return text
        return f"{text if bare else _parens(text)}_{{{subscript}}}"


def _starts_with_scalar_product(node: n.Node) -> bool:
    """Whether the first factor a product prints is a scalar made of vectors or matrices (z^T z B)."""
    while isinstance(node, (n.MatMul, n.ScalarMul)):
        if node.shape.is_scalar and _has_array_factors(node):
            return True
        node = node.left
    return False


def _has_array_factors(node: n.Node) -> bool:
    """A product with a vector or a matrix among its factors (a scalar such as z^T z)."""
    if isinstance(node, (n.MatMul, n.ScalarMul)):
        return any(not side.shape.is_scalar or _has_array_factors(side) for side in (node.left, node.right))
    return False


_TALL = (r"\frac", r"\dfrac", r"\sum", r"\begin", r"\left", r"\sqrt")
_BARE_ARGUMENT = ("logdet",)  # \\log\\det X, as books set it (but \\det(A) A^{-1}, \\log(x))


def _parens(text: str) -> str:
    r"""Parentheses of the text's own size: \left( ... \right) only around what is taller than a line
    (a fraction, a sum), so that a formula's parentheses are one size unless nesting needs more."""
    return _delimited("(", text, ")")


def _delimited(opening: str, text: str, closing: str) -> str:
    if any(tall in text for tall in _TALL):
        return (
            rf"\left{opening} {text} \right{closing}"
            if opening.startswith("\\")
            else rf"\left{opening}{text}\right{closing}"
        )
    return f"{opening} {text} {closing}" if opening.startswith("\\") else f"{opening}{text}{closing}"


def _juxtapose(left: str, right: str) -> str:
    """A product by juxtaposition; `\\cdot` where digits or fractions would run together (2 \\cdot 3)."""
    if right[:1].isdigit() or (right.startswith(r"\frac") and left[-1:].isdigit()):
        return rf"{left} \cdot {right}"
    return f"{left} {right}"


# ---------------------------------------------------------------- equations


def _differentiated(result: Derivative, printer: LatexPrinter) -> str:
    """The function under ∂, in parentheses if it is a sum, a fraction or starts with a minus sign."""
    expr = result.expr
    text = printer.text(expr)
    if printer.precedence(expr) < PRODUCT or text.startswith(("-", r"\frac")):
        return _parens(text)
    return text


# A function that sets wider than this many characters (a quarter of a displayed line), or that holds a
# fraction, is not put over \partial as a huge numerator: \frac{\partial}{\partial \mathbf{x}} \left(f\right).
OPERATOR_FORM_ABOVE = LINE_WIDTH / 4


def _matrix_head(result: Derivative, printer: LatexPrinter, derivative: str = "frac") -> str:
    r"""\frac{\partial f}{\partial \mathbf{w}}; a Hessian by a vector \frac{\partial^{2} f}{\partial \mathbf{x} \,
    \partial \mathbf{x}^\top} (by a scalar \partial a^{2}). A function wider than OPERATOR_FORM_ABOVE or holding a
    fraction follows the operator instead, \frac{\partial}{\partial \mathbf{w}} \left(f\right). In the nabla
    notation a scalar function of a vector or matrix has \nabla_{\mathbf{w}} f, the gradient, which has the
    variable's shape: in numerator layout the derivative is its transpose, (\nabla_{\mathbf{w}} f)^\top; the
    Hessian is \nabla^{2}_{\mathbf{x}} f."""
    variable = printer.text(result.wrt)
    function = _differentiated(result, printer)
    by_vector = result.wrt.shape.is_vector
    if derivative == "nabla" and result.expr.shape.is_scalar and not result.wrt.shape.is_scalar:
        if result.order == 1:
            gradient = rf"\nabla_{{{variable}}} {function}"
            return rf"({gradient})^\top" if result.layout is Layout.NUMERATOR else gradient
        if result.order == 2 and by_vector:
            return rf"\nabla^{{2}}_{{{variable}}} {function}"
    partial = r"\partial" if result.order == 1 else rf"\partial^{{{result.order}}}"
    if result.order == 1:
        below = rf"\partial {variable}"
    elif by_vector:
        below = rf"\partial {variable} \, \partial {variable}^\top"
    else:
        below = rf"\partial {variable}^{{{result.order}}}"
    written = printer.text(result.expr)
    if r"\frac" in written or _set_characters(written) > OPERATOR_FORM_ABOVE:
        return rf"\frac{{{partial}}}{{{below}}} \left({written}\right)"
    return rf"\frac{{{partial} {function}}}{{{below}}}"


def _index_head(result: Derivative, printer: LatexPrinter) -> str:
    """\\frac{\\partial y_{i}}{\\partial X_{jk}}: output indices first, then the variable's."""
    names = result.index_names
    out = n.Var(output_name(result), shape=result.expr.shape)
    out_indices = "".join(names[i] for i in result.out_axes if i in names)
    below = r" \, ".join(
        rf"\partial {printer.entry(result.wrt, ''.join(names[i] for i in group))}"
        if group
        else rf"\partial {printer.text(result.wrt)}"
        for group in result.wrt_groups
    )
    power = "" if result.order == 1 else f"^{{{result.order}}}"
    return rf"\frac{{\partial{power} {printer.entry(out, out_indices)}}}{{{below}}}"


def _index_term(term: IndexTerm, names: dict[str, str], printer: LatexPrinter) -> str:
    parts = [printer.wrap(scalar, POWER) for scalar in term.scalars]
    for piece in sorted(term.pieces, key=lambda p: isinstance(p.elements[0], n.Identity)):  # deltas last
        subscript = "".join(names[i] for i in piece.indices)
        if len(piece.elements) == 1 and isinstance(piece.elements[0], n.Identity):
            parts.append(rf"\delta_{{{subscript}}}")
        elif len(piece.elements) == 1:
            parts.append(printer.entry(piece.elements[0], subscript))
        else:
            product = " ".join(printer.wrap(e, PRODUCT if isinstance(e, n.MatMul) else POWER) for e in piece.elements)
            parts.append(_parens(product) + (f"_{{{subscript}}}" if subscript else ""))
    text = " ".join(parts)
    if term.summed:
        text = rf"\sum_{{{''.join(names[i] for i in term.summed)}}} " + text
    coefficient = term.coefficient
    if coefficient in (1, -1):
        text = text or "1"
    else:
        text = _juxtapose(_number(abs(coefficient)), text) if text else _number(abs(coefficient))
    return f"-{text}" if coefficient < 0 else text


class VecLatexPrinter(LatexPrinter):
    """Magnus and Neudecker's notation: each identity with its size, I_{n}."""

    def _identity(self, node: n.Identity) -> str:
        """I_{n}, I_{mn} for a product of sizes (I_{m_1 \\cdot n} where a name is longer than a letter), I_{12}."""
        parts = [part if part.isdigit() else latex_name(part) for part in str(node.shape.rows).split("·")]
        joined = "".join(parts) if all(len(part) == 1 for part in parts) else r" \cdot ".join(parts)
        return f"{super()._identity(node)}_{{{joined}}}"


def vec_latex(result: Derivative, form: VecForm, mode: str = "equation") -> str:
    """A vec/Kronecker form as one line of LaTeX: the equation (∂vec(F)/∂vec(X)^⊤ = ...) or its right-hand side."""
    printer = VecLatexPrinter()
    body = printer.text(form.matrix)
    if mode == "rhs":
        return body
    vec_x = f"\\operatorname{{vec}}({latex_name(result.wrt.name)})"
    if result.order == 2:
        head = f"\\frac{{\\partial^2 f}}{{\\partial {vec_x} \\, \\partial {vec_x}^\\top}}"
        head = f"\\left({head}\\right)^\\top" if transposed_layout(result) else head
    elif transposed_layout(result):
        head = f"\\frac{{\\partial \\operatorname{{vec}}(F)^\\top}}{{\\partial {vec_x}}}"
    else:
        head = f"\\frac{{\\partial \\operatorname{{vec}}(F)}}{{\\partial {vec_x}^\\top}}"
    return f"{head} = {body}"
