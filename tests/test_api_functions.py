"""The Python API (SPEC §4, §6): diff, parse, solve, check and plot as functions of the package, each result
with .text, .latex and .function() where it makes sense; expected values worked out by hand or with NumPy."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matcalc
from matcalc import (
    Derivation,
    DiffResults,
    ExitStatus,
    IdentityReport,
    InputError,
    MatcalcError,
    Parsed,
    Plot,
    SolveResult,
    check,
    diff,
    parse,
    plot,
    solve,
)
from matcalc.cli import cli

ROOT = Path(__file__).parent.parent
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="the plot extra (matplotlib) is not installed"
)
A = np.array([[1.0, 2.0], [3.0, 4.0]])


# the package's names


def test_all_lists_the_public_api_and_every_name_resolves():
    assert set(matcalc.__all__) == {
        "diff", "parse", "solve", "check", "plot", "declarations",
        "DiffResult", "DiffResults", "Derivation", "Parsed", "SolveResult", "IdentityReport", "IdentityRow", "Plot",
        "MatcalcError", "InputError", "UnsupportedError", "NoClosedForm", "SelfCheckError",
        "Layout", "ExitStatus",
    }  # fmt: skip
    assert "__version__" not in matcalc.__all__ and matcalc.__version__
    namespace: dict = {}
    exec("from matcalc import *", namespace)  # a fixed statement: the star import resolves every name
    assert set(matcalc.__all__) <= namespace.keys()
    assert issubclass(namespace["SelfCheckError"], MatcalcError)
    assert namespace["SelfCheckError"].exit_code == ExitStatus.INTERNAL


def test_the_functions_are_functions_not_modules():
    for function in (matcalc.diff, matcalc.parse, matcalc.solve, matcalc.check, matcalc.plot):
        assert callable(function) and not isinstance(function, type(matcalc))


def test_importing_matcalc_loads_nothing_heavy():
    code = "import sys, matcalc; print(sorted(m for m in ('numpy', 'IPython', 'matplotlib') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


# declarations


def test_declarations_from_several_texts_serve_every_function():
    env = matcalc.declarations(["x: vector(n)", "A: matrix(n, m)"])
    assert [(name, decl.kind) for name, decl in env.decls.items()] == [("x", "vector"), ("A", "matrix")]
    assert repr(parse("A'x", let=env)) == "<Parsed A' x, vector (m)>"  # A' is m×n, x is n×1
    assert diff("x'A", "x", let=env, layout=matcalc.Layout.DENOMINATOR).text == "A"  # ∂(x'A)/∂x = A, n×m
    with pytest.raises(InputError):
        matcalc.declarations("x: vektor(n)")


# parse


@pytest.mark.parametrize(
    "source, shown",
    [
        ("x'Ax", "<Parsed x' A x, scalar>"),
        ("A x", "<Parsed A x, vector (n)>"),
        ("x'", "<Parsed x', row vector (1, n)>"),
        ("A X", "<Parsed A X, matrix (n, k)>"),
    ],
)
def test_parsed_repr_names_the_kind_and_dimensions_once(source, shown):
    assert repr(parse(source, let="x: vector(n), A: matrix(n, n), X: matrix(n, k)")) == shown


def test_parsed_text_latex_and_function():
    parsed = parse("x'Ax")
    assert isinstance(parsed, Parsed)
    assert parsed.text == "x'A x"
    assert parsed.latex == r"\mathbf{x}^\top A \mathbf{x}"
    f = parsed.function()
    x = np.array([1.0, 2.0])
    # x'Ax = [1 2] [[1 2] [3 4]] [1 2]' = [1 2] [5 11]' = 27
    assert float(f(x=x, A=A)) == pytest.approx(27.0)
    assert float(f(x, A)) == pytest.approx(27.0)  # positional, in the order the names appear
    assert np.shape(f(x, A)) == ()
    assert parse("A x").function()(A=A, x=x).tolist() == [5.0, 11.0]  # a vector comes back 1-D


def test_parsed_function_reads_a_dimension_off_the_arrays():
    f = parse("1/(2n) ||y - X w||^2", let="X: matrix(n, d)").function()
    X, w, y = np.eye(3, 2), np.array([1.0, 1.0]), np.array([0.0, 0.0, 2.0])
    # y - Xw = (-1, -1, 2): its squared norm 6, over 2n = 6
    assert float(f(y=y, X=X, w=w)) == pytest.approx(1.0)


def test_function_arguments_that_do_not_fit_are_input_errors():
    f = parse("x'Ax").function()
    with pytest.raises(InputError, match="no value given for A"):
        f(x=[1.0, 2.0])
    with pytest.raises(InputError, match="3 values given for the 2 variables"):
        f([1.0], [[1.0]], 3.0)
    with pytest.raises(InputError, match="x is a vector"):
        f(x=[[1.0, 2.0]], A=A)


# diff


def test_numpy_function_is_a_function_and_its_code_is_text():
    result = diff("x'Ax", "x", layout="denominator")
    x = np.array([1.0, 2.0])
    g = result.numpy_function()
    assert callable(g)
    assert np.allclose(g(x=x, A=A), (A + A.T) @ x)  # (A + A')x = [[2 5] [5 8]] [1 2] = [12 21]
    code = result.numpy_function_code()
    assert code.startswith("import numpy as np") and "def derivative(x, A):" in code
    namespace: dict = {}
    exec(code, namespace)  # our generated code
    assert np.allclose(namespace["derivative"](x, A), [12.0, 21.0])


def test_several_variables_text_latex_and_function():
    results = diff("w'x + b", ["w", "b"])
    assert isinstance(results, DiffResults)
    assert results.text == "d/dw = x'\nd/db = 1"  # numerator layout: ∂(w'x)/∂w = x', ∂b/∂b = 1
    assert r"\partial \mathbf{w}} = \mathbf{x}^\top" in results.latex
    assert r"\partial b} = 1" in results.latex
    by_w, by_b = results.function()(w=[1.0, 2.0], x=[3.0, -1.0], b=0.5)
    assert by_w.tolist() == [3.0, -1.0] and float(by_b) == 1.0


def test_several_variables_show_their_shared_names_once():
    results = diff("sum(sigmoid(W x + b))", ["W", "b"])
    assert [name for name, _ in results.where] == ["t1"]
    assert results.text.endswith("\nwhere t1 = sigmoid(W x + b) .* (1 - sigmoid(W x + b))")
    assert results.latex.count(r"\mathbf{t}_{1} = ") == 1 and results.latex.count(r"\text{where }") == 1
    W, x, b = np.eye(2), np.array([1.0, 2.0]), 0.5
    by_W, by_b = results.function()(W=W, x=x, b=b)
    sigmoid = 1 / (1 + np.exp(-(W @ x + b)))
    slope = sigmoid * (1 - sigmoid)  # σ' = σ(1 - σ) at W x + b = (1.5, 2.5)
    assert np.allclose(by_W, np.outer(x, slope))  # numerator layout: x t1', of shape (m, n)
    assert float(by_b) == pytest.approx(slope.sum())


@pytest.mark.parametrize(
    "source, wrt, let",
    [("sin(t)^2 + cos(t)^2", "t", "t: scalar"), ("tr(X^-1 A X)", "X", None)],
    ids=["pythagoras", "trace-of-a-similar-matrix"],
)
def test_zero_derivatives_are_json_serialisable(source, wrt, let):
    result = diff(source, wrt, let=let)  # sin² + cos² = 1 and tr(X⁻¹AX) = tr(A): both derivatives are 0
    data = json.loads(json.dumps(result.to_json()))
    assert data["derivative"] == "0"
    assert data["checked"]["holds"] is True and data["checked"]["points"] == 3


# the derivation


def test_derivation_is_a_short_line_with_text_latex_and_json():
    result = diff("max(0, w'x + b)", "w", steps=True)
    derivation = result.derivation
    assert isinstance(derivation, Derivation)
    assert repr(derivation) == "<Derivation of ∂(max(0, w'x + b))/∂w in 5 steps = step(w'x + b) x'>"
    assert len(derivation.steps) == 5 and derivation.results()
    lines = derivation.text.splitlines()
    assert lines[0].startswith(" 1. u = wᵀx + b, y = max(0, u)") and "vector chain rule" in lines[-2]
    assert lines[-1].startswith(" 5. ∂y/∂w = step(wᵀx + b) xᵀ")
    assert derivation.latex.startswith("\\begin{align*}\n") and derivation.latex.endswith("\\end{align*}")
    assert derivation.to_json() == result.to_json()["steps"]


def test_derivation_text_is_what_the_command_prints(runner):
    derivation = diff("x'Ax", "x", layout="denominator", steps=True).derivation
    printed = runner.invoke(cli, ["diff", "x'Ax", "--wrt", "x", "--layout", "denominator", "--steps"]).stdout
    assert derivation.text in printed
    assert "∂y/∂x = (A + Aᵀ)x" in derivation.text


# solve


def test_solve_text_latex_and_function():
    result = solve("||y - Xw||^2", "w")
    assert isinstance(result, SolveResult)
    assert result.text == "w = (X'X)^-1 X'y"
    assert result.latex == r"\mathbf{w} = (X^\top X)^{-1} X^\top \mathbf{y}"
    assert repr(result) == "<Solution w = (X'X)^-1 X'y, the stationary point of ||y - Xw||^2>"
    X = np.random.default_rng(0).normal(size=(5, 3))
    y = np.random.default_rng(1).normal(size=5)
    w = result.function()(X=X, y=y)
    assert np.allclose(w, np.linalg.lstsq(X, y, rcond=None)[0])  # the least-squares solution


def test_solve_of_a_ridge_regression():
    # ||y - Xw||^2 + λ||w||^2: gradient 2X'(Xw - y) + 2λw = 0, so w = (X'X + λI)^-1 X'y
    solution = solve("||y - Xw||^2 + lambda ||w||^2", "w").function()
    X = np.random.default_rng(2).normal(size=(6, 2))
    y = np.random.default_rng(3).normal(size=6)
    expected = np.linalg.solve(X.T @ X + 0.5 * np.eye(2), X.T @ y)
    assert np.allclose(solution(X=X, y=y, lambda_=0.5), expected)  # lambda_: as the generated code names it
    assert np.allclose(solution(y=y, X=X, **{"lambda": 0.5}), expected)


# check

IDENTITIES = """\
# a comment
let x: vector(n), A: matrix(n, n), B: matrix(n, k), C: matrix(k, n)
layout denominator
d/dx x'Ax = (A + A')x
tr(B C) = tr(C B)
d/dx x'Ax = 2 A x       # only for a symmetric A
foo(x = 3
"""


def test_check_of_text_gives_rows_with_line_verdict_and_message():
    report = check(IDENTITIES)
    assert isinstance(report, IdentityReport) and len(report) == 4
    assert [(row.line, row.verdict) for row in report] == [(4, "proved"), (5, "proved"), (6, "FALSE"), (7, "error")]
    false, error = report.rows[2], report.rows[3]
    assert "difference" in false.message, false.message  # a counterexample whose two sides differ
    assert error.message.startswith("unknown function 'foo'") and error.column == 1
    assert [row.holds for row in report] == [True, True, False, False]
    assert report.exit_status == ExitStatus.INPUT and not report.ok  # a line could not be read: 2
    assert report.summary == {"identities": 4, "proved": 2, "holds": 0, "false": 1, "undecided": 0, "errors": 1}


@pytest.mark.parametrize(
    "text, status",
    [
        ("layout denominator\nd/dx x'Ax = (A + A')x", ExitStatus.OK),
        ("d/dx x'Ax = (A + A')x", ExitStatus.FALSE),  # numerator layout: the derivative is the row x'(A + A')
        ("tr(A B) = tr(B A)\nx' = (", ExitStatus.INPUT),
        ("", ExitStatus.OK),  # nothing to check: nothing false
    ],
)
def test_check_exit_status_is_the_commands(text, status, runner, tmp_path):
    assert check(text).exit_status == status
    assert check(text).ok == (status == ExitStatus.OK)
    path = tmp_path / "identities.txt"
    path.write_text(text)
    assert runner.invoke(cli, ["check", str(path)]).exit_code == status


def test_check_reads_a_path_given_as_text_or_as_a_path(tmp_path):
    path = tmp_path / "identities.txt"
    path.write_text(IDENTITIES)
    for source in (str(path), path):
        report = check(source)
        assert [row.verdict for row in report] == [row.verdict for row in check(IDENTITIES)]
        assert {row.file for row in report} == {str(path)}
    assert report.rows[0].place == f"{path}:4"


def test_check_of_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"cannot read .*missing\.txt.* no '='") as caught:
        check(str(tmp_path / "missing.txt"))
    assert caught.value.exit_code == ExitStatus.INPUT
    (tmp_path / "binary.txt").write_bytes(b"tr(A) = tr(A)\n\x00")
    with pytest.raises(InputError, match="binary"):
        check(tmp_path / "binary.txt")


def test_check_json_follows_the_schema_and_is_what_the_command_prints(runner, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    path = tmp_path / "identities.txt"
    path.write_text(IDENTITIES)
    data = check(path).to_json()
    jsonschema.validate(
        json.loads(json.dumps(data)), json.loads((ROOT / "schemas/check-report.schema.json").read_text())
    )
    printed = json.loads(runner.invoke(cli, ["check", str(path), "--format", "json"]).stdout)
    assert printed["summary"] == data["summary"]
    for ours, theirs in zip(data["results"], printed["results"], strict=True):
        assert ours | {"max_error": None} == theirs | {"max_error": None}
        if theirs["max_error"] is None:
            assert ours["max_error"] is None
        else:
            assert ours["max_error"] == pytest.approx(theirs["max_error"], rel=1e-6, abs=1e-12)


def test_check_text_and_latex():
    report = check(IDENTITIES)
    lines = report.text.splitlines()
    assert lines[0] == "line 4: proved  d/dx x'Ax = (A + A')x"
    assert lines[-1] == "4 identities: 2 proved, 0 hold numerically, 1 false, 1 could not be read"
    assert "    column 1: unknown function 'foo'" in report.text
    assert report.latex.splitlines() == [
        r"\begin{array}{rll}",
        r"4 & \frac{\partial}{\partial \mathbf{x}} \mathbf{x}^\top A \mathbf{x} = (A + A^\top) \mathbf{x} & \text{proved} \\",
        r"5 & \operatorname{tr}(B C) = \operatorname{tr}(C B) & \text{proved} \\",
        r"6 & \frac{\partial}{\partial \mathbf{x}} \mathbf{x}^\top A \mathbf{x} = 2 A \mathbf{x} & \text{FALSE} \\",
        r"7 & \text{(could not be read)} & \text{error}",
        r"\end{array}",
    ]
    assert repr(report) == (
        "<IdentityReport 4 identities: 2 proved, 0 hold numerically, 1 false, 1 could not be read; exit status 2>"
    )


def test_check_takes_the_starting_layout():
    assert check("d/dx x'Ax = (A + A')x", layout="denominator").ok
    with pytest.raises(InputError, match="unknown layout"):
        check("tr(A) = tr(A)", layout="sideways")


# plot


@needs_matplotlib
def test_plot_writes_a_file_or_returns_an_svg(tmp_path):
    path = plot("3x^2 - 4x", "x", 1, tmp_path / "tangent.png", let="x: scalar")
    assert path == tmp_path / "tangent.png" and path.read_bytes()[:4] == b"\x89PNG"
    figure = plot("3x^2 - 4x", "x", 1, let="x: scalar")
    assert isinstance(figure, Plot) and repr(figure) == "<Plot of 3x^2 - 4x by x at 1>"
    assert "<svg" in figure.svg and figure._repr_svg_() == figure.svg
    assert figure.svg == plot("3x^2 - 4x", "x", 1, let="x: scalar").svg  # the same input, the same figure


def test_plot_errors_are_input_errors():
    with pytest.raises(InputError, match="one variable"):
        plot("x'A x", "x", (1, 0))
