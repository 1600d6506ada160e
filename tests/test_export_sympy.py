"""SymPy objects: parse(...).to_sympy(), diff(...).to_sympy() and --format sympy.

Round trip: the SymPy object, evaluated by SymPy itself (matrix symbols and dimensions substituted by
numbers, then doit()), gives the numbers of the `numpy` output (the JSON field, matcalc's hand-written
NumPy printer), for every cell of the shape table; and the code that --format sympy prints rebuilds
objects equal to to_sympy()'s.
"""

import numpy as np
import pytest
import sympy as sp

from matcalc import diff, parse
from matcalc.cli import cli
from matcalc.numeric.differences import sample_point

from test_export_code import CELL_IDS, CELLS, NETWORK, assert_close, spec_arrays


def evaluate_in_sympy(value: sp.Basic, point) -> np.ndarray:
    """A SymPy matrix or array expression at a point, by SymPy: every symbol replaced by its number."""
    if not isinstance(value, sp.Basic):  # a plain number (the derivative of a by a is 1)
        return np.array(float(value))
    with sp.evaluate(False):  # substituted first, evaluated from the leaves up below
        sizes = {sp.Symbol(str(name), integer=True, positive=True): size for name, size in point.sizes.items()
                 if isinstance(name, str)}
        value = value.xreplace(sizes)
        numbers = {}
        for atom in value.atoms(sp.MatrixSymbol, sp.Symbol):
            if atom.name in point.values:
                data = np.asarray(point.values[atom.name], dtype=float)
                numbers[atom] = sp.ImmutableMatrix(data.tolist()) if isinstance(atom, sp.MatrixSymbol) \
                    else sp.Float(data.item())
        value = value.xreplace(numbers)
        value = value.replace(lambda e: isinstance(e, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)),
                              lambda e: e.as_explicit())
    done = sp.bottom_up(value, evaluated)  # doit() of the whole leaves inner parts unevaluated
    if hasattr(done, "as_explicit"):  # a matrix or array expression
        return np.array(sp.Array(done.as_explicit()).tolist(), dtype=float)
    return np.array(float(done), dtype=float)


def evaluated(node: sp.Basic) -> sp.Basic:
    """One node, its arguments numbers already, evaluated by SymPy where it can: SymPy's doit() leaves a
    HadamardPower of an explicit matrix, and a number times one (which an elementwise function then cannot
    take), as they are; written out entrywise."""
    if isinstance(node, sp.HadamardPower) and isinstance(node.base, sp.MatrixBase):
        return node.base.applyfunc(lambda t: t ** node.exp)
    done = node.doit(deep=False) if hasattr(node, "doit") else node
    if isinstance(done, sp.Expr) and not isinstance(done, sp.MatrixExpr) and done.args:
        done = done.func(*done.args)  # built unevaluated (Heaviside(0.7)): evaluated now
    if isinstance(done, sp.MatrixExpr) and not isinstance(done, sp.MatrixBase) and not done.free_symbols:
        return done.as_explicit()
    return done


@pytest.mark.parametrize("layout", ["numerator", "denominator"])
@pytest.mark.parametrize("source, wrt, let", CELLS, ids=CELL_IDS)
def test_the_sympy_derivative_gives_the_numbers_of_the_numpy_output(source, wrt, let, layout):
    result = diff(source, wrt, let, layout)
    point = sample_point(result.parsed.expr, result.parsed.env, np.random.default_rng(5))
    arrays = spec_arrays(result, point)
    numpy_value = np.asarray(eval(result.numpy, {"np": np}, arrays), dtype=float)  # our generated code
    sympy_value = evaluate_in_sympy(result.to_sympy(), point)
    assert_close(sympy_value.reshape(numpy_value.shape), numpy_value, 1e-9)
    # the shape's dimension symbols: (n, 1) matrices by a vector, arrays of the result's rank beyond 2
    value = result.to_sympy()
    if len(result.derivative.free) > 2:
        assert len(value.shape) == len(result.derivative.free)
        assert [str(d) for d in value.shape] == [str(d) for d in result.shape if d != 1]
    elif not result.parsed.shape.is_scalar or result.derivative.free:
        assert isinstance(value, sp.MatrixExpr)
        assert [str(d) for d in value.shape] == [str(d) for d in (result.shape + (1,))[:2]] \
            or [str(d) for d in value.shape] == [str(d) for d in result.shape]


@pytest.mark.parametrize("source, wrt, let", CELLS, ids=CELL_IDS)
def test_the_expression_as_sympy(source, wrt, let):
    parsed = parse(source, let)
    point = sample_point(parsed.expr, parsed.env, np.random.default_rng(2))
    from matcalc.numeric.differences import evaluate_numeric

    wanted = np.squeeze(evaluate_numeric(parsed.expr, point.values, point.sizes))
    assert_close(np.squeeze(evaluate_in_sympy(parsed.to_sympy(), point)), wanted, 1e-9)


def test_matrix_symbols_carry_dimension_symbols():
    value = parse("x'Ax", "x: vector(n), A: matrix(n, n)").to_sympy()
    n = sp.Symbol("n", integer=True, positive=True)
    assert value.free_symbols == {sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("A", n, n)}
    derivative = diff("x'Ax", "x", "x: vector(n), A: matrix(n, n)", layout="denominator").to_sympy()
    assert derivative.shape == (n, 1)
    assert derivative == (sp.MatrixSymbol("A", n, n) + sp.MatrixSymbol("A", n, n).T) * sp.MatrixSymbol("x", n, 1)


@pytest.mark.parametrize("source, wrt, let", CELLS + [NETWORK[:1] + ("W1", NETWORK[2])], ids=CELL_IDS + ["network"])
def test_sympy_code_rebuilds_the_objects(runner, source, wrt, let):
    result = runner.invoke(cli, ["diff", source, "--wrt", wrt, "--let", let, "--format", "sympy"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    namespace: dict = {}
    exec(result.stdout, namespace)  # our generated code
    derivative = diff(source, wrt, let)
    assert namespace["expression"] == derivative.parsed.to_sympy()
    assert namespace[f"d_{wrt}"] == derivative.to_sympy()


def test_parse_prints_sympy_code(runner):
    result = runner.invoke(cli, ["parse", "tr(A X B)", "--format", "sympy"], catch_exceptions=False)
    namespace: dict = {}
    exec(result.stdout, namespace)
    assert namespace["expression"] == parse("tr(A X B)").to_sympy()
    assert "MatrixSymbol('X', m, k)" in result.stdout
