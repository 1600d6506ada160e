"""SymPy objects out: Python code that builds them (`--format sympy`), and modules for NumPy,
PyTorch and JAX printed from them by SymPy's own code printers (`--format numpy|torch|jax`).

`lower.py` turns typed trees into SymPy matrix expressions (orders ≤ 2) and array expressions
(orders 3 and up); here they are printed. SymPy's printers (`sympy.printing.numpy.NumPyPrinter`,
`JaxPrinter`, `sympy.printing.pytorch.TorchPrinter`) print most of it: matrix products, sums,
inverses, determinants, `.T`, the elementwise functions, and the array expressions as einsum.
`_Printing` below adds by hand only what they cannot print (SymPy 1.14), each with the reason:

- an elementwise function applied to a matrix (`ElementwiseApplyFunction`, SymPy's form of
  tanh(W x)): all three print it as `Lambda(_t, tanh(_t)).(x)`, which is not Python;
- `HadamardPower` (x.^2): NumPy and JAX have no print method for it;
- `Trace` and `Determinant`: NumPy and JAX have none; `Identity(n)` with a symbolic n: they raise;
- `DiagMatrix`: PyTorch has none;
- an undefined function (f: function): the printers refuse it in strict mode; called by its name;
- `Transpose`: PyTorch prints `torch.transpose(A).t()` for a square A, which fails (no dims given);
- `MatPow`: PyTorch folds `torch.mm` over copies of the matrix, endlessly for a negative power (A^-2);
- `Pow` in PyTorch: `torch.pow` takes no two numbers (the size n in a mean); written with **;
- `OneMatrix`, `ZeroMatrix`, `Identity` in PyTorch: float32 unless told; written with dtype float64;
- `Max`/`Min` (relu, max(0, x)): NumPy prints `amax((0, x))`, which stacks a scalar with an array,
  and PyTorch's `torch.max(0, x)` takes no number; written as (a + b ± |a - b|) / 2;
- `Heaviside(x, 1/2)` (the derivative of relu at its kink): PyTorch's needs a tensor for the value
  at 0; written as (sign(x) + 1) / 2, the same function;
- a `MatMul` with a number: NumPy prints `(A).dot(2)`; written as 2*(A @ B) for every backend;
- `ArrayDiagonal` of anything but a tensor product, and `ArrayContraction` of a single array: the
  printers give einsum one operand with the subscripts of several; written as einsum over that array;
- a number in an `ArrayTensorProduct`: the printers hand it to einsum as an operand; written as a product.

SymPy's PyTorch printer module also imports torch when it is installed, only to read its version:
it is imported here with torch hidden (seconds of start-up saved, no torch needed to print).

The printed code works on columns: vectors enter as 1-D arrays (SPEC §4) and are reshaped to n×1
inside; each result is reshaped to its shape with size-1 axes left out.
"""

from __future__ import annotations

import keyword
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction
from sympy.printing.numpy import JaxPrinter, NumPyPrinter
from sympy.printing.str import StrPrinter

from ..errors import InputError

if TYPE_CHECKING:  # _Printing is mixed into SymPy's code printers: it calls their self._print and super()._print_X
    from sympy.printing.codeprinter import CodePrinter as _CodePrinter
else:
    _CodePrinter = object


def _torch_printer() -> type:
    """SymPy's PyTorch printer, imported without importing torch: its module imports torch (seconds of
    start-up, more than a command's time limit) only to read torch's version, which printing never needs."""
    blocked = "torch" not in sys.modules
    if blocked:
        # import_module("torch") in sympy.printing.pytorch then gives None (None in sys.modules blocks an
        # import, as the import system documents; typeshed's sys.modules admits modules only)
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        from sympy.printing.pytorch import TorchPrinter
    finally:
        if blocked:
            del sys.modules["torch"]
    return TorchPrinter


if TYPE_CHECKING:
    from sympy.printing.pytorch import TorchPrinter
else:
    TorchPrinter = _torch_printer()

_ARGUMENT = sp.Symbol("__matcalc_argument__")


class _Printing(_CodePrinter):
    """What SymPy's code printers cannot print, by hand (the module docstring says why, case by case)."""

    xp = "numpy"  # the array module as the generated code imports it

    def _operand(self, expr) -> str:
        """The printed operand, in parentheses unless it is a name, a number or one call."""
        text = self._print(expr)
        return text if _atomic(text) else f"({text})"

    def _call(self, function: str, *args) -> str:
        return f"{self.xp}.{function}({', '.join(self._print(a) if isinstance(a, sp.Basic) else a for a in args)})"

    def _print_ElementwiseApplyFunction(self, expr) -> str:
        function = expr.function
        variable = function.variables[0]
        body = self._print(function.expr.xreplace({variable: _ARGUMENT}))
        return body.replace(_ARGUMENT.name, self._operand(expr.expr))

    def _print_HadamardPower(self, expr) -> str:
        return f"{self._operand(expr.base)}**{self._operand(expr.exp)}"

    def _print_Trace(self, expr) -> str:
        return self._call("trace", expr.arg)

    def _print_Identity(self, expr) -> str:
        return f"{self.xp}.eye({self._print(expr.shape[0])}{self.new_dtype})"

    new_dtype = ""  # the float type of new arrays, where the framework's default is not float64

    def _print_OneMatrix(self, expr) -> str:
        return f"{self.xp}.ones(({self._print(expr.shape[0])}, {self._print(expr.shape[1])}){self.new_dtype})"

    def _print_ZeroMatrix(self, expr) -> str:
        return f"{self.xp}.zeros(({self._print(expr.shape[0])}, {self._print(expr.shape[1])}){self.new_dtype})"

    def _print_OneArray(self, expr) -> str:
        return f"{self.xp}.ones(({''.join(self._print(d) + ', ' for d in expr.shape)}){self.new_dtype})"

    def _print_ZeroArray(self, expr) -> str:
        return f"{self.xp}.zeros(({''.join(self._print(d) + ', ' for d in expr.shape)}){self.new_dtype})"

    def _print_DiagMatrix(self, expr) -> str:
        return self._call("diagflat", expr.args[0])

    def _print_Determinant(self, expr) -> str:
        return self._call("linalg.det", expr.args[0])

    def _print_ArrayTensorProduct(self, expr) -> str:
        """A number times an array: SymPy's printers hand the number to einsum as an operand."""
        scalars = [a for a in expr.args if not getattr(a, "shape", ())]
        if not scalars:
            return super()._print_ArrayTensorProduct(expr)
        from sympy.tensor.array.expressions import ArrayTensorProduct

        arrays = [a for a in expr.args if getattr(a, "shape", ())]
        rest = arrays[0] if len(arrays) == 1 else ArrayTensorProduct(*arrays)
        return f"{self._operand(sp.Mul(*scalars))}*{self._operand(rest)}"

    def _print_Reshape(self, expr) -> str:
        return f"{self.xp}.reshape({self._print(expr.expr)}, ({', '.join(self._print(d) for d in expr.shape)},))"

    def _print_Transpose(self, expr) -> str:
        return f"{self._operand(expr.arg)}.T"

    def _einsum_one(self, inner, groups, keep_groups: bool) -> str:
        """einsum over one array: each group of axes shares a letter (a diagonal), kept at the end of
        the output (ArrayDiagonal) or summed (ArrayContraction)."""
        letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        grouped: list[str] = []
        letter_of_axis: dict[int, str] = {}
        for group in groups:
            letter = next(letters)
            grouped.append(letter)
            for axis in group:
                letter_of_axis[axis] = letter
        subscripts = [
            letter_of_axis[axis] if axis in letter_of_axis else next(letters) for axis in range(len(inner.shape))
        ]
        rest = [letter for axis, letter in enumerate(subscripts) if not any(axis in g for g in groups)]
        output = "".join(rest + (grouped if keep_groups else []))
        return f'{self.xp}.einsum("{"".join(subscripts)}->{output}", {self._print(inner)})'

    def _print_ArrayDiagonal(self, expr) -> str:
        """SymPy's printers give einsum one operand with the subscripts of several when the diagonal is
        taken of anything but a tensor product (a contraction, here)."""
        return self._einsum_one(expr.expr, expr.diagonal_indices, True)

    def _print_ArrayContraction(self, expr) -> str:
        from sympy.tensor.array.expressions import ArrayTensorProduct

        if isinstance(expr.expr, ArrayTensorProduct):
            return super()._print_ArrayContraction(expr)
        return self._einsum_one(expr.expr, expr.contraction_indices, False)

    def _extremum(self, expr, sign: str) -> str:
        text = self._print(expr.args[0])
        for arg in expr.args[1:]:
            other = self._print(arg)
            text = f"(({text}) + ({other}) {sign} {self.xp}.abs(({text}) - ({other})))/2"
        return text

    def _print_Max(self, expr) -> str:
        return self._extremum(expr, "+")

    def _print_Min(self, expr) -> str:
        return self._extremum(expr, "-")

    def _print_Heaviside(self, expr) -> str:
        return f"(({self.xp}.sign({self._print(expr.args[0])}) + 1)/2)"

    def _print_MatMul(self, expr) -> str:
        coefficient, matrices = expr.as_coeff_matrices()
        product = " @ ".join(self._operand(m) for m in matrices)
        return product if coefficient == 1 else f"{self._operand(coefficient)}*({product})"

    def _print_MatrixSymbol(self, expr) -> str:
        return python_name(expr.name)

    def _print_Symbol(self, expr) -> str:
        return python_name(expr.name)

    def _print_Function(self, expr) -> str:
        """An unspecified function (f: function) is called by its name, which the caller binds."""
        if isinstance(expr.func, UndefinedFunction):
            return f"{expr.func.__name__}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)


class _NumPy(_Printing, NumPyPrinter):
    xp = "numpy"


class _Jax(_Printing, JaxPrinter):
    xp = "jax.numpy"


class _Torch(_Printing, TorchPrinter):
    """PyTorch: new arrays are float32 unless told (torch.ones), and torch.pow takes no two numbers
    (the size n in a mean), so powers are written with **."""

    xp = "torch"
    new_dtype = ", dtype=torch.float64"

    def _print_Pow(self, expr, rational=False) -> str:
        return f"{self._operand(expr.base)}**{self._operand(expr.exp)}"

    def _print_Function(self, expr) -> str:
        """torch.exp and its kin take tensors only: a constant (exp(2)) is printed as its value, a scalar
        argument (a size, a number that is a Python float) is made a tensor first."""
        if isinstance(expr.func, UndefinedFunction):
            return super()._print_Function(expr)
        if expr.is_number and not expr.free_symbols:
            return repr(float(expr.evalf()))
        op = self.mapping.get(type(expr))
        if op is not None and len(expr.args) == 1 and not getattr(expr.args[0], "is_Matrix", False):
            return f"{op}(torch.as_tensor({self._print(expr.args[0])}, dtype=torch.float64))"
        return super()._print_Function(expr)

    def _print_MatPow(self, expr) -> str:
        """SymPy folds torch.mm over |exp| copies, which recurses without end for a negative power."""
        return f"torch.linalg.matrix_power({self._print(expr.base)}, {self._print(expr.exp)})"


def _atomic(text: str) -> bool:
    """A name (numpy.pi, x), a non-negative number, or one call f(...) whose parentheses close at its end:
    an operand that needs no parentheses around it."""
    head = text.split("(", 1)[0]
    if not head or not all(c.isalnum() or c in "_." for c in head):
        return False
    if head == text:
        return True
    depth = 0
    for position, char in enumerate(text[len(head) :], len(head)):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return position == len(text) - 1
    return False


def python_name(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


@dataclass(frozen=True)
class Backend:
    name: str
    printer: type[_Printing]
    imports: str
    array: str  # a number or nested list -> an array of float64 ({} is the value)
    to_numpy: str  # an array -> a NumPy array ({})


BACKENDS = {
    "numpy": Backend("numpy", _NumPy, "import numpy", "numpy.asarray({}, dtype=numpy.float64)", "numpy.asarray({})"),
    "torch": Backend(
        "torch",
        _Torch,
        "import numpy\nimport torch",
        "torch.tensor({}, dtype=torch.float64)",
        "numpy.asarray({}.detach())",
    ),
    "jax": Backend(
        "jax",
        _Jax,
        'import numpy\nimport jax\njax.config.update("jax_enable_x64", True)\nimport jax.numpy',
        "jax.numpy.asarray({}, dtype=jax.numpy.float64)",
        "numpy.asarray({})",
    ),
}


def code_text(backend: str, value: sp.Basic) -> str:
    """One SymPy object as code for a backend."""
    if value.has(sp.zoo, sp.nan):  # SymPy's value of a / (1 - 1): no backend has a constant for it
        raise InputError("the expression divides by zero wherever it is evaluated, so there is no code to compute it")
    return BACKENDS[backend].printer({"fully_qualified_modules": True, "strict": True}).doprint(value)


class _Builder(StrPrinter):
    """SymPy objects as Python that rebuilds them, given the symbols (StrPrinter writes most of it;
    its forms that are not Python are written here)."""

    def _print_MatrixSymbol(self, expr) -> str:
        return python_name(expr.name)

    def _print_Symbol(self, expr) -> str:
        return python_name(expr.name)

    def _print_Dummy(self, expr) -> str:
        return "_t"

    def _print_ElementwiseApplyFunction(self, expr) -> str:
        return f"ElementwiseApplyFunction({self._print(expr.function)}, {self._print(expr.expr)})"

    def _print_Lambda(self, expr) -> str:
        return f"Lambda({self._print(expr.variables[0])}, {self._print(expr.expr)})"

    def _print_HadamardProduct(self, expr) -> str:
        return f"HadamardProduct({', '.join(self._print(a) for a in expr.args)})"

    def _print_HadamardPower(self, expr) -> str:
        return f"HadamardPower({self._print(expr.base)}, {self._print(expr.exp)})"

    def _print_Rational(self, expr) -> str:
        return f"Rational({expr.p}, {expr.q})"

    def _print_Half(self, expr) -> str:
        return "Rational(1, 2)"

    def _print_MatPow(self, expr) -> str:
        return f"MatPow({self._print(expr.base)}, {self._print(expr.exp)})"

    def _print_Inverse(self, expr) -> str:
        return f"Inverse({self._print(expr.arg)})"

    def _print_Transpose(self, expr) -> str:
        return f"Transpose({self._print(expr.arg)})"

    def _print_Trace(self, expr) -> str:
        return f"Trace({self._print(expr.arg)})"

    def _print_Identity(self, expr) -> str:
        return f"Identity({self._print(expr.rows)})"

    def _print_OneMatrix(self, expr) -> str:
        return f"OneMatrix({self._print(expr.rows)}, {self._print(expr.cols)})"

    def _print_ZeroMatrix(self, expr) -> str:
        return f"ZeroMatrix({self._print(expr.rows)}, {self._print(expr.cols)})"

    def _print_MatMul(self, expr) -> str:
        return f"MatMul({', '.join(self._print(a) for a in expr.args)})"

    def _print_MatAdd(self, expr) -> str:
        return f"MatAdd({', '.join(self._print(a) for a in expr.args)})"

    def _print_Heaviside(self, expr) -> str:
        return f"Heaviside({', '.join(self._print(a) for a in expr.args)})"

    def _print_Max(self, expr) -> str:
        return f"Max({', '.join(self._print(a) for a in expr.args)}, evaluate=False)"

    def _print_Min(self, expr) -> str:
        return f"Min({', '.join(self._print(a) for a in expr.args)}, evaluate=False)"

    def _print_Abs(self, expr) -> str:
        return f"Abs({self._print(expr.args[0])}, evaluate=False)"

    def _print_Reshape(self, expr) -> str:
        return f"Reshape({self._print(expr.expr)}, ({', '.join(self._print(d) for d in expr.shape)},))"

    def _print_PermuteDims(self, expr) -> str:
        return f"PermuteDims({self._print(expr.expr)}, {list(expr.permutation.array_form)})"

    def _print_ArrayContraction(self, expr) -> str:
        return f"ArrayContraction({self._print(expr.expr)}, {', '.join(map(str, expr.contraction_indices))})"

    def _print_ArrayDiagonal(self, expr) -> str:
        return f"ArrayDiagonal({self._print(expr.expr)}, {', '.join(map(str, expr.diagonal_indices))})"

    def _print_ArrayTensorProduct(self, expr) -> str:
        return f"ArrayTensorProduct({', '.join(self._print(a) for a in expr.args)})"

    def _print_ArrayAdd(self, expr) -> str:
        return f"ArrayAdd({', '.join(self._print(a) for a in expr.args)})"

    def _print_OneArray(self, expr) -> str:
        return f"OneArray({', '.join(self._print(a) for a in expr.shape)})"

    def _print_ZeroArray(self, expr) -> str:
        return f"ZeroArray({', '.join(self._print(a) for a in expr.shape)})"


SYMPY_IMPORTS = """\
from sympy import (E, Abs, Determinant, DiagMatrix, HadamardPower, HadamardProduct, Heaviside, Identity,
                   Inverse, Lambda, MatAdd, MatMul, MatPow, MatrixSymbol, Max, Min, OneMatrix, Rational,
                   Symbol, Trace, Transpose, ZeroMatrix, Function, acos, asin, atan, cos, exp, log, pi, sign, sin,
                   sqrt, tan, tanh)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.tensor.array.expressions import (ArrayAdd, ArrayContraction, ArrayDiagonal, ArrayTensorProduct,
                                            OneArray, PermuteDims, ZeroArray)"""


def sympy_code(objects: dict[str, sp.Basic], comment: str) -> str:
    """Python code that builds the objects (name -> object), with their symbols declared first."""
    builder = _Builder()
    symbols: dict[str, str] = {}
    dimensions: dict[str, str] = {}
    for value in objects.values():
        for atom in sorted(value.atoms(sp.Symbol, sp.MatrixSymbol), key=str):
            if isinstance(atom, sp.MatrixSymbol):
                for dim in atom.shape:
                    if isinstance(dim, sp.Symbol):
                        dimensions[dim.name] = f"{dim.name} = Symbol({dim.name!r}, integer=True, positive=True)"
                symbols[atom.name] = (
                    f"{python_name(atom.name)} = MatrixSymbol({atom.name!r}, "
                    f"{builder._print(atom.shape[0])}, {builder._print(atom.shape[1])})"
                )
            elif atom.name.startswith("_t"):  # the variable of an elementwise function (lower.py)
                symbols[atom.name] = f"{atom.name} = Symbol({atom.name!r})"
            elif atom.name not in dimensions:
                if atom.is_integer and atom.is_positive:
                    dimensions[atom.name] = f"{atom.name} = Symbol({atom.name!r}, integer=True, positive=True)"
                else:
                    symbols[atom.name] = f"{python_name(atom.name)} = Symbol({atom.name!r}, real=True)"
        for call in value.atoms(AppliedUndef):
            name = call.func.__name__
            symbols[name] = f"{name} = Function({name!r}, real=True)"
    for name in dimensions:
        symbols.pop(name, None)
    lines = [f"# {comment}", SYMPY_IMPORTS, "", *dimensions.values(), *symbols.values(), ""]
    lines += [f"{name} = {builder.doprint(value)}" for name, value in objects.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Gradient:
    """One derivative in a generated module."""

    wrt: str
    value: sp.Basic
    shape: tuple  # dimension names and numbers, size-1 axes left out
    contraction: str  # einsum subscripts: the derivative and one direction per differentiation -> f's axes


def framework_module(
    backend: str,
    *,
    title: str,
    variables: dict[str, tuple],
    sizes_from: dict[str, str],
    value: sp.Basic,
    value_shape: tuple,
    where: list[tuple[str, sp.Basic]],
    gradients: list[Gradient],
    order: int,
    point: dict[str, object],
    sample_sizes: dict[str, int],
) -> str:
    """A self-contained module: expression, derivative, f_and_grad (with shape assertions) and
    check_gradient (central finite differences of the function along random directions), printed by
    SymPy's printers. A dimension that no array has (`ones(m)` alone, `n` written in the expression)
    is a keyword argument the caller gives; check_gradient gives the size it was sampled at."""
    spec = BACKENDS[backend]
    used = set()
    for tree in [value, *(d for _, d in where), *(g.value for g in gradients)]:
        used |= {s.name for s in tree.free_symbols if isinstance(s, sp.Symbol) and s.is_integer and s.is_positive}
    used |= {str(d) for d in value_shape + tuple(d for g in gradients for d in g.shape) if not isinstance(d, int)}
    given_sizes = sorted(used - sizes_from.keys())
    given = {dim: sample_sizes.get(dim, 3) for dim in given_sizes}
    xp = spec.printer.xp
    arguments = ", ".join(python_name(name) for name in variables)
    if given_sizes:
        arguments += (", " if arguments else "") + "*, " + ", ".join(given_sizes)
    keywords = ", ".join(f"{python_name(name)}={python_name(name)}" for name in variables)
    keywords += "".join(f", {dim}={dim}" for dim in given_sizes)

    def prologue() -> list[str]:
        lines = [f"    {dim} = {source}" for dim, source in sizes_from.items()]
        lines += [
            f"    {python_name(name)} = {xp}.reshape({python_name(name)}, (-1, 1))"
            for name, dims in variables.items()
            if len(dims) == 1
        ]
        return lines

    def shaped(code: str, shape: tuple) -> str:
        if backend == "torch":  # torch.reshape takes no number (a derivative that is a constant)
            code = f"torch.as_tensor({code}, dtype=torch.float64)"
        return f"{xp}.reshape({code}, ({''.join(f'{d}, ' for d in shape)}))"

    several = len(gradients) > 1
    calls = sorted(
        {
            call.func.__name__
            for tree in [value, *(d for _, d in where), *(g.value for g in gradients)]
            for call in tree.atoms(AppliedUndef)
        }
    )
    unspecified = (
        [
            f"# {', '.join(calls)}: an unspecified function (a `function` declaration) and its derivatives,",
            "# elementwise: bind them before calling, e.g. module.f = numpy.tanh",
            f"{' = '.join(calls)} = None",
            "",
        ]
        if calls
        else []
    )
    returned = ", ".join(shaped(code_text(backend, g.value), g.shape) for g in gradients)
    derivative_doc = (
        f"the derivatives by {', '.join(g.wrt for g in gradients)}, in that order"
        if several
        else f"the derivative by {gradients[0].wrt}"
    )
    lines = [
        f'"""{title}, written by matcalc.',
        "",
        "expression(...) is the function, derivative(...) " + derivative_doc + ", f_and_grad(...) both",
        "with their shapes asserted, check_gradient() compares them with central finite differences of the",
        "function. Vectors are 1-D arrays, matrices 2-D, scalars numbers or 0-d arrays.",
        '"""',
        spec.imports,
        "",
        *unspecified,
        "SHAPES = {" + ", ".join(f"{python_name(name)!r}: {dims!r}" for name, dims in variables.items()) + "}",
        "DERIVATIVE_SHAPES = {" + ", ".join(f"{python_name(g.wrt)!r}: {g.shape!r}" for g in gradients) + "}",
        f"VALUE_SHAPE = {tuple(value_shape)!r}",
        f"ORDER = {order}",
        "",
        "",
        f"def expression({arguments}):",
        *prologue(),
        f"    return {shaped(code_text(backend, value), value_shape)}",
        "",
        "",
        f"def derivative({arguments}):",
        f'    """{derivative_doc[0].upper() + derivative_doc[1:]}."""',
        *prologue(),
        *[f"    {python_name(name)} = {code_text(backend, definition)}" for name, definition in where],
        f"    return {'(' + returned + ',)' if several else returned}",
        "",
        "",
        "def sizes(**arrays):",
        '    """Each dimension\'s size, read off the arrays; an array of the wrong shape is an AssertionError."""',
        "    found = {}",
        "    for name, dims in SHAPES.items():",
        "        shape = tuple(numpy.shape(arrays[name]))",
        '        assert len(shape) == len(dims), f"{name} has shape {shape}, not {dims}"',
        "        for dim, size in zip(dims, shape):",
        "            expected = dim if isinstance(dim, int) else found.setdefault(dim, size)",
        '            assert size == expected, f"{name} has shape {shape}: its {dim} is {size}, elsewhere {expected}"',
        "    return found",
        "",
        "",
        f"def f_and_grad({arguments}):",
        f'    """The value of the function and {derivative_doc}, their shapes checked."""',
        f"    found = sizes({keywords})" if variables else "    found = {}",
        *[f"    found.setdefault({dim!r}, {dim})" for dim in given_sizes],
        f"    value = expression({keywords})",
        f"    grads = derivative({keywords})",
        "    expected = tuple(found.get(d, d) for d in VALUE_SHAPE)",
        '    assert tuple(numpy.shape(value)) == expected, f"the value has shape {tuple(numpy.shape(value))}, not {expected}"',
        f"    for name, grad in zip(DERIVATIVE_SHAPES, {'grads' if several else '(grads,)'}):",
        "        expected = tuple(found.get(d, d) for d in DERIVATIVE_SHAPES[name])",
        '        assert tuple(grad.shape) == expected, f"d/d{name} has shape {tuple(grad.shape)}, not {expected}"',
        "    return value, grads",
        "",
        "",
        "# a point in the functions' domains (away from kinks, inverted matrices well conditioned), drawn by matcalc",
        "POINT = {" + ", ".join(f"{python_name(name)!r}: {values!r}" for name, values in point.items()) + "}",
        f"GIVEN = {given!r}  # sizes that no array has",
        "CONTRACTIONS = {" + ", ".join(f"{python_name(g.wrt)!r}: {g.contraction!r}" for g in gradients) + "}",
        "STEPS = {1: 1e-6, 2: 1e-4, 3: 1e-3}",
        "",
        "",
        "def check_gradient(point=None, seed=0, tolerance=None):",
        '    """The largest relative error of each derivative against central finite differences of the',
        "    function along a random direction, at `point` (a dict of numbers and lists; POINT by default).",
        '    An error above the tolerance (1e-5 for first derivatives, 1e-3 for higher) is an AssertionError."""',
        "    from math import comb",
        "",
        "    rng = numpy.random.default_rng(seed)",
        "    point = dict(POINT if point is None else point)",
        "    arrays = {name: " + spec.array.format("value") + " for name, value in point.items()}",
        "    step = STEPS.get(ORDER, 1e-2)",
        "    tolerance = tolerance or (1e-5 if ORDER == 1 else 1e-3)",
        "    grads = derivative(**arrays, **GIVEN)",
        "    size = max(float(numpy.max(numpy.abs("
        + spec.to_numpy.format("expression(**arrays, **GIVEN)")
        + "), initial=0)), 1e-300)",
        "    errors = {}",
        f"    for name, grad in zip(DERIVATIVE_SHAPES, {'grads' if several else '(grads,)'}):",
        "        direction = rng.normal(size=numpy.shape(point[name]))",
        "        difference = 0",
        "        for j in range(ORDER + 1):  # the ORDER-th central difference along the direction",
        "            moved = dict(arrays)",
        "            moved[name] = "
        + spec.array.format("numpy.asarray(point[name], dtype=float) + (ORDER / 2 - j) * step * direction"),
        "            difference = difference + (-1) ** j * comb(ORDER, j) * "
        + spec.to_numpy.format("expression(**moved, **GIVEN)"),
        "        difference = difference / step ** ORDER",
        "        analytic = numpy.einsum(CONTRACTIONS[name], "
        + spec.to_numpy.format("grad")
        + ", *[direction] * ORDER)",
        "        # rounding in the difference is about 2^ORDER eps |f| / step^ORDER: a derivative that is 0 (a",
        "        # linear function's second) is compared with that noise, not divided by 0",
        "        noise = 2 ** ORDER * 1e-15 * size / step ** ORDER",
        "        scale = max(numpy.max(numpy.abs(difference)), numpy.max(numpy.abs(analytic)), 10 * noise / tolerance)",
        "        errors[name] = float(numpy.max(numpy.abs(analytic - difference)) / scale)",
        '        assert errors[name] <= tolerance, f"d/d{name} is off by {errors[name]:.2g} relative"',
        "    return errors",
        "",
        "",
        'if __name__ == "__main__":',
        "    print(check_gradient())",
        "",
    ]
    return "\n".join(lines)
