"""Elementwise products written as backpropagation writes them: the gradient flowing back
first, the slope of the elementwise function after it.

- diag(v) u = u ⊙ v, and uᵀ diag(v) = (u ⊙ v)ᵀ, where u is a column (a row) that a product chain makes:
  diag(1 - tanh(z)²) Vᵀ(V h - t) xᵀ is written ((Vᵀ(V h - t)) ⊙ (1 - tanh(z)²)) xᵀ. A diagonal times
  a matrix (a Jacobian, diag(σ′(z)) W) stays as it is.
- In an elementwise product the factors that make up an elementwise function's slope (step(z) for
  relu(z), 1 - tanh(z)² for tanh(z), σ(z) and 1 - σ(z) for σ(z); the table the rules differentiate
  with, functions.elementwise_slope) come after the others: (relu(z) - y) ⊙ step(z), tanh(x) ⊙ (1 - tanh(x)²);
  and in a dot product: (y - relu(z))ᵀstep(z).
- A factor every term of a sum has is written once: (Vᵀs) ⊙ g - (Vᵀt) ⊙ g = (Vᵀ(s - t)) ⊙ g,
  eˣ + x ⊙ eˣ = (1 + x) ⊙ eˣ.
- Elementwise fractions with one denominator over it, where that is shorter: 4x² ⊘ (1 - x²)² + 2 ⊘ (1 - x²)
  = 2(1 + x²) ⊘ (1 - x²)² (B&V ex. 9.30).
- A sum that is a multiple of a slope is written as the slope: σ - σ² = σ ⊙ (1 - σ), the Hessian of
  logistic regression's Xᵀdiag(σ ⊙ (1 - σ))X (PRML (4.97)), not Xᵀdiag(σ - σ²)X.
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from typing import cast

from .. import nodes as n
from ..algebra.builder import ONE, Builder, constant_value, is_zero, number, number_value
from ..algebra.functions import elementwise_slope
from ..errors import MatcalcError
from .collect import collect, polynomial
from .sums import signed_terms
from .walk import bottom_up, outer_applications


def backprop(node: n.Node, build: Builder, keep: frozenset[n.Node] = frozenset()) -> n.Node:
    """>>> from matcalc import diff
    >>> diff("1/2 ||relu(W x + b) - y||^2", wrt="b", let="b: vector(m)", layout="denominator").text
    '(relu(W x + b) - y) .* step(W x + b)'
    """

    def rewrite(current: n.Node) -> n.Node:
        if isinstance(current, n.MatMul) and current.shape.is_scalar:
            return _slope_second(current, build)
        if isinstance(current, n.MatMul):
            return _diagonals_absorbed(current, build)
        if isinstance(current, n.Hadamard):
            return _slopes_last(current, build)
        if isinstance(current, n.Add):
            own = polynomial([current], build)  # read once: both steps below start from it
            written = _as_slope(current, build, own)
            if written is not current:
                own = polynomial([written], build) if isinstance(written, n.Add) else None
            written = _over_common_denominator(written, build, own)
            return (
                _shared_factor(written, build)
                if isinstance(written, n.Add) and not written.shape.is_scalar
                else written
            )
        return current

    return bottom_up(node, rewrite, keep)


def _diagonals_absorbed(node: n.MatMul, build: Builder) -> n.Node:
    """diag(v) u = u ⊙ v for the rightmost diagonal followed by a column first (so that the column of a
    diagonal further left has its own diagonals absorbed already), then uᵀ diag(v) = (u ⊙ v)ᵀ."""
    factors = n.flatten(node, n.MatMul)
    changed = False
    while True:
        columns = [
            p
            for p, f in enumerate(factors)
            if isinstance(f, n.DiagMatrix) and any(g.shape.cols == 1 for g in factors[p + 1 :])
        ]
        rows = [
            p
            for p, f in enumerate(factors)
            if isinstance(f, n.DiagMatrix) and any(g.shape.rows == 1 for g in factors[:p])
        ]
        if columns:
            position = columns[-1]
            end = next(q for q in range(position + 1, len(factors)) if factors[q].shape.cols == 1)
            u = reduce(build.matmul, factors[position + 1 : end + 1])
            diagonal = cast(n.DiagMatrix, factors[position])  # columns holds the positions of diagonals
            factors[position : end + 1] = [_times(u, diagonal.operand, build)]
        elif rows:
            position = rows[0]
            start = next(r for r in range(position - 1, -1, -1) if factors[r].shape.rows == 1)
            u = build.transpose(reduce(build.matmul, factors[start:position]))
            diagonal = cast(n.DiagMatrix, factors[position])  # rows holds the positions of diagonals
            factors[start : position + 1] = [build.transpose(_times(u, diagonal.operand, build))]
        else:
            break
        changed = True
    return reduce(build.matmul, factors) if changed else node


def _slope_second(node: n.MatMul, build: Builder) -> n.Node:
    """uᵀv = vᵀu written with the slope second: (y - relu(z))ᵀstep(z), as P&H §6 writes the bias's gradient."""
    left, right = node.left, node.right
    if not (isinstance(left, n.Transpose) and left.operand.shape.is_column and right.shape.is_column):
        return node
    slopes = slope_factors([left.operand, right], build)
    if left.operand in slopes and right not in slopes:
        return n.MatMul(build.transpose(right), left.operand, shape=node.shape)
    return node


def _times(u: n.Node, v: n.Node, build: Builder) -> n.Node:
    """u ⊙ v for a column u, v a column or a row of the same length."""
    vector = v if v.shape == u.shape else build.transpose(v)
    return _slopes_last(n.Hadamard(u, vector, shape=u.shape), build)


def _slopes_last(node: n.Hadamard, build: Builder) -> n.Node:
    """The slopes of the functions after the other factors, and a polynomial in those functions' values after
    the slopes: (Wᵀδ) ⊙ σ′(z), tanh ⊙ (1 - tanh²), and σ ⊙ (1 - σ) ⊙ (1 - 2σ) as _slope_times_polynomial writes it."""
    factors = n.flatten(node, n.Hadamard)
    slopes = slope_factors(factors, build)
    functions: set[n.Node] = {a for f in factors if f in slopes for a in outer_applications(f)}
    polynomials = [f for f in factors if f not in slopes and isinstance(f, n.Add) and _polynomial_in(f, functions)]
    others = [f for f in factors if f not in slopes and f not in polynomials]
    ordered = others + [f for f in factors if f in slopes] + polynomials
    if ordered == factors:
        return node
    return reduce(lambda a, b: n.Hadamard(a, b, shape=node.shape), ordered)


def _polynomial_in(node: n.Node, functions: set[n.Node]) -> bool:
    """Whether node is a polynomial in the given function values alone (1 - 2σ(u) in σ(u)), with at least one."""
    stack, found = [node], False
    while stack:
        current = stack.pop()
        if current in functions:
            found = True
        elif isinstance(current, n.Power):
            if constant_value(current.exponent) is None:
                return False
            stack.append(current.base)
        elif isinstance(current, (n.Add, n.Neg, n.ScalarMul, n.Hadamard, n.Fill)):
            stack += current.children()
        elif constant_value(current) is None:
            return False
    return found


def slope_factors(factors: list[n.Node], build: Builder) -> set[n.Node]:
    """The factors of the slopes of the elementwise functions the factors contain."""
    slopes: set[n.Node] = set()
    for sub in {a for f in factors for a in outer_applications(f)}:
        try:
            slope = elementwise_slope(build, sub)
        except MatcalcError:
            continue
        if slope is not None:
            slopes.update(n.flatten(slope, n.Hadamard))
    return slopes


def _shared_factor(node: n.Add, build: Builder) -> n.Node:
    terms = signed_terms(node)
    factor_lists = [n.flatten(core, n.Hadamard) for _, core in terms]
    several = any(len(factors) > 1 for factors in factor_lists)
    shared = [f for f in factor_lists[0] if several and all(f in fs for fs in factor_lists[1:])]
    if not shared:
        return node
    common = shared[-1]
    rests = []
    for (coefficient, _), factors in zip(terms, factor_lists):
        others = list(factors)
        others.remove(common)
        rest = reduce(lambda a, b: n.Hadamard(a, b, shape=node.shape), others) if others else ONE
        rests.append(build.scale(number(coefficient), rest))
    inner = reduce(build.add, rests) if any(r.shape.is_scalar for r in rests) else collect(rests, build)
    if is_zero(inner) or (inner.shape != node.shape and not inner.shape.is_scalar):
        return node  # the terms cancel: collect has its own zero for that
    return _slopes_last(n.Hadamard(inner, common, shape=node.shape), build)  # eˣ + x ⊙ eˣ = (1 + x) ⊙ eˣ


def _as_slope(node: n.Add, build: Builder, own: dict | None) -> n.Node:
    """c f'(u) for a sum equal to a multiple c of the slope of a function f(u) it contains (own: the sum's
    polynomial)."""
    if own is None:
        return node
    for sub in outer_applications(node):
        try:
            slope = elementwise_slope(build, sub)
        except MatcalcError:
            continue
        if slope is None or not isinstance(slope, (n.Hadamard, n.ScalarMul)):
            continue
        theirs = polynomial([slope], build)
        if theirs is None or set(theirs) != set(own):
            continue
        ratios = {own[key][0] / theirs[key][0] for key in own if theirs[key][0] != 0}
        if len(ratios) == 1:
            return build.scale(number(ratios.pop()), slope)
    return _slope_times_polynomial(node, own, build)


def _slope_times_polynomial(node: n.Add, own: dict, build: Builder) -> n.Node:
    """f'(u) ⊙ Q(f(u)) for a polynomial in one function f(u) that its slope divides, the slope being a
    polynomial in f(u) itself: 2σ³ - 3σ² + σ = σ ⊙ (1 - σ) ⊙ (1 - 2σ) (σ'' of the softplus's σ)."""
    powers = _univariate(own)
    if powers is None:
        return node
    base, coefficients = powers
    try:
        slope = elementwise_slope(build, base) if isinstance(base, n.Apply) else None
    except MatcalcError:
        return node
    if slope is None:
        return node
    divisor = _univariate(polynomial([slope], build))
    if divisor is None or divisor[0] != base or len(divisor[1]) < 2:
        return node
    quotient = _divided(coefficients, divisor[1])
    if quotient is None or len(quotient) < 2:
        return node
    terms = [
        build.scale(number(c), build.power(base, number(k)) if k else _one(base)) for k, c in sorted(quotient.items())
    ]
    return build.hadamard(slope, collect(terms, build))


def _one(like: n.Node) -> n.Node:
    return ONE if like.shape.is_scalar else n.Fill(ONE, shape=like.shape)


def _univariate(monomials: dict | None) -> tuple[n.Node, dict[int, Fraction]] | None:
    """(f, {k: c_k}) when every monomial is a number times a power of the same f."""
    if not monomials:
        return None
    base: n.Node | None = None
    coefficients: dict[int, Fraction] = {}
    for coefficient, factors in monomials.values():
        power = 0
        for f in factors:
            b, p = (
                (f.base, int(exponent))
                if isinstance(f, n.Power)
                and (exponent := number_value(f.exponent)) is not None
                and exponent.denominator == 1
                else (f, 1)
            )
            if base is None:
                base = b
            if b != base or p < 0:
                return None
            power += p
        coefficients[power] = coefficients.get(power, Fraction(0)) + coefficient
    return (base, coefficients) if base is not None else None


def _divided(dividend: dict[int, Fraction], divisor: dict[int, Fraction]) -> dict[int, Fraction] | None:
    """dividend / divisor as polynomials in one variable, or None if the division leaves a remainder."""
    remainder = {k: c for k, c in dividend.items() if c != 0}
    top = max(divisor)
    quotient: dict[int, Fraction] = {}
    while remainder and max(remainder) >= top:
        k = max(remainder)
        factor = remainder[k] / divisor[top]
        quotient[k - top] = factor
        for j, c in divisor.items():
            remainder[j + k - top] = remainder.get(j + k - top, Fraction(0)) - factor * c
        remainder = {j: c for j, c in remainder.items() if c != 0}
    return None if remainder else quotient


def _over_common_denominator(node: n.Node, build: Builder, own: dict | None) -> n.Node:
    """A sum of elementwise fractions whose denominators are powers of one sum d, over d^k: the
    numerators multiplied out and collected; kept only where it is shorter than the sum (own: its
    polynomial)."""
    if not isinstance(node, n.Add):
        return node
    if own is None or len(own) < 2:
        return node
    denominators = {base for _, factors in own.values() for base, power in map(_base_power, factors) if power < 0}
    if len(denominators) != 1:
        return node
    (base,) = denominators
    if not isinstance(base, n.Add):
        return node
    # a monomial's power of d is the sum over its factors: d⁻⁴ ⊙ d⁻¹ is over d⁵
    depth = max(-sum(power for b, power in map(_base_power, factors) if b == base) for _, factors in own.values())
    if depth <= 0:
        return node
    numerators = []
    for coefficient, factors in own.values():
        lowered = depth + sum(power for b, power in map(_base_power, factors) if b == base)
        others = [f for f in factors if _base_power(f)[0] != base]
        parts = others + [build.power(base, number(lowered))] * (lowered > 0)
        product = reduce(build.hadamard, parts) if parts else _one(node)
        numerators.append(build.scale(number(coefficient), product))
    expanded = polynomial(numerators, build)
    if expanded is None:
        return node
    monomials = sorted(expanded.values(), key=lambda monomial: sum(_base_power(f)[1] for f in monomial[1]))
    terms = [
        build.scale(number(c), reduce(build.hadamard, factors) if factors else _one(node))
        for c, factors in monomials
        if c != 0
    ]  # by degree: 1 + x², and x² - 1 with the negative last
    if not terms:
        return node
    numerator = collect(terms, build)
    written = n.Divide(numerator, build.power(base, number(depth)), shape=node.shape)
    return written if n.size(written) < n.size(node) else node


def _base_power(f: n.Node) -> tuple[n.Node, int]:
    if (isinstance(f, n.Divide) and number_value(f.left) == 1) or (
        isinstance(f, n.Divide) and isinstance(f.left, n.Fill) and number_value(f.left.value) == 1
    ):
        base, power = _base_power(f.right)
        return base, -power
    if isinstance(f, n.Power) and (exponent := number_value(f.exponent)) is not None and exponent.denominator == 1:
        return f.base, int(exponent)
    return f, 1
