"""A sum of matrix expressions added up the way a person would: equal terms combined, a factor that
terms share written once, an equal coefficient taken out, elementwise products multiplied out where
that is shorter (with the logistic sigmoid recognised in what they leave).

`collect` is the first step of writing a derivative: the terms that the contraction gives (one per
term of the index form) become one sum here, before the rules of RULES write it as a textbook prints it.
"""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from typing import TypeGuard

from .. import nodes as n
from ..algebra.builder import (
    ONE,
    Builder,
    base_and_power,
    constant_value,
    is_one,
    logistic_operand,
    negation_of,
    number,
    raised,
    reciprocal_logistic_operand,
)
from ..algebra.builder import ZERO as ZERO_NUMBER
from ..language.syntax import SUM_BALANCE_ABOVE
from .walk import WHOLE_SUM_ABOVE


def collect(terms: list[n.Node], build: Builder, inner: bool = False) -> n.Node:
    """Add matrix expressions the way a person would: `(A + A')x`, `2 X'`, `x'(A + A')`.
    Terms keep their order, negative ones last; inside a collected factor, A before A', and so in the
    sum when both are terms (A + A'). Elementwise
    products are multiplied out where that is shorter: (1 - σ) ⊙ y - σ ⊙ (1 - y) = y - σ."""
    written = _collected(terms, build, inner)
    expanded = _multiplied_out(terms, build, inner)
    if expanded is not None and n.size(expanded) < n.size(written):
        return expanded
    return written


_MAX_MONOMIALS = 32  # multiplying out elementwise products is tried only while it stays this small


def _multiplied_out(terms: list[n.Node], build: Builder, inner: bool) -> n.Node | None:
    """The sum with its elementwise products of sums multiplied out and like monomials combined."""
    if not terms or terms[0].shape.is_scalar or not _has_hadamard(terms):
        return None
    if all(t.shape.is_row for t in terms):  # rows as columns: (σ ⊙ (1 - y))ᵀ - (y ⊙ (1 - σ))ᵀ = (σ - y)ᵀ
        columns = _multiplied_out([build.transpose(t) for t in terms], build, inner)
        return None if columns is None else build.transpose(columns)
    monomials = polynomial(terms, build)
    if monomials is None or len(monomials) > _MAX_MONOMIALS:
        return None
    parts = [
        build.scale(number(c), reduce(build.hadamard, factors) if factors else n.Fill(ONE, shape=terms[0].shape))
        for c, factors in monomials.values()
        if c != 0
    ]
    return _collected(parts, build, inner) if parts else n.Fill(ZERO_NUMBER, shape=terms[0].shape)


def _has_hadamard(terms: list[n.Node]) -> bool:
    """Whether an elementwise product is anywhere in the terms (one walk over them all, each distinct object
    once: a long sum's terms share their factors)."""
    stack, seen = list(terms), set()
    while stack:
        current = stack.pop()
        if isinstance(current, n.Hadamard):
            return True
        if id(current) in seen:
            continue
        seen.add(id(current))
        node_class: type = type(current)  # hashable, as every class is (mypy takes Node's __hash__ for it)
        stack += [child for name in n.child_fields(node_class) if isinstance(child := getattr(current, name), n.Node)]
    return False


def polynomial(terms: list[n.Node], build: Builder) -> dict[frozenset, tuple[Fraction, tuple[n.Node, ...]]] | None:
    """The sum of terms as an elementwise polynomial: for each monomial (its factors, powers combined,
    as a key), its coefficient and factors; None where a term is not such a product."""
    monomials: dict[frozenset, tuple[Fraction, tuple[n.Node, ...]]] = {}
    for term in terms:
        expanded = elementwise_monomials(term)
        if expanded is None:
            return None
        for coefficient, factors in expanded:
            factors = logistic_written(_with_powers_combined(factors, build))
            key = frozenset(factors)  # each base once (powers combined); nodes hash once, deep ones too
            previous = monomials.get(key)
            monomials[key] = (coefficient if previous is None else previous[0] + coefficient, factors)
    return monomials


def elementwise_monomials(node: n.Node) -> list[tuple[Fraction, tuple[n.Node, ...]]] | None:
    """An elementwise polynomial: coefficient × a product of factors, for each monomial. Powers of a
    factor cancel first (σ ⊙ (1 - σ) ⊘ σ² = (1 - σ) ⊘ σ), then what is left of sums is multiplied out.
    A sum's terms are read in one pass (not joined level by level of its balanced tree)."""
    monomials: list[tuple[Fraction, tuple[n.Node, ...]]] = []
    for term in n.flatten(node, n.Add):
        found = _term_monomials(term)
        if found is None:
            return None
        monomials += found
    return monomials


def _term_monomials(node: n.Node) -> list[tuple[Fraction, tuple[n.Node, ...]]] | None:
    """elementwise_monomials of a term that is not a sum."""
    split = _coefficient_and_factors(node)
    if split is None:
        return None
    coefficient, factors = split
    result: list[tuple[Fraction, tuple[n.Node, ...]]] = [(coefficient, ())]
    for f in _with_powers_combined(factors, None):
        base, power = base_and_power(f)
        if isinstance(base, n.Add) and power > 0:
            expansion = elementwise_monomials(base)
            if expansion is None:
                return None
            for _ in range(power):
                result = [(a * b, fa + fb) for a, fa in result for b, fb in expansion]
                if len(result) > _MAX_MONOMIALS:
                    return None
        else:
            result = [(c, fs + (f,)) for c, fs in result]
    return result


def _coefficient_and_factors(node: n.Node) -> tuple[Fraction, list[n.Node]] | None:
    """A term as a number times elementwise factors (products and quotients opened up)."""
    match node:
        case n.Neg(operand=operand):
            inner = _coefficient_and_factors(operand)
            return None if inner is None else (-inner[0], inner[1])
        case n.Hadamard(left=left, right=right):
            a, b = _coefficient_and_factors(left), _coefficient_and_factors(right)
            return None if a is None or b is None else (a[0] * b[0], a[1] + b[1])
        case n.Divide(left=left, right=right) if right.shape == node.shape and not node.shape.is_scalar:
            a = _coefficient_and_factors(left)
            return None if a is None else (a[0], a[1] + [n.Divide(ONE, right, shape=node.shape)])
        case n.ScalarMul(left=left, right=right) if (coefficient := constant_value(left)) is not None:
            inner = _coefficient_and_factors(right)
            return None if inner is None else (coefficient * inner[0], inner[1])
        case n.Fill(value=entry) if (entry_value := constant_value(entry)) is not None:
            return entry_value, []
    if node.shape.is_scalar:  # a product of scalars opens up the same way: σ(a)(1 - σ(a)), eᵃ / (1 + eᵃ)²
        value = constant_value(node)
        if value is not None:
            return value, []
        if isinstance(node, n.ScalarMul):
            a, b = _coefficient_and_factors(node.left), _coefficient_and_factors(node.right)
            return None if a is None or b is None else (a[0] * b[0], a[1] + b[1])
        if isinstance(node, n.Divide) and not is_one(node.left):
            a = _coefficient_and_factors(node.left)
            return None if a is None else (a[0], a[1] + [n.Divide(ONE, node.right, shape=node.shape)])
    return Fraction(1), [node]


def _with_powers_combined(factors, build: Builder | None) -> tuple[n.Node, ...]:
    """u ⊙ u ⊘ u³ = 1 ⊘ u: the factors of one monomial with the powers of each base added up."""
    if len(factors) == 1:  # most terms of a long sum: nothing to add up
        base, power = base_and_power(factors[0])
        return (factors[0],) if power == 1 and base is factors[0] else (raised(base, power),) if power else ()
    exponents: dict[n.Node, int] = {}
    for f in factors:
        base, power = base_and_power(f)
        exponents[base] = exponents.get(base, 0) + power
    return tuple(raised(base, power) for base, power in exponents.items() if power != 0)


def logistic_written(factors: tuple[n.Node, ...]) -> tuple[n.Node, ...]:
    """exp(u)^p ⊘ (1 + exp(u))^q with the logistic sigmoid taken out: exp(u)² ⊘ (1 + exp(u))² = σ(u)²
    (the second derivative of the softplus log(1 + eᵘ))."""
    if len(factors) == 1:
        base, power = base_and_power(factors[0])
        if power > 0 and not isinstance(base, n.Apply):  # no exponential, no σ, no reciprocal: as it is
            return factors
    exponents: dict[n.Node, int] = {}
    for base, power in map(base_and_power, factors):
        exponents[base] = exponents.get(base, 0) + power
    changed = len(exponents) < len(factors)
    for base, power in list(exponents.items()):  # (1 + exp(-u))^-q = σ(u)^q
        operand = reciprocal_logistic_operand(base)
        if operand is not None and power < 0:
            sigmoid = n.Apply("sigmoid", operand, shape=base.shape)
            exponents[sigmoid] = exponents.get(sigmoid, 0) - power
            exponents[base] = 0
            changed = True
    for base, power in list(exponents.items()):
        if not (isinstance(base, n.Apply) and base.function == "exp" and power > 0):
            continue
        denominator = next((d for d in exponents if logistic_operand(base, d) is not None and exponents[d] < 0), None)
        if denominator is None:
            continue
        taken = min(power, -exponents[denominator])
        sigmoid = n.Apply("sigmoid", base.operand, shape=base.shape)
        exponents[base] -= taken
        exponents[denominator] += taken
        exponents[sigmoid] = exponents.get(sigmoid, 0) + taken
        changed = True
    while _sigmoid_pairs(exponents):  # σ(u) exp(-u) makes σ(-u), which then pairs with σ(u)
        changed = True
    if not changed:
        return factors
    return tuple(raised(base, power) for base, power in exponents.items() if power != 0)


def _sigmoid_pairs(exponents: dict[n.Node, int]) -> bool:
    """σ(u) exp(-u) = σ(-u), and σ(-u) beside σ(u) written 1 - σ(u): σ(u) σ(-u) = σ(u)(1 - σ(u)), the slope."""
    changed = False
    for base in list(exponents):
        if not (isinstance(base, n.Apply) and base.function == "sigmoid" and exponents.get(base, 0) > 0):
            continue
        for other, other_power in list(exponents.items()):
            if (
                other_power <= 0
                or exponents.get(base, 0) <= 0
                or not isinstance(other, n.Apply)
                or negation_of(other.operand) != base.operand
            ):
                continue
            taken = min(exponents[base], other_power)
            if other.function == "exp":  # σ(u) exp(-u) = σ(-u)
                replacement: n.Node = n.Apply("sigmoid", other.operand, shape=base.shape)
                exponents[base] -= taken
            elif other.function == "sigmoid":  # σ(-u) = 1 - σ(u) beside σ(u)
                one = ONE if base.shape.is_scalar else n.Fill(ONE, shape=base.shape)
                replacement = n.Add(one, n.Neg(base, shape=base.shape), shape=base.shape)
            else:
                continue
            exponents[other] -= taken
            exponents[replacement] = exponents.get(replacement, 0) + taken
            changed = True
    return changed


def _merged_diagonals(terms: list[n.Node], build: Builder) -> list[n.Node]:
    """diag(a) + 2 diag(b) - diag(c) = diag(a + 2b - c): several diagonal matrices are one."""
    diagonals = [(c, core) for c, core in map(split_coefficient, terms) if isinstance(core, n.DiagMatrix)]
    if len(diagonals) < 2:
        return terms
    others = [t for t in terms if not isinstance(split_coefficient(t)[1], n.DiagMatrix)]
    # diag(zᵀ) = diag(z): every operand a column, or a row and a column would be added
    columns = [core.operand if core.operand.shape.is_column else build.transpose(core.operand) for _, core in diagonals]
    inside = collect([build.scale(number(c), column) for (c, _), column in zip(diagonals, columns)], build)
    return [build.diag_matrix(inside), *others]


def _collected(terms: list[n.Node], build: Builder, inner: bool) -> n.Node:
    terms = _merged_diagonals(terms, build)
    pairs = _combine_equal([split_coefficient(term) for term in terms])
    pairs = _scalar_multiples_combined(pairs, build)
    pairs = _factor_shared(pairs, build, side="right")
    pairs = _factor_shared(pairs, build, side="left")
    pairs = _combine_equal(pairs)
    cores = {core for _, core in pairs}

    def marks(core: n.Node) -> int:  # inside a factor A before Aᵀ; in the whole sum, when both are terms
        return _transposes(core) if inner or _other_term(build.transpose(core), core, cores) else 0

    pairs.sort(key=lambda pair: (pair[0] < 0, marks(pair[1])))
    pairs = [(coefficient, core) for coefficient, core in pairs if coefficient != 0]
    shared = _shared_coefficient([coefficient for coefficient, _ in pairs])
    signed = [
        (coefficient < 0, build.scale(number(abs(coefficient if shared == 1 else coefficient / shared)), core))
        for coefficient, core in pairs
    ]
    if not signed:
        return number(0)
    joined = _sum_and_its_transpose(signed, build) or _joined(signed, build)
    return build.scale(number(shared), joined) if shared != 1 else joined


def _other_term(candidate: n.Node, core: n.Node, cores: set[n.Node]) -> bool:
    """Whether candidate is a term other than core (without copying the set of terms for each term)."""
    return candidate != core and candidate in cores


def _shared_coefficient(coefficients: list[Fraction]) -> Fraction:
    """The coefficient every term of a sum has, to write once: 2XᵀX + 2λI = 2(XᵀX + λI),
    ⅔A + ⅔Aᵀ = ⅔(A + Aᵀ). Only an equal coefficient is taken out, as authors do: 4(xᵀx)I + 8xxᵀ and
    -2Xᵀ(y - Xw) + 2λw stay as they are. 1 for a single term, or when the coefficients differ."""
    if len(coefficients) < 2 or len(set(coefficients)) > 1:
        return Fraction(1)
    return abs(coefficients[0])


def _joined(signed: list[tuple[bool, n.Node]], build: Builder) -> n.Node:
    """a + b - c, in order; a long sum as a balanced tree, so that its depth grows as log n (as the
    parser builds long sums: syntax.SUM_BALANCE_ABOVE)."""
    if len(signed) > SUM_BALANCE_ABOVE:
        half = len(signed) // 2
        return build.add(_joined(signed[:half], build), _joined(signed[half:], build))
    result: n.Node | None = None
    for negative, term in signed:
        if result is None:
            result = build.neg(term) if negative else term
        else:
            result = build.sub(result, term) if negative else build.add(result, term)
    assert result is not None
    return result


def _sum_and_its_transpose(signed: list[tuple[bool, n.Node]], build: Builder) -> n.Node | None:
    """S + Sᵀ for a sum rewritten whole (walk.WHOLE_SUM_ABOVE) whose second half is its first half with
    each term transposed: Σᵢ xᵀAᵢx by x is xᵀ(S + Sᵀ) with S = A₁ + ... + Aₖ, as the rules wrote it when they
    rewrote a long sum half by half. None for any other sum."""
    half = len(signed) // 2
    if len(signed) <= WHOLE_SUM_ABOVE or len(signed) % 2:
        return None
    for (negative, term), (other_negative, other) in zip(signed[:half], signed[half:]):
        if negative != other_negative or build.transpose(term) != other or _transposes(other) <= _transposes(term):
            return None
    first = _joined(signed[:half], build)
    return n.Add(first, n.Transpose(first, shape=first.shape), shape=first.shape)


def split_coefficient(node: n.Node) -> tuple[Fraction, n.Node]:
    """-2 M as (-2, M)."""
    if isinstance(node, n.Neg):
        c, core = split_coefficient(node.operand)
        return -c, core
    if isinstance(node, n.ScalarMul) and (coefficient := constant_value(node.left)) is not None:
        c, core = split_coefficient(node.right)
        return coefficient * c, core
    return _UNIT, node


_UNIT = Fraction(1)  # the coefficient of most terms, made once (fractions are immutable)


def _combine_equal(pairs: list[tuple[Fraction, n.Node]]) -> list[tuple[Fraction, n.Node]]:
    combined: dict[n.Node, Fraction] = {}
    for coefficient, core in pairs:
        previous = combined.get(core)
        combined[core] = coefficient if previous is None else previous + coefficient
    return [(c, core) for core, c in combined.items() if c != 0]


def _outer_factor(core: n.Node, side: str, build: Builder) -> tuple[n.Node, n.Node] | None:
    """The first (side left) or last (side right) factor of a product chain, and the rest of it:
    ((U' s) s') -> (U', s s') on the left, (s', U' s) on the right."""
    if not isinstance(core, n.MatMul):
        return None
    if side == "right":
        return core.right, core.left
    first, rest = core.left, [core.right]
    while isinstance(first, n.MatMul):  # products associate to the left
        rest = [first.right, *rest]
        first = first.left
    return first, reduce(build.matmul, rest)  # the builder: z (zᵀz) is a scaling, not a product


def _scalar_multiples_combined(pairs: list[tuple[Fraction, n.Node]], build: Builder) -> list[tuple[Fraction, n.Node]]:
    """X + s X = (1 + s) X for a matrix or vector X and a scalar s that is not a number (numbers are
    _combine_equal's): (1/π) I + I is (1 + 1/π) I however the terms are ordered."""
    groups: dict[n.Node, list[int]] = {}
    for k, (_, core) in enumerate(pairs):
        base = _multiplied(core)
        if not base.shape.is_scalar:
            groups.setdefault(base, []).append(k)
    merged = {group[0]: (base, group) for base, group in groups.items() if len(group) > 1}
    if not merged:
        return pairs
    taken = {k for _, group in merged.values() for k in group}
    result = []
    for k, pair in enumerate(pairs):
        if k in merged:
            base, group = merged[k]
            scalars = [build.scale(number(c), _multiplier(core)) for c, core in (pairs[j] for j in group)]
            result.append((Fraction(1), build.scale(reduce(build.add, scalars), base)))
        elif k not in taken:
            result.append(pair)
    return result


def _multiplied(core: n.Node) -> n.Node:
    """X of s X (a scalar s times a matrix or vector X), or the core itself."""
    return core.right if _scaled(core) else core


def _multiplier(core: n.Node) -> n.Node:
    """s of s X, or 1."""
    return core.left if _scaled(core) else ONE


def _scaled(core: n.Node) -> TypeGuard[n.ScalarMul]:
    return isinstance(core, n.ScalarMul) and core.left.shape.is_scalar and not core.right.shape.is_scalar


def _factor_shared(pairs: list[tuple[Fraction, n.Node]], build: Builder, side: str) -> list[tuple[Fraction, n.Node]]:
    """Terms with the same first (or last) factor of their products share it: U'diag(s) - U's s' =
    U'(diag(s) - s s'), (A + A')x."""
    groups: dict[n.Node, list[tuple[Fraction, n.Node, n.Node]]] = {}  # outer factor: (c, core, rest)
    order: list[tuple[Fraction, n.Node] | n.Node] = []  # a term without an outer factor, or a group's key
    for coefficient, core in pairs:
        outer = _outer_factor(core, side, build)
        if outer is None:
            order.append((coefficient, core))
            continue
        key, rest = outer
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((coefficient, core, rest))
    result: list[tuple[Fraction, n.Node]] = []
    for item in order:
        if isinstance(item, tuple):
            result.append(item)
            continue
        members = groups[item]
        if len(members) == 1:
            coefficient, core, _ = members[0]
            result.append((coefficient, core))
            continue
        rests = [build.scale(number(c), rest) for c, _, rest in members]
        inner = collect(rests, build, inner=True)
        result.append((Fraction(1), build.matmul(inner, item) if side == "right" else build.matmul(item, inner)))
    return result


def _transposes(node: n.Node) -> int:
    return sum(isinstance(sub, n.Transpose) for sub in n.walk(node))
