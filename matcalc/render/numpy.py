"""Typed trees and derivatives -> array code in NumPy, PyTorch or JAX (SPEC §4's array contract).

One printer writes the JSON `numpy` field (one expression in `np`), the body of `numpy_function_code()`
and the bodies of the `--format numpy|torch|jax` modules. Scalars are numbers or 0-d arrays, vectors
1-D arrays (n,), matrices 2-D arrays; a result evaluates to an array of SPEC's result shape with its
size-1 axes left out. Results in index notation are `einsum` over their pieces, never a tensor product
of them. A dimension name is read off the shape of an array that has it; one that no array has
(`exp(a + n)`) is a name the caller binds. Operands are parenthesised from render.python's one table of
Python's operators; a part nested deeper than render.python.MAX_DEPTH is named first (`_1 = ...` in a
function, `[_1 := ..., ...][-1]` in one expression).

The backends differ only where their libraries do: PyTorch's functions take tensors, not numbers (a
constant argument is made one), and it has its own sigmoid, relu and no heaviside that takes a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .. import nodes as n
from ..calculus.differentiate import Derivative, IndexTerm
from ..errors import UnsupportedError
from .canonical import flat_terms
from .python import MAX_DEPTH, Code, Level, binary, call, negation, number, postfix, python_name, python_names

# An integer dimension larger than this is read off the arrays that have it, never written as a number:
# the self-check samples such a dimension at a small size (numeric/differences.LARGEST_SAMPLED), and the code must
# run at the sizes it is checked at.
LITERAL_SIZES = 8

EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Backend:
    name: str
    xp: str  # the array module as the printed code calls it
    imports: tuple[str, ...]


NUMPY = Backend("numpy", "np", ("import numpy as np",))
TORCH = Backend("torch", "torch", ("import numpy as np", "import torch"))
JAX = Backend(
    "jax",
    "jnp",
    ("import numpy as np", "import jax", 'jax.config.update("jax_enable_x64", True)', "import jax.numpy as jnp"),
)
BACKENDS = {backend.name: backend for backend in (NUMPY, TORCH, JAX)}

_PLAIN_FUNCTIONS = ("exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "sqrt", "sign", "abs")


def code_names(*trees: n.Node, reserved=frozenset()) -> dict[str, str]:
    """The Python name of each variable, dimension and unspecified function of the trees, distinct."""
    found: list[str] = []
    for tree in trees:
        found += list(n.variables(tree))
        for sub in n.walk(tree):
            found += [dim for dim in (sub.shape.rows, sub.shape.cols) if isinstance(dim, str)]
            if isinstance(sub, n.DimSize):
                found.append(sub.name)
            if isinstance(sub, n.Apply) and n.is_unspecified(sub.function):
                found.append(sub.function.rstrip("'"))
    return python_names(found, reserved)


def function_name(function: str, names: dict[str, str]) -> str:
    """An unspecified function and its derivatives, f, f', f'', as SPEC §4 calls them: f, f_prime, f_prime2."""
    count = n.primes(function)
    base = function.rstrip("'")
    return (names.get(base) or python_name(base)) + ("" if count == 0 else "_prime" if count == 1 else f"_prime{count}")


def read_off(dim) -> bool:
    """Whether a dimension's size is read off an array (a name, or a large integer) rather than written."""
    return isinstance(dim, str) or (isinstance(dim, int) and dim > LITERAL_SIZES)


def dimension_sources(
    expr: n.Node, without: str | None = None, names: dict[str, str] | None = None
) -> dict[str | int, str]:
    """dimension -> a Python expression for its size, read off an array that has it (not the variable
    `without`, which the code does not receive)."""
    names = names if names is not None else code_names(expr)
    sources: dict[str | int, str] = {}
    for name, shape in n.variables(expr).items():
        if name == without:
            continue
        for axis, dim in enumerate((shape.rows,) if shape.is_column else (shape.rows, shape.cols)):
            if isinstance(dim, (str, int)) and dim != 1 and read_off(dim):
                sources.setdefault(dim, f"{names.get(name, python_name(name))}.shape[{axis}]")
    return sources


def unread_sizes(trees: list[n.Node], sources: dict, derivatives: tuple[Derivative, ...] = ()) -> list[str]:
    """Dimension names that the trees (and the derivatives' axes) use but no array has (ones(m) alone, n
    written in the expression): sizes the caller gives, by name."""
    used: dict[str, None] = {}
    for tree in trees:
        for sub in n.walk(tree):
            used |= {dim: None for dim in (sub.shape.rows, sub.shape.cols) if isinstance(dim, str)}
            if isinstance(sub, n.DimSize):
                used[sub.name] = None
    for d in derivatives:
        used |= {dim: None for dim in (*d.shape, *d.dims.values()) if isinstance(dim, str)}
    return sorted(dim for dim in used if dim not in sources)


class NumpyPrinter:
    """Typed trees -> array code. `sizes` gives each dimension's size as code; `names` the Python names;
    `new_arrays` the keyword arguments of every array the code makes (the dtype of a module's inputs).
    Parts named for depth collect in `statements`, in the order they must run."""

    def __init__(
        self,
        sizes: dict | None = None,
        backend: Backend = NUMPY,
        names: dict[str, str] | None = None,
        new_arrays: str = "",
        shared: frozenset[n.Node] = frozenset(),
    ):
        self.sizes = sizes or {}
        self.backend = backend
        self.xp = backend.xp
        self.names = names or {}
        self.new_arrays = new_arrays
        self.statements: list[tuple[str, str]] = []
        self._named = 0
        self.shared = shared  # subexpressions computed once, as a statement, then used by name
        self._shared_names: dict[n.Node, str] = {}

    # -- entry points

    def text(self, node: n.Node) -> str:
        """One expression for the node, the parts it names written into it."""
        return self.one_expression(self.code(node))

    def code(self, node: n.Node) -> Code:
        if node in self.shared:
            name = self._shared_names.get(node)
            if name is None:
                name = self._statement(self._render(node))
                self._shared_names[node] = name
            return Code(name)
        return self._shallow(self._render(node))

    def definition(self, name: str, node: n.Node) -> Code:
        """The code of a named subexpression's definition (`t1 = ...`); where the node recurs, the name
        stands for it."""
        code = self._shallow(self._render(node))
        if node in self.shared:
            self._shared_names[node] = name
        return code

    def one_expression(self, code: Code) -> str:
        """Code and the parts named for it as one expression: [_1 := ..., _2 := ..., code][-1]."""
        if not self.statements:
            return code.text
        parts = [f"{name} := {text}" for name, text in self.statements] + [code.text]
        return f"[{', '.join(parts)}][-1]"

    def size(self, dim) -> Code:
        if dim in self.sizes:
            return Code(self.sizes[dim])
        if isinstance(dim, int):
            return Code(str(dim))
        return Code(self.name(str(dim)))

    def name(self, name: str) -> str:
        return self.names.get(name) or python_name(name)

    # -- helpers

    def _shallow(self, code: Code) -> Code:
        """The code, or a name for it where it nests too deeply to be an operand."""
        if code.depth <= MAX_DEPTH:
            return code
        return Code(self._statement(code))

    def _statement(self, code: Code) -> str:
        """A name for the code, assigned in a statement of its own."""
        self._named += 1
        name = f"_{self._named}"
        self.statements.append((name, code.text))
        return name

    def _call(self, function: str, *arguments: Code | str) -> Code:
        return call(f"{self.xp}.{function}", *arguments)

    def _new(self, function: str, size: Code) -> Code:
        """A new array (ones, eye, zeros) in the dtype of the inputs."""
        return self._call(function, size, *([self.new_arrays] if self.new_arrays else []))

    def _shape(self, shape) -> Code:
        if shape.is_vector:
            return self.size(shape.cols if shape.rows == 1 else shape.rows)
        return Code(f"({self.size(shape.rows).text}, {self.size(shape.cols).text})")

    def _argument(self, node: n.Node) -> Code:
        """An argument of a library function: PyTorch's take tensors only, so a constant (a number, a size)
        is made one."""
        code = self.code(node)
        if self.backend is TORCH and node.shape.is_scalar and not n.variables(node):
            return call("torch.as_tensor", code, self.new_arrays or "dtype=torch.float64")
        return code

    def _apply(self, function: str, *operands: n.Node) -> Code:
        return self._call(function, *[self._argument(operand) for operand in operands])

    # -- nodes

    def _render(self, node: n.Node) -> Code:
        match node:
            case n.Var(name=name):
                return Code(self.name(name))
            case n.Number(value=value):
                return number(value)
            case n.Const(name=name):
                return Code(f"{self.xp}.{name}")
            case n.DimSize(name=name):
                return self.size(name)
            case n.Identity():
                return self._new("eye", self.size(node.shape.rows))
            case n.Fill(value=value):
                ones = self._new("ones", self._shape(node.shape))
                return ones if value == n.Number(Fraction(1)) else binary("*", self.code(value), ones)
            case n.Neg() | n.ScalarMul() if (outer := self._outer(node)) is not None:
                return self._call("outer", *outer)
            case n.Neg(operand=operand):
                return negation(self.code(operand))
            case n.Add():
                return self._sum(flat_terms(node))
            case n.ScalarMul(left=left, right=right) | n.Hadamard(left=left, right=right):
                return binary("*", self.code(left), self.code(right))
            case n.Divide(left=left, right=right):
                return binary("/", self.code(left), self.code(right))
            case n.MatMul(left=left, right=right):
                return self._product(left, right)
            case n.Power(base=base, exponent=exponent):
                power = n.constant_value(exponent)
                if power is not None and power < 0 and power.denominator == 1:
                    # NumPy refuses integers to negative integer powers (max(2, 0) ** -1): a float exponent
                    return binary("**", self.code(base), Code(repr(float(power)), Level.UNARY))
                return binary("**", self.code(base), self.code(exponent))
            case n.MatPower(base=base, exponent=exponent):
                if base.shape.is_scalar:
                    return binary("**", self.code(base), number(Fraction(exponent)))
                return self._call("linalg.matrix_power", self.code(base), str(exponent))
            case n.Transpose(operand=operand):
                if operand.shape.is_matrix:
                    return postfix(self.code(operand), ".T")
                return self.code(operand)  # 1-D arrays and scalars have no orientation
            case n.Inverse(operand=operand):
                if operand.shape.is_scalar:
                    return binary("/", Code("1"), self.code(operand))
                return self._apply("linalg.inv", operand)
            case n.Trace(operand=operand) | n.Det(operand=operand) if operand.shape.is_scalar:
                return self.code(operand)
            case n.Trace(operand=operand):
                return self._apply("trace", operand)
            case n.Det(operand=operand):
                return self._apply("linalg.det", operand)
            case n.LogDet(operand=operand) if operand.shape.is_scalar:
                return self._apply("log", operand)
            case n.LogDet(operand=operand):
                return postfix(self._apply("linalg.slogdet", operand), "[1]")
            case n.Norm():
                return self._norm(node)
            case n.Sum(operand=operand):
                return self._apply("sum", operand)
            case n.Mean(operand=operand):
                return self._apply("mean", operand)
            case n.DiagMatrix(operand=operand) | n.DiagOf(operand=operand):
                return self.code(operand) if operand.shape.is_scalar else self._apply("diag", operand)
            case n.Apply(function=function, operand=operand):
                return self._function(function, operand)
            case n.Maximum(left=left, right=right):
                return self._apply("maximum", left, right)
            case n.Minimum(left=left, right=right):
                return self._apply("minimum", left, right)
            case n.Softmax(operand=operand):
                shifted = self._exp_shifted(operand)
                return binary("/", shifted, self._call("sum", shifted))
            case n.LogSumExp(operand=operand):
                top = self._apply("max", operand)
                return binary("+", top, self._call("log", self._call("sum", self._exp_shifted(operand))))
            case n.Vec() | n.Kron() | n.Commutation():
                return self._vec_or_kron(node)
            case n.Derivative():
                raise UnsupportedError(
                    "NumPy code for a derivative written inside the expression (d/dV ...) is "
                    "not supported yet: differentiate it on its own",
                    span=node.span,
                )
        raise UnsupportedError(f"no NumPy code for {node.kind} yet", span=node.span)

    def _sum(self, terms: list[n.Node]) -> Code:
        """A flat sum, left to right (a - b for a negated term), named in parts where it grows too deep."""
        total = self.code(terms[0])
        for term in terms[1:]:
            if isinstance(term, n.Neg):
                total = binary("-", total, self.code(term.operand))
            else:
                total = binary("+", total, self.code(term))
            total = self._shallow(total)
        return total

    def _product(self, left: n.Node, right: n.Node) -> Code:
        """A matrix product of 1-D and 2-D arrays; a diagonal matrix is never built to multiply by it
        (diag(v) M is v[:, None] * M, M diag(v) is M * v)."""
        if left.shape.is_scalar or right.shape.is_scalar:
            return binary("*", self.code(left), self.code(right))
        if isinstance(left, n.DiagMatrix) and not left.operand.shape.is_scalar:
            scale = self.code(left.operand)
            return binary("*", postfix(scale, "[:, None]") if right.shape.is_matrix else scale, self.code(right))
        if isinstance(right, n.DiagMatrix) and not right.operand.shape.is_scalar:
            return binary("*", self.code(left), self.code(right.operand))
        if left.shape.cols == 1:  # a column times a row: the outer product
            return self._call("outer", self.code(left), self.code(right))
        outer = self._outer(n.MatMul(left, right, shape=type(left.shape)(left.shape.rows, right.shape.cols)))
        if outer is not None:
            return self._call("outer", *outer)
        if right.shape.is_column and (outer := self._outer(left)) is not None:  # (a b')c = a (b'c)
            return binary("*", outer[0], binary("@", outer[1], self.code(right)))
        if left.shape.is_row and (outer := self._outer(right)) is not None:  # c'(a b') = (c'a) b'
            return binary("*", binary("@", self.code(left), outer[0]), outer[1])
        return binary("@", self.code(left), self.code(right))

    def _outer(self, node: n.Node) -> tuple[Code, Code] | None:
        """The column and row of a product that is an outer product a b', or None. Products with one are
        regrouped, (a b')M = a (M'b)' and M(a b') = (M a)b', so that no n×n outer product is multiplied by
        a matrix (n³ and an n×n temporary where n² does); a factor or a minus sign goes to the column
        (`np.outer(2 * a, b)`, not another pass over n×n). Written here by hand: the trees group products as
        the derivative was found, and SymPy's printers multiply in the order given."""
        if node in self.shared or not node.shape.is_matrix:
            return None
        if isinstance(node, n.ScalarMul) and node.left.shape.is_scalar and (outer := self._outer(node.right)):
            return binary("*", self.code(node.left), outer[0]), outer[1]
        if isinstance(node, n.Neg) and (outer := self._outer(node.operand)):
            return negation(outer[0]), outer[1]
        if (
            not isinstance(node, n.MatMul)
            or isinstance(node.left, n.DiagMatrix)
            or isinstance(node.right, n.DiagMatrix)
        ):
            return None
        left, right = node.left, node.right
        if left.shape.is_column and right.shape.is_row:
            return self.code(left), self.code(right)
        if right.shape.is_matrix and (outer := self._outer(left)):
            return outer[0], binary("@", outer[1], self.code(right))
        if left.shape.is_matrix and (outer := self._outer(right)):
            return binary("@", self.code(left), outer[0]), outer[1]
        return None

    def _norm(self, node: n.Norm) -> Code:
        operand = node.operand
        if operand.shape.is_scalar:
            return self._apply("abs", operand)
        if node.p == "1":
            return self._call("sum", self._apply("abs", operand))
        if node.p == "spectral":
            if self.backend is TORCH:
                return self._call("linalg.matrix_norm", self.code(operand), "2")
            return self._call("linalg.norm", self.code(operand), "2")
        return self._apply("linalg.norm", operand)

    def _exp_shifted(self, operand: n.Node) -> Code:
        """exp(v - max(v)): the exponentials of softmax and logsumexp, which cannot overflow."""
        return self._call("exp", binary("-", self._argument(operand), self._apply("max", operand)))

    def _function(self, function: str, operand: n.Node) -> Code:
        if n.is_unspecified(function):
            return call(function_name(function, self.names), self.code(operand))
        argument = self._argument(operand)
        if function in _PLAIN_FUNCTIONS:
            return self._call(function, argument)
        torch = self.backend is TORCH
        if function == "sigmoid":
            if torch:
                return self._call("sigmoid", argument)
            return binary("/", Code("1"), binary("+", Code("1"), self._call("exp", negation(argument))))
        if function == "relu":
            return self._call("relu", argument) if torch else self._call("maximum", argument, Code("0"))
        if function == "step":  # Heaviside with step(0) = 1/2; PyTorch's heaviside takes no number for 0
            if torch:
                return binary("/", binary("+", self._call("sign", argument), Code("1")), Code("2"))
            return self._call("heaviside", argument, "0.5")
        raise UnsupportedError(f"no code for the function {function} yet")

    # -- vec, Kronecker products and the commutation matrix (a vector 1-D, as everywhere)

    def _vec_or_kron(self, node: n.Node) -> Code:
        if isinstance(node, n.Vec):
            operand = node.operand
            if not operand.shape.is_matrix:
                return self.code(operand)
            if self.backend is TORCH:  # no column-major reshape: vec(X) is Xᵀ read by rows
                return call("torch.reshape", postfix(self.code(operand), ".T"), "(-1,)")
            return self._call("reshape", self.code(operand), "(-1,)", 'order="F"')
        if isinstance(node, n.Kron):
            left, right = node.left, node.right
            if left.shape.is_scalar or right.shape.is_scalar:
                return binary("*", self.code(left), self.code(right))
            kron = self._call("kron", self._two_dimensional(left), self._two_dimensional(right))
            return self._call("reshape", kron, "(-1,)") if node.shape.is_vector else kron
        assert isinstance(node, n.Commutation)
        m, k = self._product_size(node.m), self._product_size(node.n)
        order = f"{self.xp}.arange({m} * {k}).reshape({k}, {m}).T.reshape(-1)"
        return postfix(self._new("eye", Code(f"{m} * {k}")), f"[{order}]")

    def _two_dimensional(self, node: n.Node) -> Code:
        """An operand of kron as ⊗ reads it: a column n×1, a row 1×n (contiguous: torch.kron needs it)."""
        code = self.code(node)
        if node.shape.is_column:
            code = self._call("reshape", code, "(-1, 1)")
        elif node.shape.is_row:
            code = self._call("reshape", code, "(1, -1)")
        return postfix(code, ".contiguous()") if self.backend is TORCH else code

    def _product_size(self, dim) -> str:
        """A size as Python, (m·n, of a Kronecker product) the product of its parts."""
        if isinstance(dim, str) and "·" in dim:
            return " * ".join(self._product_size(int(part) if part.isdigit() else part) for part in dim.split("·"))
        return self.size(dim).bare_at(Level.ATOM).text

    # -- index notation

    def einsum_sum(self, result: Derivative, terms: list[IndexTerm]) -> Code:
        """The index form as a sum of einsums over its pieces, axes in the order of result.free."""
        letters = einsum_letters(result, terms)
        output = "".join(letters[i] for i in result.free)
        total: Code | None = None
        for term in terms:
            code, negative = self._einsum_term(result, term, letters, output)
            if total is None:
                total = negation(code) if negative else code
            else:
                total = self._shallow(binary("-" if negative else "+", total, code))
        if total is None:  # a zero result still has its shape
            sizes = ", ".join(self.size(result.dims[i]).text for i in result.free)
            return self._new("zeros", Code(f"({sizes},)"))
        return total

    def _einsum_term(self, result: Derivative, term: IndexTerm, letters: dict, output: str) -> tuple[Code, bool]:
        """One term as its magnitude's code and whether it is subtracted."""
        subscripts, operands = [], []
        for piece in term.pieces:
            subscripts.append("".join(letters[i] for i in piece.indices))
            node = piece.elements[0]
            for element in piece.elements[1:]:
                node = n.MatMul(node, element, shape=type(node.shape)(node.shape.rows, element.shape.cols))
            operands.append(self.code(node))
        for index in result.free:
            if not any(letters[index] in sub for sub in subscripts):  # constant along this axis
                subscripts.append(letters[index])
                operands.append(self._new("ones", self.size(result.dims[index])))
        code = self._call("einsum", repr(f"{','.join(subscripts)}->{output}"), *operands)
        for scalar in reversed(term.scalars):
            code = binary("*", self.code(scalar), code)
        magnitude = abs(term.coefficient)
        if magnitude != 1:
            code = binary("*", number(magnitude), code)
        return code, term.coefficient < 0


def einsum_letters(result: Derivative, terms: list[IndexTerm]) -> dict[str, str]:
    """A letter for each index: the one index notation shows where it is a single ASCII letter (so the
    subscripts read as the formula), else a spare one."""
    used = list(result.free) + [i for term in terms for piece in term.pieces for i in piece.indices]
    letters: dict[str, str] = {}
    for index in dict.fromkeys(used):
        shown = result.index_names.get(index, "")
        if len(shown) == 1 and shown in EINSUM_LETTERS and shown not in letters.values():
            letters[index] = shown
    spare = (letter for letter in EINSUM_LETTERS if letter not in letters.values())
    for index in dict.fromkeys(used):
        if index not in letters:
            letter = next(spare, None)
            if letter is None:
                raise UnsupportedError("this derivative has more indices than einsum takes (52)")
            letters[index] = letter
    return letters


def shared_subexpressions(trees: list[n.Node]) -> frozenset[n.Node]:
    """The subexpressions that the trees, computed one after another, would compute more than once: a
    module computes each once. This is not the text's naming (cse.name_repeated), which names only where
    the formula is too long to read and never a short part such as S⁻¹; code has no such width, and an
    inverse computed twice costs what the whole derivative does. Taken from the largest down, so that a
    part repeated only inside one shared parent (computed once, with it) is not named on its own."""
    counts: dict[n.Node, int] = {}
    for tree in trees:
        for sub in n.walk(tree):
            counts[sub] = counts.get(sub, 0) + 1
    candidates = [sub for sub, count in counts.items() if count > 1 and _worth_computing_once(sub)]
    candidates.sort(key=lambda sub: -sum(1 for _ in n.walk(sub)))
    chosen: set[n.Node] = set()
    for candidate in candidates:
        if _computed(trees, chosen, candidate) > 1:
            chosen.add(candidate)
    return frozenset(chosen)


def _worth_computing_once(node: n.Node) -> bool:
    """Whether a subexpression computes anything from the inputs: not a leaf, nor a transpose or negation
    of one (a view, or as quick as a name), nor a constant (a number the code writes)."""
    while isinstance(node, (n.Transpose, n.Neg)):
        node = node.operand
    return not isinstance(node, (n.Var, n.Number, n.Const, n.DimSize, n.Identity, n.Fill)) and bool(n.variables(node))


def _computed(trees: list[n.Node], chosen: set[n.Node], target: n.Node) -> int:
    """How many times the trees compute `target` when each chosen subexpression is computed once."""
    count = 0
    seen: set[n.Node] = set()
    stack = list(reversed(trees))
    while stack:
        current = stack.pop()
        if current == target:
            count += 1
        if current in chosen:
            if current in seen:
                continue
            seen.add(current)
        stack.extend(reversed(list(current.children())))
    return count


def shown_trees(result: Derivative, inline: bool = False, definitions: bool = True) -> list[n.Node]:
    """The trees of a derivative's shown form: its matrix, or its index form's scalars and pieces; inline:
    with its named subexpressions written out, else with them and (definitions) their definitions."""
    matrix = result.inline_matrix if inline else result.matrix
    trees = [matrix] if matrix is not None else []
    for term in (result.inline_index_form if inline else result.index_form) or []:
        trees += [*term.scalars, *(element for piece in term.pieces for element in piece.elements)]
    return trees if inline or not definitions else trees + [node for _, node in result.where]


def shown_value(printer: NumpyPrinter, result: Derivative, inline: bool = False) -> Code:
    """The derivative's shown form (matrix or index notation) as code; inline: with its named
    subexpressions written out."""
    matrix = result.inline_matrix if inline else result.matrix
    if matrix is not None:
        return printer.code(matrix)
    return printer.einsum_sum(result, (result.inline_index_form if inline else result.index_form) or [])


def numpy_expression(result: Derivative) -> str:
    """The derivative as one NumPy expression in the variables (SPEC §4's `numpy` field)."""
    names = code_names(result.expr, *shown_trees(result, inline=True))
    printer = NumpyPrinter(dimension_sources(result.expr, names=names), names=names)
    return printer.one_expression(printer._shallow(shown_value(printer, result, inline=True)))


def node_expression(node: n.Node, context: n.Node | None = None, without: str | None = None) -> str:
    """One typed tree as one NumPy expression, its sizes read off the variables of `context` (the node
    itself by default) but `without`, which the code does not receive."""
    context = context if context is not None else node
    names = code_names(context, node)
    printer = NumpyPrinter(dimension_sources(context, without, names), names=names)
    return printer.one_expression(printer.code(node))
