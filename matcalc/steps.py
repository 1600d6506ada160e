"""The derivation of a derivative, step by step, as the course notes write it on paper.

Every step's right-hand side is a result of the same engine that computes the
answer (`result.differentiate`), so the derivation cannot disagree with it,
and each step can be checked against finite differences like any result.

How a derivation is built (Parr & Howard's method):

1. Intermediate variables. The argument of a function (an elementwise
   function, max, softmax, a norm, a reduction, ...) that depends on the
   variable and is not the variable itself gets a name: `u = wᵀx + b`,
   `y = max(0, u)`. A cut is made only where the intermediate's Jacobian has
   at most two axes (a vector by a vector, not a vector by a matrix); below
   that, a function is differentiated as a whole.
2. Local derivatives, innermost first: each intermediate by what it is
   written in (the variable, or earlier intermediates), each with the rules
   the engine applied, named as the notes name them.
3. The chain rule: an intermediate written in earlier ones gets its total
   derivative, ∂y/∂w = ∂y/∂u ∂u/∂w (single-variable, vector or
   total-derivative chain rule, by the shapes involved). The engine computes
   the product; the step shows it with the intermediates' names.
4. Substitution of the intermediates, giving the answer `diff` prints in
   numerator layout, the layout the notes work in; a layout other than
   numerator ends with the layout convention.

Jacobians are the road everywhere except for a scalar function of a matrix,
where the notes (and Magnus & Neudecker) go through the differential: the
trace trick writes df = tr(G dX), and ∂f/∂X = G is read off it.

The derivation is data (`Step`); render/steps.py writes it as text, LaTeX or JSON.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields, replace

from . import nodes as n
from .decls import Env
from .layout import Layout
from .result import Derivative, differentiate

MAX_STEPS = 12  # beyond this, local derivatives with the same rules are grouped into one step

# Nodes whose dependent argument gets an intermediate variable.
_CUT = (
    n.Apply,
    n.Maximum,
    n.Minimum,
    n.Softmax,
    n.LogSumExp,
    n.Norm,
    n.Sum,
    n.Mean,
    n.Power,
    n.Det,
    n.LogDet,
    n.Trace,
    n.Inverse,
    n.DiagMatrix,
    n.DiagOf,
)


@dataclass(frozen=True)
class Equation:
    """∂of/∂by = (middle) = result, where `of` and `by` are named (y, u, w) in the derivation."""

    of: str  # the name of the function differentiated
    by: str  # the name of the variable
    result: Derivative  # the engine's derivative (its expression may hold intermediate names)
    middle: tuple[tuple[tuple[str, str], ...], ...] = ()  # the chain: a sum of products of ∂of/∂by, in layout order
    shown: n.Node | None = None  # the result written with intermediate names, where it has a matrix form
    partial: bool = False  # a partial derivative: the other intermediates held fixed
    differential: bool = False  # shown as read off the differential: dy = tr(G dX), so ∂y/∂X = G
    expansion: tuple[n.Node, ...] = ()  # the product rule in differentials: dy = dxᵀA x + xᵀA dx (dx a name)
    order: int = 1  # ∂²y/∂x² for a second derivative


@dataclass(frozen=True)
class Step:
    rule: str
    equations: tuple[Equation, ...] = ()
    definitions: tuple[tuple[str, n.Node], ...] = ()  # intermediate variables introduced here
    note: str = ""


@dataclass
class Derivation:
    expr: n.Node
    wrt: n.Var
    layout: Layout
    output: str  # the name of the function: y, f, ...
    steps: list[Step] = field(default_factory=list)
    named: dict[str, n.Node] = field(default_factory=dict)  # each intermediate (and the output) by name

    def is_vector(self, name: str) -> bool:
        """Whether a name in the derivation (the variable, an intermediate, the output) is a vector."""
        node = self.wrt if name == self.wrt.name else self.named.get(name)
        return node is not None and node.shape.is_vector

    def results(self) -> list[Derivative]:
        """Every derivative the steps state, for checking each against finite differences."""
        return [equation.result for step in self.steps for equation in step.equations]


def derive_steps(expr: n.Node, wrt: n.Var, env: Env, layout: Layout, final: Derivative) -> Derivation:
    """The derivation of `final` (the engine's ∂expr/∂wrt in the layout), step by step: in numerator
    layout, as the notes work, then the layout convention if another layout was asked for."""
    numerator = final if layout is Layout.NUMERATOR else differentiate(expr, wrt, env, Layout.NUMERATOR)
    used = {sub.name for sub in n.walk(expr) if isinstance(sub, n.Var)}
    output = next(name for name in ("y", "f", "g", "F", "L") if name not in used)
    derivation = Derivation(expr, wrt, layout, output)
    names = (  # as many as the derivation needs: a long sum has an intermediate per term
        name
        for name in itertools.chain(("u", "v", "z", "q", "r", "s"), (f"u{k}" for k in itertools.count(1)))
        if name not in used | {output}
    )
    definitions: list[tuple[str, n.Node]] = []
    top = _cut(expr, wrt, definitions, names)
    chain = definitions + [(output, top)]
    expanded: dict[str, n.Node] = {}  # each intermediate written out in the original variables
    for name, body in chain:
        expanded[name] = _substitute(body, expanded)
    derivation.named = dict(chain)
    if definitions:
        derivation.steps.append(Step("intermediate variables", definitions=tuple(chain)))
    totals: dict[str, Derivative] = {}
    local_steps: list[Step] = []
    chain_steps: list[Step] = []
    for name, body in chain:
        depends_on = [v for v in _dependencies(body, wrt, definitions)]
        locals_ = []
        for by in depends_on:
            variable = wrt if by == wrt.name else n.Var(by, shape=expanded[by].shape)
            result = differentiate(body, variable, env, Layout.NUMERATOR)
            expansion = _product_rule_in_differentials(body, variable)
            locals_.append(
                Equation(
                    name,
                    by,
                    result,
                    partial=len(depends_on) > 1,
                    differential=_identified(body, variable) or bool(expansion),
                    expansion=expansion,
                )
            )
        if locals_:
            rule = _rules(body, depends_on, wrt, definitions)
            if any(equation.expansion for equation in locals_):
                rule = "product rule in differentials, differential identification"
            elif any(equation.differential for equation in locals_):
                rule = f"{rule}, differential identification"
            local_steps.append(Step(rule, tuple(locals_), note=_kink_note(locals_)))
        if depends_on != [wrt.name]:
            total = differentiate(expanded[name], wrt, env, Layout.NUMERATOR) if name != output else numerator
            middle = tuple(_chain_factors(name, by, wrt.name) for by in depends_on)
            shown = _named(total, chain, expanded)
            chain_steps.append(
                Step(_chain_rule(body, depends_on, wrt, expanded), (Equation(name, wrt.name, total, middle, shown),))
            )
            totals[name] = total
    derivation.steps += _grouped(local_steps, len(derivation.steps) + len(chain_steps) + 2)
    derivation.steps += chain_steps
    if definitions:
        derivation.steps.append(
            Step("substitution of the intermediate variables", (Equation(output, wrt.name, numerator),))
        )
    reversed_ = layout is Layout.DENOMINATOR or (layout is Layout.MIXED and expr.shape.is_scalar)
    if reversed_ and (
        numerator.shape != final.shape or numerator.free != final.free or numerator.inline_matrix != final.inline_matrix
    ):
        derivation.steps.append(
            Step(
                f"layout convention: {layout.value} layout reverses the axes of the numerator-layout result"
                + (" (the gradient has the shape of the variable)" if expr.shape.is_scalar else ""),
                (Equation(output, wrt.name, final),),
            )
        )
    return derivation


_MULTILINEAR = (
    n.Add,
    n.Neg,
    n.ScalarMul,
    n.MatMul,
    n.Hadamard,
    n.Transpose,
    n.Var,
    n.Number,
    n.Const,
    n.DimSize,
    n.Identity,
    n.Fill,
)


def _product_rule_in_differentials(body: n.Node, variable: n.Var) -> tuple[n.Node, ...]:
    """d(xᵀAx) = dxᵀA x + xᵀA dx: for a scalar made of sums and products in which the variable occurs
    more than once, one term per occurrence, with dx in its place (Magnus & Neudecker)."""
    if (
        not body.shape.is_scalar
        or variable.shape.is_scalar
        or not all(isinstance(sub, _MULTILINEAR) for sub in n.walk(body))
    ):
        return ()
    differential = n.Var(f"d{variable.name}", shape=variable.shape)
    terms = tuple(_occurrences_replaced(body, variable, differential))
    return terms if len(terms) > 1 else ()


def _occurrences_replaced(node: n.Node, old: n.Var, new: n.Var):
    """Copies of the node with one occurrence of old replaced by new, for each occurrence."""
    if node == old:
        yield new
        return
    children = [(f.name, getattr(node, f.name)) for f in fields(node) if isinstance(getattr(node, f.name), n.Node)]
    for field_name, child in children:
        for changed in _occurrences_replaced(child, old, new):
            yield replace(node, **{field_name: changed})


def _identified(body: n.Node, variable: n.Var) -> bool:
    """A scalar by a matrix is read off its differential, df = tr(G dX) ⇒ ∂f/∂X = G (the trace trick)."""
    return body.shape.is_scalar and variable.shape.is_matrix


# Intermediate variables


def _cut(node: n.Node, wrt: n.Var, definitions: list[tuple[str, n.Node]], names) -> n.Node:
    """The node with the dependent arguments of functions replaced by intermediate names (innermost
    first), recording their definitions."""
    if not _depends(node, wrt.name):
        return node

    def child(sub: n.Node) -> n.Node:
        inner = _cut(sub, wrt, definitions, names)
        if not isinstance(node, _CUT) or isinstance(inner, n.Var) or not _depends(inner, wrt.name, definitions):
            return inner
        if isinstance(node, n.Power) and sub is node.exponent:
            return inner
        if isinstance(node, n.Power) and isinstance(sub, n.Norm):
            return inner  # ||u||² is one function of u
        if _rank(sub) + _rank(wrt) > 2:
            return inner  # its Jacobian would have three or more axes: differentiated as a whole
        name = next(names)
        definitions.append((name, inner))
        return n.Var(name, shape=sub.shape)

    if isinstance(node, n.Power) and isinstance(node.base, n.Norm):
        norm = node.base
        operand = child_of_norm(norm, wrt, definitions, names)
        return n.Power(n.Norm(operand, norm.p, shape=norm.shape), node.exponent, shape=node.shape)
    return node.map_children(child)


def child_of_norm(norm: n.Norm, wrt: n.Var, definitions, names) -> n.Node:
    """||u||²: the norm's argument is the intermediate."""
    inner = _cut(norm.operand, wrt, definitions, names)
    if isinstance(inner, n.Var) or _rank(norm.operand) + _rank(wrt) > 2:
        return inner
    name = next(names)
    definitions.append((name, inner))
    return n.Var(name, shape=norm.operand.shape)


def _depends(node: n.Node, name: str, definitions: list[tuple[str, n.Node]] = ()) -> bool:
    targets = {name} | {d for d, _ in definitions}
    return any(isinstance(sub, n.Var) and sub.name in targets for sub in n.walk(node))


def _dependencies(body: n.Node, wrt: n.Var, definitions: list[tuple[str, n.Node]]) -> list[str]:
    """What the body is written in: earlier intermediates (in order), then the variable itself."""
    present = {sub.name for sub in n.walk(body) if isinstance(sub, n.Var)}
    return [name for name, _ in definitions if name in present] + ([wrt.name] if wrt.name in present else [])


def _rank(node: n.Node) -> int:
    return (node.shape.rows != 1) + (node.shape.cols != 1)


def _substitute(node: n.Node, values: dict[str, n.Node]) -> n.Node:
    if isinstance(node, n.Var) and node.name in values:
        return values[node.name]
    return node.map_children(lambda child: _substitute(child, values))


def _named(result: Derivative, chain: list[tuple[str, n.Node]], expanded: dict[str, n.Node]) -> n.Node | None:
    """The result's matrix form with each intermediate's expansion written as its name."""
    if result.inline_matrix is None:
        return None
    shown = result.inline_matrix
    for name, _ in reversed(chain[:-1]):  # the largest (outermost) first
        target = expanded[name]
        shown = _replace(shown, target, n.Var(name, shape=target.shape))
    return shown


def _replace(node: n.Node, old: n.Node, new: n.Node) -> n.Node:
    if node == old:
        return new
    return node.map_children(lambda child: _replace(child, old, new))


# Rule names, as the course notes say them


def _rules(body: n.Node, by: list[str], wrt: n.Var, definitions) -> str:
    """The rules that differentiate the body, from its nodes that depend on what it is differentiated by."""
    names: list[str] = []
    for node in n.walk(body):
        if not any(_depends(node, name) for name in by):
            continue
        rule = _rule(node, by)
        if rule and rule not in names:
            names.append(rule)
    if "power rule (∂‖u‖²/∂u = 2uᵀ)" in names and "norm rule" in names:
        names.remove("norm rule")
    if len(names) > 1 and "transpose rule" in names:
        names.remove("transpose rule")  # wᵀx is a linear map of w: the transpose is part of it
    return ", ".join(names) or "constant rule"


def _rule(node: n.Node, by: list[str]) -> str:
    def dep(sub: n.Node) -> bool:
        return any(_depends(sub, name) for name in by)

    match node:
        case n.Var():
            return ""
        case n.Add(left=left, right=right):
            if left.shape != right.shape:
                return "sum rule with scalar expansion"
            return "sum rule"
        case n.Neg():
            return "constant rule"
        case n.ScalarMul(left=left, right=right) | n.MatMul(left=left, right=right) if dep(left) and dep(right):
            return "product rule"
        case n.ScalarMul():
            return "constant rule"
        case n.MatMul():
            return "linear map rule (∂(A x)/∂x = A)"
        case n.Hadamard(left=left, right=right) | n.Divide(left=left, right=right):
            return (
                "element-wise product rule (diagonal Jacobians)"
                if dep(left) and dep(right)
                else "element-wise diagonal property"
            )
        case n.Apply(function=f) if f in ("relu", "abs", "sign", "step"):
            return "element-wise diagonal property, subgradient at the kink"
        case n.Apply():
            return "element-wise diagonal property"
        case n.Maximum() | n.Minimum():
            return "element-wise diagonal property, subgradient at the kink"
        case n.Sum() | n.Mean():
            return "sum reduction (∂ sum(y)/∂x = 𝟏ᵀ ∂y/∂x)"
        case n.Trace():
            return "trace trick"
        case n.Det() | n.LogDet():
            return "differential identification (d det X = det X tr(X⁻¹ dX))"
        case n.Inverse():
            return "inverse rule (d X⁻¹ = -X⁻¹ dX X⁻¹)"
        case n.MatPower(exponent=exponent) if exponent < 0:
            return "inverse rule (d X⁻¹ = -X⁻¹ dX X⁻¹)"
        case n.Power(base=n.Norm()):
            return "power rule (∂‖u‖²/∂u = 2uᵀ)"
        case n.Power() | n.MatPower():
            return "power rule"
        case n.Norm():
            return "norm rule"
        case n.Softmax():
            return "softmax Jacobian (diag(s) - s sᵀ)"
        case n.LogSumExp():
            return "log-sum-exp rule (its gradient is softmax)"
        case n.Transpose():
            return "transpose rule"
        case n.DiagMatrix() | n.DiagOf():
            return "diag rule"
    return ""


def _chain_rule(body: n.Node, by: list[str], wrt: n.Var, expanded: dict[str, n.Node]) -> str:
    if len(by) > 1:
        return "total-derivative chain rule"
    inner = expanded.get(by[0], wrt)
    if inner.shape.is_scalar and wrt.shape.is_scalar and body.shape.is_scalar:
        return "single-variable chain rule"
    return "vector chain rule"


def _chain_factors(of: str, by: str, wrt: str) -> tuple[tuple[str, str], ...]:
    """∂of/∂by ∂by/∂wrt: the chain rule's order in numerator layout."""
    return ((of, wrt),) if by == wrt else ((of, by), (by, wrt))


def _kink_note(equations: list[Equation]) -> str:
    kinks = [kink for equation in equations for kink in equation.result.kinks]
    if not kinks:
        return ""
    return "at the kink a subgradient is chosen: step(0) = 1/2, inside every subdifferential here"


def _grouped(steps: list[Step], others: int) -> list[Step]:
    """Local derivatives with the same rules in one step when the derivation would run long."""
    if len(steps) + others <= MAX_STEPS:
        return steps
    grouped: list[Step] = []
    for step in steps:
        if grouped and grouped[-1].rule == step.rule:
            last = grouped[-1]
            grouped[-1] = Step(last.rule, last.equations + step.equations, note=last.note or step.note)
        else:
            grouped.append(step)
    return grouped


def differentiate_again(derivation: Derivation, env: Env, results: list[Derivative]) -> None:
    """Orders above 1: each the derivative of the one before (results: orders 2, 3, ... in the layout)."""
    for result in results:
        derivation.steps.append(
            Step(
                f"the derivative of order {result.order} is the derivative of the one of order {result.order - 1} "
                "(each differentiation appends the variable's axes)",
                (Equation(derivation.output, derivation.wrt.name, result, order=result.order),),
            )
        )
