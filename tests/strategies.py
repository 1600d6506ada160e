"""Hypothesis strategies shared by the property tests: a typed generator of expression text, and points.

The generator writes random expression *text* in matcalc's language (every construct, plus step and
X^-T), aiming at a given shape, over the declarations in DECLS. It is a table of rules
(`rules(value_class, shape)`): each rule is a text template whose holes are filled with subexpressions
of given value classes and shapes. A value class says what the generator knows about the numbers, so
domain-restricted constructs only get arguments they accept:

- ANY: any finite values;
- POSITIVE: every entry is positive (for log, sqrt, ./, non-integer powers);
- POSDEF: a square matrix M with M + M' positive definite, a class closed under sums, positive
  scaling, transposes and inverses, whose members are invertible with a positive determinant (for
  inv, A^-1, logdet).

`random_values` draws a point where every value class holds, `numeric_scale` says whether an
expression can be compared there, and `draw_point` draws an expression's variable and point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from matcalc import nodes, parse
from matcalc.numeric.evaluate import evaluate

DECLS = ("a: scalar, b: scalar, x: vector(n), y: vector(n), z: vector(m), "
         "A: matrix(n, n), B: matrix(n, m), C: matrix(m, n), S: symmetric(n)")
SIZES = {"n": 3, "m": 4}
MAX_DEPTH = 4

N, M = "n", "m"
SCALAR = (1, 1)
SHAPES = [(rows, cols) for rows in (1, N, M) for cols in (1, N, M)]
ANY, POSITIVE, POSDEF = "any", "positive", "posdef"


# Text pieces


# Texts that never need parentheses: declared names, constants, dimension names,
# numbers and function calls.
_ATOM_NAMES = {"a", "b", "x", "y", "z", "A", "B", "C", "S", "pi", "e", N, M}
_NUMBER = re.compile(r"\d+(\.\d+)?(e-?\d+)?")
_CALL = re.compile(r"[a-z0-9]+\(")


def is_atom(text: str) -> bool:
    if text in _ATOM_NAMES or _NUMBER.fullmatch(text):
        return True
    if not _CALL.match(text):
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == ")":
            return i == len(text) - 1
    return False


class Piece(str):
    """A subexpression's text, as a template inserts it: `{0}` puts it in
    parentheses unless it is an atom; `{0:raw}` leaves it bare, for places that
    delimit it themselves (function arguments, bars), unless it starts with a
    bar (bars right inside bars would be ambiguous)."""

    def __format__(self, spec: str) -> str:
        text = str(self)
        if spec == "raw" and not text.startswith(("|", "‖")):
            return text
        return text if is_atom(text) else f"({text})"


@dataclass(frozen=True)
class Rule:
    """A template for text of some class and shape; `children` are the (class,
    shape) of the subexpressions that fill its holes {0}, {1}, ..."""

    template: str
    children: tuple[tuple[str, tuple], ...] = ()

    def build(self, texts: list[str]) -> str:
        return self.template.format(*map(Piece, texts))


def rule(template: str, *children: tuple[str, tuple]) -> Rule:
    return Rule(template, children)


# Leaves: texts of a known shape with no holes. Some are small idioms that the
# parser has to split or read as juxtaposition (`x'Ax`, `Bz`, `2x`, `1/(2n)`).

_ANY_LEAVES = {
    SCALAR: ["a", "b", "0", "2", "0.5", "3", "1e-1", "pi", "e", "n", "m",
             "x'y", "x' A x", "x'Ax", "z' z", "1/(2n)"],
    (N, 1): ["x", "y", "ones(n)", "A x", "Ax", "Bz", "S y", "2x"],
    (M, 1): ["z", "ones(m)", "C x", "Cx"],
    (1, N): ["x'", "y^T", "x.T", "xᵀ", "ones(n)'", "x' A"],
    (1, M): ["z'", "x' B", "ones(m)^T"],
    (N, N): ["A", "S", "eye(n)", "A'", "x y'"],
    (N, M): ["B", "C'", "x z'"],
    (M, N): ["C", "B'", "z x'"],
    (M, M): ["C B", "eye(m)", "z z'"],
}
_POSITIVE_LEAVES = {
    SCALAR: ["2", "0.5", "3", "pi", "e", "n", "m", "exp(a)", "1/(2n)"],
    (N, 1): ["ones(n)"],
    (M, 1): ["ones(m)"],
    (1, N): ["ones(n)'"],
    (1, M): ["ones(m)'"],
}
_POSDEF_LEAVES = {
    (N, N): ["A", "S", "A'", "S^T", "eye(n)", "3 eye(n)"],
    (M, M): ["eye(m)", "2 eye(m)", "eye(m) + C C'"],
}


def leaves(cls: str, shape: tuple) -> list[str]:
    if cls == ANY:
        return _ANY_LEAVES[shape]
    if cls == POSITIVE:
        return _POSITIVE_LEAVES.get(shape, []) + [f"exp({leaf})" for leaf in _ANY_LEAVES[shape]]
    return _POSDEF_LEAVES[shape]


# Rules with holes


def is_vector(shape: tuple) -> bool:
    return shape != SCALAR and 1 in shape


def is_matrix(shape: tuple) -> bool:
    return 1 not in shape


@cache
def rules(cls: str, shape: tuple) -> tuple[Rule, ...]:
    """The rules that build text of value class `cls` and shape `shape`."""
    return tuple({ANY: _any_rules, POSITIVE: _positive_rules, POSDEF: _posdef_rules}[cls](shape))


def _any_rules(s: tuple) -> list[Rule]:
    rows, cols = s
    any_s, any_1, pos_s, pos_1 = (ANY, s), (ANY, SCALAR), (POSITIVE, s), (POSITIVE, SCALAR)
    out = [
        # sums and negation
        rule("{0} + {1}", any_s, any_s), rule("{0} - {1}", any_s, any_s),
        rule("-{0}", any_s), rule("+{0}", any_s),
        # scaling, written as juxtaposition, *, and .* with a scalar
        rule("{0} {1}", any_1, any_s), rule("{0} * {1}", any_1, any_s),
        rule("{0} {1}", any_s, any_1), rule("{0} .* {1}", any_1, any_s),
        # division by a (nonzero) scalar
        rule("{0} / {1}", any_s, pos_1),
        # transposes of the transposed shape
        *(rule(template, (ANY, (cols, rows))) for template in ("{0}'", "{0}^T", "{0}.T", "{0}ᵀ")),
        # elementwise functions; the domain-restricted ones get arguments they accept
        *(rule(f"{f}({{0:raw}})", any_s)
          for f in ("exp", "sin", "cos", "tanh", "arctan", "sigmoid", "relu", "sign", "step", "abs")),
        rule("|{0:raw}|", any_s), rule("log({0:raw})", pos_s), rule("sqrt({0:raw})", pos_s),
        rule("tan(tanh({0:raw}))", any_s), rule("arcsin(tanh({0:raw}))", any_s),
        rule("arccos(sigmoid({0:raw}))", any_s),
        # elementwise max / min
        rule("max({0:raw}, {1:raw})", any_s, any_s), rule("min({0:raw}, {1:raw})", any_s, any_s),
        rule("max(0, {0:raw})", any_s), rule("min({0:raw}, 0)", any_s),
    ]
    # matrix products through an inner dimension n or m: x'y, A x, x' A, C B ...
    for inner in (N, M):
        left, right = (ANY, (rows, inner)), (ANY, (inner, cols))
        out += [rule("{0} {1}", left, right), rule("{0} * {1}", left, right), rule("{0} @ {1}", left, right)]
    if rows != 1 and cols != 1:  # outer products: x y'
        out += [rule("{0} {1}", (ANY, (rows, 1)), (ANY, (1, cols))),
                rule("{0} @ {1}", (ANY, (rows, 1)), (ANY, (1, cols)))]
    if s != SCALAR:
        out += [
            # scalar expansion
            rule("{0} + {1}", any_1, any_s), rule("{0} - {1}", any_s, any_1),
            rule("max({0:raw}, {1:raw})", any_1, any_s), rule("min({0:raw}, {1:raw})", any_s, any_1),
            # elementwise products and divisions
            rule("{0} .* {1}", any_s, any_s), rule("{0} ⊙ {1}", any_s, any_s),
            rule("{0} ./ {1}", any_s, pos_s), rule("{0} ./ {1}", any_1, pos_s),
            rule("{0} ./ {1}", any_s, pos_1),
            # elementwise powers
            rule("{0} .^ 2", any_s), rule("{0}.^3", any_s),
            rule("{0} .^ {1}", pos_s, any_1), rule("{0} .^ {1}", pos_s, any_s),
            rule("{0} .^ {1}", pos_1, any_s),
        ]
    if is_vector(s) and rows != cols:  # two vectors of one length that do not conform: `*` is elementwise
        out += [rule("{0} * {1}", any_s, any_s), rule("{0} {1}", any_s, any_s)]  # (two matrices are an error)
    if s == SCALAR:
        out += _scalar_valued_rules()
        out += [rule("{0}^2", any_s), rule("{0}^3", any_s), rule("{0}^{1}", pos_s, any_s),
                rule("{0}^-1", pos_s), rule("{0}^0.5", pos_s), rule("{0} .^ {1}", pos_s, any_s),
                rule("{0} ./ {1}", any_s, pos_s)]
    if is_vector(s):
        out += [rule("{0}^2", any_s), rule("{0}^{1}", pos_s, any_1), rule("{0}^-1", pos_s),
                rule("softmax({0:raw})", any_s)]
    if cols == 1 and rows != 1:
        out += [rule("{0} + vector({1:raw})", any_s, any_1),  # a constant vector sized by its context
                rule("diag({0:raw})", (ANY, (rows, rows)))]  # the diagonal of a square matrix
    if is_matrix(s):
        out += [rule("matrix({1:raw}) .* {0}", any_s, any_1)]
    if is_matrix(s) and rows == cols:
        pd = (POSDEF, s)
        out += [
            # integer powers of a square matrix, inverses
            rule("{0}^2", any_s), rule("{0}^3", any_s), rule("{0}^0", any_s), rule("{0}^1", any_s),
            rule("{0}^-2", pd), rule("{0}^-1", pd), rule("{0}^(-1)", pd), rule("{0}⁻¹", pd),
            rule("inv({0:raw})", pd), rule("{0}^-T", pd),
            # the identity sized by its context
            rule("{0} + I", any_s), rule("I - {0}", any_s),
            # a diagonal matrix from a vector or a row vector
            rule("diag({0:raw})", (ANY, (rows, 1))), rule("diag({0:raw})", (ANY, (1, rows))),
        ]
    return out


def _scalar_valued_rules() -> list[Rule]:
    """Scalars made from operands of every shape: reductions, norms, dot, tr, det."""
    out = []
    for t in SHAPES:
        any_t = (ANY, t)
        out += [rule("sum({0:raw})", any_t), rule("mean({0:raw})", any_t),
                rule("dot({0:raw}, {1:raw})", any_t, any_t), rule("||{0:raw}||", any_t)]
        if t != SCALAR:
            out += [rule("||{0:raw}||_1", any_t), rule("norm({0:raw})", any_t), rule("norm1({0:raw})", any_t)]
        if is_vector(t):  # ||A||_2 of a matrix, the spectral norm, is not supported by the lowering yet
            out += [rule("||{0:raw}||_2", any_t), rule("norm2({0:raw})", any_t), rule("‖{0:raw}‖", any_t),
                    rule("logsumexp({0:raw})", any_t)]
        if is_matrix(t):
            out += [rule("||{0:raw}||_F", any_t)]
    for k in (N, M):
        square, pd = (ANY, (k, k)), (POSDEF, (k, k))
        out += [rule("tr({0:raw})", square), rule("trace({0:raw})", square), rule("det({0:raw})", square),
                rule("logdet({0:raw})", pd), rule("log(det({0:raw}))", pd)]
    return out


def _positive_rules(s: tuple) -> list[Rule]:
    rows, cols = s
    any_s, pos_s, pos_1 = (ANY, s), (POSITIVE, s), (POSITIVE, SCALAR)
    out = [
        rule("exp({0:raw})", any_s), rule("sigmoid({0:raw})", any_s),
        rule("{0} .^ 2 + 1", any_s), rule("abs({0:raw}) + 1/2", any_s), rule("|{0:raw}| + 0.5", any_s),
        rule("{0} + {1}", pos_s, pos_s), rule("{0} .* {1}", pos_s, pos_s), rule("{0} ./ {1}", pos_s, pos_s),
        rule("{0} {1}", pos_1, pos_s), rule("{0} / {1}", pos_s, pos_1),
        rule("sqrt({0:raw})", pos_s), rule("{0} .^ {1}", pos_s, (ANY, SCALAR)),
        rule("max({0:raw}, {1:raw})", pos_s, any_s), rule("min({0:raw}, {1:raw})", pos_s, pos_s),
        rule("{0}'", (POSITIVE, (cols, rows))),
    ]
    # products of matrices with positive entries have positive entries
    out += [rule("{0} {1}", (POSITIVE, (rows, k)), (POSITIVE, (k, cols))) for k in (N, M)]
    if is_vector(s):
        out += [rule("softmax({0:raw})", any_s)]
    if s == SCALAR:
        out += [rule("sum({0:raw})", (POSITIVE, t)) for t in SHAPES if t != SCALAR]
        out += [rule("mean({0:raw})", (POSITIVE, t)) for t in SHAPES if t != SCALAR]
        out += [rule("||{0:raw}|| + 1", (ANY, t)) for t in SHAPES if t != SCALAR]
        # members of POSDEF have a positive determinant and trace
        out += [rule(f"{f}({{0:raw}})", (POSDEF, (k, k))) for f in ("det", "tr") for k in (N, M)]
    return out


def _posdef_rules(s: tuple) -> list[Rule]:
    k = s[0]
    pd = (POSDEF, s)
    out = [
        rule("{0} + {1}", pd, pd), rule("{0} {1}", (POSITIVE, SCALAR), pd),
        rule("{0} / {1}", pd, (POSITIVE, SCALAR)), rule("I + {0}", pd),
        rule("inv({0:raw})", pd), rule("{0}^-1", pd), rule("{0}'", pd),
        rule("diag({0:raw})", (POSITIVE, (k, 1))),
    ]
    # Gram matrices plus the identity: eye(k) + G' G, G G' + I
    for j in (1, N, M):
        out += [rule(f"eye({k}) + {{0}}' {{0}}", (ANY, (j, k))), rule("{0} {0}' + I", (ANY, (k, j)))]
    return out


# The strategy


@st.composite
def expressions(draw, cls: str = ANY, shape: tuple = SCALAR, depth: int = MAX_DEPTH) -> str:
    """Text of an expression of value class `cls` and shape `shape`, at most
    `depth` rules deep. Shrinks towards leaves."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(leaves(cls, shape)))
    chosen = draw(st.sampled_from(rules(cls, shape)))
    return chosen.build([draw(expressions(child_cls, child_shape, depth - 1))
                         for child_cls, child_shape in chosen.children])


@st.composite
def typed_expressions(draw) -> tuple[str, tuple]:
    shape = draw(st.sampled_from(SHAPES))
    return draw(expressions(ANY, shape)), shape


# Points where generated expressions are evaluated


def random_values(seed: int) -> dict[str, np.ndarray]:
    """Entries of magnitude 0.5..1.5 with random signs; A = 3I + small and
    S = 3I + small symmetric, so both are in POSDEF."""
    rng = np.random.default_rng(seed)
    n, m = SIZES[N], SIZES[M]

    def entries(*shape):
        return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    small = rng.uniform(-0.5, 0.5, (n, n))
    return {
        "a": entries(1, 1), "b": entries(1, 1), "x": entries(n, 1), "y": entries(n, 1), "z": entries(m, 1),
        "A": 3 * np.eye(n) + rng.uniform(-0.5, 0.5, (n, n)), "B": entries(n, m), "C": entries(m, n),
        "S": 3 * np.eye(n) + (small + small.T) / 2,
    }


def numpy_value(expr: nodes.Node, values: dict[str, np.ndarray]) -> np.ndarray:
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        return evaluate(expr, values, SIZES)


def numeric_scale(expr: nodes.Node, values: dict[str, np.ndarray]) -> float | None:
    """The largest magnitude of any intermediate value (for an absolute
    tolerance that allows for rounding and cancellation), or None when the
    NumPy evaluation is not finite or sign() or step() is taken of a value that
    is zero up to rounding (where the two sides may round differently)."""
    scale = 1.0
    try:
        for sub in nodes.walk(expr):
            value = numpy_value(sub, values)
            if not np.all(np.isfinite(value)):
                return None
            scale = max(scale, float(np.abs(value).max()))
        for sub in nodes.walk(expr):
            if isinstance(sub, nodes.Apply) and sub.function in ("sign", "step"):
                if np.abs(numpy_value(sub.operand, values)).min() < 1e-9 * scale:
                    return None
    except (FloatingPointError, np.linalg.LinAlgError):
        return None
    return scale


def draw_point(case, data):
    """The expression parsed, a variable in it, and values where it is finite and not huge."""
    text, _ = case
    parsed = parse(text, let=DECLS)
    variables = sorted(parsed.shapes())
    assume(variables)
    wrt = data.draw(st.sampled_from(variables), label="wrt")
    values = random_values(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    scale = numeric_scale(parsed.expr, values)
    assume(scale is not None and scale < 1e6)  # finite, and not so large that differences lose all digits
    return text, parsed, wrt, values
