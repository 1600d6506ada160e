"""The command line: stdout, stderr and exit status, separately."""

import json

from matcalc.cli import cli


def test_parse_reports_shape_and_assumptions(runner):
    result = runner.invoke(cli, ["parse", "||y - Xw||^2"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == (
        "expression: ||y - X w||^2\n"
        "shape: scalar\n"
        "assumed: y: vector(n), X: matrix(n, m), w: vector(m)\n"
    )


def test_parse_json_follows_the_spec_fields(runner):
    result = runner.invoke(cli, ["parse", "x'Ax", "--format", "json"], catch_exceptions=False)
    data = json.loads(result.stdout)
    assert data["shapes"] == {"x": ["n"], "A": ["n", "n"]}
    assert data["assumed"] == ["x", "A"]
    assert data["shape"] == [] and data["kind"] == "scalar"
    assert data["canonical"] == "x' A x"


def test_parse_with_repeated_let(runner):
    result = runner.invoke(cli, ["parse", "A x", "--let", "A: matrix(m, n)", "--let", "x: vector(n)"],
                           catch_exceptions=False)
    assert result.stdout == "expression: A x\nshape: vector(m)\n"


def test_shape_error_goes_to_stderr_with_exit_2(runner):
    result = runner.invoke(cli, ["parse", "x*A + b", "--let", "x: vector(n), A: matrix(n, n)"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: shapes do not conform for a product (column 1)\n"
        "  x*A + b\n"
        "  ^^^\n"
        "  x is n×1, A is n×n\n"
    )


def test_unbalanced_parenthesis_points_at_it(runner):
    result = runner.invoke(cli, ["parse", "sum(x + (y - z)"])
    assert result.exit_code == 2
    assert "  sum(x + (y - z)\n     ^\n" in result.stderr


def test_unknown_function_suggests_the_nearest(runner):
    result = runner.invoke(cli, ["parse", "-y' log(sofmax(o))"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: unknown function 'sofmax' (column 9)",
        "  -y' log(sofmax(o))",
        "          ^^^^^^",
        "  did you mean 'softmax'?",
    ]


def test_empty_expression(runner):
    result = runner.invoke(cli, ["parse", ""])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: empty expression (column 1)\n")


def test_bad_declaration_is_shown_with_its_own_text(runner):
    result = runner.invoke(cli, ["parse", "x", "--let", "x: vectr(n)"])
    assert result.exit_code == 2
    assert "  x: vectr(n)\n     ^^^^^\n" in result.stderr


def test_usage_errors_exit_2(runner):
    assert runner.invoke(cli, ["parse"]).exit_code == 2
    assert runner.invoke(cli, ["shapes", "--layout", "sideways"]).exit_code == 2


def test_shapes_numerator_table(runner):
    result = runner.invoke(cli, ["shapes"], catch_exceptions=False)
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.strip("│").split("│")] for row in rows]
    assert cells == [
        ["y scalar", "(1,)", "(1, n)", "(k, n)"],
        ["y vector (m)", "(m, 1)", "(m, n)", "(m, k, n)"],
        ["Y matrix (m, l)", "(m, l)", "(m, l, n)", "(m, l, k, n)"],
    ]
    assert "\x1b[" not in result.stdout


def test_shapes_denominator_and_mixed_tables(runner):
    def cells(layout):
        out = runner.invoke(cli, ["shapes", "--layout", layout], catch_exceptions=False).stdout
        return [[c.strip() for c in line.strip("│").split("│")][1:] for line in out.splitlines()
                if line.startswith("│")]

    assert cells("denominator") == [["(1,)", "(n, 1)", "(n, k)"], ["(1, m)", "(n, m)", "(n, k, m)"],
                                    ["(l, m)", "(n, l, m)", "(n, k, l, m)"]]
    assert cells("mixed") == [["(1,)", "(n, 1)", "(n, k)"], ["(m, 1)", "(m, n)", "(m, k, n)"],
                              ["(m, l)", "(m, l, n)", "(m, l, k, n)"]]


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "matcalc", "parse", "x'y"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("expression: x' y\n")
