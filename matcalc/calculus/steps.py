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

A loss of a network (find_network) is derived as backpropagation instead:
the forward pass with one intermediate per layer (z₁ = W₁x + b₁, h₁ = σ(z₁)),
each layer's local derivative, the error signal of each layer from the loss
down (δ₂ = (∂L/∂z₂)ᵀ, δ₁ = (∂h₁/∂z₁)ᵀ(∂z₂/∂h₁)ᵀδ₂), and each variable read
off the layer it enters: a weight through the layer's differential
(dz₁ = dW₁ x, so dL = δ₁ᵀdW₁ x = tr(x δ₁ᵀ dW₁): the outer product), a bias
or an input by the chain rule. Several variables share one backward pass.

The derivation is data (`Step`); render/steps.py writes it as text, LaTeX or JSON.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

from .. import nodes as n
from ..language.decls import Env
from ..layout import Layout
from ..shapes import Shape
from .differentiate import Derivative, differentiate

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
    signal: str = ""  # an error signal: δ = (∂of/∂by)ᵀ, the loss's gradient by a layer's output
    back: tuple[tuple[str, str], ...] = ()  # backpropagation: the local Jacobians, transposed, that carry `upstream`
    upstream: str = ""  # the error signal of the layer above (δ₂ in δ₁ = (∂z₂/∂z₁)ᵀδ₂)
    layer: str = ""  # read off a layer's differential: dz = dW h, so dL = δᵀdz = tr(h δᵀ dW)
    answer: bool = False  # the answer as `diff` shows it, with its `where` names
    function: n.Node | None = None  # what is differentiated where it has no name: ∂(3x²)/∂x
    terms: tuple[tuple[bool, n.Node], ...] = ()  # the sum rule: ∂(3x²)/∂x - ∂(4x)/∂x (True: subtracted)
    rearranged: tuple[n.Node, ...] = ()  # the expansion's terms as g dx (dxᵀA x is a scalar: xᵀAᵀdx)
    pieces: tuple[Derivative, ...] = ()  # the engine's results shown inside the equation (each g), checked too


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
    variables: dict[str, n.Var] = field(default_factory=dict)  # every variable derived by, the first `wrt`
    signals: dict[str, n.Node] = field(default_factory=dict)  # each error signal δ by name: its value in names

    def is_vector(self, name: str) -> bool:
        """Whether a name in the derivation (a variable, an intermediate, an error signal, the output) is a
        vector."""
        node = self.variables.get(name) or self.named.get(name) or self.signals.get(name)
        if name == self.wrt.name:
            node = self.wrt
        return node is not None and node.shape.is_vector

    def results(self) -> list[Derivative]:
        """Every derivative the steps state, for checking each against finite differences."""
        return [
            result
            for step in self.steps
            for equation in step.equations
            for result in (equation.result, *equation.pieces)
        ]


def derive_steps(expr: n.Node, wrt: n.Var, env: Env, layout: Layout, final: Derivative) -> Derivation:
    """The derivation of `final` (the engine's ∂expr/∂wrt in the layout), step by step: in numerator
    layout, as the notes work, then the layout convention if another layout was asked for."""
    network = find_network(expr, [wrt])
    if network is not None:
        return backpropagation(network, env, layout, [final])
    numerator = final if layout is Layout.NUMERATOR else differentiate(expr, wrt, env, Layout.NUMERATOR)
    used = {sub.name for sub in n.walk(expr) if isinstance(sub, n.Var)}
    output = next(name for name in ("y", "f", "g", "F", "L") if name not in used)
    derivation = Derivation(expr, wrt, layout, output, variables={wrt.name: wrt})
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
    terms = [] if definitions else _dependent_terms(top, wrt)
    if len(terms) > 1 and not _product_rule_in_differentials(top, wrt):
        derivation.steps += _term_by_term(terms, output, wrt, env, numerator)
    else:
        derivation.steps += _through_intermediates(chain, expanded, wrt, env, numerator, len(derivation.steps))
    reversed_ = layout is Layout.DENOMINATOR or (layout is Layout.MIXED and expr.shape.is_scalar)
    if reversed_ and (
        numerator.shape != final.shape or numerator.free != final.free or numerator.inline_matrix != final.inline_matrix
    ):
        derivation.steps.append(
            Step(
                f"layout convention: {layout.value} layout reverses the axes of the numerator-layout result"
                + (" (the gradient has the shape of the variable)" if expr.shape.is_scalar else ""),
                (Equation(output, wrt.name, final, answer=True),),
            )
        )
    return derivation


def _through_intermediates(
    chain: list[tuple[str, n.Node]],
    expanded: dict[str, n.Node],
    wrt: n.Var,
    env: Env,
    numerator: Derivative,
    before: int,
) -> list[Step]:
    """Local derivatives of each intermediate (innermost first), the chain rule for each written in others,
    and the substitution; `before`: the steps already there."""
    definitions, output = chain[:-1], chain[-1][0]
    local_steps: list[Step] = []
    chain_steps: list[Step] = []
    for name, body in chain:
        depends_on = [v for v in _dependencies(body, wrt, definitions)]
        locals_ = []
        for by in depends_on:
            variable = wrt if by == wrt.name else n.Var(by, shape=expanded[by].shape)
            result = differentiate(body, variable, env, Layout.NUMERATOR)
            expansion = _product_rule_in_differentials(body, variable)
            gradients = _rearranged(expansion, variable, env)
            locals_.append(
                Equation(
                    name,
                    by,
                    result,
                    partial=len(depends_on) > 1,
                    differential=_identified(body, variable) or bool(expansion),
                    expansion=expansion,
                    rearranged=_as_g_dx(gradients),
                    pieces=gradients,
                )
            )
        if locals_:
            rule = _rules(body, depends_on, wrt, definitions)
            if any(equation.rearranged for equation in locals_):
                rule = "product rule in differentials, transpose of a scalar, differential identification"
            elif any(equation.expansion for equation in locals_):
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
    steps = _grouped(local_steps, before + len(chain_steps) + 2) + chain_steps
    if definitions:
        steps.append(
            Step("substitution of the intermediate variables", (Equation(output, wrt.name, numerator, answer=True),))
        )
    return steps


def _dependent_terms(node: n.Node, wrt: n.Var) -> list[tuple[bool, n.Node]]:
    """The terms of a sum that depend on the variable, each with whether it is subtracted; none where
    the terms differ in shape (a scalar added to every entry is another rule)."""
    if isinstance(node, n.Add):
        terms = _dependent_terms(node.left, wrt) + _dependent_terms(node.right, wrt)
        return terms if all(term.shape == node.shape for _, term in terms) else []
    if isinstance(node, n.Neg):
        return [(not negative, term) for negative, term in _dependent_terms(node.operand, wrt)]
    return [(False, node)] if _depends(node, wrt.name) else []


def _term_by_term(
    terms: list[tuple[bool, n.Node]], output: str, wrt: n.Var, env: Env, numerator: Derivative
) -> list[Step]:
    """A sum with no function of a function in it: each term's derivative by its own rules, then the sum
    rule (3x² - 4x: the power rule on 3x², the constant rule on 4x)."""
    steps = []
    for _, term in terms:
        equation = Equation(output, wrt.name, differentiate(term, wrt, env, Layout.NUMERATOR), function=term)
        steps.append(Step(_rules(term, [wrt.name], wrt, []), (equation,), note=_kink_note([equation])))
    total = Equation(output, wrt.name, numerator, terms=tuple(terms), answer=True)
    return _grouped(steps, 1) + [Step("sum rule", (total,))]


def derive_together(
    expr: n.Node, variables: list[n.Var], env: Env, layout: Layout, finals: list[Derivative]
) -> Derivation | None:
    """One derivation for several variables of a network (W1, b1, W2, b2): the forward pass and the
    backward pass once, each variable read off the error signal of its layer. None where the expression
    is not a network in all of them; then each variable gets a derivation of its own."""
    network = find_network(expr, variables)
    return None if network is None else backpropagation(network, env, layout, finals)


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
    expanded_sums = (
        sub
        for sub in n.walk(body)
        if isinstance(sub, n.Add)
        and any(c.shape != sub.shape for c in (sub.left, sub.right) if _depends(c, variable.name))
    )
    if next(expanded_sums, None) is not None:
        return ()  # a scalar added to every entry: its differential is not one of the sum's terms
    differential = n.Var(f"d{variable.name}", shape=variable.shape)
    terms = tuple(_occurrences_replaced(body, variable, differential))
    return terms if len(terms) > 1 else ()


def _rearranged(expansion: tuple[n.Node, ...], variable: n.Var, env: Env) -> tuple[Derivative, ...]:
    """Each term of the expansion by dx (the engine's g, so that the term is g dx: a scalar is its own
    transpose, dxᵀA x = xᵀAᵀdx). Empty where every term is already written so."""
    differential = n.Var(f"d{variable.name}", shape=variable.shape)
    if not variable.shape.is_column or all(_ends_in(term, differential) for term in expansion):
        return ()
    gradients = tuple(differentiate(term, differential, env, Layout.NUMERATOR) for term in expansion)
    return gradients if all(g.inline_matrix is not None for g in gradients) else ()


def _as_g_dx(gradients: tuple[Derivative, ...]) -> tuple[n.Node, ...]:
    """g dx for each term's gradient g by dx."""
    return tuple(n.MatMul(g.inline_matrix, g.wrt, shape=g.expr.shape) for g in gradients if g.inline_matrix is not None)


def _ends_in(term: n.Node, differential: n.Var) -> bool:
    """xᵀA dx: the differential is the last factor, untransposed."""
    while isinstance(term, n.MatMul):
        term = term.right
    return term == differential


def _occurrences_replaced(node: n.Node, old: n.Var, new: n.Var):
    """Copies of the node with one occurrence of old replaced by new, for each occurrence: the terms of
    the node's differential (d(u + v) = du + dv, so a sum keeps only the term that held the occurrence)."""
    if node == old:
        yield new
        return
    if isinstance(node, n.Add):
        for child in (node.left, node.right):
            yield from _occurrences_replaced(child, old, new)
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
        return _intermediate(inner, definitions, names)

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
    return _intermediate(inner, definitions, names)


def _intermediate(body: n.Node, definitions: list[tuple[str, n.Node]], names) -> n.Var:
    """The intermediate variable for a body: the one it already has (a subexpression met twice, as
    sigmoid(X w) in both terms of the logistic loss, has one name), or a new one."""
    for name, known in definitions:
        if known == body:
            return n.Var(name, shape=body.shape)
    name = next(names)
    definitions.append((name, body))
    return n.Var(name, shape=body.shape)


def _depends(node: n.Node, name: str, definitions: Sequence[tuple[str, n.Node]] = ()) -> bool:
    targets = {name} | {d for d, _ in definitions}
    return any(isinstance(sub, n.Var) and sub.name in targets for sub in n.walk(node))


def _dependencies(body: n.Node, wrt: n.Var, definitions: list[tuple[str, n.Node]]) -> list[str]:
    """What the body is written in: earlier intermediates (in order), then the variable itself."""
    present = {sub.name for sub in n.walk(body) if isinstance(sub, n.Var)}
    return [name for name, _ in definitions if name in present] + ([wrt.name] if wrt.name in present else [])


def _rank(node: n.Node) -> int:
    return (node.shape.rows != 1) + (node.shape.cols != 1)


def _substitute(node: n.Node, values: Mapping[str, n.Node]) -> n.Node:
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


# Networks: backpropagation, as the course notes derive it

_NONLINEAR = (n.Apply, n.Softmax, n.LogSumExp, n.Maximum, n.Minimum)
LAYER_LETTERS = (("z", "h"), ("a", "s"), ("u", "v"))  # a layer's affine map and its activation: the first free pair
LOSS_NAMES = ("L", "f", "y", "g", "F")
SIGNAL_LETTERS = ("δ", "e")


@dataclass
class Network:
    """A scalar loss of layers. Each affine map W h + b (a matrix times a vector, and a bias) and each
    elementwise activation of one is an intermediate variable, numbered by layer (z₁ = W₁x + b₁,
    h₁ = tanh(z₁), z₂ = W₂h₁ + b₂), one per distinct subexpression; the loss is written in the last.
    Every variable enters one affine layer, once, as its weight, its bias or its input, and the layers
    from the lowest of those up to the loss form a path: each written in the one before."""

    expr: n.Node
    variables: list[n.Var]
    chain: list[tuple[str, n.Node]]  # the forward pass, each body in the names before it, the loss last
    entries: dict[str, str]  # each variable -> the affine layer it enters
    path: list[str]  # from the lowest entry layer up to the loss
    affine: set[str]  # the names of the affine layers
    signal_letter: str

    @property
    def loss(self) -> str:
        return self.chain[-1][0]

    def signal(self, layer: str) -> str:
        """δ₁ for z₁ (δ for z)."""
        return self.signal_letter + layer.lstrip("abcdefghijklmnopqrstuvwxyz")

    def var(self, name: str) -> n.Var:
        return n.Var(name, shape=dict(self.chain)[name].shape)


def find_network(expr: n.Node, variables: list[n.Var]) -> Network | None:
    """The network that expr is a loss of, differentiated by the variables; None if it is not one (then
    the derivation takes the general road). A network has a nonlinearity (an activation, or a loss such as
    cross-entropy) or a weight matrix among the variables (whose derivative is an outer product)."""
    if not expr.shape.is_scalar or any(v.shape.is_scalar for v in variables):
        return None
    targets = {v.name for v in variables}
    marked: set[n.Node] = set()
    _mark_layers(expr, targets, False, marked)
    used = {sub.name for sub in n.walk(expr) if isinstance(sub, n.Var)}
    letters = next((pair for pair in LAYER_LETTERS if not any(_numbered(name, pair) for name in used)), None)
    loss = next((name for name in LOSS_NAMES if name not in used), None)
    signal_letter = next((s for s in SIGNAL_LETTERS if not any(_numbered(name, (s,)) for name in used)), None)
    if not any(_affine(node) for node in marked) or letters is None or loss is None or signal_letter is None:
        return None
    definitions: list[tuple[str, n.Node]] = []
    top = _name_layers(expr, marked, definitions, letters)
    chain = _unnumbered_if_one(definitions + [(loss, top)], letters)
    affine = {name for name, body in chain[:-1] if _affine(body) is not None}
    entries: dict[str, str] = {}
    for variable in variables:
        holders = [(name, body) for name, body in chain if _occurrences(body, variable.name)]
        if len(holders) != 1 or _occurrences(holders[0][1], variable.name) != 1:
            return None
        name, body = holders[0]
        if name not in affine or _role(body, variable) is None:
            return None
        entries[variable.name] = name
    order = [name for name, _ in chain]
    path = _path_up(chain, min(entries.values(), key=order.index))
    if path is None or not set(entries.values()) <= set(path):
        return None
    activated = any(name not in affine for name, _ in chain[:-1]) or any(
        isinstance(sub, _NONLINEAR) for sub in n.walk(top)
    )
    weighted = any(_role(dict(chain)[entries[v.name]], v) == "weight" for v in variables)
    if not activated and not weighted:
        return None  # least squares, ||X w - y||², keeps the general road: a norm of a linear map
    return Network(expr, variables, chain, entries, path, affine, signal_letter)


def _numbered(name: str, letters: tuple[str, ...]) -> bool:
    """z, z1, z12 for the letter z: a name the layers could take."""
    return any(name[len(letter) :].isdigit() or name == letter for letter in letters if name.startswith(letter))


def _affine(node: n.Node) -> tuple[n.MatMul, tuple[n.Node, ...]] | None:
    """W h + b as its product W h and its biases: a matrix times a column vector, plus terms of its
    shape or scalars (a difference, W h - y, is a layer and the loss's residual, not a bias)."""
    if isinstance(node, n.MatMul):
        if node.left.shape.is_matrix and node.right.shape.is_column and node.shape.is_column:
            return node, ()
        return None
    if isinstance(node, n.Add):
        for inner, bias in ((node.left, node.right), (node.right, node.left)):
            parts = _affine(inner) if not isinstance(bias, n.Neg) else None
            if parts is not None and (bias.shape == node.shape or bias.shape.is_scalar):
                return parts[0], parts[1] + (bias,)
    return None


def _activation_field(node: n.Node, hidden: bool = True) -> str | None:
    """The field of an activation (tanh(z), max(0, z), a hidden layer's softmax(z)) that holds the affine
    layer. The softmax of the last layer is the loss's (cross-entropy), not an activation of its own."""
    if isinstance(node, n.Apply) and node.shape == node.operand.shape and _affine(node.operand) is not None:
        return "operand"
    if isinstance(node, n.Softmax) and hidden and _affine(node.operand) is not None:
        return "operand"
    if isinstance(node, (n.Maximum, n.Minimum)):
        for field_name, other in (("left", node.right), ("right", node.left)):
            if _affine(getattr(node, field_name)) is not None and other.shape.is_scalar and not _has_var(other):
                return field_name
    return None


def _has_var(node: n.Node) -> bool:
    return any(isinstance(sub, n.Var) for sub in n.walk(node))


def _mark_layers(node: n.Node, targets: set[str], below: bool, marked: set[n.Node]) -> None:
    """The layers to name: those that depend on a variable, and those below them (the input of a named
    layer), so that the forward pass starts at the network's input."""
    dependent = below or any(_depends(node, name) for name in targets)
    parts = _affine(node)
    if parts is not None and dependent:
        marked.add(node)
        product, biases = parts
        _mark_layers(product.left, targets, False, marked)
        _mark_layers(product.right, targets, True, marked)
        for bias in biases:
            _mark_layers(bias, targets, False, marked)
        return
    field_name = _activation_field(node, hidden=below)
    if field_name is not None and dependent:
        marked.add(node)
        for child_field in fields(node):
            child = getattr(node, child_field.name)
            if isinstance(child, n.Node):
                _mark_layers(child, targets, child_field.name == field_name, marked)
        return
    for child in node.children():  # below a layer, what is not one passes its input on: W₂ exp(tanh(W₁x))
        _mark_layers(child, targets, below, marked)


def _name_layers(
    node: n.Node, marked: set[n.Node], definitions: list[tuple[str, n.Node]], letters: tuple[str, str]
) -> n.Node:
    """The node with each marked layer replaced by its name (innermost first; one name per distinct layer)."""
    rewritten = node.map_children(lambda child: _name_layers(child, marked, definitions, letters))
    if node not in marked:
        return rewritten
    for name, body in definitions:
        if body == rewritten:
            return n.Var(name, shape=node.shape)
    field_name = _activation_field(node)
    if field_name is None:
        name = f"{letters[0]}{1 + sum(1 for known, _ in definitions if _numbered(known, letters[:1]))}"
    else:
        operand = getattr(rewritten, field_name)
        name = letters[1] + operand.name[len(letters[0]) :]
    definitions.append((name, rewritten))
    return n.Var(name, shape=node.shape)


def _unnumbered_if_one(chain: list[tuple[str, n.Node]], letters: tuple[str, str]) -> list[tuple[str, n.Node]]:
    """One layer is z and h, not z₁ and h₁ (logistic regression: z = X w, h = σ(z))."""
    layers = [name for name, _ in chain if _numbered(name, letters[:1])]
    if layers != [f"{letters[0]}1"]:
        return chain
    plain = {f"{letter}1": letter for letter in letters}
    renamed = {old: n.Var(new, shape=dict(chain)[old].shape) for old, new in plain.items() if old in dict(chain)}
    return [(plain.get(name, name), _substitute(body, renamed)) for name, body in chain]


def _occurrences(node: n.Node, name: str) -> int:
    return sum(1 for sub in n.walk(node) if isinstance(sub, n.Var) and sub.name == name)


def _role(body: n.Node, variable: n.Var) -> str | None:
    """How a variable enters an affine layer W h + b: as the weight W (or Wᵀ), the input h, or a bias b."""
    parts = _affine(body)
    if parts is None:
        return None
    product, biases = parts
    weight = product.left.operand if isinstance(product.left, n.Transpose) else product.left
    if weight == variable:
        return "weight"
    if product.right == variable:
        return "input"
    if variable in biases:
        return "bias"
    return None


def _path_up(chain: list[tuple[str, n.Node]], start: str) -> list[str] | None:
    """The names from start up to the loss, each written in the one before and in no other name; None
    where a layer feeds two others (a connection that skips a layer) or a body mixes two."""
    names = {name for name, _ in chain}
    path = [start]
    while path[-1] != chain[-1][0]:
        users = [(name, body) for name, body in chain if _depends(body, path[-1])]
        if len(users) != 1:
            return None
        name, body = users[0]
        if {sub.name for sub in n.walk(body) if isinstance(sub, n.Var)} & names != {path[-1]}:
            return None
        path.append(name)
    return path


def backpropagation(network: Network, env: Env, layout: Layout, finals: list[Derivative]) -> Derivation:
    """The derivation of a network's loss by its variables (finals: the engine's answers in the layout):
    the forward pass, each layer's local derivative, the error signal of each layer from the loss down
    (δ = (∂L/∂z)ᵀ, the gradient by the layer's output), and each variable's derivative read off the
    error signal of the layer it enters. Every right-hand side is the engine's."""
    chain = network.chain
    first = network.variables[0]
    derivation = Derivation(
        network.expr,
        first,
        layout,
        network.loss,
        named=dict(chain),
        variables={v.name: v for v in network.variables},
    )
    derivation.steps.append(Step("forward pass: an intermediate variable for each layer", definitions=tuple(chain)))
    signal_steps = _signal_steps(network, env, derivation)
    read_offs = [_read_off(network, variable, final, env, layout) for variable, final in zip(network.variables, finals)]
    others = 1 + len(signal_steps) + sum(len(steps) for steps in read_offs)
    derivation.steps += _local_steps(network, env, others)
    derivation.steps += signal_steps
    for steps in read_offs:
        derivation.steps += steps
    said: set[str] = set()
    for position, step in enumerate(derivation.steps):  # a note (the kink's subgradient) once
        if step.note in said:
            derivation.steps[position] = replace(step, note="")
        said.add(step.note)
    return derivation


def _local_steps(network: Network, env: Env, others: int) -> list[Step]:
    """Each layer's derivative by the layer below, from the lowest entry up (the loss's by an affine
    layer is that layer's error signal, a step of its own)."""
    named = dict(network.chain)
    steps = []
    for below, above in zip(network.path, network.path[1:]):
        if above == network.loss and below in network.affine:
            continue
        body = named[above]
        result = differentiate(body, network.var(below), env, Layout.NUMERATOR)
        shown = _with_names(result.inline_matrix, {above: body})
        equation = Equation(above, below, result, shown=shown)
        steps.append(Step(_rules(body, [below], network.var(below), []), (equation,), note=_kink_note([equation])))
    if len(steps) + others <= MAX_STEPS:
        return steps
    by_rule: dict[str, Step] = {}
    for step in steps:  # a deep network: the linear maps in one step, each kind of activation in one
        known = by_rule.get(step.rule)
        by_rule[step.rule] = step if known is None else replace(known, equations=known.equations + step.equations)
    return list(by_rule.values())


def _signal_steps(network: Network, env: Env, derivation: Derivation) -> list[Step]:
    """δ for each affine layer from the top down to the lowest entry: the loss's gradient by the layer's
    output, each the one above carried back by the local Jacobians between them, transposed. The engine
    computes it as the gradient of δ_aboveᵀ z_above (the layers between written out), or of the loss."""
    named = dict(network.chain)
    layers = [name for name in network.path if name in network.affine]
    steps = []
    for position in reversed(range(len(layers))):
        layer = layers[position]
        start = network.path.index(layer)
        end = network.path.index(layers[position + 1]) if position + 1 < len(layers) else len(network.path) - 1
        segment = network.path[start + 1 : end + 1]  # the names above the layer, up to the next affine one or the loss
        written: dict[str, n.Node] = {}  # each in the layer's own variable
        for name in segment:
            written[name] = _substitute(named[name], written)
        target = segment[-1]
        upstream = "" if target == network.loss else network.signal(target)
        function = written[target]
        if upstream:
            function = n.MatMul(n.Transpose(_signal_var(network, target), shape=_row(target, named)), function)
        result = differentiate(function, network.var(layer), env, Layout.DENOMINATOR)
        shown = _with_names(result.inline_matrix, {name: written[name] for name in segment if name != network.loss})
        direct = len(segment) == 1 and not upstream  # δ is the loss's own derivative by this layer
        back = () if direct else tuple(zip(segment, [layer, *segment[:-1]]))
        signal = network.signal(layer)
        equation = Equation(network.loss, layer, result, shown=shown, signal=signal, back=back, upstream=upstream)
        derivation.signals[signal] = shown if shown is not None else n.Var(signal, shape=named[layer].shape)
        rule = "error signal of the output layer" if not upstream else "backpropagation"
        if back:
            rule += ": vector chain rule, transposed (diag(v)u = v ⊙ u)"
        steps.append(Step(rule, (equation,), note=_kink_note([equation])))
    return steps


def _signal_var(network: Network, layer: str) -> n.Var:
    return n.Var(network.signal(layer), shape=dict(network.chain)[layer].shape)


def _row(layer: str, named: dict[str, n.Node]) -> Shape:
    return Shape(1, named[layer].shape.rows)


def _read_off(network: Network, variable: n.Var, final: Derivative, env: Env, layout: Layout) -> list[Step]:
    """The variable's derivative from the error signal of the layer it enters: for a weight through the
    layer's differential (dz = dW h, so dL = δᵀdz = tr(h δᵀ dW): the outer product), for a bias or an
    input by the chain rule (∂L/∂b = δᵀ ∂z/∂b); then the layout, then the intermediates substituted."""
    layer = network.entries[variable.name]
    body = dict(network.chain)[layer]
    signal = _signal_var(network, layer)
    function = n.MatMul(n.Transpose(signal, shape=_row(layer, dict(network.chain))), body)
    numerator = differentiate(function, variable, env, Layout.NUMERATOR)
    loss = network.loss
    steps = []
    if _role(body, variable) == "weight":
        differential = n.Var(f"d{variable.name}", shape=variable.shape)
        equation = Equation(
            loss,
            variable.name,
            numerator,
            differential=True,
            expansion=(_replaced_in_product(body, variable, differential),),
            upstream=signal.name,
            layer=layer,
        )
        rule = "differential of the layer, trace trick, differential identification"
        note = ""
        if layout is Layout.NUMERATOR:
            note = (
                f"numerator layout: ∂{loss}/∂{variable.name} has the shape of {variable.name}ᵀ; the denominator "
                f"layout transposes it into the gradient, of the shape of {variable.name}"
            )
        steps.append(Step(rule, (equation,), note=note))
    else:
        equation = Equation(loss, variable.name, numerator, upstream=signal.name, back=((layer, variable.name),))
        steps.append(Step("vector chain rule, " + _rules(body, [variable.name], variable, []), (equation,)))
    if layout is not Layout.NUMERATOR:  # a scalar loss: mixed is denominator
        laid_out = differentiate(function, variable, env, layout)
        steps.append(
            Step(
                f"layout convention: {layout.value} layout transposes the numerator-layout result "
                f"(the gradient has the shape of {variable.name})",
                (Equation(loss, variable.name, laid_out),),
            )
        )
    steps.append(
        Step("substitution of the intermediate variables", (Equation(loss, variable.name, final, answer=True),))
    )
    return steps


def _replaced_in_product(body: n.Node, variable: n.Var, differential: n.Var) -> n.Node:
    """dz = dW h: the layer's product with the weight replaced by its differential (the bias is constant)."""
    parts = _affine(body)
    assert parts is not None, "a variable is read off an affine layer only"
    return _replace(parts[0], variable, differential)


def _with_names(node: n.Node | None, bodies: dict[str, n.Node]) -> n.Node | None:
    """The node with each body written as its name, the largest first."""
    if node is None:
        return None
    for name, body in sorted(bodies.items(), key=lambda item: -sum(1 for _ in n.walk(item[1]))):
        node = _replace(node, body, n.Var(name, shape=body.shape))
    return node
