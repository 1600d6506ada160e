"""Property: for any generated well-shaped expression, every code format computes the shown result.

The formats: the JSON `numpy` field, `numpy_function_code()`, the NumPy and PyTorch modules (their
`expression` and `derivative`), the JAX module (compiled: jax is not in the test extra; its formulas are
the NumPy module's, printed by the same printer), and the SymPy code (the objects it builds, evaluated by
SymPy itself, symbols replaced by numbers). The reference is the shown form evaluated by matcalc's own
evaluator (numeric.evaluate_shown), at the test's point, not one the code check drew; test_diff_properties
checks the shown form against finite differences on the same generator. Expressions come from the typed
generator of test_properties.py, and from one that puts abs, relu, max and min under powers and quotients
(where printed code once lost its parentheses: relu(a)^2 b was computed as relu(a)/4 ...).
"""

import inspect

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import as_arrays
from strategies import ANY, DECLS, SCALAR, SIZES, N, draw_point, expressions, rule, typed_expressions
from test_export_sympy import evaluate_in_sympy

from matcalc import diff
from matcalc.errors import UnsupportedError
from matcalc.numeric.evaluate import SingularMatrixError
from matcalc.numeric.differences import Point, evaluate_numeric, evaluate_shown, kink_distance

# Scalar-valued: kinks under powers, in denominators, and scaling what they divide
SCALAR_KINKED = [
    rule("relu({0:raw})^2", (ANY, SCALAR)), rule("relu({0:raw})^3 {1}", (ANY, SCALAR), (ANY, SCALAR)),
    rule("abs({0:raw})^2", (ANY, SCALAR)), rule("|{0:raw}|^3", (ANY, SCALAR)),
    rule("max({0:raw}, {1:raw})^2", (ANY, SCALAR), (ANY, SCALAR)),
    rule("min({0:raw}, {1:raw})^3", (ANY, SCALAR), (ANY, SCALAR)),
    rule("max(0, {0:raw})^2 {1}", (ANY, SCALAR), (ANY, SCALAR)),
    rule("{1} / (1 + relu({0:raw}))", (ANY, SCALAR), (ANY, SCALAR)),
    rule("{1} / (2 + abs({0:raw}))^2", (ANY, SCALAR), (ANY, SCALAR)),
    rule("{1} / max({0:raw}, 1)", (ANY, SCALAR), (ANY, SCALAR)),
    rule("relu({0:raw}) / {1}", (ANY, SCALAR), (ANY, SCALAR)),
    rule("2^relu({0:raw})", (ANY, SCALAR)), rule("{1}^2 / min({0:raw}, -1)", (ANY, SCALAR), (ANY, SCALAR)),
]
# Vector-valued: the same, elementwise
VECTOR_KINKED = [
    rule("relu({0:raw}).^2", (ANY, (N, 1))), rule("abs({0:raw}).^3", (ANY, (N, 1))),
    rule("max({0:raw}, {1:raw}).^2", (ANY, (N, 1)), (ANY, (N, 1))),
    rule("{1} ./ (1 + relu({0:raw}))", (ANY, (N, 1)), (ANY, (N, 1))),
    rule("relu({0:raw}) / (1 + abs({1:raw}))", (ANY, (N, 1)), (ANY, SCALAR)),
    rule("min({0:raw}, 0).^2 {1}", (ANY, (N, 1)), (ANY, SCALAR)),
]


@st.composite
def kinked_expressions(draw) -> tuple[str, tuple]:
    shape = draw(st.sampled_from([SCALAR, (N, 1)]))
    chosen = draw(st.sampled_from(SCALAR_KINKED if shape == SCALAR else VECTOR_KINKED))
    return chosen.build([draw(expressions(cls, child, 2)) for cls, child in chosen.children]), shape


def evaluated_formats(result, parsed, values) -> dict[str, np.ndarray]:
    """What each code format computes for the derivative at the values."""
    import torch

    arrays = as_arrays(parsed, values)
    with np.errstate(all="ignore"):
        got = {"numpy field": eval(result.numpy, {"np": np, **SIZES, **arrays})}  # matcalc's generated code
        function: dict = {}
        exec(result.numpy_function_code(), function)  # matcalc's generated code
        got["numpy function"] = function["derivative"](**keywords(function["derivative"], arrays))
        for backend in ("numpy", "torch"):
            module: dict = {}
            exec(result.code(backend), module)  # matcalc's generated code
            inputs = arrays if backend == "numpy" else {
                name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}
            value = module["derivative"](**keywords(module["derivative"], inputs))
            got[f"{backend} module"] = value.numpy() if backend == "torch" else value
            expression = module["expression"](**keywords(module["expression"], inputs))
            got[f"{backend} expression"] = expression.numpy() if backend == "torch" else expression
    compile(result.code("jax"), "<jax module>", "exec")  # the JAX module at least compiles
    return {name: np.asarray(value, dtype=float) for name, value in got.items()}


def keywords(function, arrays: dict) -> dict:
    """The arguments a printed function takes: the arrays, and the sizes it asks for by name."""
    wanted = inspect.signature(function).parameters
    return {name: value for name, value in (arrays | SIZES).items() if name in wanted}


def sympy_value(result, values) -> np.ndarray | None:
    """SymPy's own value of the derivative that --format sympy's code builds (None where it holds an
    unspecified function or SymPy would write out too much)."""
    try:
        code = result.sympy_code()
    except UnsupportedError:  # SymPy cannot build some objects (its Max of a trace in a power): a refusal
        return None
    namespace: dict = {}
    exec(code, namespace)  # matcalc's generated code
    if "not evaluated" in code:
        return None
    return evaluate_in_sympy(namespace[f"d_{result.wrt}"], Point(values, dict(SIZES)))


def check_every_format(text, parsed, wrt, values, layout):
    assume(kink_distance([parsed.expr], values, SIZES) > 1e-3)
    try:
        result = diff(text, wrt, DECLS, layout)
    except UnsupportedError:
        assume(False)
    point = Point(values, dict(SIZES))
    with np.errstate(all="ignore"):
        try:
            shown = evaluate_shown(result.derivative, point)
            value = np.squeeze(evaluate_numeric(parsed.expr, values, SIZES))
        except (np.linalg.LinAlgError, SingularMatrixError):  # det(C B) by B: C B is singular for n < m
            assume(False)
    assume(np.all(np.isfinite(shown)) and np.all(np.isfinite(value)))
    scale = max(1.0, float(np.max(np.abs(shown))), float(np.max(np.abs(value))))
    for name, got in evaluated_formats(result, parsed, values).items():
        want = value if "expression" in name else shown
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert np.max(np.abs(got - want), initial=0) <= 1e-9 * scale, (name, got, want)
    by_sympy = sympy_value(result, values)
    if by_sympy is not None:
        assert np.max(np.abs(by_sympy.reshape(shown.shape) - shown), initial=0) <= 1e-8 * scale, (by_sympy, shown)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


@SETTINGS
@given(typed_expressions(), st.sampled_from(["numerator", "denominator"]), st.data())
def test_every_code_format_computes_the_shown_result(case, layout, data):
    check_every_format(*draw_point(case, data), layout)


@SETTINGS
@given(kinked_expressions(), st.sampled_from(["numerator", "denominator"]), st.data())
def test_every_code_format_computes_the_shown_result_with_kinks_under_powers_and_quotients(case, layout, data):
    check_every_format(*draw_point(case, data), layout)
