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


# An expression may start with "-" (SPEC §2): never read as short options (the h of tanh as -h)


def test_an_expression_starting_with_minus_is_differentiated_not_help(runner):
    result = runner.invoke(cli, ["diff", "-y' log(softmax(W2 tanh(W1 x + b1)))", "--wrt", "W1"])
    assert result.exit_code == 0, result.output
    assert "Usage:" not in result.output
    assert result.stdout.startswith("∂")


def test_minus_sum_of_tanh_and_options_before_the_expression(runner):
    result = runner.invoke(cli, ["diff", "--wrt", "x", "-sum(tanh(x))"])
    assert result.exit_code == 0, result.output
    assert "Usage:" not in result.output and "tanh" in result.stdout
    result = runner.invoke(cli, ["parse", "--format", "json", "-x'x"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["canonical"] == "-x' x"


def test_minus_expressions_in_solve_and_plot_are_arguments(runner):
    result = runner.invoke(cli, ["solve", "-(theta - 2)^2", "--wrt", "theta", "--let", "theta: scalar"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("theta = 2")
    result = runner.invoke(cli, ["plot", "-tanh(x)", "--wrt", "x", "--at", "1", "-o", "out.txt"])
    assert "Usage:" not in result.output  # a refusal of the file type, not the help text
    assert result.exit_code in (2, 3)


def test_help_is_still_help(runner):
    result = runner.invoke(cli, ["parse", "-h"])
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ") and "parse [OPTIONS]" in result.stdout


def test_unknown_option_suggests_the_nearest(runner):
    result = runner.invoke(cli, ["parse", "x", "--fromat", "json"])
    assert result.exit_code == 2
    assert "--fromat" in result.stderr and "Did you mean '--format'?" in result.stderr


def test_several_variables_are_never_dropped(runner):
    # diff gives one result for each variable (SPEC §4); solve and plot take one and refuse several (exit 3)
    result = runner.invoke(cli, ["diff", "x'y", "--wrt", "x", "--wrt", "y"])
    assert result.exit_code == 0, result.output
    assert "∂/∂x" in result.stdout and "∂/∂y" in result.stdout
    for wrt in (["--wrt", "x", "--wrt", "y"], ["--wrt", "x,y"]):
        result = runner.invoke(cli, ["solve", "x'x + y'y", *wrt])
        assert result.exit_code == 3, result.output
        assert result.stdout == ""
        assert "several variables (x, y) are not supported yet" in result.stderr


def test_expression_from_standard_input(runner):
    result = runner.invoke(cli, ["parse", "-"], input="-x'x\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("expression: -x' x\n")


def test_standard_input_that_is_not_utf8_is_an_error_not_a_traceback(runner):
    for data in (b"x'\xff", "x'x".encode("utf-16")):
        result = runner.invoke(cli, ["parse", "-"], input=data)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: standard input is not UTF-8 text")
    result = runner.invoke(cli, ["check", "-"], input=b"x'x = \xe9\n")
    assert result.exit_code == 2 and "not UTF-8" in result.stdout and "line 1" in result.stdout


def test_solve_a_stationary_point_at_zero_has_the_variables_shape(runner):
    # x'A x has gradient (A' + A) x, zero at x = 0: a vector of zeros, not -0 (A' + A)^-1 (a matrix)
    result = runner.invoke(cli, ["solve", "x'A x", "--wrt", "x", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["solution"] == "0" and data["result_shape"] == ["n"]
