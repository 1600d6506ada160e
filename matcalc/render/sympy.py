"""SymPy objects out: Python code that builds them (`--format sympy`), and their values at a point.

`render/to_sympy.py` turns typed trees into SymPy matrix expressions (orders ≤ 2) and array expressions (orders 3
and up); here they are printed as code that rebuilds them, by SymPy's StrPrinter with the forms it does
not write as Python written by hand. A symbol whose name the code needs for itself (E, Trace, exp, the
objects' own names) is bound with a trailing underscore, as a Python keyword is.

`sympy_value` evaluates an object by SymPy itself (symbols replaced by numbers, then doit()), which is
how the printed code is checked before it is shown (matcalc.codecheck).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

from ..errors import InputError
from .python import comment, python_names
from .to_sympy import dimension


class _Builder(StrPrinter):
    """SymPy objects as Python that rebuilds them, given the symbols (StrPrinter writes most of it;
    its forms that are not Python are written here, each a call, so that StrPrinter's own precedence
    of SymPy's operators holds around them)."""

    def __init__(self, names: dict[str, str]):
        super().__init__()
        self.names = names  # the Python name of each symbol

    def _print_MatrixSymbol(self, expr) -> str:
        return self.names.get(expr.name, expr.name)

    def _print_Mul(self, expr) -> str:
        """Mul(...) where StrPrinter's text would rebuild another object: a number times a sum, as in
        -(x + 2)/y or 1/(2*(x + 1)), is multiplied out when the text is read (-x - 2, 2*x + 2)."""
        coefficient, rest = expr.as_coeff_Mul()
        factors = sp.Mul.make_args(rest)
        if coefficient != 1 and any(f.is_Add or (f.is_Pow and f.base.is_Add) for f in factors):
            return f"Mul({', '.join(self._print(arg) for arg in expr.args)})"
        return super()._print_Mul(expr)

    def _print_Symbol(self, expr) -> str:
        return self.names.get(expr.name, expr.name)

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
                   Inverse, Lambda, MatAdd, MatMul, MatPow, MatrixSymbol, Max, Min, Mul, OneMatrix, Rational,
                   Symbol, Trace, Transpose, ZeroMatrix, Function, acos, asin, atan, cos, exp, im, log, pi, re, sign,
                   sin, sqrt, tan, tanh)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.tensor.array.expressions import (ArrayAdd, ArrayContraction, ArrayDiagonal, ArrayTensorProduct,
                                            OneArray, PermuteDims, ZeroArray)"""
IMPORTED = frozenset(
    word.strip("(),")
    for line in SYMPY_IMPORTS.splitlines()
    for word in line.replace("import", " ").split()
    if word.strip("(),").isidentifier() and word not in ("from", "sympy")
)


def sympy_code(objects: dict[str, sp.Basic], title: str, notes: tuple[str, ...] = ()) -> str:
    """Python code that builds the objects (name -> object), with their symbols declared first; `title` is
    a comment line above it, the user's text escaped, and `notes` comment lines after it."""
    for value in objects.values():
        if value.has(sp.zoo, sp.nan):  # SymPy's value of a / (1 - 1): it has no finite code
            raise InputError(
                "the expression divides by zero wherever it is evaluated, so there is no code to compute it"
            )
    atoms = sorted({atom for value in objects.values() for atom in value.atoms(sp.Symbol, sp.MatrixSymbol)}, key=str)
    dims = sorted(
        {d.name for atom in atoms if isinstance(atom, sp.MatrixSymbol) for d in atom.shape if isinstance(d, sp.Symbol)}
        | {a.name for a in atoms if isinstance(a, sp.Symbol) and a.is_integer and a.is_positive}
    )
    functions = sorted({call.func.__name__ for value in objects.values() for call in value.atoms(AppliedUndef)})
    user_names = [a.name for a in atoms if not a.name.startswith("_t")] + dims + functions
    names = python_names(user_names, IMPORTED | set(objects))
    builder = _Builder(names)
    declared = [f"{names[d]} = Symbol({d!r}, integer=True, positive=True)" for d in dims]
    for atom in atoms:
        if isinstance(atom, sp.MatrixSymbol):
            rows, cols = (builder._print(d) for d in atom.shape)
            declared.append(f"{names[atom.name]} = MatrixSymbol({atom.name!r}, {rows}, {cols})")
        elif atom.name.startswith("_t"):  # the variable of an elementwise function (to_sympy.py)
            declared.append(f"{atom.name} = Symbol({atom.name!r})")
        elif atom.name not in dims:
            declared.append(f"{names[atom.name]} = Symbol({atom.name!r}, real=True)")
    declared += [f"{names[f]} = Function({f!r}, real=True)" for f in functions]
    lines = [f"# {comment(title)}", *(f"# {note}" for note in notes), SYMPY_IMPORTS, "", *declared, ""]
    lines += [f"{name} = {builder.doprint(value)}" for name, value in objects.items()]
    return "\n".join(lines) + "\n"


def expanded_entries(value: sp.Basic, sizes: dict[str, int]) -> int:
    """About how many entries SymPy writes out to evaluate the object at these sizes: the entries of every
    matrix and array in it (a tensor product's are the product of its factors')."""
    replace = {dimension(name): size for name, size in sizes.items()}
    total = 0
    for sub in sp.preorder_traversal(value):
        shape = getattr(sub, "shape", None)
        if shape:
            entries = 1
            for d in shape:
                entries *= int(d.xreplace(replace)) if isinstance(d, sp.Basic) else int(d)
            total += entries
    return total


def _evaluated(node: sp.Basic) -> sp.Basic:
    """One node of an object with numbers for its symbols, evaluated where SymPy can."""
    if isinstance(node, sp.HadamardPower) and isinstance(node.base, sp.MatrixBase):
        return node.base.applyfunc(lambda t: t**node.exp)
    done = node.doit(deep=False) if hasattr(node, "doit") else node
    if isinstance(done, sp.Expr) and not isinstance(done, sp.MatrixExpr) and done.args:
        done = done.func(*done.args)  # a function of numbers built unevaluated (Heaviside(0.7)): evaluated now
    if isinstance(done, sp.MatrixExpr) and not isinstance(done, sp.MatrixBase) and not done.free_symbols:
        return done.as_explicit()  # 2 M stays a product under doit(), which an elementwise function cannot take
    return done


def has_unspecified(value: sp.Basic) -> bool:
    """Whether the object calls an unspecified function (f: function), which SymPy cannot evaluate."""
    return bool(value.atoms(AppliedUndef))


def sympy_value(value: sp.Basic, values: dict[str, object], sizes: dict[str, int]) -> object:
    """The object at a point, evaluated by SymPy: each dimension and variable replaced by its number (values
    as nested lists, a vector a column), then doit(). A number, or the entries as nested lists of floats."""
    if not isinstance(value, sp.Basic):  # a number the code wrote as one (d_a = 1)
        return float(value)
    with sp.evaluate(False):  # substituted, not yet evaluated: SymPy's Max of a trace fails to (TypeError)
        value = value.xreplace({dimension(name): size for name, size in sizes.items()})
        numbers = {}
        for atom in value.atoms(sp.MatrixSymbol, sp.Symbol):
            if atom.name in values:
                data = values[atom.name]
                numbers[atom] = sp.ImmutableMatrix(data) if isinstance(atom, sp.MatrixSymbol) else sp.Float(data)
        value = value.xreplace(numbers)
        value = value.replace(
            lambda e: isinstance(e, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)), lambda e: e.as_explicit()
        )
    # doit() from the leaves up: one doit() of the whole leaves a trace of explicit matrices inside an
    # elementwise function's body, or a HadamardPower of an explicit matrix, unevaluated
    done = sp.bottom_up(value, _evaluated)
    if hasattr(done, "as_explicit"):  # a matrix or array expression
        return sp.Array(done.as_explicit()).tolist()
    if isinstance(done, sp.NDimArray):
        return done.tolist()
    try:
        return float(done)
    except TypeError:  # zoo, nan or a complex number: not a value any printed code computes
        return float("nan")
