"""`matcalc check` (SPEC §5): identity files, verdicts, reports and exit statuses."""

import json
from pathlib import Path

import jsonschema
import pytest

from matcalc.batch import ERROR, FALSE, HOLDS, PROVED, check_source
from matcalc.cli import cli

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
SCHEMA = json.loads((ROOT / "schemas" / "check-report.schema.json").read_text())


@pytest.mark.parametrize("name", ["course-rules.txt", "parr-howard.txt", "matrix-cookbook.txt"])
def test_every_identity_of_the_example_files_holds(name):
    results = check_source((EXAMPLES / name).read_text(), file=name)
    assert results, name
    wrong = [(r.line, r.text, r.status, r.detail) for r in results if r.status not in (PROVED, HOLDS)]
    assert wrong == []


def test_the_cookbook_file_has_sixty_derivative_identities_with_equation_numbers():
    lines = [line for line in (EXAMPLES / "matrix-cookbook.txt").read_text().splitlines()
             if line.startswith("d/d")]
    assert len(lines) >= 60
    assert all("# (" in line for line in lines)


def test_every_line_of_false_txt_is_false():
    results = check_source((EXAMPLES / "false.txt").read_text())
    assert len(results) >= 20
    assert [(r.line, r.text) for r in results if r.status != FALSE] == []


MIXED = """\
let x: vector(n), A: matrix(n, n)
layout denominator
d/dx x'A x = (A + A')x
d/dx x'A x = 2 A x
tr(A x
x'x = ||x||^2
"""


def test_a_mixed_file_reports_every_line(runner):
    result = runner.invoke(cli, ["check", "-", "--format", "json"], input=MIXED)
    assert result.exit_code == 2  # some lines could not be read
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    statuses = [(r["line"], r["status"]) for r in report["results"]]
    assert statuses == [(3, PROVED), (4, FALSE), (5, ERROR), (6, PROVED)]
    error = report["results"][2]
    assert error["column"] == 3 and "unclosed '('" in error["detail"]
    assert report["summary"] == {"identities": 4, "proved": 2, "holds": 0, "false": 1, "errors": 1}


def test_exit_status_is_1_when_some_are_false_and_none_unreadable(runner):
    result = runner.invoke(cli, ["check", "-"], input="let x: vector(n)\nx'x = 2 x'x\nx'x = ||x||^2\n")
    assert result.exit_code == 1
    assert "FALSE" in result.stdout and "1 false" in result.stdout


def test_exit_status_is_0_when_all_hold(runner, tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("# fine\nlet A: matrix(n, m), B: matrix(m, n)\ntr(A B) = tr(B A)\n")
    result = runner.invoke(cli, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "proved" in result.stdout


@pytest.mark.parametrize("identity", [
    "d/dY tr(Y D) = D",  # D is m×n, not n×m: a non-square transpose
    "d/dX tr(X'B) = B'",  # square but not symmetric
    "d/dX a'X y = y a'",
])
def test_a_false_transpose_is_caught(identity):
    let = "let a: vector(n), y: vector(n), X: matrix(n, n), B: matrix(n, n), Y: matrix(n, m), D: matrix(m, n)\n"
    (result,) = check_source(let + "layout denominator\n" + identity + "\n")
    assert result.status == FALSE


def test_a_layout_mistake_says_which_layout_it_holds_in():
    source = "let x: vector(n), A: matrix(n, n)\nd/dx x'A x = (A + A')x\n"
    (result,) = check_source(source)  # numerator layout by default
    assert result.status == FALSE
    assert "holds in denominator layout, not in numerator" in result.detail
    assert "matcalc's derivative in numerator layout: x'(A + A')" in result.detail


def test_a_false_derivative_shows_a_counterexample_and_the_right_answer():
    (result,) = check_source("let x: vector(n), A: matrix(n, n)\nlayout denominator\nd/dx x'A x = 2 A x\n")
    assert result.status == FALSE and result.max_error > 1e-3
    assert "for example with n=2" in result.detail
    assert "matcalc's derivative in denominator layout: (A + A')x" in result.detail


def test_identities_without_derivatives_are_checked_and_proved():
    source = "let A: matrix(n, m), B: matrix(m, k), C: matrix(k, n), x: vector(n), y: vector(n)\n" \
             "tr(A B C) = tr(C A B)\nx'y = y'x\n(A B)' = B'A'\ntr(A B C) = tr(A C' B')\n"
    statuses = [r.status for r in check_source(source)]
    assert statuses[:3] == [PROVED, PROVED, PROVED]
    assert statuses[3] in (FALSE, ERROR)  # A C' does not even conform


def test_derivative_forms_d_of_parenthesis_and_second_order():
    source = "let x: vector(n), A: matrix(n, n), a: scalar\nd(x'A x)/dx = x'(A + A')\nd2/dx2 x'A x = A + A'\n" \
             "d2/da2 a^3 = 6 a\n"
    assert [r.status for r in check_source(source)] == [PROVED, PROVED, PROVED]


def test_bad_lines_do_not_stop_the_run():
    source = "let x: vector(n)\nx'x = \nlayout sideways\nlet y: vectr(n)\nx'x = ||x||^2\n"
    results = check_source(source)
    assert [(r.line, r.status) for r in results] == [(2, ERROR), (3, ERROR), (4, ERROR), (5, PROVED)]
    assert results[2].column == 8  # 'vectr' in "let y: vectr(n)"


def test_the_default_layout_option(runner):
    source = "let x: vector(n), A: matrix(n, n)\nd/dx x'A x = (A + A')x\n"
    assert runner.invoke(cli, ["check", "-", "--layout", "denominator"], input=source).exit_code == 0
    assert runner.invoke(cli, ["check", "-"], input=source).exit_code == 1


def test_parallel_jobs_give_the_same_report():
    source = (EXAMPLES / "false.txt").read_text() + (EXAMPLES / "course-rules.txt").read_text()
    one = [(r.line, r.status, r.detail) for r in check_source(source, jobs=1)]
    two = [(r.line, r.status, r.detail) for r in check_source(source, jobs=2)]
    assert one == two


def test_several_files_and_the_schema(runner):
    result = runner.invoke(cli, ["check", str(EXAMPLES / "course-rules.txt"), str(EXAMPLES / "false.txt"),
                                 "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert {Path(r["file"]).name for r in report["results"]} == {"course-rules.txt", "false.txt"}


def test_kinks_matter_only_where_differences_are_taken():
    source = "let y: vector(n), z: vector(m)\nmax(y, y) = y\nz' relu(eye(m)) = z'\nd/dy sum(max(y, y)) = ones(n)'\n"
    statuses = [(r.status, r.detail) for r in check_source(source)]
    assert statuses[0][0] == PROVED or statuses[0][0] == HOLDS  # max(y, y) is always at its kink: no matter
    assert statuses[1][0] in (PROVED, HOLDS)  # relu of a constant: its kinks do not move
    # differentiating max(y, y) needs points off the kink, and there are none: said, not crashed
    assert statuses[2][0] == ERROR and "away from kinks" in statuses[2][1]
