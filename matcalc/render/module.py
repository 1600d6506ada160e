"""Derivatives -> Python modules (`--format numpy|torch|jax`) and one NumPy function (`numpy_function_code`).

A module needs only its framework, never matcalc: expression(...), derivative(...), f_and_grad(...) with
shape assertions, and check_gradient() against central finite differences. Its functions take keyword
arguments only (SPEC §4), convert them to arrays of one floating dtype (float32 stays float32) and make
every new array in it, compute each named subexpression once, and return arrays of SPEC's shapes. The
formulas are printed by render.numpy, the same printer for every backend and for the JSON `numpy` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeGuard

from .. import nodes as n
from ..calculus.differentiate import Derivative
from ..calculus.vec import transposed_layout
from ..errors import InputError
from ..shapes import Shape
from .numpy import (
    BACKENDS,
    TORCH,
    Backend,
    NumpyPrinter,
    code_names,
    dimension_sources,
    function_name,
    shared_subexpressions,
    shown_trees,
    shown_value,
    unread_sizes,
)
from .python import Code, docstring_text, in_docstring, python_names
from .vec_numpy import vec_module_code

# How each backend makes its inputs arrays of one dtype, and the arrays it makes itself
_DTYPE = {
    "numpy": "    _dtype = np.result_type({arrays}, 1.0)",
    "jax": "    _dtype = jnp.result_type({arrays}, 1.0)",
    "torch": "    _dtype, _device = _dtype_and_device({arrays})",
}
_AS_ARRAY = {
    "numpy": "np.asarray({}, dtype=_dtype)",
    "jax": "jnp.asarray({}, dtype=_dtype)",
    "torch": "torch.as_tensor({}, dtype=_dtype, device=_device)",
}
_NEW_ARRAYS = {"numpy": "dtype=_dtype", "jax": "dtype=_dtype", "torch": "dtype=_dtype, device=_device"}
# check_gradient's own conversions: a list to an array of float64, an array to NumPy
_FLOAT64 = {
    "numpy": "np.asarray({}, dtype=np.float64)",
    "jax": "jnp.asarray({}, dtype=jnp.float64)",
    "torch": "torch.tensor({}, dtype=torch.float64)",
}
_TO_NUMPY = {"numpy": "np.asarray({})", "jax": "np.asarray({})", "torch": "np.asarray({}.detach().cpu())"}

_TORCH_HELPER = [
    "def _dtype_and_device(*values):",
    '    """The floating dtype and device of the first floating tensor among the inputs (float64 if none)."""',
    "    for value in values:",
    "        if torch.is_tensor(value) and value.is_floating_point():",
    "            return value.dtype, value.device",
    "    return torch.float64, None",
    "",
    "",
]


@dataclass(frozen=True)
class ModuleSpec:
    """What a module computes: an expression and its derivatives by one or more variables."""

    title: str  # what it computes, in the user's words (escaped where it is printed)
    expr: n.Node
    variables: dict[str, Shape]
    derivatives: tuple[Derivative, ...]
    where: tuple[tuple[str, n.Node], ...]  # the named subexpressions of all the derivatives, in order
    point: dict[str, object] = field(default_factory=dict)  # example inputs of check_gradient, by variable
    sample_sizes: dict[str, int] = field(default_factory=dict)  # the sizes the point was drawn at
    # --notation vec: each derivative's vec form (a VecForm: .matrix, .shape), or None for one in its own notation
    vec_forms: tuple = ()

    def vec_form(self, k: int):
        """The k-th derivative's vec form, or None."""
        return self.vec_forms[k] if k < len(self.vec_forms) else None

    @property
    def names(self) -> dict[str, str]:
        """Python names of the variables, dimensions and functions; no variable hides a function the module
        calls (f_prime)."""
        trees = self.trees()
        bases = {sub.function.rstrip("'") for tree in trees for sub in n.walk(tree) if _unspecified_call(sub)}
        reserved = {f"{base}_prime{k if k > 1 else ''}" for base in bases for k in range(1, 10)}
        dims = [dim for d in self.derivatives for dim in (*d.shape, *d.dims.values()) if isinstance(dim, str)]
        return python_names([*code_names(*trees), *dims], reserved)

    def trees(self) -> list[n.Node]:
        """The expression and every tree of the derivatives' shown forms (named subexpressions included)."""
        return [self.expr] + [tree for d in self.derivatives for tree in shown_trees(d)]


def _unspecified_call(node: n.Node) -> TypeGuard[n.Apply]:
    return isinstance(node, n.Apply) and n.is_unspecified(node.function)


def array_module(backend_name: str, spec: ModuleSpec, notes: tuple[str, ...] = ()) -> str:
    """The module for a backend; `notes` are comment lines put after its docstring."""
    _refuse_division_by_zero(spec)
    backend = BACKENDS[backend_name]
    names = spec.names
    vec = any(spec.vec_forms)
    notes = (*notes, *_vec_notes(spec))
    prefix, title = docstring_text(spec.title)
    sources = dimension_sources(spec.expr, names=names)
    given = given_sizes(spec)
    arguments = [names[v] for v in spec.variables] + [names[dim] for dim in given]
    signature = "*, " + ", ".join(arguments) if arguments else ""
    several = len(spec.derivatives) > 1
    wrts = [d.wrt.name for d in spec.derivatives]
    derivative_doc = (
        f"the derivatives by {', '.join(wrts)}, in that order" if several else f"the derivative by {wrts[0]}"
    )
    order = spec.derivatives[0].order
    value_shape = _plain_shape(spec.expr.shape.rows, spec.expr.shape.cols, names=names)
    if any(isinstance(dim, str) and "·" in dim for dim in value_shape):  # vec(F), A ⊗ B: sizes multiplied
        value_shape = tuple(_product_size(dim, names) for dim in value_shape if dim != 1)
        vec = True
    keywords = ", ".join(f'"{name}": {name}' for name in (names[v] for v in spec.variables))
    given_keywords = ", ".join(f'"{names[dim]}": {names[dim]}' for dim in given)
    lines = [
        f'{prefix}"""{title}, written by matcalc.',
        "",
        "expression(...) is the function, derivative(...) " + derivative_doc + ", f_and_grad(...) both",
        "with their shapes asserted, check_gradient() compares them with central finite differences of the",
        "function. Vectors are 1-D arrays, matrices 2-D, scalars numbers or 0-d arrays.",
        '"""',
        *[f"# {note}" for note in notes],
        *backend.imports,
        "",
        *_unspecified(spec, names),
        "SHAPES = {" + ", ".join(f"{names[v]!r}: {_dims(shape, names)!r}" for v, shape in spec.variables.items()) + "}",
        "DERIVATIVE_SHAPES = {"
        + ", ".join(
            f"{names[d.wrt.name]!r}: {_derivative_shape(spec, k, names)!r}" for k, d in enumerate(spec.derivatives)
        )
        + "}",
        f"VALUE_SHAPE = {value_shape!r}",
        f"ORDER = {order}",
        "",
        "",
        *(_TORCH_HELPER if backend is TORCH else []),
        f"def expression({signature}):",
        *_function_body(
            backend, spec, names, sources, [("value", lambda p: p.code(spec.expr))], [spec.expr], with_where=False
        ),
        "",
        "",
        f"def derivative({signature}):",
        f'    """{derivative_doc[0].upper() + derivative_doc[1:]}."""',
        *_function_body(
            backend,
            spec,
            names,
            sources,
            [
                (d.wrt.name, lambda p, k=k, d=d: _derivative_value(p, spec, k, d))
                for k, d in enumerate(spec.derivatives)
            ],
            [node for _, node in spec.where] + _derivative_trees(spec),
            with_where=True,
        ),
        "",
        "",
        "def sizes(**arrays):",
        '    """Each dimension\'s size, read off the arrays; an array of the wrong shape is an AssertionError."""',
        "    found = {}",
        "    for name, dims in SHAPES.items():",
        "        shape = tuple(np.shape(arrays[name]))",
        '        assert len(shape) == len(dims), f"{name} has shape {shape}, not {dims}"',
        "        for dim, size in zip(dims, shape):",
        "            expected = dim if isinstance(dim, int) else found.setdefault(dim, size)",
        '            assert size == expected, f"{name} has shape {shape}: its {dim} is {size}, elsewhere {expected}"',
        "    return found",
        "",
        "",
        f"def f_and_grad({signature}):",
        f'    """The value of the function and {derivative_doc}, their shapes checked."""',
        f"    return _f_and_grad({{{keywords}}}, {{{given_keywords}}})",
        "",
        "",
        "def _f_and_grad(arrays, given):",
        "    found = {**sizes(**arrays), **given}",
        "    value = expression(**arrays, **given)",
        "    grads = derivative(**arrays, **given)",
        "    expected = tuple(" + ("_size(d, found)" if vec else "found.get(d, d)") + " for d in VALUE_SHAPE)",
        '    assert tuple(np.shape(value)) == expected, f"the value has shape {tuple(np.shape(value))}, not {expected}"',
        f"    for name, grad in zip(DERIVATIVE_SHAPES, {'grads' if several else '(grads,)'}):",
        "        expected = tuple("
        + ("_size(d, found)" if vec else "found.get(d, d)")
        + " for d in DERIVATIVE_SHAPES[name])",
        '        assert tuple(grad.shape) == expected, f"d/d{name} has shape {tuple(grad.shape)}, not {expected}"',
        "    return value, grads",
        "",
        "",
        *(_VEC_SIZE if vec else []),
        *_check_gradient(backend, spec, names, given, several),
    ]
    return "\n".join(lines)


def _vec_notes(spec: ModuleSpec) -> tuple[str, ...]:
    """Comments saying what each derivative in vec notation returns (vec stacking columns)."""
    notes = []
    for k, d in enumerate(spec.derivatives):
        if spec.vec_form(k) is None:
            continue
        if d.order == 2:
            what = "∂²f/∂vec(X)∂vec(X)ᵀ, (rows·cols of X) × (rows·cols of X)"
        elif transposed_layout(d):
            what = "∂vec(F)ᵀ/∂vec(X), (rows·cols of X) × (rows·cols of F)"
        else:
            what = "∂vec(F)/∂vec(X)ᵀ, (rows·cols of F) × (rows·cols of X)"
        notes.append(f"derivative(...) by {d.wrt.name} is in vec notation (vec stacks columns): {what}")
    return tuple(notes)


def _derivative_shape(spec: ModuleSpec, k: int, names: dict[str, str]) -> tuple:
    """A derivative's shape as the module asserts it: a vec form's sizes a tuple of the sizes they multiply."""
    form = spec.vec_form(k)
    if form is None:
        return _plain_shape(*spec.derivatives[k].shape, names=names)
    return tuple(_product_size(dim, names) for dim in form.shape)


def _product_size(dim, names: dict[str, str]):
    if isinstance(dim, str) and "·" in dim:
        return tuple(int(part) if part.isdigit() else names.get(part, part) for part in dim.split("·"))
    return names.get(dim, dim) if isinstance(dim, str) else dim


def _derivative_trees(spec: ModuleSpec) -> list[n.Node]:
    """The trees the derivative's code computes: each shown form, or a vec form's Kronecker matrix."""
    trees: list[n.Node] = []
    for k, d in enumerate(spec.derivatives):
        form = spec.vec_form(k)
        trees += shown_trees(d, definitions=False) if form is None else [form.matrix]
    return trees


def _derivative_value(printer: NumpyPrinter, spec: ModuleSpec, k: int, d: Derivative) -> Code:
    form = spec.vec_form(k)
    return shown_value(printer, d) if form is None else vec_module_code(printer, form.matrix)


_VEC_SIZE = [
    "def _size(dim, found):",
    '    """A size of the derivative: a number, a dimension\'s, or (a vec Jacobian\'s) a tuple of those multiplied."""',
    "    if isinstance(dim, tuple):",
    "        return int(np.prod([_size(part, found) for part in dim]))",
    "    return found.get(dim, dim)",
    "",
    "",
]

_VEC_DIRECTIONAL = [
    "def _vec_directional(grad, direction, transposed, shape):",
    '    """A vec Jacobian J along a direction D, as the function\'s shape: J vec(D) (columns stacked), Jᵀ vec(D)',
    '    where transposed (denominator layout); a Hessian by vec(X): vec(D)ᵀ H vec(D)."""',
    '    along = np.ravel(direction, order="F")',
    "    if ORDER == 2:",
    "        return along @ grad @ along",
    '    return np.reshape((grad.T if transposed else grad) @ along, shape, order="F")',
    "",
    "",
]


def _refuse_division_by_zero(spec: ModuleSpec) -> None:
    """A module computes nothing where its expression divides by a number that is zero, a / (1 - 1): it is
    infinite wherever it is evaluated (a division by the number 0 itself the checker refuses)."""
    for tree in spec.trees():
        for sub in n.walk(tree):
            if isinstance(sub, n.Divide) and n.constant_value(sub.right) == 0:
                raise InputError(
                    "the expression divides by zero wherever it is evaluated, so there is no code to compute it"
                )


def _function_body(
    backend: Backend, spec: ModuleSpec, names, sources, values, trees: list[n.Node], with_where: bool
) -> list[str]:
    """A module function's body: its inputs as arrays of one dtype, its sizes, the named subexpressions
    (with_where), then the values returned, each named part before the line that uses it. `trees` are
    what the body computes: a part they repeat is computed once, in a statement of its own."""
    variables = [names[v] for v in spec.variables]
    lines = []
    if variables:
        lines.append(_DTYPE[backend.name].format(arrays=", ".join(variables)))
        lines += [f"    {v} = {_AS_ARRAY[backend.name].format(v)}" for v in variables]
    else:
        lines.append(
            "    _dtype, _device = torch.float64, None" if backend is TORCH else f"    _dtype = {backend.xp}.float64"
        )
    named_sizes = {dim: source for dim, source in sources.items() if isinstance(dim, str)}
    lines += [f"    {names[dim]} = {source}" for dim, source in named_sizes.items()]
    sizes = {dim: (names[dim] if isinstance(dim, str) else source) for dim, source in sources.items()}
    printer = NumpyPrinter(sizes, backend, names, _NEW_ARRAYS[backend.name], shared_subexpressions(trees))
    if with_where:
        constant: set[str] = set()  # named subexpressions of no variable (n / 5): numbers, not arrays
        for name, node in spec.where:
            code = printer.definition(names.get(name, name), node)
            lines += _drain(printer)
            if set(n.variables(node)) <= constant:
                constant.add(name)
                if backend is TORCH and node.shape.is_scalar:  # torch's functions take no number
                    code = Code(_AS_ARRAY["torch"].format(code.text))
            lines.append(f"    {names.get(name, name)} = {code.text}")
    returned = []
    for _, value in values:
        code = value(printer)
        lines += _drain(printer)
        returned.append(_AS_ARRAY[backend.name].format(code.text))
    lines.append(f"    return {returned[0] if len(returned) == 1 else '(' + ', '.join(returned) + ',)'}")
    return lines


def _drain(printer: NumpyPrinter) -> list[str]:
    lines = [f"    {name} = {text}" for name, text in printer.statements]
    printer.statements.clear()
    return lines


def given_sizes(spec: ModuleSpec) -> list[str]:
    """Dimension names that no array has (ones(m) alone, n written in the expression): keyword arguments."""
    sources = dimension_sources(spec.expr, names=spec.names)
    return _atomic(unread_sizes(spec.trees(), sources, spec.derivatives), sources)


def _atomic(unread: list[str], sources: dict) -> list[str]:
    """The sizes no array has, a product of sizes (m·n, of vec(F) or A ⊗ B) as those of its parts."""
    parts = [part for dim in unread for part in dim.split("·") if not part.isdigit()]
    return sorted(dict.fromkeys(part for part in parts if part not in sources))


def _plain_shape(*dims, names: dict[str, str]) -> tuple:
    """A shape with its size-1 axes left out, dimension names as the module's Python names."""
    return tuple(names.get(d, d) if isinstance(d, str) else d for d in dims if d != 1)


def _dims(shape: Shape, names: dict[str, str]) -> tuple:
    return tuple(names.get(d, d) if isinstance(d, str) else d for d in shape.dims())


def _unspecified(spec: ModuleSpec, names: dict[str, str]) -> list[str]:
    calls = sorted(
        {function_name(sub.function, names) for tree in spec.trees() for sub in n.walk(tree) if _unspecified_call(sub)}
    )
    if not calls:
        return []
    return [
        f"# {', '.join(calls)}: an unspecified function (a `function` declaration) and its derivatives,",
        "# elementwise: bind them before calling, e.g. module.f = np.tanh",
        f"{' = '.join(calls)} = None",
        "",
    ]


def _check_gradient(backend: Backend, spec: ModuleSpec, names, given: list[str], several: bool) -> list[str]:
    to_numpy, as_float64 = _TO_NUMPY[backend.name], _FLOAT64[backend.name]
    contractions = {names[d.wrt.name]: _contraction(d) for k, d in enumerate(spec.derivatives) if not spec.vec_form(k)}
    given_sizes = {names[dim]: spec.sample_sizes.get(dim, 3) for dim in given}
    analytic = [
        "        analytic = np.einsum(CONTRACTIONS[name], " + to_numpy.format("grad") + ", *[direction] * ORDER)"
    ]
    vec_layouts = {names[d.wrt.name]: transposed_layout(d) for k, d in enumerate(spec.derivatives) if spec.vec_form(k)}
    if vec_layouts:  # a vec Jacobian along the direction, the others contracted with it
        analytic = [
            "        if name in TRANSPOSED:  # a Jacobian of vec(F) by vec(X)",
            "            analytic = _vec_directional("
            + to_numpy.format("grad")
            + ", direction, TRANSPOSED[name], np.shape(difference))",
            "        else:",
            "    " + analytic[0],
        ]
    return [
        *(_VEC_DIRECTIONAL if vec_layouts else []),
        "# a point in the functions' domains (away from kinks, inverted matrices well conditioned), drawn by matcalc",
        "POINT = {" + ", ".join(f"{names[v]!r}: {value!r}" for v, value in spec.point.items()) + "}",
        f"GIVEN = {given_sizes!r}  # sizes that no array has",
        f"CONTRACTIONS = {contractions!r}",
        *(
            [f"TRANSPOSED = {vec_layouts!r}  # the vec Jacobians, True where in denominator layout"]
            if vec_layouts
            else []
        ),
        "STEPS = {1: 1e-6, 2: 1e-4, 3: 1e-3}",
        "",
        "",
        "def check_gradient(point=None, seed=0, tolerance=None):",
        '    """The largest relative error of each derivative against central finite differences of the',
        "    function along a random direction, at `point` (a dict of numbers and lists; POINT by default).",
        '    An error above the tolerance (1e-5 for first derivatives, 1e-3 for higher) is an AssertionError."""',
        "    from math import comb",
        "",
        "    rng = np.random.default_rng(seed)",
        "    point = dict(POINT if point is None else point)",
        "    arrays = {name: " + as_float64.format("value") + " for name, value in point.items()}",
        "    step = STEPS.get(ORDER, 1e-2)",
        "    tolerance = tolerance or (1e-5 if ORDER == 1 else 1e-3)",
        "    grads = derivative(**arrays, **GIVEN)",
        "    size = max(float(np.max(np.abs("
        + to_numpy.format("expression(**arrays, **GIVEN)")
        + "), initial=0)), 1e-300)",
        "    errors = {}",
        f"    for name, grad in zip(DERIVATIVE_SHAPES, {'grads' if several else '(grads,)'}):",
        "        direction = rng.normal(size=np.shape(point[name]))",
        "        difference = 0",
        "        for j in range(ORDER + 1):  # the ORDER-th central difference along the direction",
        "            moved = dict(arrays)",
        "            moved[name] = "
        + as_float64.format("np.asarray(point[name], dtype=float) + (ORDER / 2 - j) * step * direction"),
        "            difference = difference + (-1) ** j * comb(ORDER, j) * "
        + to_numpy.format("expression(**moved, **GIVEN)"),
        "        difference = difference / step ** ORDER",
        *analytic,
        "        # rounding in the difference is about 2^ORDER eps |f| / step^ORDER: a derivative that is 0 (a",
        "        # linear function's second) is compared with that noise, not divided by 0",
        "        noise = 2 ** ORDER * 1e-15 * size / step ** ORDER",
        "        scale = max(np.max(np.abs(difference)), np.max(np.abs(analytic)), 10 * noise / tolerance)",
        "        errors[name] = float(np.max(np.abs(analytic - difference)) / scale)",
        '        assert errors[name] <= tolerance, f"d/d{name} is off by {errors[name]:.2g} relative"',
        "    return errors",
        "",
        "",
        'if __name__ == "__main__":',
        "    print(check_gradient())",
        "",
    ]


def _contraction(d: Derivative) -> str:
    """einsum subscripts: the derivative's axes and one direction per differentiation -> the function's."""
    letters = dict(zip(d.free, "abcdefghijklmnopqrstuvwxyz"))
    groups = ",".join("".join(letters[i] for i in group) for group in d.wrt_groups)
    return f"{''.join(letters[i] for i in d.free)},{groups}->{''.join(letters[i] for i in d.out_axes)}"


def function_parameters(result: Derivative) -> tuple[list[str], list[str]]:
    """The Python names of `function_code`'s parameters: the variables, then the sizes no array has."""
    names = code_names(result.expr, *shown_trees(result))
    sources = dimension_sources(result.expr, names=names)
    unread = _atomic(unread_sizes([result.expr, *shown_trees(result)], sources, (result,)), sources)
    return [names[v] for v in n.variables(result.expr)], [names.get(dim, dim) for dim in unread]


def function_code(result: Derivative, name: str = "derivative") -> str:
    """One NumPy function computing the derivative, its named subexpressions as assignments
    (`numpy_function_code()`): sizes read off the arrays inline, a size no array has a keyword argument."""
    names = code_names(result.expr, *shown_trees(result))
    shared = shared_subexpressions(shown_trees(result))
    printer = NumpyPrinter(dimension_sources(result.expr, names=names), names=names, shared=shared)
    variables, sizes = function_parameters(result)
    arguments = ", ".join(variables + (["*", *sizes] if sizes else []))
    body = []
    for var, value in result.where:
        code = printer.definition(names.get(var, var), value)
        body += _drain(printer)
        body.append(f"    {names.get(var, var)} = {code.text}")
    value_code: Code = shown_value(printer, result)
    body += _drain(printer)
    shape = ", ".join(str(d) for d in result.shape if d != 1)
    comma = "," if len(result.free) == 1 else ""
    doc = f'    """d/d{in_docstring(result.wrt.name)} in {result.layout.value} layout; an array of shape ({shape}{comma})."""'
    lines = ["import numpy as np", "", "", f"def {name}({arguments}):", doc, *body, f"    return {value_code.text}", ""]
    return "\n".join(lines)
