"""A derivation (calculus/steps.py) as numbered text lines, one LaTeX align* block, or JSON."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import nodes as n
from ..calculus.differentiate import Derivative
from ..calculus.steps import Derivation, Equation, Step
from ..language.notation import SUM, precedence
from ..shapes import Shape
from .latex import LINE_WIDTH, LatexPrinter, _set_characters, latex_name, latex_text
from .text import SUPERSCRIPTS, derivative_text, expression_text, join_signed, where_text

RULE_COLUMN = 44  # text: the rule names start in this column when the equation is shorter


def steps_text(derivation: Derivation, unicode: bool = True) -> list[str]:
    """One line per step: its number, the equation, the rule that justifies it (in a column)."""
    lines = []
    for number, step in enumerate(derivation.steps, start=1):
        for position, equation in enumerate(_equations_text(step, derivation, unicode)):
            head = f"{number:2}. " if position == 0 else "    "
            text = head + equation
            rule = step.rule if position == 0 else ""
            lines.append(f"{text:<{RULE_COLUMN}}  {rule}".rstrip() if rule else text)
        if step.note:
            lines.append(f"    ({step.note})")
    return lines


def _equations_text(step: Step, derivation: Derivation, unicode: bool) -> list[str]:
    if step.definitions:
        return [", ".join(f"{name} = {expression_text(body, unicode)}" for name, body in step.definitions)]
    return [_equation_text(equation, derivation, unicode) for equation in step.equations]


def _equation_text(equation: Equation, derivation: Derivation, unicode: bool) -> str:
    if equation.signal:
        return " = ".join([equation.signal, *_signal_chain(equation), _rhs_text(equation, unicode)])
    if equation.layer:
        return _read_off_text(equation, unicode)
    if equation.upstream:
        (of, by), upstream = equation.back[0], equation.upstream
        chain = f"{upstream}ᵀ {_partial(of, by)}"
        return " = ".join([_partial(equation.of, equation.by), chain, _rhs_text(equation, unicode)])
    if equation.differential:
        g = _rhs_text(equation, unicode)
        by = f"d{equation.by}"
        read_off = (
            f"tr({g} {by})"
            if equation.result.wrt.shape.is_matrix
            else (f"({g}) {by}" if _is_sum(equation) else f"{g} {by}")
        )
        expansion, rearranged = (
            join_signed(expression_text(term, unicode) for term in terms) if terms else ""
            for terms in (equation.expansion, equation.rearranged)
        )
        chain = " = ".join(part for part in (f"d{equation.of}", expansion, rearranged, read_off) if part)
        return f"{chain}, so {_partial(equation.of, equation.by)} = {g}"
    parts = [_lhs_text(equation, unicode)]
    if equation.middle:
        parts.append(" + ".join(" ".join(_partial(of, by) for of, by in term) for term in equation.middle))
    if equation.terms:
        parts.append(_sum_rule_text(equation, unicode))
    parts.append(_rhs_text(equation, unicode))
    return " = ".join(parts)


def _lhs_text(equation: Equation, unicode: bool) -> str:
    """∂y/∂x, or ∂(3x^2)/∂x for a function with no name."""
    if equation.function is not None:
        return f"∂({expression_text(equation.function, unicode)})/∂{equation.by}"
    return _partial(equation.of, equation.by, equation.order)


def _sum_rule_text(equation: Equation, unicode: bool) -> str:
    """∂(3x^2)/∂x - ∂(4x)/∂x"""
    text = ""
    for position, (subtracted, term) in enumerate(equation.terms):
        sign = (" - " if position else "-") if subtracted else (" + " if position else "")
        text += f"{sign}∂({expression_text(term, unicode)})/∂{equation.by}"
    return text


def _signal_chain(equation: Equation) -> list[str]:
    """(∂L/∂z₁)ᵀ, then (∂h₁/∂z₁)ᵀ(∂z₂/∂h₁)ᵀδ₂: what the error signal is, then how it is carried back."""
    parts = [f"({_partial(equation.of, equation.by)})ᵀ"]
    if equation.back:
        parts.append("".join(f"({_partial(of, by)})ᵀ" for of, by in equation.back) + equation.upstream)
    return parts


def _read_off_text(equation: Equation, unicode: bool) -> str:
    """dz₁ = dW₁ x, so dL = δ₁ᵀdz₁ = δ₁ᵀdW₁ x = tr(x δ₁ᵀ dW₁), so ∂L/∂W₁ = x δ₁ᵀ."""
    signal_row = _signal_row(equation)
    differential = n.Var(f"d{equation.layer}", shape=equation.expansion[0].shape)
    g = _rhs_text(equation, unicode)
    chain = [
        f"d{equation.of}",
        expression_text(n.MatMul(signal_row, differential), unicode),
        expression_text(n.MatMul(signal_row, equation.expansion[0]), unicode),
        f"tr({g} d{equation.by})",
    ]
    layer = f"d{equation.layer} = {expression_text(equation.expansion[0], unicode)}"
    return f"{layer}, so {' = '.join(chain)}, so {_partial(equation.of, equation.by)} = {g}"


def _signal_row(equation: Equation) -> n.Node:
    """δᵀ, the error signal of the layer the equation reads off, as a row."""
    column = equation.expansion[0].shape
    return n.Transpose(n.Var(equation.upstream, shape=column), shape=Shape(1, column.rows))


def _is_sum(equation: Equation) -> bool:
    node = equation.shown if equation.shown is not None else equation.result.inline_matrix
    return node is not None and precedence(node) <= SUM


def _partial(of: str, by: str, order: int = 1) -> str:
    if order == 1:
        return f"∂{of}/∂{by}"
    power = str(order).translate(SUPERSCRIPTS)
    return f"∂{power}{of}/∂{by}{power}"


def _rhs_text(equation: Equation, unicode: bool) -> str:
    result = equation.result
    if equation.answer and result.where:  # as diff shows it
        text = derivative_text(result, unicode)
        text = text if result.matrix is not None else text.split(" = ", 1)[1]
        return f"{text}, where {where_text(result, unicode)}"
    if equation.shown is not None:
        return expression_text(equation.shown, unicode)
    if result.inline_matrix is not None:
        return expression_text(result.inline_matrix, unicode)
    text = derivative_text(result, unicode)
    return text.split(" = ", 1)[1] if " = " in text else text  # index notation without its head


def steps_latex(derivation: Derivation) -> str:
    r"""One align* block, ready to paste: `lhs &= rhs \tag*{(rule)}` per step. A right-hand side too wide
    for the page is broken across rows (a chain of equalities after an `=`, a sum after its terms, a
    product between its factors), and a rule that would not fit beside its equation gets rows of its
    own, each a `\tag*`, so that nothing leaves the page."""
    printer = LatexPrinter()
    blocks: list[tuple[list[str], str]] = []
    for step in derivation.steps:
        rows: list[str] = []
        if step.definitions:
            for name, body in step.definitions:
                rows += _chain_rows(_latex_var(name, body), [body], printer)
        for equation in step.equations:
            rows += _equation_rows(equation, derivation, printer)
        blocks.append((rows, _latex_rule(step.rule)))
    every_row = [row for rows, _ in blocks for row in rows]
    left = max(_set_characters(row.split("&", 1)[0]) for row in every_row)
    right = max(_set_characters(row.split("&", 1)[1]) if "&" in row else 0 for row in every_row)
    start = max(0.0, (LINE_WIDTH - left - right) / 2) + left  # where the alignment column is, centred
    tagged = [row for rows, rule in blocks for row in _tagged(rows, rule, start)]
    return "\\begin{align*}\n" + " \\\\\n".join(tagged) + "\n\\end{align*}"


TAG_GAP = 2  # characters between an equation and its tag


def _tagged(rows: list[str], rule: str, start: float) -> list[str]:
    r"""The step's rows with its rule as a \tag* on the last, if it fits beside it; otherwise on rows of its
    own, as many as its width needs (broken after a comma)."""
    tag = rf"\text{{({rule})}}"
    last = rows[-1].split("&", 1)[1] if "&" in rows[-1] else rows[-1]
    if start + _set_characters(last) + TAG_GAP + _set_characters(tag) <= LINE_WIDTH:
        return rows[:-1] + [rf"{rows[-1]} \tag*{{{tag}}}"]
    lines: list[str] = []
    for part in rule.split(", "):
        joined = f"{lines[-1]}, {part}" if lines else part
        if lines and _set_characters(rf"\text{{({joined},}}") <= LINE_WIDTH:
            lines[-1] = joined
        else:
            lines.append(part)
    texts = [("(" if k == 0 else "") + line + ("," if k < len(lines) - 1 else ")") for k, line in enumerate(lines)]
    return rows + [rf"& \tag*{{\text{{{text}}}}}" for text in texts]


def _chain_rows(lhs: str, parts: Sequence[str | n.Node], printer: LatexPrinter) -> list[str]:
    """lhs = part = part = ...: on one row if it fits, else one row per part, each broken further where it
    is too wide (_broken_rows)."""
    texts = [part if isinstance(part, str) else printer.text(part) for part in parts]
    if _set_characters(f"{lhs} = " + " = ".join(texts)) <= LINE_WIDTH:
        return [f"{lhs} &= " + " = ".join(texts)]
    indent = _set_characters(lhs)
    rows: list[str] = []
    for position, text in enumerate(texts):
        lead = f"{lhs} &= " if position == 0 else "&= "
        rows += _broken_rows(lead, text, 0 if position == 0 else indent, indent)
    return rows


BREAKS = ((" + ", 0), (" - ", 0), (r" \odot ", 1), (r" \oslash ", 1), (" ", 2))  # where a row may break, best first


def _broken_rows(lead: str, text: str, first_indent: float, indent: float) -> list[str]:
    r"""`lead text` in rows that fit the line, continued after `&\quad`: each broken before a sum's `+` or
    `-`, an element-wise `\odot`, or between the factors of a product, outside as many parentheses as
    can be (plain parentheses close on a later row as well; \left( ... \right) and braces are never
    broken)."""
    rows = []
    offset = first_indent
    while _set_characters(lead + text) + offset > LINE_WIDTH:
        cut = _best_break(text, LINE_WIDTH - offset - _set_characters(lead))
        if cut is None:
            break
        rows.append((lead + text[:cut]).rstrip())
        lead, text, offset = r"&\quad ", text[cut:].lstrip(), indent
    return rows + [lead + text]


def _best_break(text: str, width: float) -> int | None:
    """Where to break the text so that its first part fits `width`: outside the most parentheses, then at
    the best kind of break (BREAKS), then the rightmost."""
    best: tuple[tuple[int, int, int], int] | None = None
    for position, depth in _break_points(text):
        if _set_characters(text[:position]) > width:
            continue
        kind = next(rank for mark, rank in BREAKS if text.startswith(mark, position))
        key = (depth, kind, -position)
        if best is None or key < best[0]:
            best = (key, position)
    return None if best is None else best[1]


def _break_points(text: str) -> Iterator[tuple[int, int]]:
    r"""(position, parenthesis depth) of each space outside braces and \left ... \right where a row may
    break: before a binary operator, or between two factors (not after a comma or an operator)."""
    braces = parens = sized = 0
    for position, char in enumerate(text):
        if char == "{":
            braces += 1
        elif char == "}":
            braces -= 1
        elif text.startswith(r"\left", position):
            sized += 1
        elif text.startswith(r"\right", position):
            sized -= 1
        elif char == "(" and not braces:
            parens += 1
        elif char == ")" and not braces:
            parens -= 1
        elif char == " " and not braces and not sized and _may_break(text, position):
            yield position, parens


def _may_break(text: str, position: int) -> bool:
    before, after = text[:position].rstrip(), text[position + 1 :]
    if not before or not after or before[-1] in ",=+-(" or before.endswith((r"\odot", r"\oslash", r"\,")):
        return False
    return not after.startswith(("=", ")", r"\,"))


def _equation_rows(equation: Equation, derivation: Derivation, printer: LatexPrinter) -> list[str]:
    partial = _latex_partial(equation.of, equation.by, derivation, equation.order)
    if equation.signal:
        chain = [rf"\left({_latex_partial(equation.of, equation.by, derivation)}\right)^\top"]
        if equation.back:
            transposed = " ".join(
                rf"\left({_latex_partial(of, by, derivation)}\right)^\top" for of, by in equation.back
            )
            chain.append(f"{transposed} {_latex_name_of(equation.upstream, derivation)}")
        return _chain_rows(_latex_name_of(equation.signal, derivation), [*chain, _latex_rhs(equation)], printer)
    if equation.layer:
        return _read_off_rows(equation, derivation, printer)
    if equation.upstream:
        (of, by), upstream = equation.back[0], _latex_name_of(equation.upstream, derivation)
        return _chain_rows(
            partial, [rf"{upstream}^\top {_latex_partial(of, by, derivation)}", _latex_rhs(equation)], printer
        )
    if equation.differential:
        g = _latex_rhs_text(equation, printer)
        by = rf"d{_latex_name_of(equation.by, derivation)}"
        read_off = (
            rf"\operatorname{{tr}}\left({g} \, {by}\right)"
            if equation.result.wrt.shape.is_matrix
            else (rf"\left({g}\right) \, {by}" if _is_sum(equation) else rf"{g} \, {by}")
        )
        expansion, rearranged = (
            join_signed(_differentials(printer.text(term), [equation.by], printer) for term in terms) if terms else ""
            for terms in (equation.expansion, equation.rearranged)
        )
        rows = _chain_rows(
            rf"d{_latex_name_of(equation.of, derivation)}",
            [p for p in (expansion, rearranged, read_off) if p],
            printer,
        )
        return rows + _chain_rows(rf"\implies {partial}", [_latex_rhs(equation)], printer)
    middle: list[str | n.Node] = []
    if equation.middle:
        middle.append(
            " + ".join(" ".join(_latex_partial(of, by, derivation) for of, by in term) for term in equation.middle)
        )
    if equation.terms:
        by = _latex_name_of(equation.by, derivation)
        middle.append(
            join_signed(("-" if minus else "") + _latex_of(term, by, printer) for minus, term in equation.terms)
        )
    if equation.function is not None:
        partial = _latex_of(equation.function, _latex_name_of(equation.by, derivation), printer)
    if equation.answer and equation.result.matrix is not None:
        return _answer_rows(partial, [*middle, equation.result.matrix], equation.result, printer)
    return _chain_rows(partial, [*middle, _latex_rhs(equation)], printer)


def _latex_of(function: n.Node, by: str, printer: LatexPrinter) -> str:
    """∂(3x²)/∂x"""
    return rf"\frac{{\partial ({printer.text(function)})}}{{\partial {by}}}"


def _read_off_rows(equation: Equation, derivation: Derivation, printer: LatexPrinter) -> list[str]:
    r"""dz₁ = dW₁ x, dL = δ₁ᵀdz₁ = δ₁ᵀdW₁ x = tr(x δ₁ᵀ dW₁), so ∂L/∂W₁ = x δ₁ᵀ (the differential of the
    layer, the trace trick, the identification)."""
    names = [equation.by, equation.layer]
    expansion = equation.expansion[0]
    signal_row = _signal_row(equation)
    differential = n.Var(f"d{equation.layer}", shape=expansion.shape)
    g = _latex_rhs_text(equation, printer)
    trace = rf"\operatorname{{tr}}\left({g} \, d{_latex_name_of(equation.by, derivation)}\right)"
    chain = [
        _differentials(printer.text(n.MatMul(signal_row, differential)), names, printer),
        _differentials(printer.text(n.MatMul(signal_row, expansion)), names, printer),
        trace,
    ]
    layer = rf"d{_latex_name_of(equation.layer, derivation)}"
    return [
        *_chain_rows(layer, [_differentials(printer.text(expansion), names, printer)], printer),
        *_chain_rows(rf"d{_latex_name_of(equation.of, derivation)}", chain, printer),
        *_chain_rows(rf"\implies {_latex_partial(equation.of, equation.by, derivation)}", [g], printer),
    ]


def _differentials(latex: str, names: list[str], printer: LatexPrinter) -> str:
    r"""dW₁ as d W_{1}, dx as d\mathbf{x}: the variable named `dW1` printed as the differential of W1."""
    for name in names:
        for shape in (Shape(2, 2), Shape(2, 1), Shape(1, 1)):
            named = printer.text(n.Var(f"d{name}", shape=shape))
            latex = latex.replace(named, "d" + printer.text(n.Var(name, shape=shape)))
    return latex


def _answer_rows(partial: str, parts: list[str | n.Node], result: Derivative, printer: LatexPrinter) -> list[str]:
    """The answer as diff shows it (after the chain that leads to it): its matrix form, then a row for each
    `where` name."""
    rows = _chain_rows(partial, parts, printer)
    indent = _set_characters(partial)
    for position, (name, node) in enumerate(result.where):
        lead = r"&\text{where } " if position == 0 else r"&\phantom{\text{where }} "
        lead += f"{printer.text(n.Var(name, shape=node.shape))} = "
        rows += _broken_rows(lead, printer.text(node), indent, indent)
    return rows


def _latex_equation(equation: Equation, derivation: Derivation, printer: LatexPrinter) -> str:
    """The equation's rows as one string (JSON's `latex`)."""
    return " \\\\ ".join(_equation_rows(equation, derivation, printer))


def _latex_rhs_text(equation: Equation, printer: LatexPrinter) -> str:
    rhs = _latex_rhs(equation)
    return rhs if isinstance(rhs, str) else printer.text(rhs)


def _latex_rhs(equation: Equation) -> str | n.Node:
    if equation.shown is not None:
        return equation.shown
    if equation.result.inline_matrix is not None:
        return equation.result.inline_matrix
    return latex_text(equation.result, "rhs")


def _latex_partial(of: str, by: str, derivation: Derivation, order: int = 1) -> str:
    power = f"^{{{order}}}" if order > 1 else ""
    return (
        rf"\frac{{\partial{power} {_latex_name_of(of, derivation)}}}"
        rf"{{\partial {_latex_name_of(by, derivation)}{power}}}"
    )


def _latex_name_of(name: str, derivation: Derivation) -> str:
    return latex_name(name, bold=derivation.is_vector(name))


def _latex_var(name: str, body: n.Node) -> str:
    return latex_name(name, bold=body.shape.is_vector)


def _latex_rule(rule: str) -> str:
    """The rule's name without its formula (the formulas use Unicode that \\text cannot set)."""
    return ", ".join(part.split(" (")[0] for part in rule.split(":")[0].split(", "))


def steps_json(derivation: Derivation, unicode: bool = True) -> list[dict]:
    """A list of {lhs, rhs, rule, latex}, one per equation."""
    printer = LatexPrinter()
    items = []
    for step in derivation.steps:
        if step.definitions:
            for name, body in step.definitions:
                items.append(
                    {
                        "lhs": name,
                        "rhs": expression_text(body, unicode),
                        "rule": step.rule,
                        "latex": f"{_latex_var(name, body)} = {printer.text(body)}",
                    }
                )
            continue
        for equation in step.equations:
            items.append(
                {
                    "lhs": equation.signal or _lhs_text(equation, unicode),
                    "rhs": _rhs_text(equation, unicode),
                    "rule": step.rule,
                    "latex": _latex_equation(equation, derivation, printer).replace("&", ""),
                }
            )
    return items
