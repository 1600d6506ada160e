"""Syntax tree + declarations -> typed tree, inferring undeclared names (SPEC §1).

One rule per syntax construct. Products follow SPEC §2: a scalar scales; if
the inner dimensions conform it is the matrix product; else if both are
vectors of the same length it is elementwise; else it is an error that
suggests what would conform (`.*`, a transpose, `@`). Undeclared names get
their kind from their first letter and dimensions from unification; where the
letter's kind leaves the expression without a valid shape and another kind
gives it one, that kind is taken (`||y - X beta||^2` makes beta a vector).
How a name is written overrides its letter: transposed (`theta'x`) or bold in
LaTeX (`\\boldsymbol{\\mu}`), it is a vector, or a matrix for a capital.
What was assumed is returned so it can always be shown, with a note for each
inferred scalar that a sum expands to a vector or matrix (`W x + b`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import cache
from itertools import pairwise

from .. import nodes as n
from ..errors import InputError, ShapeError, Span, UnknownSymbolError, UnsupportedError
from ..layout import Layout, derivative_shape
from ..shapes import SCALAR, Dim, Dims, DimVar, Shape
from .decls import Decl, Env
from .syntax import (
    DIMENSION_FUNCTIONS,
    GREEK,
    Bars,
    BinOp,
    Call,
    Deriv,
    Literal,
    Name,
    Negate,
    PostfixInverse,
    PostfixTranspose,
    Syntax,
    walk,
)

_DIMENSION_POOL = ("n", "m", "k", "l", "p", "q", "r", "s")
# Kind inference from use: the other kinds to try for a name, by the kind its letter gives it.
_OTHER_KINDS = {"scalar": ("vector", "matrix"), "vector": ("scalar", "matrix"), "matrix": ("vector", "scalar")}
_KIND_RANK = {"scalar": 0, "vector": 1, "matrix": 2}
_MAX_KIND_TRIALS = 24  # whole re-checks while looking for kinds that give the expression a shape
_MAX_KIND_WORK = 20_000  # syntax nodes checked in those trials (about 0.5 s), so a huge input fails fast
_MAX_CONSTANT_EXPONENT = 1000
_LARGE_EXPONENT = re.compile(r"[eE][+-]?\d{3,}")
# LaTeX commands that write a vector (a matrix for a capital), as papers use them: \mathbf{b}, \boldsymbol{\mu}.
_BOLD = re.compile(r"\\(?:mathbf|boldsymbol|bm|pmb|mathbold|vec)(?![A-Za-z])")


@dataclass(frozen=True)
class Checked:
    expr: n.Node
    assumed: dict[str, Decl]  # inferred names, in order of first use
    notes: tuple[str, ...] = ()  # what the inference took that the user may not have meant


def check(tree: Syntax, env: Env, source: str = "", layout: Layout = Layout.NUMERATOR) -> Checked:
    """Give every node of the tree its meaning and shape."""
    return check_all([tree], env, source, layout)[0]


def check_all(
    trees: list[Syntax], env: Env, source: str = "", layout: Layout = Layout.NUMERATOR, same_shape: bool = False
) -> list[Checked]:
    """Check several trees over one set of names, so they share inferred shapes (the two sides
    of an identity). With same_shape, their shapes are unified where they can be, so that
    `d/dX tr(X) = I` gives I its size.

    Where the kinds the letters give leave no valid shape, other kinds are tried for the
    undeclared names (SPEC §1): those used where the error is first and scalars before vectors
    before matrices. A change that moves the error further right is kept and the search goes on
    from there (`y - X beta - Z gamma` makes beta, then gamma, a vector); the first combination
    that checks is taken. The search is bounded; when it finds nothing, the first error stands."""
    written = _written_kinds(trees, source)
    checker = Checker(env, source, layout, {}, written)
    try:
        return _check_all(checker, trees, same_shape)
    except ShapeError as error:
        first_error = error
    size = sum(1 for tree in trees for _ in walk(tree))
    search = _KindSearch(
        env, source, layout, trees, same_shape, written, budget=min(_MAX_KIND_TRIALS, _MAX_KIND_WORK // max(size, 1))
    )
    found = search.from_error(checker, first_error, depth=0)
    if found is None:
        raise first_error
    return found


class _KindSearch:
    """Depth-first search over other kinds for undeclared names, at most `budget` re-checks."""

    MAX_DEPTH = 4  # names whose kinds change together

    def __init__(
        self,
        env: Env,
        source: str,
        layout: Layout,
        trees: list[Syntax],
        same_shape: bool,
        written: dict[str, str],
        budget: int,
    ):
        self.env, self.source, self.layout = env, source, layout
        self.trees, self.same_shape, self.written, self.budget = trees, same_shape, written, budget
        self.tried: set[frozenset[tuple[str, str]]] = set()

    def from_error(self, checker: Checker, error: ShapeError, depth: int) -> list[Checked] | None:
        for name, kind in _kind_candidates(checker, error):
            trial = {**checker.kinds, name: kind}
            key = frozenset(trial.items())
            if key in self.tried:
                continue
            if self.budget <= 0:
                return None
            self.tried.add(key)
            self.budget -= 1
            attempt = Checker(self.env, self.source, self.layout, trial, self.written)
            try:
                return _check_all(attempt, self.trees, self.same_shape)
            except ShapeError as later:
                if depth + 1 < self.MAX_DEPTH and _later(later, error):
                    found = self.from_error(attempt, later, depth + 1)
                    if found is not None:
                        return found
        return None


def _kind_candidates(checker: Checker, error: ShapeError) -> list[tuple[str, str]]:
    """(name, kind) pairs to try: names used inside the failing part first, then by the rank
    of their letter's kind (scalars first), then in order of first use. A name written
    transposed or bold is never tried as a scalar."""
    span = error.span
    order = list(checker.inferred_kinds)

    def inside(name: str) -> bool:
        return span is not None and any(
            span.start <= use.start and use.end <= span.end for use in checker.uses.get(name, ())
        )

    names = sorted(
        (name for name in order if name not in checker.kinds),
        key=lambda name: (not inside(name), _KIND_RANK[checker.inferred_kinds[name]], order.index(name)),
    )
    return [
        (name, kind)
        for name in names
        for kind in _OTHER_KINDS[checker.inferred_kinds[name]]
        if not (kind == "scalar" and name in checker.written)
    ]


def _later(error: ShapeError, before: ShapeError) -> bool:
    """Whether a trial got further through the expression before failing."""
    if error.span is None or before.span is None:
        return False
    return (error.span.end, error.span.start) > (before.span.end, before.span.start)


def _check_all(checker: Checker, trees: list[Syntax], same_shape: bool) -> list[Checked]:
    typed = [checker.check_tree(tree) for tree in trees]
    if same_shape:
        for first, other in pairwise(typed):
            checker.dims.unify_shapes(first.shape, other.shape)
    nodes = [node for expr in typed for node in n.walk(expr)]
    checker.require_sizes(typed, nodes)
    names = checker.name_dimensions(typed, nodes)
    shapes: dict[Shape, Shape] = {}
    resolved = [checker.resolve(expr, names, shapes) for expr in typed]
    assumed = {
        name: Decl(checker.inferred_kinds[name], shapes.get(shape) or _resolved(checker.dims, shape, names))
        for name, shape in checker.inferred.items()
    }
    notes = tuple(
        _expansion_note(name, _resolved(checker.dims, shape, names)) for name, shape in checker.expanded.items()
    )
    return [Checked(expr, assumed, notes) for expr in resolved]


def _expansion_note(name: str, expanded_to: Shape) -> str:
    """SPEC §1: an inferred scalar that a sum expands is named, with the declaration that makes it
    what the sum is added to."""
    if expanded_to.is_column:
        declaration, kind = f"vector({expanded_to.rows})", "a vector"
    elif expanded_to.is_row:
        declaration, kind = f"matrix(1, {expanded_to.cols})", "a row vector"
    else:
        declaration, kind = f"matrix({expanded_to.rows}, {expanded_to.cols})", "a matrix"
    return (
        f"{name} is taken as a scalar added to every entry (scalar expansion); "
        f"declare {name}: {declaration} if it is {kind}"
    )


def _written_kinds(trees: list[Syntax], source: str) -> dict[str, str]:
    """SPEC §1: names whose writing says they are no scalars: transposed (no one transposes a
    scalar: `theta'x`, `b^T x`) or, in LaTeX, bold (`\\mathbf{b}`, `\\boldsymbol{\\mu}`). A capital is
    a matrix, any other name a vector. Bold is read from the LaTeX the name's span points into."""
    names: list[str] = []
    variables: set[int] = set()  # the `x` of d/dx: it names the variable, its writing says nothing more
    for tree in trees:
        for node in walk(tree):
            if isinstance(node, Deriv):
                variables.add(id(node.wrt))
            elif isinstance(node, PostfixTranspose):
                operand = node.operand
                while isinstance(operand, PostfixInverse):
                    operand = operand.operand
                if isinstance(operand, Name):
                    names.append(operand.id)
            elif (
                isinstance(node, Name)
                and id(node) not in variables
                and _BOLD.search(source[node.span.start : node.span.end])
            ):
                names.append(node.id)
    return {name: "matrix" if name[0].isupper() else "vector" for name in names}


def inferred_kind(name: str) -> str:
    """SPEC §1: a–g or Greek: scalar; other lowercase: vector; uppercase: matrix."""
    if name.rstrip("0123456789") in GREEK or name[0] in "abcdefg" or "α" <= name[0] <= "ω":
        return "scalar"
    if name[0].isupper():
        return "matrix"
    return "vector"


class Checker:
    def __init__(
        self,
        env: Env,
        source: str,
        layout: Layout,
        kinds: dict[str, str] | None = None,
        written: dict[str, str] | None = None,
    ):
        self.env = env
        self.source = source
        self.layout = layout
        self.kinds = kinds or {}  # kinds taken from use, over the letter's default
        self.written = written or {}  # kinds the writing gives (transposed, bold), over the letter's
        self.expanded: dict[str, Shape] = {}  # inferred scalars a sum expands -> the shape they are expanded to
        self.dims = Dims()
        self.inferred: dict[str, Shape] = {}
        self.inferred_kinds: dict[str, str] = {}
        self.uses: dict[str, list[Span]] = {}  # where each undeclared name is used
        self.size_names: set[str] = set()  # names given to eye(n) and ones(n): dimensions

    def check_tree(self, node: Syntax) -> n.Node:
        self.size_names |= _size_names(node)
        return self.check(node)

    def check(self, node: Syntax) -> n.Node:
        syntax_class: type = type(node)  # plain `type`: mypy reads type[Syntax] as unhashable
        return _check_rule(syntax_class)(self, node)

    # Leaves

    def _check_literal(self, node: Literal) -> n.Node:
        if _LARGE_EXPONENT.search(node.text) or len(node.text) > 40:
            raise ShapeError(f"the number {node.text} is out of range", span=node.span)
        return n.Number(Fraction(node.text), span=node.span)

    def _check_name(self, node: Name) -> n.Node:
        name = node.id
        if name in self.env.functions:
            raise ShapeError(f"{name} is declared a function: write {name}(...)", span=node.span)
        if name in self.env.decls:
            return n.Var(name, span=node.span, shape=self.env.decls[name].shape)
        if name in self.env.dimension_names or name in self.size_names:
            return n.DimSize(name, span=node.span)
        if name in ("pi", "e"):
            return n.Const(name, span=node.span)
        if name == "I":
            size = self.dims.fresh()
            return n.Identity(span=node.span, shape=Shape(size, size))
        self.uses.setdefault(name, []).append(node.span)
        return n.Var(name, span=node.span, shape=self._inferred_shape(name))

    def _inferred_shape(self, name: str) -> Shape:
        if name not in self.inferred:
            kind = self.kinds.get(name) or self.written.get(name) or inferred_kind(name)
            self.inferred_kinds[name] = kind
            if kind == "scalar":
                self.inferred[name] = SCALAR
            elif kind == "vector":
                self.inferred[name] = Shape(self.dims.fresh(), 1)
            else:
                self.inferred[name] = Shape(self.dims.fresh(), self.dims.fresh())
        return self.inferred[name]

    # Operators

    def _check_negate(self, node: Negate) -> n.Node:
        operand = self.check(node.operand)
        return n.Neg(operand, span=node.span, shape=operand.shape)

    def _check_postfixtranspose(self, node: PostfixTranspose) -> n.Node:
        operand = self.check(node.operand)
        return n.Transpose(operand, span=node.span, shape=operand.shape.transposed())

    def _check_postfixinverse(self, node: PostfixInverse) -> n.Node:
        operand = self.check(node.operand)
        self._require_square(operand, node, "an inverse")
        return n.Inverse(operand, span=node.span, shape=operand.shape)

    def _check_binop(self, node: BinOp) -> n.Node:
        left, right = self.check(node.left), self.check(node.right)
        rule = _BINARY_RULES[node.op]
        return rule(self, node, left, right)

    def _sum(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        shape = self._elementwise_shape(
            node, left, right, "a sum" if node.op == "+" else "a difference", suggest=node.op
        )
        if left.shape.is_scalar != right.shape.is_scalar:
            self._note_expansion(node.left if left.shape.is_scalar else node.right, shape)
        if node.op == "-":
            right = n.Neg(right, span=right.span, shape=right.shape)
        return n.Add(left, right, span=node.span, shape=shape)

    def _note_expansion(self, scalar: Syntax, expanded_to: Shape) -> None:
        """Remember an inferred scalar name that a sum expands (`b` in `W x + b`, `x - 2 mu`)."""
        name = _scalar_term_name(scalar)
        if name is not None and name in self.inferred and self.inferred_kinds[name] == "scalar":
            self.expanded.setdefault(name, expanded_to)

    def _product(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        """SPEC §2: a scalar scales; conforming inner dimensions multiply as matrices; two vectors
        of the same length (both columns or both rows) multiply elementwise; nothing else does."""
        a, b = left.shape, right.shape
        if a.is_scalar or b.is_scalar:
            return n.ScalarMul(left, right, span=node.span, shape=b if a.is_scalar else a)
        if self.dims.unify(a.cols, b.rows):
            return n.MatMul(left, right, span=node.span, shape=Shape(a.rows, b.cols))
        both_vectors = (a.is_column and b.is_column) or (a.is_row and b.is_row)
        if both_vectors and self.dims.unify_shapes(a, b):
            return n.Hadamard(left, right, span=node.span, shape=a)
        raise self._mismatch("shapes do not conform for a product", node, left, right, suggest="product")

    def _matrix_product(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        a, b = left.shape, right.shape
        if not self.dims.unify(a.cols, b.rows):
            raise self._mismatch("shapes do not conform for a matrix product", node, left, right, suggest="product")
        if a.is_scalar or b.is_scalar:
            return n.ScalarMul(left, right, span=node.span, shape=b if a.is_scalar else a)
        return n.MatMul(left, right, span=node.span, shape=Shape(a.rows, b.cols))

    def _hadamard(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        shape = self._elementwise_shape(node, left, right, "an elementwise product", suggest=".*")
        if left.shape.is_scalar or right.shape.is_scalar:
            return n.ScalarMul(left, right, span=node.span, shape=shape)
        return n.Hadamard(left, right, span=node.span, shape=shape)

    def _divide(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        _refuse_zero_divisor(node, right)
        if not right.shape.is_scalar:
            raise ShapeError(
                "'/' divides by a scalar only",
                span=node.span,
                hint=f"{self._text(node.right)} is {self._show(right.shape)}; use ./ to divide elementwise",
            )
        return n.Divide(left, right, span=node.span, shape=left.shape)

    def _elementwise_divide(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        _refuse_zero_divisor(node, right)
        shape = self._elementwise_shape(node, left, right, "an elementwise division", suggest="./")
        return n.Divide(left, right, span=node.span, shape=shape)

    def _power(self, node: BinOp, base: n.Node, exponent: n.Node) -> n.Node:
        if not exponent.shape.is_scalar:
            raise ShapeError(
                "the exponent of '^' must be a scalar",
                span=node.right.span,
                hint=f"{self._text(node.right)} is {self._show(exponent.shape)}; use .^ for an elementwise power",
            )
        self._check_constant_power(node, base, exponent)
        if not base.shape.is_matrix:
            return n.Power(base, exponent, span=node.span, shape=base.shape)
        self._require_square(base, node, "a matrix power", hint="use .^ for an elementwise power")
        value = _constant_value(exponent)
        if value is None or value != int(value):
            raise ShapeError(
                "a matrix power needs an integer exponent", span=node.right.span, hint="use .^ for an elementwise power"
            )
        if value == -1:
            return n.Inverse(base, span=node.span, shape=base.shape)
        return n.MatPower(base, int(value), span=node.span, shape=base.shape)

    def _elementwise_power(self, node: BinOp, base: n.Node, exponent: n.Node) -> n.Node:
        shape = self._elementwise_shape(node, base, exponent, "an elementwise power")
        self._check_constant_power(node, base, exponent)
        return n.Power(base, exponent, span=node.span, shape=shape)

    def _check_constant_power(self, node: BinOp, base: n.Node, exponent: n.Node) -> None:
        value = _constant_value(exponent)
        if value is not None and abs(value) > _MAX_CONSTANT_EXPONENT and _constant_value(base) is not None:
            raise ShapeError("this power of numbers is too large to work with", span=node.span)

    def _elementwise_shape(
        self, node: BinOp | Call, left: n.Node, right: n.Node, what: str, suggest: str | None = None
    ) -> Shape:
        """Same shapes, or one side a scalar that is expanded to the other's shape."""
        if left.shape.is_scalar:
            return right.shape
        if right.shape.is_scalar or self.dims.unify_shapes(left.shape, right.shape):
            return left.shape
        raise self._mismatch(f"shapes do not conform for {what}", node, left, right, suggest=suggest)

    # Bars and functions

    def _check_bars(self, node: Bars) -> n.Node:
        operand = self.check(node.operand)
        if not node.is_norm:
            return n.Apply("abs", operand, span=node.span, shape=operand.shape)
        return self._norm(operand, node.subscript, node.span)

    def _norm(self, operand: n.Node, subscript: str, span: Span) -> n.Node:
        is_matrix = operand.shape.is_matrix
        p = {
            "": "F" if is_matrix else "2",
            "1": "1",
            "F": "F" if is_matrix else "2",
            "2": "spectral" if is_matrix else "2",
        }[subscript]
        return n.Norm(operand, p, span=span)

    def _check_call(self, node: Call) -> n.Node:
        if node.function.rstrip("'") in self.env.functions:  # f(x), f'(x): elementwise, as declared
            if len(node.args) != 1:
                raise ShapeError(f"{node.function} takes one argument", span=node.span)
            operand = self.check(node.args[0])
            return n.Apply(node.function, operand, span=node.span, shape=operand.shape)
        if node.function in DIMENSION_FUNCTIONS:
            return self._sized(node)
        if node.function == "K" and "K" not in self.env.decls:
            return self._commutation(node)
        args = [self.check(arg) for arg in node.args]
        return _CALL_RULES[node.function](self, node, *args)

    def _sized(self, node: Call) -> n.Node:
        arg = node.args[0]
        if isinstance(arg, Literal) and arg.text.isdigit() and int(arg.text) > 0:
            size: Dim = int(arg.text)
        elif isinstance(arg, Name) and arg.id not in self.env.decls and arg.id not in self.inferred:
            size = arg.id
        else:
            raise ShapeError(
                f"{node.function} takes a dimension: a name such as n or a positive integer", span=arg.span
            )
        if node.function == "eye":
            return n.Identity(span=node.span, shape=Shape(size, size))
        return n.Fill(n.Number(Fraction(1)), span=node.span, shape=Shape(size, 1))

    def _sum_or_mean(self, node: Call, operand: n.Node) -> n.Node:
        cls = n.Sum if node.function == "sum" else n.Mean
        return cls(operand, span=node.span)

    def _square_function(self, node: Call, operand: n.Node) -> n.Node:
        self._require_square(operand, node, f"{node.function}")
        cls = {"tr": n.Trace, "trace": n.Trace, "det": n.Det, "logdet": n.LogDet, "inv": n.Inverse}[node.function]
        shape = operand.shape if cls is n.Inverse else SCALAR
        return cls(operand, span=node.span, shape=shape)

    def _diag(self, node: Call, operand: n.Node) -> n.Node:
        shape = operand.shape
        if shape.is_vector:
            size = shape.rows if shape.is_column else shape.cols
            return n.DiagMatrix(operand, span=node.span, shape=Shape(size, size))
        if shape.is_matrix and self.dims.unify(shape.rows, shape.cols):
            return n.DiagOf(operand, span=node.span, shape=Shape(shape.rows, 1))
        raise ShapeError(
            "diag takes a vector or a square matrix",
            span=node.span,
            hint=f"{self._text(node.args[0])} is {self._show(shape)}",
        )

    def _elementwise_function(self, node: Call, operand: n.Node) -> n.Node:
        return n.Apply(node.function, operand, span=node.span, shape=operand.shape)

    def _vector_function(self, node: Call, operand: n.Node) -> n.Node:
        if not operand.shape.is_vector:
            raise ShapeError(
                f"{node.function} takes a vector",
                span=node.span,
                hint=f"{self._text(node.args[0])} is {self._show(operand.shape)}",
            )
        if node.function == "softmax":
            return n.Softmax(operand, span=node.span, shape=operand.shape)
        return n.LogSumExp(operand, span=node.span)

    def _extremum(self, node: Call, left: n.Node, right: n.Node) -> n.Node:
        shape = self._elementwise_shape(node, left, right, f"{node.function}")
        cls = n.Maximum if node.function == "max" else n.Minimum
        return cls(left, right, span=node.span, shape=shape)

    def _dot(self, node: Call, left: n.Node, right: n.Node) -> n.Node:
        """dot(a, b) is the inner product a'b (for matrices tr(A'B))."""
        if not self.dims.unify_shapes(left.shape, right.shape):
            raise self._mismatch("dot takes two operands of the same shape", node, left, right)
        shape = left.shape
        if shape.is_scalar:
            return n.ScalarMul(left, right, span=node.span)
        if shape.is_row:
            return n.MatMul(left, n.Transpose(right, span=right.span, shape=shape.transposed()), span=node.span)
        product = n.MatMul(
            n.Transpose(left, span=left.span, shape=shape.transposed()),
            right,
            span=node.span,
            shape=Shape(shape.cols, shape.cols),
        )
        return product if shape.is_column else n.Trace(product, span=node.span)

    def _fill(self, node: Call, value: n.Node) -> n.Node:
        if not value.shape.is_scalar:
            raise ShapeError(f"{node.function}(c) takes a scalar c", span=node.args[0].span)
        cols: Dim = 1 if node.function == "vector" else self.dims.fresh()
        return n.Fill(value, span=node.span, shape=Shape(self.dims.fresh(), cols))

    # Kronecker products, vec and the commutation matrix: their sizes are products of dimensions (m·n),
    # so their operands' sizes must be known (declared, or fixed by what is declared) where they are used

    def _kron_operator(self, node: BinOp, left: n.Node, right: n.Node) -> n.Node:
        return self._kron(node, left, right)

    def _kron(self, node: Syntax, left: n.Node, right: n.Node) -> n.Node:
        a, b = self._known(left, node), self._known(right, node)
        shape = Shape(n.product_dim(a.rows, b.rows), n.product_dim(a.cols, b.cols))
        return n.Kron(left, right, span=node.span, shape=shape)

    def _vec(self, node: Call, operand: n.Node) -> n.Node:
        shape = self._known(operand, node)
        return n.Vec(operand, span=node.span, shape=Shape(n.product_dim(shape.rows, shape.cols), 1))

    def _commutation(self, node: Call) -> n.Node:
        m, k = (self._dimension(arg) for arg in node.args)
        size = n.product_dim(m, k)
        return n.Commutation(m, k, span=node.span, shape=Shape(size, size))

    def _dimension(self, arg: Syntax) -> Dim:
        if isinstance(arg, Literal) and arg.text.isdigit() and int(arg.text) > 0:
            return int(arg.text)
        if isinstance(arg, Name) and arg.id not in self.env.decls and arg.id not in self.inferred:
            return arg.id
        raise ShapeError("K(m, n) takes two dimensions: names such as m and n, or positive integers", span=arg.span)

    def _known(self, operand: n.Node, node: Syntax) -> Shape:
        """The operand's shape with its dimensions as far as they are fixed; refused where one is not."""
        dims = [self.dims.find(dim) for dim in (operand.shape.rows, operand.shape.cols)]
        if any(isinstance(dim, DimVar) for dim in dims):
            function = "⊗" if isinstance(node, BinOp) else node.function if isinstance(node, Call) else "kron"
            raise InputError(  # not a ShapeError: no other kind of the names (a scalar X) is the answer
                f"{function} needs the sizes of its operands, and nothing fixes them here",
                span=operand.span,
                hint='declare the matrices it takes, e.g. --let "A: matrix(m, n), B: matrix(p, q)"',
            )
        return Shape(*dims)

    def _norm_call(self, node: Call, operand: n.Node) -> n.Node:
        return self._norm(operand, {"norm": "", "norm1": "1", "norm2": "2"}[node.function], node.span)

    # Derivatives

    def _check_deriv(self, node: Deriv) -> n.Node:
        operand = self.check(node.operand)
        wrt = self._wrt(node, operand)
        shape = derivative_shape(operand.shape, wrt.shape, self.layout, node.order)
        if len(shape) > 2:
            raise UnsupportedError(
                f"a derivative of order {len(shape)} cannot be part of an expression",
                span=node.span,
                hint="use matcalc diff to see it in index notation",
            )
        rows, cols = (shape[0], 1) if len(shape) == 1 else shape
        return n.Derivative(operand, wrt, node.order, self.layout.value, span=node.span, shape=Shape(rows, cols))

    def _wrt(self, node: Deriv, operand: n.Node) -> n.Var:
        name = node.wrt.id
        if name in self.env.functions:
            raise ShapeError(
                f"{name} is a function: a derivative is taken with respect to a variable", span=node.wrt.span
            )
        used = n.variables(operand)
        if name not in used and name not in self.env.decls:
            raise UnknownSymbolError(
                f"the variable {name} does not appear in the expression",
                span=node.wrt.span,
                hint=_did_you_mean(name, list(used)),
            )
        shape = self.env.decls[name].shape if name in self.env.decls else used[name]
        return n.Var(name, span=node.wrt.span, shape=shape)

    # Helpers

    def _require_square(self, operand: n.Node, node: Syntax, what: str, hint: str = "") -> None:
        shape = operand.shape
        if shape.is_scalar or not self.dims.unify(shape.rows, shape.cols):
            part = _operand_syntax(node)
            raise ShapeError(
                f"{what} needs a square matrix",
                span=node.span,
                hint=f"{self._text(part)} is {self._show(shape)}" + (f"; {hint}" if hint else ""),
            )

    def _mismatch(
        self, message: str, node: BinOp | Call, left: n.Node, right: n.Node, suggest: str | None = None
    ) -> ShapeError:
        parts = node.args if isinstance(node, Call) else (node.left, node.right)
        left_text, right_text = self._text(parts[0]), self._text(parts[1])
        hint = f"{left_text} is {self._show(left.shape)}, {right_text} is {self._show(right.shape)}"
        same_kind = (left.shape.is_vector and right.shape.is_vector) or (left.shape.is_matrix and right.shape.is_matrix)
        options = self._alternatives(suggest, left_text, right_text, left.shape, right.shape) if same_kind else []
        if options and "the operand" not in (left_text, right_text):
            listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
            hint += f"\ndid you mean {listed}?"
        return ShapeError(message, span=node.span, hint=hint)

    def _alternatives(self, written: str | None, left: str, right: str, a: Shape, b: Shape) -> list[str]:
        """What the user may have meant with two vectors or two matrices, written out: only forms
        whose shapes conform. For a product: `.*` for two operands of the same shape, a transpose that makes the inner
        dimensions agree; for an elementwise operation: `@` where the matrix product conforms, a
        transpose of the right operand that makes the shapes equal."""
        fits = self.dims.could_unify
        same = fits(a.rows, b.rows) and fits(a.cols, b.cols)
        options = []
        if written == "product":
            if same:
                options.append(f"{left} .* {right} (elementwise)")
            if fits(a.rows, b.rows) and not (a.is_row and b.is_column):
                options.append(f"{_transposed(left)} {right} ({self._show(Shape(a.cols, b.cols))})")
            if fits(a.cols, b.cols) and not (a.is_row and b.is_column):
                options.append(f"{left} {_transposed(right)} ({self._show(Shape(a.rows, b.rows))})")
        elif written is not None:
            if written in (".*", "./") and fits(a.cols, b.rows):
                options.append(f"{left} @ {right} (the matrix product, {self._show(Shape(a.rows, b.cols))})")
            if fits(a.rows, b.cols) and fits(a.cols, b.rows):
                options.append(f"{left} {written} {_transposed(right)}")
        return options

    def _text(self, node: Syntax) -> str:
        text = self.source[node.span.start : node.span.end].strip()
        if text and len(text) <= 30:
            return text
        if isinstance(node, BinOp) and node.op in ("+", "-"):  # a long sum: its first and last terms
            terms = _sum_terms(node)
            first, last = (self.source[t.span.start : t.span.end].strip() for t in (terms[0], terms[-1]))
            before = self.source[: terms[-1].span.start].rstrip()[-1:]
            sign = "-" if before in ("-", "−") else "+"
            if first and last and len(first) + len(last) <= 24 and not last.startswith("-"):
                return f"{first} + ... {sign} {last}"
        return "the operand"

    def _show(self, shape: Shape) -> str:
        """The shape for an error message, naming unbound dimensions as the final result would."""
        names = self.name_dimensions([])
        return str(_resolved(self.dims, shape, names))

    def require_sizes(self, typed: list[n.Node], nodes: list[n.Node] | None = None) -> None:
        """I, vector(c) and matrix(c) take their size from the context; refuse one that has none."""
        sized = [
            node
            for node in (nodes if nodes is not None else [m for e in typed for m in n.walk(e)])
            if isinstance(node, (n.Identity, n.Fill))
        ]
        if not sized:
            return
        tied = {self.dims.find(dim) for shape in self.inferred.values() for dim in (shape.rows, shape.cols)}
        tied |= {self.dims.find(dim) for decl in self.env.decls.values() for dim in (decl.shape.rows, decl.shape.cols)}
        for node in sized:
            for dim in (node.shape.rows, node.shape.cols):
                root = self.dims.find(dim)
                if isinstance(root, DimVar) and root not in tied:
                    raise ShapeError(
                        "nothing in the expression gives this a size",
                        span=node.span,
                        hint="write eye(n), ones(n) or declare a variable of that size",
                    )

    # Naming the inferred dimensions

    def name_dimensions(self, typed: list[n.Node], nodes: list[n.Node] | None = None) -> dict[DimVar, str]:
        """Name each unbound dimension: those of inferred names in order of first use, then the rest."""
        if nodes is None:
            nodes = [node for expr in typed for node in n.walk(expr)]
        taken = set(self.env.dimension_names) | set(self.env.decls) | set(self.inferred)
        taken |= {node.name for node in nodes if isinstance(node, (n.Var, n.DimSize))}
        shapes = list(self.inferred.values()) + [node.shape for node in nodes]
        shapes += [Shape(var, var) for var in self.dims.variables()]  # unbound ones not yet in a tree
        # distinct objects first (in order): a Shape hashes through Python, and nodes share few of them
        distinct = dict.fromkeys({id(shape): shape for shape in shapes}.values())
        dims = dict.fromkeys(dim for shape in distinct for dim in (shape.rows, shape.cols))
        roots = [self.dims.find(dim) for dim in dims]
        taken |= {root for root in roots if isinstance(root, str)}  # eye(n) and ones(n) name dimensions too
        names: dict[DimVar, str] = {}
        fresh = _fresh_names(taken)
        for root in roots:
            if isinstance(root, DimVar) and root not in names:
                names[root] = next(fresh)
        return names

    def resolve(self, node: n.Node, names: dict[DimVar, str], shapes: dict[Shape, Shape] | None = None) -> n.Node:
        """The tree with every dimension resolved; nodes whose shapes do not change are kept.
        `shapes` caches resolved shapes, and is filled in for the caller."""
        shapes = {} if shapes is None else shapes
        # by the object's identity first: the tree's nodes share few shape objects, equal ones many more, and a
        # Shape hashes through Python (the tree keeps its shapes alive, so their ids are not reused meanwhile)
        by_id: dict[int, Shape] = {}

        def shape_of(shape: Shape) -> Shape:
            resolved = by_id.get(id(shape))
            if resolved is None:
                if shape not in shapes:
                    shapes[shape] = _resolved(self.dims, shape, names)
                resolved = by_id[id(shape)] = shapes[shape]
            return resolved

        def visit(current: n.Node) -> n.Node:
            changes: dict[str, object] = {}
            node_class: type = type(current)  # hashable, as every class is (mypy takes Node's __hash__ for it)
            for name in _child_fields(node_class):
                child = getattr(current, name)
                if isinstance(child, n.Node):
                    new = visit(child)
                    if new is not child:
                        changes[name] = new
            shape = shape_of(current.shape)
            if shape != current.shape:
                changes["shape"] = shape
            if not changes:
                return current
            copy = object.__new__(type(current))  # dataclasses.replace, without its cost per node
            copy.__dict__.update(current.__dict__)
            copy.__dict__.pop("_hash", None)  # nodes cache their hash
            copy.__dict__.update(changes)
            return copy

        return visit(node)


@cache
def _check_rule(syntax_class: type) -> Callable[[Checker, Syntax], n.Node]:
    """Checker's rule for a class of syntax node, looked up once (checking is per node)."""
    return getattr(Checker, f"_check_{syntax_class.__name__.lower()}")


def _resolved(dims: Dims, shape: Shape, names: dict[DimVar, str]) -> Shape:
    def name(dim: Dim) -> Dim:
        root = dims.find(dim)
        return names[root] if isinstance(root, DimVar) else root

    return Shape(name(shape.rows), name(shape.cols))


def _fresh_names(taken: set[str]):
    for name in _DIMENSION_POOL:
        if name not in taken:
            yield name
    index = 1
    while True:
        for base in _DIMENSION_POOL:
            if f"{base}{index}" not in taken:
                yield f"{base}{index}"
        index += 1


def _scalar_term_name(term: Syntax) -> str | None:
    """The name of a term that is a name, maybe negated or scaled by a number (`-b`, `2 mu`, `b/2`)."""
    while True:
        if isinstance(term, Name):
            return term.id
        if isinstance(term, Negate):
            term = term.operand
        elif isinstance(term, BinOp) and term.op in ("*", "/") and isinstance(term.right, Literal):
            term = term.left
        elif isinstance(term, BinOp) and term.op == "*" and isinstance(term.left, Literal):
            term = term.right
        else:
            return None


def _sum_terms(node: Syntax) -> list[Syntax]:
    """The terms of a sum as written, in order, however the parser grouped them."""
    terms, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, BinOp) and current.op in ("+", "-"):
            stack += [current.right, current.left]
        else:
            terms.append(current)
    return terms


@cache
def _child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that may hold child nodes."""
    return tuple(f.name for f in fields(cls) if f.name not in ("span", "shape"))


def _transposed(text: str) -> str:
    """x -> x', x' -> x, A B -> (A B)'."""
    if re.fullmatch(r"\w+'", text):
        return text[:-1]
    return f"{text}'" if re.fullmatch(r"\w+", text) else f"({text})'"


def _size_names(tree: Syntax) -> set[str]:
    """The names written as eye(n) or ones(n): dimensions, so n alone is that size, a scalar."""
    return {
        node.args[0].id
        for node in walk(tree)
        if isinstance(node, Call) and node.function in DIMENSION_FUNCTIONS and isinstance(node.args[0], Name)
    }


def _operand_syntax(node: Syntax) -> Syntax:
    if isinstance(node, Call):
        return node.args[0]
    if isinstance(node, BinOp):
        return node.left
    return node.operand  # type: ignore[attr-defined]


def _did_you_mean(name: str, known: list[str]) -> str | None:
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.0)
    return f"did you mean {matches[0]}?" if matches else None


def _constant_value(node: n.Node) -> float | None:
    """The value of an expression made of numbers only; None if it has variables."""
    try:
        if isinstance(node, n.Number):
            return float(node.value)
        if isinstance(node, n.Const):
            return math.pi if node.name == "pi" else math.e
        if isinstance(node, n.Neg):
            inner = _constant_value(node.operand)
            return None if inner is None else -inner
        if isinstance(node, (n.Add, n.ScalarMul, n.Divide, n.Power)):
            a, b = (_constant_value(child) for child in node.children())
            if a is None or b is None:
                return None
            if isinstance(node, n.Add):
                return a + b
            if isinstance(node, n.ScalarMul):
                return a * b
            if isinstance(node, n.Divide):
                return a / b if b else math.inf
            if a < 0 and b != int(b):
                return None
            return a**b if a or b >= 0 else math.inf
    except OverflowError:
        return math.inf
    return None


_BINARY_RULES = {
    "+": Checker._sum,
    "-": Checker._sum,
    "*": Checker._product,
    "@": Checker._matrix_product,
    ".*": Checker._hadamard,
    "⊗": Checker._kron_operator,
    "/": Checker._divide,
    "./": Checker._elementwise_divide,
    "^": Checker._power,
    ".^": Checker._elementwise_power,
}

_CALL_RULES: dict[str, Callable[..., n.Node]] = {
    "sum": Checker._sum_or_mean,
    "mean": Checker._sum_or_mean,
    "tr": Checker._square_function,
    "trace": Checker._square_function,
    "det": Checker._square_function,
    "logdet": Checker._square_function,
    "inv": Checker._square_function,
    "diag": Checker._diag,
    "norm": Checker._norm_call,
    "norm1": Checker._norm_call,
    "norm2": Checker._norm_call,
    "softmax": Checker._vector_function,
    "logsumexp": Checker._vector_function,
    "max": Checker._extremum,
    "min": Checker._extremum,
    "dot": Checker._dot,
    "kron": Checker._kron,
    "vec": Checker._vec,
    "vector": Checker._fill,
    "matrix": Checker._fill,
    **{name: Checker._elementwise_function for name in n.ELEMENTWISE_FUNCTIONS},
}


def _refuse_zero_divisor(node: BinOp, divisor: n.Node) -> None:
    if isinstance(divisor, n.Number) and divisor.value == 0:
        raise InputError("division by zero", span=node.right.span)
