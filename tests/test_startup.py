"""Start-up: a command imports what it needs and nothing more. Not timed (benchmarks/diff_speed.py startup
measures the time, against `python -c "import sympy"`): these tests say which modules stay out, which is what
keeps `matcalc diff` quick."""

import json
import subprocess
import sys

import pytest

# Runs the command in a fresh interpreter, its output to a pipe (text without styles), then reports the modules
# it imported. The report goes to stderr so that it cannot mix with the command's own output.
RUN_AND_LIST_MODULES = """
import json, sys
from matcalc.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="matcalc")
except SystemExit as end:
    status = end.code
sys.stdout.flush()
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

NEVER_FOR_DIFF = ("sympy", "matplotlib", "mpmath", "matcalc.render.to_sympy", "matcalc.render.sympy")


def imported_by(*args: str) -> tuple[str, set[str]]:
    """The output of `matcalc ARGS` and the modules it imported."""
    finished = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, *args], capture_output=True, text=True, timeout=120
    )
    report = json.loads(finished.stderr.strip().splitlines()[-1])
    assert report["status"] in (0, None), finished.stderr
    return finished.stdout, set(report["modules"])


def test_diff_as_text_imports_no_sympy_no_latex_printer_and_no_rich():
    output, modules = imported_by("diff", "x'Ax", "--wrt", "x")
    assert output.startswith("∂/∂x x'Ax = xᵀ(A + Aᵀ)\n") and "checked: 3 points" in output
    assert "numpy" in modules  # the self-check
    for absent in (*NEVER_FOR_DIFF, "matcalc.render.latex", "matcalc.render.steps", "rich"):
        assert absent not in modules, absent


def test_diff_without_its_check_imports_no_numpy():
    output, modules = imported_by("diff", "x'Ax", "--wrt", "x", "--no-check")
    assert output.startswith("∂/∂x x'Ax = xᵀ(A + Aᵀ)\n")
    for absent in (*NEVER_FOR_DIFF, "numpy", "matcalc.render.latex", "rich"):
        assert absent not in modules, absent


@pytest.mark.parametrize("fmt", ["latex", "json"])  # numpy, torch and jax modules are printed through SymPy
def test_diff_in_other_formats_imports_no_sympy(fmt):
    output, modules = imported_by("diff", "x'Ax", "--wrt", "x", "--format", fmt)
    assert output
    for absent in (*NEVER_FOR_DIFF, "rich"):
        assert absent not in modules, absent


def test_parse_imports_neither_numpy_nor_sympy():
    output, modules = imported_by("parse", "||y - Xw||^2")
    assert output.startswith("expression: ||y - X w||^2\n")
    for absent in (*NEVER_FOR_DIFF, "numpy", "rich", "matcalc.render.latex"):
        assert absent not in modules, absent


def test_a_table_does_import_rich():
    """The other side of the test above: the listing sees rich where it is used."""
    output, modules = imported_by("diff", "x'Ax", "--wrt", "x", "--format", "table", "--no-check")
    assert "xᵀ(A + Aᵀ)" in output
    assert "rich" in modules and "sympy" not in modules
