"""Printed code is held to the self-check's standard (SPEC §3): before matcalc shows code it wrote (a
NumPy, PyTorch or JAX module, SymPy code, the JSON `numpy` field), it runs it at the self-check's points
and compares what it computes with the checked result there: the shown form evaluated by numeric/evaluate.py
(numeric.evaluate_shown), and the function itself (numeric.evaluate_numeric). Code that does not compile,
raises, or disagrees is matcalc's own fault: an internal error (exit 4), never output.

Where a module's framework is not installed (torch, jax), what can be checked is: the module is compiled,
and its NumPy twin, the same formulas printed by the same printer, is run in its place. The module says
so in a comment (`unavailable`).

The code runs in this process. What the user wrote reaches it only as the names and numbers of the typed
tree: the copy of the expression that printed code carries for its reader (a docstring, a comment) is a
placeholder in the code that runs, and the two texts must parse to the same program (`run`).
"""

from __future__ import annotations

import ast
import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import nodes as n
from ..calculus.differentiate import Derivative
from ..errors import MatcalcError, OutOfTime, UnsupportedError, time_limit
from ..language.decls import Env
from ..render.module import ModuleSpec, array_module, function_code, function_parameters, given_sizes
from ..render.numpy import code_names, function_name, numpy_expression, shown_trees
from ..shapes import Shape
from .differences import Point, evaluate_numeric, evaluate_shown, sample_point, size_of
from .evaluate import Evaluator, stand_in
from .selfcheck import MAX_CONDITION, ROUNDINGS, TRIES_PER_POINT, SelfCheckError
from .selfcheck import _Rounding as Rounding

POINTS = 3  # as many as the self-check uses
TOLERANCE = 1e-7  # relative to the largest entry: code and checked result compute the same formulas
JITTER = 1e-9  # a point moved this much tells rounding noise from a wrong formula (as the self-check does)
PLACEHOLDER = "the user's expression"  # stands in the code that runs for the user's text in the code shown


class CodeCheckError(SelfCheckError):
    """Printed code that does not compute the result it was printed for: matcalc's own fault (exit 4)."""


@dataclass(frozen=True)
class Printed:
    """Code as shown, and the same code with the user's own text replaced by PLACEHOLDER."""

    shown: str
    runnable: str
    what: str  # what it is, for messages: "the NumPy module"


@dataclass(frozen=True)
class Subject:
    """What printed code computes: an expression's derivatives, and where to check them."""

    source: str  # the user's expression, for messages
    expr: n.Node
    env: Env
    derivatives: tuple[Derivative, ...]
    seed: int = 0
    shown: dict = field(default_factory=dict, compare=False, repr=False)  # id(point) -> (point, shown values)

    def shown_at(self, point: Point) -> list[np.ndarray]:
        """The derivatives' shown forms evaluated at the point (once: an order-5 form takes seconds)."""
        cached = self.shown.get(id(point))
        if cached is None or cached[0] is not point:
            cached = self.shown[id(point)] = (
                point,
                [np.asarray(evaluate_shown(d, point), dtype=float) for d in self.derivatives],
            )
        return cached[1]


def unavailable(framework: str) -> tuple[str, ...]:
    """Why a framework's module cannot be run here (none if it can): comment lines for the module."""
    if framework not in ("torch", "jax"):
        return ()
    try:
        importlib.import_module(framework)
    except Exception:  # not installed, or installed and broken: either way it cannot run here
        return (
            f"matcalc could not run this module when it wrote it: {framework} is not installed there. It compiled",
            "it, and ran its NumPy twin (--format numpy, the same formulas) at the self-check's points.",
        )
    return ()


def run(printed: Printed) -> dict:
    """The namespace of the printed code after it ran; refused (CodeCheckError) if it does not compile or
    its runnable text is not the shown text's program."""
    try:
        shown, runnable = _program(printed.shown), _program(printed.runnable)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise _fault(printed, f"it does not compile ({type(error).__name__}: {error})") from None
    if shown != runnable:
        raise _fault(printed, "the code shown differs from the code checked beyond its comments and docstring")
    namespace: dict = {"__name__": "matcalc_printed_code"}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            exec(compile(printed.runnable, "<printed by matcalc>", "exec"), namespace)  # matcalc's code, checked above
    except Exception as error:  # whatever the printed code raises is matcalc's fault
        raise _fault(printed, f"it raises {type(error).__name__}: {error}") from None
    return namespace


def compiles(printed: Printed) -> None:
    """Refused (CodeCheckError) unless the printed code compiles, and is the runnable text's program."""
    try:
        shown, runnable = _program(printed.shown), _program(printed.runnable)
        compile(printed.runnable, "<printed by matcalc>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise _fault(printed, f"it does not compile ({type(error).__name__}: {error})") from None
    if shown != runnable:
        raise _fault(printed, "the code shown differs from the code checked beyond its comments and docstring")


def _program(text: str) -> str:
    """The program a text parses to, without its docstrings (comments are not in it)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:]
    return ast.dump(tree)


def _fault(printed: Printed, problem: str) -> CodeCheckError:
    return CodeCheckError(
        f"internal error: {printed.what}, as matcalc wrote it, is wrong: {problem}; so it is not shown",
        hint="this is a bug in matcalc, not in your input; please report it with the command you ran",
    )


# ---------------------------------------------------------------------------------------------------------
# Points and what the code must compute there


def check_points(subject: Subject) -> list[Point]:
    """The self-check's points (the same draws from the same seed) where the checked results can be
    evaluated: finite, and every matrix they invert well conditioned."""
    rng = np.random.default_rng(subject.seed)
    found: list[Point] = []
    for _ in range(POINTS * TRIES_PER_POINT):
        if len(found) == POINTS:
            break
        try:
            point = sample_point(subject.expr, subject.env, rng, symbolic_derivatives=False)
        except UnsupportedError:
            break
        if _usable(subject, point):
            found.append(point)
    return found


def _usable(subject: Subject, point: Point) -> bool:
    with np.errstate(all="ignore"):
        try:
            for d in subject.derivatives:
                for matrix in d.invertible:
                    value = evaluate_numeric(matrix, point.values, point.sizes)
                    if not np.all(np.isfinite(value)) or np.linalg.cond(value) > MAX_CONDITION:
                        return False
            shown = subject.shown_at(point)
            return all(np.all(np.isfinite(value)) for value in shown) and bool(
                np.all(np.isfinite(_value(subject.expr, point)))
            )
        except (ArithmeticError, ValueError, np.linalg.LinAlgError, MatcalcError):  # a singular matrix, ...
            return False


def _value(expr: n.Node, point: Point, evaluator: Evaluator | None = None) -> np.ndarray:
    """The function's value, size-1 axes left out (SPEC §4)."""
    value = evaluate_numeric(expr, point.values, point.sizes) if evaluator is None else evaluator(expr)
    dims = [size_of(d, _sizes(point)) for d in (expr.shape.rows, expr.shape.cols) if d != 1]
    return value.reshape(dims)


def stand_ins(trees: list[n.Node], names: dict[str, str]) -> dict[str, Callable]:
    """The unspecified functions the code calls (f, f_prime, ...), bound as matcalc's evaluator evaluates
    them (evaluate.stand_in), so that the code computes what the checked result does."""
    functions = {sub.function for tree in trees for sub in n.walk(tree) if isinstance(sub, n.Apply)}
    return {
        function_name(f, names): (lambda u, f=f: stand_in(f, np.asarray(u))) for f in functions if n.is_unspecified(f)
    }


def _sizes(point: Point) -> dict[str | int, int]:
    """A point's sizes, integer keys included: a large declared size is sampled small (differences.dimension_sizes)."""
    return point.sizes


def spec_arrays(shapes: dict[str, Shape], point: Point, names: dict[str, str]) -> dict[str, object]:
    """The point as SPEC §4 passes it, by Python name: scalars numbers, vectors 1-D, matrices 2-D."""
    arrays: dict[str, object] = {}
    for name, shape in shapes.items():
        value = np.asarray(point.values[name], dtype=float)
        arrays[names.get(name, name)] = (
            np.float64(value.item()) if shape.is_scalar else value.ravel() if shape.is_column else value
        )
    return arrays


# ---------------------------------------------------------------------------------------------------------
# Comparing


def _as_array(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def _difference(got, want: np.ndarray) -> tuple[float, float, str]:
    """How far the code's value is from the checked one (relative to the larger, and absolutely), and
    what is wrong."""
    try:
        got = _as_array(got)
    except (TypeError, ValueError) as error:
        return np.inf, np.inf, f"returns {type(got).__name__}, not an array ({error})"
    if got.shape != want.shape:
        return np.inf, np.inf, f"returns an array of shape {got.shape} where the result has shape {want.shape}"
    if not np.all(np.isfinite(got)):
        return np.inf, np.inf, "returns values that are not finite where the result is finite"
    scale = max(float(np.max(np.abs(want), initial=0)), float(np.max(np.abs(got), initial=0)))
    gap = float(np.max(np.abs(got - want), initial=0))
    relative = gap / scale if scale > 0 else 0.0
    return relative, gap, f"computes values that differ from the result's by {relative:.1e} (relative)"


Checked = Callable[..., list[np.ndarray]]  # (point, make_evaluator=None) -> the checked values there


def compare(
    printed: Printed, compute: Callable[[Point], list], checked: Checked, points: list[Point], labels: list[str]
):
    """The printed code's values (`compute`, what `labels` name) against the checked ones at each point. A
    difference above TOLERANCE is a fault unless rounding can make it: where the checked values move by a
    hundredth of it when the point moves by a relative 1e-9, or when every value in their evaluation is
    moved by a few units of rounding at random (Monte Carlo arithmetic, as the self-check judges), the
    point cannot judge the code (a determinant of a nearly singular matrix is rounding in any arithmetic)."""
    rng = np.random.default_rng(0)
    for point in points:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                got = compute(point)
            except Exception as error:  # whatever the printed code raises is matcalc's fault
                raise _fault(printed, f"it raises {type(error).__name__}: {error}") from None
            wanted = checked(point)
            for k, (label, value, want) in enumerate(zip(labels, got, wanted)):
                gap, absolute, problem = _difference(value, want)
                if gap > TOLERANCE and not _noisy(checked, point, k, want, (gap, absolute), rng):
                    raise _fault(printed, f"{label} {problem}")


def _noisy(checked: Checked, point: Point, k: int, want: np.ndarray, gaps, rng: np.random.Generator) -> bool:
    """Whether the gap (relative, absolute) is rounding: within a few units of rounding of the largest value
    the checked one is computed from (min(u, 0) as (u - |u|)/2 is 1e-33 where it is 0), or as large as the
    checked value moves when the point moves by JITTER or its evaluation rounds differently."""
    gap, absolute = gaps
    if not np.isfinite(gap):
        return False
    largest = _Largest(point)
    checked(point, lambda: largest)
    if absolute <= ROUNDED * largest.value:
        return True
    moved = Point(
        {name: value * (1 + JITTER * rng.standard_normal(value.shape)) for name, value in point.values.items()},
        point.sizes,
    )
    scale = max(float(np.max(np.abs(want), initial=0)), 1e-300)
    tries = [lambda: checked(moved)] + [lambda: checked(point, lambda: Rounding(point, rng))] * ROUNDINGS
    for again in tries:
        try:
            value = again()[k]
        except Exception:  # a point too close to the edge of the domain to judge anything
            return True
        if not np.all(np.isfinite(value)) or float(np.max(np.abs(value - want), initial=0)) / scale >= 0.01 * gap:
            return True
    return False


ROUNDED = 64 * float(np.finfo(float).eps)  # what rounding leaves of values that cancel


class _Largest(Evaluator):
    """An evaluation that notes the largest magnitude of any value it computes."""

    def __init__(self, point: Point):
        super().__init__(point.values, _sizes(point))
        self.value = 0.0

    def __call__(self, node: n.Node) -> np.ndarray:
        result = super().__call__(node)
        finite = np.abs(result[np.isfinite(result)])
        self.value = max(self.value, float(np.max(finite, initial=0)))
        return result


def checked_values(subject: Subject, with_value: bool = True) -> Checked:
    """The checked values at a point: the function's (with_value), then each derivative's shown form;
    evaluated by the evaluators `make_evaluator` makes, if given."""

    def values(point: Point, make_evaluator: Callable[[], Evaluator] | None = None) -> list[np.ndarray]:
        make: Callable[[], Evaluator | None] = make_evaluator or (lambda: None)
        found = [_value(subject.expr, point, make())] if with_value else []
        if make_evaluator is None:
            return found + subject.shown_at(point)
        return found + [np.asarray(evaluate_shown(d, point, make()), dtype=float) for d in subject.derivatives]

    return values


# ---------------------------------------------------------------------------------------------------------
# Each kind of printed code, printed and checked

LABELS = {"numpy": "NumPy", "torch": "PyTorch", "jax": "JAX"}


def module_code(backend: str, spec: ModuleSpec, subject: Subject, check: bool = True) -> str:
    """The module for a backend (render.module), run and compared at the self-check's points unless not
    `check`; where the framework is not installed, compiled, and its NumPy twin run instead."""
    notes = unavailable(backend) if check else ()
    text = array_module(backend, spec, notes)
    if not check:
        return text
    what = f"the {LABELS[backend]} module for {subject.source}"
    printed = Printed(text, array_module(backend, _anonymous(spec), notes), what)
    if notes:
        compiles(printed)
        printed = Printed(
            array_module("numpy", spec), array_module("numpy", _anonymous(spec)), f"the NumPy twin of {what}"
        )
        backend = "numpy"
    namespace = run(printed)
    names = spec.names
    namespace.update(stand_ins(spec.trees(), names))
    given = [names[dim] for dim in given_sizes(spec)]
    several = len(spec.derivatives) > 1

    def compute(point: Point) -> list:
        inputs = _inputs(backend, spec.variables, point, names, given)
        grads = namespace["derivative"](**inputs)
        return [namespace["expression"](**inputs), *(grads if several else [grads])]

    labels = ["expression(...)"] + [f"derivative(...) by {d.wrt.name}" for d in spec.derivatives]
    checked = vec_checked_values(subject, spec.vec_forms) if any(spec.vec_forms) else checked_values(subject)
    compare(printed, compute, checked, check_points(subject), labels)
    return text


def vec_checked_values(subject: Subject, forms: tuple) -> Checked:
    """checked_values, with each derivative that has a vec form (vec_notation compared it with the checked
    index form) as that form's matrix evaluated at the point."""
    index_values = checked_values(subject)

    def values(point: Point, make_evaluator: Callable[[], Evaluator] | None = None) -> list[np.ndarray]:
        found = index_values(point, make_evaluator)
        for k, form in enumerate(forms):
            if form is not None:
                evaluator = make_evaluator() if make_evaluator else Evaluator(point.values, _sizes(point))
                found[1 + k] = np.asarray(evaluator(form.matrix), dtype=float)
        return found

    return values


def _anonymous(spec: ModuleSpec) -> ModuleSpec:
    from dataclasses import replace

    return replace(spec, title=PLACEHOLDER)


def _inputs(backend: str, shapes: dict[str, Shape], point: Point, names: dict[str, str], given: list[str]) -> dict:
    """A module's keyword arguments at a point: the variables as SPEC arrays of the backend, the sizes no
    array has."""
    arrays = spec_arrays(shapes, point, names)
    if backend == "torch":
        import torch

        arrays = {name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}
    sizes = {names.get(dim, dim): size for dim, size in point.sizes.items() if isinstance(dim, str)}
    return arrays | {dim: sizes[dim] for dim in given}


def numpy_field(derivative: Derivative, subject: Subject, check: bool = True) -> str:
    """SPEC §4's `numpy` field, evaluated and compared at the self-check's points unless not `check`."""
    text = numpy_expression(derivative)
    if not check:
        return text
    printed = Printed(text, text, f"the `numpy` expression for the derivative of {subject.source}")
    try:
        code = compile(text, "<printed by matcalc>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise _fault(printed, f"it does not compile ({type(error).__name__}: {error})") from None
    trees = [subject.expr, *shown_trees(derivative, inline=True)]
    names = code_names(*trees)
    functions = stand_ins(trees, names)

    def compute(point: Point) -> list:
        sizes = {names.get(dim, dim): size for dim, size in point.sizes.items() if isinstance(dim, str)}
        namespace = {"np": np, **functions, **sizes, **spec_arrays(n.variables(subject.expr), point, names)}
        return [eval(code, namespace)]  # matcalc's code: names and numbers of the typed tree only

    compare(printed, compute, checked_values(subject, with_value=False), check_points(subject), ["it"])
    return text


def vec_numpy_field(text: str, matrix: n.Node, subject: Subject) -> str:
    """--notation vec's `numpy` field, evaluated and compared at the self-check's points with the Kronecker
    form `matrix` (which vec_notation compared with the checked index form)."""
    printed = Printed(
        text, text, f"the `numpy` expression for the Kronecker form of the derivative of {subject.source}"
    )
    try:
        code = compile(text, "<printed by matcalc>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise _fault(printed, f"it does not compile ({type(error).__name__}: {error})") from None
    names = code_names(subject.expr)

    def compute(point: Point) -> list:
        return [eval(code, {"np": np, **spec_arrays(n.variables(subject.expr), point, names)})]  # names only

    def checked(point: Point, make_evaluator: Callable[[], Evaluator] | None = None) -> list[np.ndarray]:
        return [(make_evaluator() if make_evaluator else Evaluator(point.values, _sizes(point)))(matrix)]

    compare(printed, compute, checked, check_points(subject), ["it"])
    return text


def function_text(derivative: Derivative, subject: Subject, check: bool = True) -> str:
    """`numpy_function_code()`: one NumPy function, run and compared at the self-check's points unless
    not `check`."""
    text = function_code(derivative)
    if not check:
        return text
    printed = Printed(text, text, f"the NumPy function for the derivative of {subject.source}")
    namespace = run(printed)
    names = code_names(subject.expr, *shown_trees(derivative))
    namespace.update(stand_ins([subject.expr, *shown_trees(derivative)], names))
    _, given = function_parameters(derivative)

    def compute(point: Point) -> list:
        inputs = _inputs("numpy", n.variables(subject.expr), point, names, given)
        return [namespace["derivative"](**inputs)]

    compare(printed, compute, checked_values(subject, with_value=False), check_points(subject), ["it"])
    return text


# SymPy evaluates an object entry by entry in exact arithmetic (about 0.1 ms an entry); an object that
# it would write out more entries of is compared with matcalc's own object only, and the code says so
SYMPY_ENTRIES = 4000
SYMPY_SECONDS = 1.0  # and where its comparisons of numbers take longer than this (Min of sums: minutes), too


def sympy_text(objects: dict, title: str, subject: Subject, check: bool = True) -> str:
    """SymPy code building `objects` ("expression", then "d_<variable>" for each of subject.derivatives, in
    order), run unless not `check`: each object it builds must equal matcalc's, and SymPy's own value of
    matcalc's object at the self-check's points the checked value there. An object SymPy cannot evaluate,
    or not within reason, is compared only, and the code says so."""
    from ..render.sympy import sympy_code

    points = check_points(subject) if check else []
    values: dict[str, list] = {}  # name -> SymPy's value at each point
    skipped: dict[str, str] = {}
    for name, value in objects.items():
        found = _sympy_values(value, subject, points)
        if isinstance(found, str):
            skipped[name] = found
        else:
            values[name] = found
    notes = tuple(
        f"{name} was compared with matcalc's own object but not evaluated: {why}" for name, why in skipped.items()
    )
    text = sympy_code(objects, title, notes)
    if not check:
        return text
    printed = Printed(text, sympy_code(objects, PLACEHOLDER, notes), f"the SymPy code for {subject.source}")
    namespace = run(printed)
    for name, value in objects.items():
        if namespace.get(name) != value:
            raise _fault(printed, f"the {name} it builds is not the object matcalc built")
    evaluated = [k for k, name in enumerate(objects) if name in values]
    checked = checked_values(subject)

    position = {id(point): k for k, point in enumerate(points)}

    def compute(point: Point) -> list:
        at = position[id(point)]
        wanted = checked(point)
        found = []
        for k in evaluated:
            value = values[list(objects)[k]][at]
            found.append(value.reshape(wanted[k].shape) if value.size == wanted[k].size else value)
        return found

    labels = [f"SymPy's value of {list(objects)[k]}" for k in evaluated]
    compare(printed, compute, lambda *args: [checked(*args)[k] for k in evaluated], points, labels)
    return text


def _sympy_values(value, subject: Subject, points: list[Point]) -> list[np.ndarray] | str:
    """SymPy's value of an object at each point, or why it is not evaluated."""
    from ..render.sympy import expanded_entries, has_unspecified, sympy_value

    if not points:
        return "no point to evaluate it at"
    if any(isinstance(dim, int) and dim != size for dim, size in points[0].sizes.items()):
        return "the check samples its large declared sizes at small ones"
    if has_unspecified(value):
        return "it holds an unspecified function"
    sizes = {dim: size for dim, size in points[0].sizes.items() if isinstance(dim, str)}
    entries = expanded_entries(value, sizes)
    if entries > SYMPY_ENTRIES:
        return f"SymPy would write out {entries:,} entries"
    shapes = n.variables(subject.expr)
    found = []
    try:
        with time_limit(SYMPY_SECONDS), np.errstate(all="ignore"):
            for point in points:
                inputs = {name: _sympy_input(point.values[name], shape) for name, shape in shapes.items()}
                sizes = {dim: size for dim, size in point.sizes.items() if isinstance(dim, str)}
                found.append(np.asarray(sympy_value(value, inputs, sizes), dtype=float))
    except OutOfTime:
        return f"SymPy takes more than {SYMPY_SECONDS:g} s of CPU time for it"
    except (TypeError, ValueError, AttributeError, NotImplementedError, ArithmeticError, RecursionError) as error:
        return f"SymPy cannot ({type(error).__name__}: {str(error)[:80]})"
    return found


def _sympy_input(value: np.ndarray, shape: Shape) -> object:
    """A variable's value as SymPy takes it: a number, or rows of numbers (a vector a column)."""
    value = np.asarray(value, dtype=float)
    return float(value.item()) if shape.is_scalar else value.reshape(value.shape[0], -1).tolist()
