"""Closed forms: where the gradient of a scalar function is affine in the variable, solve ∇f = 0.

For f(v) with gradient g(v) = H v + g(0), where H, the Hessian, does not depend
on v, the stationary point is v = -H^-1 g(0): least squares gives
(X'X)^-1 X'y, ridge (X'X + λI)^-1 X'y, and 1/2 x'Ax - b'x with a symmetric A
gives A^-1 b. The gradient and the Hessian come from matcalc's differentiator;
g(0) is the gradient with the variable set to zero, simplified as it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import gcd

from .. import nodes as n
from ..algebra.builder import Builder, is_zero, number, number_value
from ..errors import InputError, MatcalcError, UnsupportedError
from ..language.decls import Env
from ..layout import Layout
from ..shapes import Shape, describe
from .differentiate import differentiate


class NoClosedForm(MatcalcError):
    """A well-formed problem whose stationary point matcalc cannot write in closed form."""

    exit_code = 1


@dataclass(frozen=True)
class Solution:
    wrt: n.Var
    value: n.Node  # the stationary point, in matrix notation
    hessian: n.Node
    gradient_at_zero: n.Node


def solve(expr: n.Node, wrt: n.Var, env: Env) -> Solution:
    if not expr.shape.is_scalar:
        raise _not_scalar(expr, wrt, env)
    if wrt.shape.is_matrix:
        raise UnsupportedError("matcalc solves for a scalar or a vector variable, not yet for a matrix", span=wrt.span)
    symmetric = frozenset(name for name in env.decls if env.is_symmetric(name))
    build = Builder(symmetric)
    hessian = differentiate(expr, wrt, env, Layout.DENOMINATOR, order=2)
    if any(_contains(f.node, wrt.name) for term in hessian.terms for f in term.factors if f.node is not None):
        raise NoClosedForm(
            f"no closed form found: the gradient is not affine in {wrt.name} (its derivative, "
            f"the Hessian, still depends on {wrt.name}), so ∇f = 0 is not a linear equation",
            span=expr.span,
        )
    gradient = differentiate(expr, wrt, env, Layout.DENOMINATOR)
    if hessian.matrix is None or gradient.inline_matrix is None:  # None exactly where gradient.matrix is
        raise UnsupportedError("matcalc found no matrix form for the gradient or the Hessian", span=expr.span)
    curvature = _common_factor(hessian.matrix, build)
    offset = _expanded(_at_zero(gradient.inline_matrix, wrt.name, build), wrt.shape, build)
    if is_zero(curvature):
        raise NoClosedForm(
            f"no closed form found: the function is linear in {wrt.name}, so its gradient does not depend on it",
            span=expr.span,
        )
    if is_zero(offset):  # the gradient is H x: the stationary point is 0, of the variable's shape
        value = number(0) if wrt.shape.is_scalar else n.Fill(number(0), shape=wrt.shape)
        return Solution(wrt, value, curvature, offset)
    value = _common_factor(build.neg(build.matmul(_inverse(curvature, build), offset)), build)
    return Solution(wrt, value, curvature, offset)


def _not_scalar(expr: n.Node, wrt: n.Var, env: Env) -> InputError:
    """The refusal of a function that is not a scalar. Where an undeclared name's inferred shape took part
    (`d x` with d assumed a scalar, `x'Ax - y` with y assumed a vector), the message names it and says how
    to declare it otherwise."""
    message = f"solve needs a scalar function; this one is {_kind_text(expr.shape)}"
    causes: dict[str, tuple[n.Var, str]] = {}  # name -> (its first use, what to declare it), for each undeclared
    for use, otherwise in _not_scalar_because(expr):
        if use.name != wrt.name and use.name not in env.decls:
            causes.setdefault(use.name, (use, otherwise))
    if not causes:
        return InputError(message, span=expr.span)
    hint = "\n".join(_assumed_line(use, otherwise) for use, otherwise in causes.values())
    first_use = next(iter(causes.values()))[0]
    return InputError(message, span=first_use.span, hint=hint)


def _kind_text(shape: Shape) -> str:
    kind = "row vector" if shape.is_row else "vector" if shape.is_column else "matrix"
    return f"a {kind} ({shape.rows}×{shape.cols})"


def _not_scalar_because(node: n.Node) -> list[tuple[n.Var, str]]:
    """The names whose shapes make a sum of scaled terms not a scalar, each with the declaration that would
    make it a scalar's part: a scalar name that scales a vector (d in `d x`, b in `b'x`) might be a vector,
    and a vector or matrix name that is a term of its own (y in `x'Ax - y`) might be a scalar. Products and
    functions of vectors are the expression's own structure, not a guess, and are not followed."""
    if node.shape.is_scalar:
        return []
    if isinstance(node, n.Var):
        return [(node, "scalar")]
    if isinstance(node, (n.Add, n.Neg, n.Transpose, n.Divide)):
        return [cause for child in node.children() for cause in _not_scalar_because(child)]
    if isinstance(node, n.ScalarMul):
        scalar, scaled = (node.left, node.right) if node.left.shape.is_scalar else (node.right, node.left)
        length = scaled.shape.cols if scaled.shape.is_row else scaled.shape.rows
        return [(name, f"vector({length})") for name in _scaling_names(scalar)] or _not_scalar_because(scaled)
    return []


def _scaling_names(node: n.Node) -> list[n.Var]:
    """The name of a scalar factor written alone: d in `d x`, b in `b'x` (a transposed scalar)."""
    if isinstance(node, n.Var):
        return [node]
    if isinstance(node, n.Transpose):
        return _scaling_names(node.operand)
    return []


def _assumed_line(use: n.Var, otherwise: str) -> str:
    """`d was assumed a scalar (declare d: vector(n) if it is a vector)`."""
    kind = otherwise.split("(")[0]
    return (
        f"{use.name} was assumed a {describe(use.shape)} (declare {use.name}: {otherwise} if it is a {kind}, "
        "with --let or a let line)"
    )


def _contains(node: n.Node, name: str) -> bool:
    return any(isinstance(sub, n.Var) and sub.name == name for sub in n.walk(node))


def _inverse(node: n.Node, build: Builder) -> n.Node:
    """H^-1, with a numeric factor taken out: (2 M)^-1 = 1/2 M^-1, and 1/h for a scalar."""
    if isinstance(node, n.ScalarMul) and (factor := number_value(node.left)) is not None:
        return build.scale(number(1 / factor), _inverse(node.right, build))
    if node.shape.is_scalar:
        return build.divide(number(1), node)
    return build.inverse(node)


def _at_zero(node: n.Node, name: str, build: Builder) -> n.Node:
    """The expression with the variable set to zero, rebuilt so that zeros vanish."""
    if isinstance(node, n.Var):
        return number(0) if node.name == name else node
    children = {id(child): _at_zero(child, name, build) for child in node.children()}
    rebuilt = [children[id(child)] for child in node.children()]
    if isinstance(node, n.Add):
        return build.add(*rebuilt) if not all(is_zero(c) for c in rebuilt) else _zero_like(node)
    if isinstance(node, n.Neg):
        return build.neg(rebuilt[0]) if not is_zero(rebuilt[0]) else _zero_like(node)
    if isinstance(node, (n.ScalarMul, n.MatMul, n.Hadamard)):
        if any(is_zero(c) for c in rebuilt):
            return _zero_like(node)
        maker = {n.ScalarMul: build.scale, n.MatMul: build.matmul, n.Hadamard: build.hadamard}[type(node)]
        return maker(*rebuilt)
    if isinstance(node, n.Transpose):
        return build.transpose(rebuilt[0]) if not is_zero(rebuilt[0]) else _zero_like(node)
    return node.map_children(lambda child: children[id(child)])


def _expanded(offset: n.Node, shape: Shape, build: Builder) -> n.Node:
    """A scalar part of a vector's gradient (the -2c of ||x - c||^2 with c a scalar) expanded to the vector
    it stands for, -2c 𝟏: the stationary point has the variable's shape, never a scalar times I."""
    if not offset.shape.is_scalar or shape.is_scalar:
        return offset
    return build.scale(offset, n.Fill(number(1), shape=shape))


def _zero_like(node: n.Node) -> n.Node:
    return number(0)  # a scalar zero: scalar expansion gives it any shape in a sum


def _common_factor(node: n.Node, build: Builder) -> n.Node:
    """2 A + 2 B -> 2 (A + B): a numeric factor shared by every term of a sum is taken out."""
    terms = _terms(node)
    if len(terms) < 2:
        return node
    coefficients = [c for c, _ in terms]
    numerator = 0
    denominator = 1
    for c in coefficients:
        numerator = gcd(numerator, abs(c.numerator))
        denominator = denominator * c.denominator // gcd(denominator, c.denominator)
    common = Fraction(numerator, denominator)
    if common in (0, 1):
        return node
    (first_coefficient, first_core), *rest = terms
    total = build.scale(number(first_coefficient / common), first_core)
    for c, core in rest:
        total = build.add(total, build.scale(number(c / common), core))
    return build.scale(number(common), total)


def _terms(node: n.Node) -> list[tuple[Fraction, n.Node]]:
    if isinstance(node, n.Add):
        return _terms(node.left) + _terms(node.right)
    if isinstance(node, n.Neg):
        return [(-c, core) for c, core in _terms(node.operand)]
    if isinstance(node, n.ScalarMul) and (factor := number_value(node.left)) is not None:
        return [(factor * c, core) for c, core in _terms(node.right)]
    return [(Fraction(1), node)]
