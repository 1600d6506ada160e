"""Typed trees and derivatives -> NumPy code (SPEC §4's array contract).

Scalars are floats, vectors 1-D arrays (n,), matrices 2-D arrays. A result
evaluates to an array of SPEC's result shape with its size-1 axes left out;
results of order 3 and 4 are `np.einsum` over their index form. A dimension
name is read off the shape of an array that has it; one that no array has
(`exp(a + n)`) is a name the caller binds: a keyword parameter of the function.
"""

from __future__ import annotations

import keyword
from fractions import Fraction

from .. import nodes as n
from ..errors import UnsupportedError
from ..result import Derivative, IndexTerm
from .canonical import format_number

ADD, MUL, UNARY, POWER, ATOM = range(1, 6)

_FUNCTIONS = {
    "exp": "np.exp({})",
    "log": "np.log({})",
    "sin": "np.sin({})",
    "cos": "np.cos({})",
    "tan": "np.tan({})",
    "tanh": "np.tanh({})",
    "arcsin": "np.arcsin({})",
    "arccos": "np.arccos({})",
    "arctan": "np.arctan({})",
    "sqrt": "np.sqrt({})",
    "sign": "np.sign({})",
    "abs": "np.abs({})",
    "sigmoid": "(1 / (1 + np.exp(-({}))))",
    "relu": "np.maximum({}, 0)",
    "step": "np.heaviside({}, 0.5)",
}


def python_name(name: str) -> str:
    """A variable's name in Python: a keyword gets a trailing underscore (lambda_)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def dimension_sources(expr: n.Node, without: str | None = None) -> dict[str, str]:
    """dimension name -> a Python expression for its size, read off an array that has it (not the
    variable `without`, which the code does not receive)."""
    sources: dict[str, str] = {}
    for name, shape in n.variables(expr).items():
        if name == without:
            continue
        for axis, dim in enumerate((shape.rows, shape.cols) if not shape.is_column else (shape.rows,)):
            if isinstance(dim, str) and dim != "1":
                sources.setdefault(dim, f"{python_name(name)}.shape[{axis}]")
    return sources


class NumpyPrinter:
    def __init__(self, sizes: dict[str, str]):
        self.sizes = sizes

    def size(self, dim) -> str:
        return str(dim) if isinstance(dim, int) else self.sizes.get(dim, dim)

    def text(self, node: n.Node) -> str:
        return self._render(node)[0]

    def operand(self, node: n.Node, loosest_bare: int) -> str:
        text, level = self._render(node)
        return text if level >= loosest_bare else f"({text})"

    def _render(self, node: n.Node) -> tuple[str, int]:
        """(code, binding level) for a node."""
        match node:
            case n.Var(name=name):
                return python_name(name), ATOM
            case n.Number(value=value):
                text = format_number(value)
                return (text, ATOM) if "/" not in text else (f"({text})", ATOM)
            case n.Const(name=name):
                return f"np.{name}", ATOM
            case n.DimSize(name=name):
                return self.size(name), ATOM
            case n.Identity():
                return f"np.eye({self.size(node.shape.rows)})", ATOM
            case n.Fill(value=value):
                shape = node.shape
                size = (
                    self.size(shape.cols if shape.rows == 1 else shape.rows)
                    if shape.is_vector
                    else f"({self.size(shape.rows)}, {self.size(shape.cols)})"
                )
                ones = f"np.ones({size})"
                return (ones, ATOM) if value == n.Number(Fraction(1)) else (f"{self.operand(value, MUL)} * {ones}", MUL)
            case n.Neg(operand=operand):
                return f"-{self.operand(operand, UNARY)}", UNARY
            case n.Add(left=left, right=right):
                if isinstance(right, n.Neg):
                    return f"{self.operand(left, ADD)} - {self.operand(right.operand, MUL)}", ADD
                return f"{self.operand(left, ADD)} + {self.operand(right, MUL)}", ADD
            case n.ScalarMul(left=left, right=right) | n.Hadamard(left=left, right=right):
                return f"{self.operand(left, MUL)} * {self.operand(right, UNARY)}", MUL
            case n.Divide(left=left, right=right):
                return f"{self.operand(left, MUL)} / {self.operand(right, UNARY)}", MUL
            case n.MatMul(left=left, right=right):
                if left.shape.cols == 1:  # a column times a row: the outer product
                    return f"np.outer({self.text(left)}, {self.text(right)})", ATOM
                return f"{self.operand(left, MUL)} @ {self.operand(right, UNARY)}", MUL
            case n.Power(base=base, exponent=exponent):
                power = n.constant_value(exponent)
                if power is not None and power < 0 and power.denominator == 1:
                    # NumPy refuses integers to negative integer powers (max(2, 0) ** -1): a float exponent
                    return f"{self.operand(base, ATOM)} ** {float(power)!r}", POWER
                return f"{self.operand(base, ATOM)} ** {self.operand(exponent, UNARY)}", POWER
            case n.MatPower(base=base, exponent=exponent):
                return f"np.linalg.matrix_power({self.text(base)}, {exponent})", ATOM
            case n.Transpose(operand=operand):
                if operand.shape.is_matrix:
                    return f"{self.operand(operand, ATOM)}.T", ATOM
                return self._render(operand)  # 1-D arrays and scalars have no orientation
            case n.Inverse(operand=operand):
                return f"np.linalg.inv({self.text(operand)})", ATOM
            case n.Trace(operand=operand):
                return f"np.trace({self.text(operand)})", ATOM
            case n.Det(operand=operand):
                return f"np.linalg.det({self.text(operand)})", ATOM
            case n.LogDet(operand=operand):
                return f"np.linalg.slogdet({self.text(operand)})[1]", ATOM
            case n.Norm(operand=operand, p=p):
                inner = self.text(operand)
                code = {"1": f"np.sum(np.abs({inner}))", "spectral": f"np.linalg.norm({inner}, 2)"}
                return code.get(p, f"np.linalg.norm({inner})"), ATOM
            case n.Sum(operand=operand):
                return f"np.sum({self.text(operand)})", ATOM
            case n.Mean(operand=operand):
                return f"np.mean({self.text(operand)})", ATOM
            case n.DiagMatrix(operand=operand) | n.DiagOf(operand=operand):
                return f"np.diag({self.text(operand)})", ATOM
            case n.Apply(function=function, operand=operand) if n.is_unspecified(function):
                count = n.primes(function)
                suffix = "" if count == 0 else "_prime" if count == 1 else f"_prime{count}"
                return f"{function.rstrip(chr(39))}{suffix}({self.text(operand)})", ATOM
            case n.Apply(function=function, operand=operand):
                return _FUNCTIONS[function].format(self.text(operand)), ATOM
            case n.Maximum(left=left, right=right):
                return f"np.maximum({self.text(left)}, {self.text(right)})", ATOM
            case n.Minimum(left=left, right=right):
                return f"np.minimum({self.text(left)}, {self.text(right)})", ATOM
            case n.Softmax(operand=operand):
                shifted = f"np.exp({self.operand(operand, ADD)} - np.max({self.text(operand)}))"
                return f"{shifted} / np.sum({shifted})", MUL
            case n.LogSumExp(operand=operand):
                top = f"np.max({self.text(operand)})"
                return f"{top} + np.log(np.sum(np.exp({self.operand(operand, ADD)} - {top})))", ADD
            case n.Derivative():
                raise UnsupportedError(
                    "NumPy code for a derivative written inside the expression (d/dV ...) is "
                    "not supported yet: differentiate it on its own",
                    span=node.span,
                )
        raise UnsupportedError(f"no NumPy code for {node.kind} yet", span=node.span)


def numpy_expression(result: Derivative) -> str:
    """The derivative as one NumPy expression in the variables (no named subexpressions)."""
    printer = NumpyPrinter(dimension_sources(result.expr))
    if result.inline_matrix is not None:
        return printer.text(result.inline_matrix)
    return _einsum_sum(result, result.inline_index_form or [], printer)


def numpy_function(result: Derivative, name: str = "derivative") -> str:
    """A Python function computing the derivative, with named subexpressions as assignments."""
    sources = dimension_sources(result.expr)
    printer = NumpyPrinter(sources)
    arguments = ", ".join(python_name(v) for v in n.variables(result.expr))
    unread = sorted({sub.name for sub in n.walk(result.expr) if isinstance(sub, n.DimSize)} - sources.keys())
    if unread:  # a dimension that no array has: the caller gives it
        arguments += (", " if arguments else "") + "*, " + ", ".join(unread)
    body = [f"    {python_name(var)} = {printer.text(value)}" for var, value in result.where]
    value = (
        printer.text(result.matrix)
        if result.matrix is not None
        else _einsum_sum(result, result.index_form or [], printer)
    )
    shape = ", ".join(str(d) for d in result.shape if d != 1)
    doc = f'    """d/d{result.wrt.name} in {result.layout.value} layout; an array of shape ({shape}{"," if len(result.free) == 1 else ""})."""'
    return "\n".join(["import numpy as np", "", "", f"def {name}({arguments}):", doc, *body, f"    return {value}", ""])


def _einsum_sum(result: Derivative, terms: list[IndexTerm], printer: NumpyPrinter) -> str:
    letters = dict(result.index_names)  # free indices, and summed ones where a term sums explicitly
    output = "".join(letters[i] for i in result.free)
    parts = []
    for term in terms:
        subscripts, operands = [], []
        for piece in term.pieces:
            subscripts.append("".join(letters[i] for i in piece.indices))
            node = piece.elements[0]
            for element in piece.elements[1:]:
                node = n.MatMul(node, element, shape=type(node.shape)(node.shape.rows, element.shape.cols))
            operands.append(printer.text(node))
        for index in result.free:
            if not any(letters[index] in sub for sub in subscripts):
                subscripts.append(letters[index])
                operands.append(f"np.ones({printer.size(result.dims[index])})")
        factors = [format_number(term.coefficient)] if term.coefficient != 1 else []
        factors += [printer.operand(s, MUL) for s in term.scalars]
        einsum = f"np.einsum('{','.join(subscripts)}->{output}', {', '.join(operands)})"
        parts.append(" * ".join(factors + [einsum]))
    if not parts:  # a zero result still has its shape
        sizes = ", ".join(printer.size(result.dims[i]) for i in result.free)
        return f"np.zeros(({sizes}))"
    return " + ".join(parts)
