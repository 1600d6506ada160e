"""`matcalc check` (SPEC §5): identity files, verdicts, reports and exit statuses."""

import json
import time
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
    assert report["summary"] == {"identities": 4, "proved": 2, "holds": 0, "false": 1, "undecided": 0, "errors": 1}


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


# Batches never die: every readable file and every good line gets its verdict


def test_unreadable_files_are_one_error_each_and_the_good_file_is_still_checked(runner, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("let A: matrix(n, m), B: matrix(m, n)\ntr(A B) = tr(B A)\n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("# é\nx'x = ||x||^2\n".encode("latin-1"))
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("x'x = ||x||^2\n".encode("utf-16"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"x'x = 1\n\x00\x01\x02\x03")
    files = [str(good), str(latin1), str(utf16), str(binary), str(tmp_path / "missing.txt")]
    result = runner.invoke(cli, ["check", *files, "--format", "json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    rows = [(Path(r["file"]).name, r["line"], r["status"]) for r in report["results"]]
    assert rows == [("good.txt", 2, PROVED), ("latin1.txt", 1, ERROR), ("utf16.txt", 1, ERROR),
                    ("binary.txt", 2, ERROR), ("missing.txt", 1, ERROR)]
    details = [r["detail"] for r in report["results"][1:]]
    assert "not UTF-8" in details[0] and "line 1" in details[0]
    assert "UTF-16" in details[1]
    assert "binary" in details[2]
    assert "cannot read" in details[3]


def test_a_byte_order_mark_is_ignored(runner):
    result = runner.invoke(cli, ["check", "-", "--format", "json"],
                           input="\ufefflet x: vector(n)\nx'x = ||x||^2\n".encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert [(r["line"], r["status"]) for r in json.loads(result.stdout)["results"]] == [(2, PROVED)]
    assert [(r.line, r.status) for r in check_source("\ufefflet x: vector(n)\nx'x = ||x||^2\n")] == [(2, PROVED)]


def test_only_newlines_end_lines():
    # form feed, NEL, U+2028, U+2029, vertical tab and a lone CR in comments: str.splitlines would count them
    source = ("let x: vector(n)  # a\x0cb\x85c\u2028d\u2029e\x0bf\rg\n"
              "x'x = ||x||^2  # \x1c\x1d\x1e\n"
              "x'x = 2\r\n"
              "tr(x x'\n")
    results = check_source(source)
    assert [(r.line, r.status) for r in results] == [(2, PROVED), (3, FALSE), (4, ERROR)]


def test_hundreds_of_let_lines_do_not_make_later_lets_too_long():
    lines = [f"let x{k}: vector(n)" for k in range(800)] + ["let y: vector(n)", "y'y = ||y||^2", "x799'y = y'x799"]
    results = check_source("\n".join(lines) + "\n")
    assert [(r.line, r.status) for r in results] == [(802, PROVED), (803, PROVED)]


def test_a_later_let_redeclares_the_names_it_mentions():
    source = ("let A: matrix(n, n), x: vector(n)\n"
              "tr(A) = tr(A')\n"
              "let A: matrix(n, m)\n"  # a new shape for A; x keeps vector(n)
              "tr(A'A) = tr(A A')\n"
              "x'A = (A'x)'\n"
              "let A: symmetric(n)\n"  # a new kind
              "x'A x = x'A'x\n"
              "let x: scalar\n"
              "d/dx x^3 = 3 x^2\n")
    results = check_source(source)
    assert [(r.line, r.status) for r in results] == [(2, PROVED), (4, PROVED), (5, PROVED), (7, PROVED), (9, PROVED)]


def test_a_let_that_makes_a_dimension_a_variable_is_an_error_and_changes_nothing():
    source = "let x: vector(n)\nlet n: scalar\nx'x = ||x||^2\n"
    results = check_source(source)
    assert [(r.line, r.status) for r in results] == [(2, ERROR), (3, PROVED)]
    assert results[0].column == 5 and "dimension" in results[0].detail


def test_a_derivative_by_a_variable_the_operand_lacks_is_zero_and_the_run_goes_on():
    # a3 is its own (undeclared) name, so d/da a3 is 0: the first line is false, the second holds
    source = "let a: scalar\nd/da a3 = 3 a^2\nd/da a3 = 0\nlet x: vector(n)\nd/dx a = 0\nx'x = ||x||^2\n"
    results = check_source(source)
    assert [(r.line, r.status) for r in results] == [(2, FALSE), (3, PROVED), (5, PROVED), (6, PROVED)]
    assert "right 1.8" in results[0].detail or "matcalc's derivative in numerator layout: 0" in results[0].detail


@pytest.mark.parametrize("declaration", ["x: vector(99999999999999999999999)", "x: vector(30000)"])
def test_huge_declared_sizes_are_checked_at_small_sizes(declaration):
    source = (f"let {declaration}, A: matrix(30000, 30000), B: matrix(30000, 30000), X: matrix(300, 300)\n"
              "x'x = ||x||^2\nd/dx x'x = 2x'\ntr(A B) = tr(B A)\nd/dX tr(X'X) = 2X'\nd/dX tr(X'X) = 3X'\n")
    start = time.process_time()
    results = check_source(source)
    assert time.process_time() - start < 2.0
    assert [r.status for r in results] == [PROVED, PROVED, PROVED, PROVED, FALSE]
    assert "300 checked at size" in results[4].detail  # the report says that the size was reduced


def test_structurally_singular_matrices_are_an_error_row_not_a_crash():
    source = ("let z: vector(n), u: vector(n), C: matrix(3, 2), B: matrix(2, 3)\n"
              "tr((u u')^-2) = 1\n"
              "inv(C B) C B = eye(3)\n"
              "d/dz det(z z') = 0\n"  # true: det(z z') is 0 for every z, and finite differences need no inverse
              "x'x = ||x||^2\n")
    results = check_source(source)
    assert [(r.line, r.status) for r in results] == [(2, ERROR), (3, ERROR), (4, HOLDS), (5, PROVED)]
    assert "rank 1" in results[0].detail and "invertible" in results[0].detail
    assert "rank 2" in results[1].detail


@pytest.mark.parametrize("power, status", [(20, HOLDS), (40, HOLDS), (400, HOLDS), (4000, ERROR)])
def test_large_matrix_powers_are_checked_quickly(power, status):
    source = f"let A: matrix(n, n), B: matrix(n, n)\nsum((A+B)^{power}) = sum((A+B)^{power})\n"
    start = time.process_time()
    (result,) = check_source(source)
    assert time.process_time() - start < 2.0
    # the prover gives up early on the expansion, and the numbers agree; at 4000 they overflow everywhere
    assert result.status == status


def test_the_prover_gives_up_on_large_expansions_within_its_budget():
    from matcalc.api import parse
    from matcalc.numeric.prove import equal_symbolically

    parsed = parse("sum((A+B)^20)", "A: matrix(n, n), B: matrix(n, n)")
    start = time.process_time()
    assert equal_symbolically(parsed.expr, parsed.expr, parsed.env) is False
    assert time.process_time() - start < 0.5
    small = parse("sum((A+B)^2)", "A: matrix(n, n), B: matrix(n, n)")
    assert equal_symbolically(small.expr, small.expr, small.env) is True


def test_an_unexpected_failure_of_one_line_is_an_error_row(monkeypatch):
    import matcalc.batch as batch

    real = batch._check

    def broken(identity):
        if identity.line == 2:
            raise KeyError("boom")
        return real(identity)

    monkeypatch.setattr(batch, "_check", broken)
    results = check_source("let x: vector(n)\nx'x = 1\nx'x = ||x||^2\n")
    assert [(r.line, r.status) for r in results] == [(2, ERROR), (3, PROVED)]
    assert results[0].detail.startswith("internal error: KeyError")


def test_a_line_that_runs_out_of_time_is_an_error_row(monkeypatch):
    import matcalc.batch as batch

    real = batch._check

    def slow(identity):
        if identity.line == 2:
            _busy(5)
        return real(identity)

    monkeypatch.setattr(batch, "_check", slow)
    monkeypatch.setattr(batch, "TIME_LIMIT", 0.2)
    start = time.process_time()
    results = check_source("let x: vector(n)\nx'x = 1\nx'x = ||x||^2\n")
    assert time.process_time() - start < 2.0
    assert [(r.line, r.status) for r in results] == [(2, ERROR), (3, PROVED)]
    assert "not answered within 0.2 s" in results[0].detail


def test_small_sizes_never_stand_in_where_the_size_is_also_a_number():
    # mean(x) is sum(x)/30000: at a stand-in size its derivative would differ from 1/30000 1'
    source = ("let x: vector(30000), y: vector(12), a: scalar\n"
              "d/dx mean(x) = ones(30000)'/30000\n"  # proved symbolically, so still settled
              "sum(x)/3 = mean(x)\n"  # false at 30000, true at a stand-in size 3: never 'holds'
              "sum(y)/12 = mean(y)\n"  # 12 is small enough to check as it is
              "sum(y)/3 = mean(y)\n"
              "d/da sum(y + a) = 12\n")  # scalar expansion counts 12 entries
    results = check_source(source)
    assert [(r.line, r.status) for r in results][:4] == [(2, PROVED), (3, ERROR), (4, HOLDS), (5, FALSE)]
    assert results[4].line == 6 and results[4].holds
    assert "declare the dimension with a name" in results[1].detail
    assert "not checked numerically" in results[0].detail


def _busy(seconds: float) -> None:
    """Work for `seconds` of CPU time (the time limits count CPU time, not sleep)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_large_powers_in_a_derivative_identity_do_not_drown_the_finite_differences():
    # sum(B^12) does not depend on A, but its size (with samples of norm about n it was about 1e9) made the
    # differences in A lose their digits: a true identity reported FALSE
    source = "let A: matrix(n, n), B: matrix(n, n)\nlayout denominator\nd/dA (tr(A'B) + sum(B^12)) = B\n"
    (result,) = check_source(source)
    assert result.holds, result.detail


def test_twentieth_powers_in_a_derivative_identity_still_hold():
    source = "let A: matrix(n, n), B: matrix(n, n)\nlayout denominator\nd/dA (tr(A'B) + sum(B^20)) = B\n"
    (result,) = check_source(source)
    assert result.holds, result.detail


# Long files stay linear in time and small in memory (SPEC §6)


def test_the_json_report_is_written_a_block_at_a_time_and_reads_as_one_document():
    from matcalc.batch import report_json, write_report_json

    results = check_source((EXAMPLES / "false.txt").read_text() + "tr(x é\n")
    for rows in (1, 7, 1000):
        parts = []
        write_report_json(results, parts.append, rows)
        assert "".join(parts) == json.dumps(report_json(results), ensure_ascii=False)
        assert len(parts) == 2 + -(-len(results) // rows)  # opening, one per block, summary


def test_a_long_table_is_rendered_in_blocks_with_one_header(runner):
    from matcalc.render.table import ROWS_AT_ONCE

    lines = ROWS_AT_ONCE + 5
    result = runner.invoke(cli, ["check", "-"], input="x'x =\n" * lines)
    assert result.exit_code == 2
    assert result.stdout.count("┃ line ┃") == 1 and result.stdout.count("could not be read") == 1
    assert result.stdout.count("expected an expression") == lines


def test_a_long_file_of_bad_lines_is_checked_in_linear_time_and_little_memory():
    import tracemalloc

    def cost(lines: int) -> tuple[float, int]:
        source = "".join(f"d/dx x'A{k} x = (A + A')x +\nlet y{k}: vectr(n)\n" for k in range(lines // 2))
        tracemalloc.start()
        start = time.process_time()
        results = check_source(source)
        elapsed = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(results) == lines and {r.status for r in results} == {ERROR}
        return elapsed, peak

    (short, _), (long, peak) = cost(1000), cost(8000)
    assert long < 12 * short  # 8 times the lines: linear, with room for a busy machine
    # about 200 bytes a row, the source included; it was 1.2 KB (rows and identities as dicts, all held to the end)
    assert peak < 8000 * 600
