"""`--notation vec`: the results of diff in Magnus and Neudecker's notation, checked before they are shown.

Each result with more than two axes (vec_form.applies) is translated from its
index form (vec_form.vec_form). The index form is what the self-check
compares with finite differences of the function; the translation is then
compared with the index form, entry by entry, at random points, so that what
is shown is held to the same standard. A result with no Kronecker form keeps
its index notation, and a note says so.
"""

from __future__ import annotations

import numpy as np

from .. import nodes as n
from ..algebra.builder import Builder
from ..calculus.differentiate import Derivative
from ..calculus.vec import VecForm, applies, sides, transposed_layout, vec_form, vec_shape
from ..errors import MatcalcError, UnsupportedError
from ..language.decls import Env
from ..layout import Layout
from ..render.latex import vec_latex
from ..render.text import vec_head, vec_text
from ..render.vec_numpy import vec_numpy_expression
from .codecheck import Subject, vec_numpy_field
from .differences import (
    Point,
    einsum_letters,
    evaluate_numeric,
    evaluate_terms,
    relative_error,
    sample_point,
    size_of,
)
from .evaluate import evaluate
from .selfcheck import CheckReport, SelfCheckError

NOTATIONS = ("index", "vec")
AGREEMENT = 1e-9  # the two forms are the same sums of products: they agree to rounding
POINTS = 3
TRIES = 10

STEP = 1e-6  # central differences of vec(F) for a result with splits (check_split_terms)

NO_FORM_NOTE = "this result has no Kronecker form that matcalc can find; it is shown in index notation"


def vec_target(expr: n.Node, wrt: n.Var, layout: Layout, order: int) -> n.Node:
    """What to differentiate for ∂vec(F)/∂vec(X)ᵀ: F itself where the expression is vec(F) of a matrix F whose
    derivative has a vec form (vec(vec(F)) = vec(F)), else the expression. Written in index notation, the
    derivative of vec(F) by a matrix needs an index over F's pairs of axes, which matcalc does not write."""
    operand = expr.operand if isinstance(expr, n.Vec) else None
    if operand is not None and not operand.shape.is_vector and not operand.shape.is_scalar:
        return operand if vec_shape(operand.shape, wrt.shape, layout, order) is not None else expr
    return expr


def vec_forms(
    derivatives: list[Derivative], env: Env, source: str, check: bool, expr: n.Node | None = None
) -> list[VecForm | None]:
    """The vec form of each result that has one (None for the others, which keep their notation). A result
    of F for the expression vec(F) (vec_target) must have one: its index notation is F's, not vec(F)'s."""
    forms: list[VecForm | None] = []
    for derivative in derivatives:
        # F for the expression vec(F), or F = A ⊗ X indexed by splits: no other notation can show it
        inner = (expr is not None and derivative.expr is not expr) or derivative.output_splits
        if not applies(derivative):
            forms.append(None)
            continue
        symmetric = frozenset(name for name in env.decls if env.is_symmetric(name))
        form = vec_form(derivative, Builder(symmetric, env.unit_sums))
        if form is None and inner:
            raise UnsupportedError(
                f"the derivative of {source} by {derivative.wrt.name} has no Kronecker form that matcalc can "
                "find, and its index notation needs an index over the entries of vec(F), which matcalc does not "
                "write"
            ).with_source(source)
        if form is None:
            derivative.notes.append(NO_FORM_NOTE)
            forms.append(None)
            continue
        if check:
            check_vec_form(derivative, form, env, source)
        forms.append(form)
    return forms


def check_vec_form(derivative: Derivative, form: VecForm, env: Env, source: str, seed: int = 0) -> int:
    """The number of random points at which the vec form equals the index form; SelfCheckError (exit 4)
    where it does not."""
    rng = np.random.default_rng(seed)
    agreed = 0
    for _ in range(TRIES):
        if agreed == POINTS:
            break
        try:
            point = sample_point(derivative.expr, env, rng, symbolic_derivatives=False)
            values = split_terms(derivative, point) if derivative.output_splits else evaluate_terms(derivative, point)
            expected = jacobian_of_index_form(derivative, values)
            sizes: dict[str | int, int] = {name: size for name, size in point.sizes.items()}
            shown = evaluate(form.matrix, point.values, sizes)
        except MatcalcError:
            continue  # a point where a matrix the result inverts is singular: another point
        if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(shown))):
            continue
        if shown.shape != expected.shape or relative_error(shown, expected) > AGREEMENT:
            raise SelfCheckError(
                f"internal error: the Kronecker form of matcalc's derivative of {source} by "
                f"{derivative.wrt.name} disagrees with its index form, so it is not shown",
                hint="this is a bug in matcalc, not in your input; please report it with the command you ran",
            ).with_source(source)
        agreed += 1
    return agreed


def check_split_terms(derivative: Derivative, env: Env, seed: int = 0, points: int = POINTS) -> CheckReport:
    """SPEC §3's self-check of a result whose function's axes are splits (F = A ⊗ X), which has no index or
    matrix notation for selfcheck.py to evaluate: its index form, as the Jacobian of vec(F) by vec(X),
    against central differences of vec(F) at random points."""
    rng = np.random.default_rng(seed)
    errors: list[float] = []
    for _ in range(TRIES):
        if len(errors) == points:
            break
        try:
            point = sample_point(derivative.expr, env, rng, symbolic_derivatives=False)
            shown = jacobian_of_index_form(derivative, split_terms(derivative, point))
            expected = _vec_differences(derivative, point)
        except MatcalcError:
            continue
        if np.all(np.isfinite(expected)) and np.all(np.isfinite(shown)):
            errors.append(relative_error(shown, expected.T if transposed_layout(derivative) else expected))
    if not errors:
        return CheckReport(0, 0.0, reason="the result could not be evaluated at any random point")
    return CheckReport(len(errors), max(errors))


def _vec_differences(derivative: Derivative, point: Point) -> np.ndarray:
    """∂vec(F)/∂vec(X)ᵀ by central differences, one column per entry of X (columns stacked)."""
    name = derivative.wrt.name
    at = np.asarray(point.values[name], dtype=float)
    columns = []
    for entry in range(at.size):
        flat = np.zeros(at.size)
        flat[entry] = STEP
        step = flat.reshape(at.shape, order="F")
        ahead = evaluate_numeric(derivative.expr, {**point.values, name: at + step}, point.sizes)
        behind = evaluate_numeric(derivative.expr, {**point.values, name: at - step}, point.sizes)
        columns.append(np.ravel(ahead - behind, order="F") / (2 * STEP))
    return np.stack(columns, axis=1)


def split_terms(derivative: Derivative, point: Point) -> np.ndarray:
    """The index form evaluated with einsum (axes derivative.free), a split [r = a + M b] as the array of
    0s and 1s that is 1 where r = a + M b."""
    used = [i for term in derivative.terms for f in term.factors for i in f.indices]
    letters = einsum_letters(derivative, used)

    def size(index: str) -> int:
        return size_of(derivative.dims[index], point.sizes)

    total = np.zeros([size(i) for i in derivative.free])
    output = "".join(letters[i] for i in derivative.free)
    for term in derivative.terms:
        operands, subscripts = [], []
        for f in term.factors:
            if f.is_split:
                whole, fast, slow = f.indices
                operands.append(np.eye(size(whole)).reshape(size(whole), size(slow), size(fast)).transpose(0, 2, 1))
            elif f.is_delta:
                operands.append(np.eye(size(f.indices[0])))
            else:
                assert f.node is not None
                value = evaluate(f.node, point.values, point.sizes)
                operands.append(value.reshape([size(i) for i in f.indices]) if f.indices else value.reshape(()))
            subscripts.append("".join(letters[i] for i in f.indices))
        for letter, length in zip(output, total.shape):  # constant along a free index no factor carries
            if not any(letter in sub for sub in subscripts):
                operands.append(np.ones(length))
                subscripts.append(letter)
        total = total + float(term.coefficient) * np.einsum(",".join(subscripts) + "->" + output, *operands)
    return total


def jacobian_of_index_form(derivative: Derivative, tensor: np.ndarray) -> np.ndarray:
    """The index form's values (axes derivative.free) as the matrix ∂vec(F)/∂vec(X)ᵀ, or its transpose."""
    f_axes, x_axes = sides(derivative)
    order = [a for a in (*f_axes, *x_axes) if a is not None]
    arranged = tensor.transpose([derivative.free.index(a) for a in order])
    rows = 1
    for axis in [a for a in f_axes if a is not None]:
        rows *= arranged.shape[order.index(axis)]
    matrix = arranged.reshape((rows, -1), order="F")  # the first axis of each side runs fastest
    return matrix.T if transposed_layout(derivative) else matrix


def vec_json(subject: Subject, form: VecForm, checked: bool) -> dict:
    """The fields of `--format json` that the vec notation changes; the numpy field run at the self-check's
    points (unless not checked) before it is given."""
    (derivative,) = subject.derivatives
    numpy = vec_numpy_expression(derivative, form.matrix)
    if numpy is not None and checked:
        numpy = vec_numpy_field(numpy, form.matrix, subject)
    return {
        "notation": "vec",
        "result_shape": list(form.shape),
        "derivative": vec_text(form.matrix),
        "latex": vec_latex(derivative, form, "rhs"),
        "numpy": numpy,
    }


def vec_summary(derivative: Derivative, form: VecForm) -> dict[str, str]:
    """The rows of a `--format table` that the vec notation changes."""
    rows, cols = form.shape
    return {
        "result shape": f"({rows}, {cols})",
        "derivative": f"{vec_head(derivative)} = {vec_text(form.matrix, unicode=True)}",
    }
