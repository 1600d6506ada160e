"""A derivation (steps.py) as numbered text lines, one LaTeX align* block, or JSON."""

from __future__ import annotations

from .. import nodes as n
from ..steps import Derivation, Equation, Step
from .canonical import SUM, precedence
from .latex import LatexPrinter, latex_name, latex_text
from .text import SUPERSCRIPTS, derivative_text, expression_text

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
    if equation.differential:
        g = _rhs_text(equation, unicode)
        by = f"d{equation.by}"
        read_off = (
            f"tr({g} {by})"
            if equation.result.wrt.shape.is_matrix
            else (f"({g}) {by}" if _is_sum(equation) else f"{g} {by}")
        )
        expansion = "".join(
            f"{' + ' if k else ''}{expression_text(term, unicode)}" for k, term in enumerate(equation.expansion)
        )
        chain = " = ".join(part for part in (f"d{equation.of}", expansion, read_off) if part)
        return f"{chain}, so {_partial(equation.of, equation.by)} = {g}"
    parts = [_partial(equation.of, equation.by, equation.order)]
    if equation.middle:
        parts.append(" + ".join(" ".join(_partial(of, by) for of, by in term) for term in equation.middle))
    parts.append(_rhs_text(equation, unicode))
    return " = ".join(parts)


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
    if equation.shown is not None:
        return expression_text(equation.shown, unicode)
    if result.inline_matrix is not None:
        return expression_text(result.inline_matrix, unicode)
    text = derivative_text(result, unicode)
    return text.split(" = ", 1)[1] if " = " in text else text  # index notation without its head


def steps_latex(derivation: Derivation) -> str:
    r"""One align* block, ready to paste: `lhs &= rhs \tag*{(rule)}` per equation (amsmath moves a tag
    that does not fit to the next line), a chain of equalities broken after each `=`."""
    printer = LatexPrinter()
    rows = []
    for step in derivation.steps:
        tag = rf" \tag*{{\text{{({_latex_rule(step.rule)})}}}}"
        if step.definitions:
            rows += [f"{_latex_var(name, body)} &= {printer.text(body)}" for name, body in step.definitions]
            rows[-1] += tag
            continue
        for position, equation in enumerate(step.equations):
            rows += _latex_equation(equation, derivation, printer).split(" \\\\ ")
            if position == 0:
                rows[-1] += tag
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def _latex_equation(equation: Equation, derivation: Derivation, printer: LatexPrinter) -> str:
    if equation.differential:
        g = _latex_rhs(equation, printer)
        by = rf"d{_latex_name_of(equation.by, derivation)}"
        read_off = (
            rf"\operatorname{{tr}}\left({g} \, {by}\right)"
            if equation.result.wrt.shape.is_matrix
            else (rf"\left({g}\right) \, {by}" if _is_sum(equation) else rf"{g} \, {by}")
        )
        bold = rf"\mathbf{{d{equation.by}}}"
        expansion = " + ".join(
            printer.text(term).replace(bold, rf"d\mathbf{{{equation.by}}}") for term in equation.expansion
        )
        chain = " = ".join(part for part in (expansion, read_off) if part)
        return (
            rf"d{_latex_name_of(equation.of, derivation)} &= {chain} \\ "
            rf"\implies {_latex_partial(equation.of, equation.by, derivation)} &= {g}"
        )
    parts = [_latex_partial(equation.of, equation.by, derivation, equation.order)]
    if equation.middle:
        parts.append(
            " + ".join(" ".join(_latex_partial(of, by, derivation) for of, by in term) for term in equation.middle)
        )
    return parts[0] + " &= " + " \\\\ &= ".join(parts[1:] + [_latex_rhs(equation, printer)])


def _latex_rhs(equation: Equation, printer: LatexPrinter) -> str:
    if equation.shown is not None:
        return printer.text(equation.shown)
    if equation.result.inline_matrix is not None:
        return printer.text(equation.result.inline_matrix)
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
                    "lhs": _partial(equation.of, equation.by, equation.order),
                    "rhs": _rhs_text(equation, unicode),
                    "rule": step.rule,
                    "latex": _latex_equation(equation, derivation, printer).replace("&", ""),
                }
            )
    return items
