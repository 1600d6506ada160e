"""Typed tree -> SymPy. The only place where the expression tree meets SymPy.

Scalars become SymPy scalar expressions (a 1×1 matrix product is taken as its
[0, 0] entry), vectors and matrices become matrix expressions over
`MatrixSymbol`s whose dimensions are positive integer symbols. SymPy carries
expressions here; matcalc's own rules decide what they mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from .. import nodes as n
from ..errors import UnsupportedError
from ..shapes import Dim, Shape

_FUNCTIONS = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "arcsin": sp.asin,
    "arccos": sp.acos,
    "arctan": sp.atan,
    "sqrt": sp.sqrt,
    "sigmoid": lambda t: 1 / (1 + sp.exp(-t)),
    "relu": lambda t: sp.Max(0, t, evaluate=False),
    # unevaluated: evaluating Max or Abs of a trace makes SymPy rebuild the trace's argument as a scalar
    "sign": sp.sign,
    "abs": lambda t: sp.Abs(t, evaluate=False),
    "step": lambda t: sp.Heaviside(t, sp.Rational(1, 2)),
}


_BOUND = sp.Symbol("_t")  # a placeholder: matcalc's names never start with "_"


def dimension(dim: Dim) -> sp.Expr:
    return sp.Integer(dim) if isinstance(dim, int) else sp.Symbol(str(dim), integer=True, positive=True)


def symbol(name: str, shape: Shape) -> sp.Basic:
    """The SymPy symbol of a variable: a real Symbol for a scalar, else a MatrixSymbol."""
    if shape.is_scalar:
        return sp.Symbol(name, real=True)
    return sp.MatrixSymbol(name, dimension(shape.rows), dimension(shape.cols))


def to_sympy(node: n.Node) -> sp.Basic:
    """>>> from matcalc.api import parse
    >>> to_sympy(parse("tr(A X)").expr)
    Trace(A*X)
    """
    rule = _RULES.get(type(node))
    if rule is None:  # kron, vec, K(m, n): no SymPy object stands for them here
        raise UnsupportedError(f"{node.kind} has no SymPy form in matcalc yet", span=node.span)
    return rule(node)


def sympy_object(node: n.Node) -> sp.Basic:
    """The typed tree as SymPy, as `to_sympy`, with no Dummy in it (see _without_dummies)."""
    with _sympy_failures():
        return _without_dummies(to_sympy(node))


@contextmanager
def _sympy_failures() -> Iterator[None]:
    """SymPy's own failures to build an object as an UnsupportedError: a Max of a trace that a product
    evaluates again goes through SymPy's factor_terms, which mixes matrices and scalars (TypeError)."""
    try:
        yield
    except (TypeError, ValueError, AttributeError, NotImplementedError) as error:
        raise UnsupportedError(f"SymPy cannot build this expression as a SymPy object yet ({error})") from None


_SYMPY_FAILURES = (TypeError, ValueError, AttributeError)


def _times(left: sp.Basic, right: sp.Basic) -> sp.Basic:
    """left * right. Where SymPy's product fails (`*` does a deep doit() of a matrix product, which
    evaluates an unevaluated Max of a trace again, and SymPy's factor_terms then mixes matrices and
    scalars: TypeError), the product is built without evaluating its factors again."""
    try:
        return left * right
    except _SYMPY_FAILURES:
        if isinstance(left, sp.MatrixExpr) or isinstance(right, sp.MatrixExpr):
            return sp.MatMul(left, right).doit(deep=False)
        return sp.Mul(left, right, evaluate=False)


def _plus(left: sp.Basic, right: sp.Basic) -> sp.Basic:
    """left + right, built without evaluating its terms again where SymPy's sum fails (see _times)."""
    try:
        return left + right
    except _SYMPY_FAILURES:
        if isinstance(left, sp.MatrixExpr) or isinstance(right, sp.MatrixExpr):
            return sp.MatAdd(left, right).doit(deep=False)
        return sp.Add(left, right, evaluate=False)


def _ones(shape: Shape) -> sp.MatrixExpr:
    return sp.OneMatrix(dimension(shape.rows), dimension(shape.cols))


def _expanded(node: n.Node, shape: Shape) -> sp.Basic:
    """The operand, with a scalar expanded to `shape` (scalar expansion)."""
    value = to_sympy(node)
    if node.shape.is_scalar and not shape.is_scalar:
        return _times(value, _ones(shape))
    return value


def _elementwise(function, operand: sp.Basic, shape: Shape) -> sp.Basic:
    if shape.is_scalar:
        return function(operand)
    # The bound variable is a plain Symbol _t1, _t2, ... (not a Dummy, so that code that rebuilds the object,
    # --format sympy, builds an equal one), numbered above every bound variable already inside the body
    # and the operand, so that evaluating one function never substitutes into another's variable.
    body = function(_BOUND)
    inside = [
        s.name[2:]
        for s in (body.free_symbols | operand.free_symbols) | _bound_in(body) | _bound_in(operand)
        if isinstance(s, sp.Symbol) and s.name.startswith("_t") and s.name[2:].isdigit()
    ]
    t = sp.Symbol(f"_t{max(map(int, inside), default=0) + 1}")
    return ElementwiseApplyFunction(sp.Lambda(t, body.xreplace({_BOUND: t})), operand)


def _without_dummies(value: sp.Basic) -> sp.Basic:
    """The object with the Dummy variables SymPy makes (composing tan after tanh into one elementwise
    function of a Dummy d) renamed _t1, _t2, ... above those in use: code that rebuilds it (--format
    sympy) then builds an equal object, which a Dummy, equal only to itself, would not."""
    dummies = sorted(value.atoms(sp.Dummy), key=lambda d: d.dummy_index)
    if not dummies:
        return value
    used = [int(s.name[2:]) for s in value.atoms(sp.Symbol) if s.name.startswith("_t") and s.name[2:].isdigit()]
    first = max(used, default=0) + 1
    return value.xreplace({d: sp.Symbol(f"_t{first + k}") for k, d in enumerate(dummies)})


def _bound_in(value: sp.Basic) -> set:
    return {v for f in value.atoms(sp.Lambda) for v in f.variables}


def _entry(value: sp.Basic, shape: Shape) -> sp.Basic:
    """A 1×1 matrix expression as the scalar it stands for. Its trace, not its [0, 0]
    entry: SymPy rewrites an entry of a product as an explicit sum over indices."""
    return _trace(value) if shape.is_scalar and isinstance(value, sp.MatrixExpr) else value


def _split_coefficient(value: sp.Basic) -> tuple[sp.Expr, sp.Basic]:
    """c M -> (c, M): SymPy's Max, Abs and Pow rebuild Trace(c M) as if c M were a scalar."""
    if isinstance(value, sp.MatMul):
        coefficient, matrices = value.as_coeff_matrices()
        if coefficient != 1 and matrices:
            return coefficient, sp.MatMul(*matrices) if len(matrices) > 1 else matrices[0]
    return sp.Integer(1), value


def _trace(value: sp.Basic) -> sp.Basic:
    coefficient, matrix = _split_coefficient(value)
    return coefficient * sp.Trace(matrix)


def _determinant(value: sp.Basic) -> sp.Basic:
    coefficient, matrix = _split_coefficient(value)
    return coefficient ** matrix.shape[0] * sp.Determinant(matrix)


def _sum_entries(value: sp.Basic, shape: Shape) -> sp.Basic:
    if shape.is_scalar:
        return value
    row = sp.OneMatrix(1, dimension(shape.rows))
    col = sp.OneMatrix(dimension(shape.cols), 1)
    return _trace(row * value * col)


def _add(node: n.Add) -> sp.Basic:
    return _plus(_expanded(node.left, node.shape), _expanded(node.right, node.shape))


def _matmul(node: n.MatMul) -> sp.Basic:
    return _entry(sp.MatMul(to_sympy(node.left), to_sympy(node.right)), node.shape)


def _hadamard(node: n.Hadamard) -> sp.Basic:
    return sp.HadamardProduct(to_sympy(node.left), to_sympy(node.right))


def _divide(node: n.Divide) -> sp.Basic:
    if node.right.shape.is_scalar:
        return _times(to_sympy(node.left), 1 / to_sympy(node.right))
    reciprocal = sp.HadamardPower(to_sympy(node.right), -1)
    if node.left.shape.is_scalar:
        return _times(to_sympy(node.left), reciprocal)
    return sp.HadamardProduct(to_sympy(node.left), reciprocal)


def _power(node: n.Power) -> sp.Basic:
    base, exponent = to_sympy(node.base), to_sympy(node.exponent)
    if node.shape.is_scalar:
        return sp.Pow(base, exponent)
    if node.exponent.shape.is_scalar:
        return sp.HadamardPower(base, exponent)
    if node.base.shape.is_scalar:
        return _elementwise(lambda t: base**t, exponent, node.shape)
    # a .^ b for two matrices: exp(b ⊙ log(a))
    return _elementwise(sp.exp, sp.HadamardProduct(exponent, _elementwise(sp.log, base, node.shape)), node.shape)


def _norm(node: n.Norm) -> sp.Basic:
    value, shape = to_sympy(node.operand), node.operand.shape
    if shape.is_scalar:
        return sp.Abs(value)
    if node.p == "1":
        return _sum_entries(_elementwise(sp.Abs, value, shape), shape)
    if node.p == "spectral":
        raise UnsupportedError(
            "the spectral norm ||A||_2 of a matrix is not supported yet",
            span=node.span,
            hint="use ||A||_F for the Frobenius norm",
        )
    if shape.is_row:
        return sp.sqrt(_trace(value * value.T))
    return sp.sqrt(_trace(value.T * value))


def _extremum(node: n.Maximum | n.Minimum) -> sp.Basic:
    left, right = _expanded(node.left, node.shape), _expanded(node.right, node.shape)
    if node.shape.is_scalar:
        return (sp.Max if isinstance(node, n.Maximum) else sp.Min)(left, right, evaluate=False)
    # elementwise: max(a, b) = (a + b + |a - b|) / 2, min(a, b) = (a + b - |a - b|) / 2
    spread = _elementwise(sp.Abs, left - right, node.shape)
    sign = 1 if isinstance(node, n.Maximum) else -1
    return _times(sp.Rational(1, 2), _plus(_plus(left, right), _times(sign, spread)))


def _softmax(node: n.Softmax) -> sp.Basic:
    exps = _elementwise(sp.exp, to_sympy(node.operand), node.shape)
    return exps * (1 / _sum_entries(exps, node.shape))


def _logsumexp(node: n.LogSumExp) -> sp.Basic:
    shape = node.operand.shape
    return sp.log(_sum_entries(_elementwise(sp.exp, to_sympy(node.operand), shape), shape))


def _diag_matrix(node: n.DiagMatrix) -> sp.Basic:
    value = to_sympy(node.operand)
    return DiagMatrix(value if node.operand.shape.is_column else value.T)


def _diagonal_of(node: n.DiagOf) -> sp.Basic:
    # (A ⊙ I) 1 rather than SymPy's DiagonalOf, whose doit() fails on explicit matrices
    size = dimension(node.shape.rows)
    return sp.HadamardProduct(to_sympy(node.operand), sp.Identity(size)) * sp.OneMatrix(size, 1)


def _derivative(node: n.Derivative) -> sp.Basic:
    raise UnsupportedError("a derivative inside an expression cannot be converted to SymPy yet", span=node.span)


def _function(name: str):
    """A known elementwise function, or an unspecified one (f: function) as an undefined SymPy Function
    named as NumPy code calls it (SPEC §4): f, its derivatives f_prime, f_prime2."""
    if not n.is_unspecified(name):
        return _FUNCTIONS[name]
    count = n.primes(name)
    return sp.Function(
        name.rstrip("'") + ("" if count == 0 else "_prime" if count == 1 else f"_prime{count}"), real=True
    )


def _fraction(node: n.Number) -> sp.Rational:
    return sp.Rational(node.value.numerator, node.value.denominator)


_RULES = {
    n.Number: _fraction,
    n.Const: lambda node: sp.pi if node.name == "pi" else sp.E,
    n.Var: lambda node: symbol(node.name, node.shape),
    n.DimSize: lambda node: dimension(node.name),
    n.Identity: lambda node: sp.Identity(dimension(node.shape.rows)),
    n.Fill: lambda node: _times(to_sympy(node.value), _ones(node.shape)),
    n.Neg: lambda node: _times(sp.Integer(-1), to_sympy(node.operand)),
    n.Add: _add,
    n.ScalarMul: lambda node: _times(to_sympy(node.left), to_sympy(node.right)),
    n.MatMul: _matmul,
    n.Hadamard: _hadamard,
    n.Divide: _divide,
    n.Power: _power,
    n.MatPower: lambda node: sp.MatPow(to_sympy(node.base), node.exponent),
    n.Transpose: lambda node: (
        _entry(sp.Transpose(to_sympy(node.operand)), node.shape) if not node.shape.is_scalar else to_sympy(node.operand)
    ),
    n.Inverse: lambda node: sp.Inverse(to_sympy(node.operand)),
    n.Trace: lambda node: _trace(to_sympy(node.operand)),
    n.Det: lambda node: _determinant(to_sympy(node.operand)),
    n.LogDet: lambda node: sp.log(_determinant(to_sympy(node.operand))),
    n.Norm: _norm,
    n.Sum: lambda node: _sum_entries(to_sympy(node.operand), node.operand.shape),
    n.Mean: lambda node: (
        _sum_entries(to_sympy(node.operand), node.operand.shape)
        / (dimension(node.operand.shape.rows) * dimension(node.operand.shape.cols))
    ),
    n.DiagMatrix: _diag_matrix,
    n.DiagOf: _diagonal_of,
    n.Apply: lambda node: _elementwise(_function(node.function), to_sympy(node.operand), node.shape),
    n.Maximum: _extremum,
    n.Minimum: _extremum,
    n.Softmax: _softmax,
    n.LogSumExp: _logsumexp,
    n.Derivative: _derivative,
}


def index_array(terms, free: tuple[str, ...], dims: dict[str, Dim]) -> sp.Basic:
    """An index-notation result (orders 3 and up) as a SymPy array expression whose axes are the free
    indices in order. `terms` are (coefficient, scalars, pieces, summed): coefficient a Fraction,
    scalars typed nodes, pieces (elements, indices) pairs whose elements multiply to a vector (one
    index) or a matrix (two). Pieces become a tensor product; an index shared by pieces is a
    contraction (summed) or a diagonal (free); axes are then permuted into the order of `free`."""
    with _sympy_failures():
        return _index_array(terms, free, dims)


def _index_array(terms, free: tuple[str, ...], dims: dict[str, Dim]) -> sp.Basic:
    from sympy.tensor.array.expressions import (
        ArrayAdd,
        ArrayContraction,
        ArrayDiagonal,
        ArrayTensorProduct,
        OneArray,
        PermuteDims,
    )

    total = []
    dims = dict(dims)
    for coefficient, scalars, pieces, _summed in terms:
        operands: list[sp.Basic] = []
        labels: list[str] = []
        for elements, indices in pieces:
            value = sp.MatMul(*[to_sympy(e) for e in elements]) if len(elements) > 1 else to_sympy(elements[0])
            if len(indices) == 1:  # a vector keeps its size-1 axis, summed away below (SymPy 1.14's
                # Reshape of a matrix to one axis cannot be evaluated: its doit() fails)
                unit = f"unit{len(labels)}"
                dims[unit] = 1
                indices = (unit, *indices) if value.shape[0] == 1 else (*indices, unit)
            operands.append(value)
            labels += list(indices)
        for index in free:
            if index not in labels:  # the result is constant along this axis
                operands.append(OneArray(dimension(dims[index])))
                labels.append(index)
        for index in dict.fromkeys(labels):
            if index not in free and labels.count(index) == 1:  # a sum along one axis: contract with ones
                operands.append(OneArray(dimension(dims[index])))
                labels.append(index)
        array = ArrayTensorProduct(*operands) if len(operands) > 1 else operands[0]
        summed = [index for index in dict.fromkeys(labels) if index not in free]
        if summed:
            array = ArrayContraction(
                array, *[tuple(k for k, label in enumerate(labels) if label == index) for index in summed]
            )
            labels = [label for label in labels if label in free]
        repeated = [index for index in dict.fromkeys(labels) if labels.count(index) > 1]
        if repeated:
            array = ArrayDiagonal(
                array, *[tuple(k for k, label in enumerate(labels) if label == index) for index in repeated]
            )
            labels = [label for label in labels if label not in repeated] + repeated
        permutation = [labels.index(index) for index in free]
        if permutation != sorted(permutation):
            array = PermuteDims(array, permutation)
        scale = _fraction(n.Number(coefficient)) * sp.Mul(*[to_sympy(s) for s in scalars])
        total.append(array if scale == 1 else ArrayTensorProduct(scale, array))
    if not total:
        from sympy.tensor.array.expressions import ZeroArray

        return ZeroArray(*[dimension(dims[index]) for index in free])
    return _without_dummies(ArrayAdd(*total) if len(total) > 1 else total[0])
