"""--steps: the derivation, each step a true equation from the same engine, ending in diff's answer."""

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import DECLS, typed_expressions
from helpers import without_rounding_noise

from cases import WORKED

from matcalc import diff
from matcalc.api import Parsed, run_check
from matcalc.cli import cli
from matcalc.errors import UnsupportedError

ROOT = Path(__file__).parent.parent
LAYOUTS = ["numerator", "denominator", "mixed"]
def assert_every_step_holds(result) -> None:
    """Each step's right-hand side against finite differences of the step's own function."""
    assert result.derivation is not None
    for derivative in result.derivation.results():
        report = run_check(Parsed(result.parsed.source, derivative.expr, result.parsed.env, {}), derivative)
        assert report.holds or report.points == 0, (result.parsed.source, derivative.expr)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("source, wrt, let", WORKED)
def test_every_step_of_the_worked_examples_holds_and_ends_in_the_answer(source, wrt, let, layout):
    result = diff(source, wrt, let, layout, steps=True)
    assert_every_step_holds(result)
    last = result.derivation.steps[-1].equations[-1].result
    plain = diff(source, wrt, let, layout)
    assert _text(last) == plain.text  # the last step is diff's answer, in every layout


def _text(derivative) -> str:
    from matcalc.render.text import derivative_text

    return derivative_text(derivative)


@settings(max_examples=int(os.environ.get("MATCALC_EXAMPLES", 40)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(typed_expressions(), st.sampled_from(LAYOUTS), st.sampled_from([1, 1, 2]), st.data())
def test_every_step_of_a_generated_derivation_holds(case, layout, order, data):
    """All table cells (the generator aims at every shape), orders 1 and 2, every layout."""
    text, _ = case
    from matcalc import parse

    variables = sorted(parse(text, DECLS).shapes())
    assume(variables)
    wrt = data.draw(st.sampled_from(variables))
    try:
        result = diff(text, wrt, DECLS, layout, order, steps=True)
    except UnsupportedError:
        assume(False)
    assert_every_step_holds(result)
    assert _text(result.derivation.steps[-1].equations[-1].result) == result.text


def test_neuron_golden():
    """Reviewed by hand against Parr & Howard §"The gradient of the neural network activation"."""
    lines = diff("max(0, w'x + b)", "w", steps=True).report()
    assert lines[1:7] == [
        " 1. u = wᵀx + b, y = max(0, u)                intermediate variables",
        " 2. ∂u/∂w = xᵀ                                sum rule, linear map rule (∂(A x)/∂x = A)",
        " 3. ∂y/∂u = step(u)                           element-wise diagonal property, subgradient at the kink",
        "    (at the kink a subgradient is chosen: step(0) = 1/2, inside every subdifferential here)",
        " 4. ∂y/∂w = ∂y/∂u ∂u/∂w = step(u) xᵀ          vector chain rule",
        " 5. ∂y/∂w = step(wᵀx + b) xᵀ                  substitution of the intermediate variables",
    ]


def test_quadratic_form_golden_goes_through_differentials():
    """d(xᵀAx) = dxᵀAx + xᵀA dx = xᵀAᵀdx + xᵀA dx = xᵀ(A + Aᵀ)dx (Magnus & Neudecker; dxᵀAx is a scalar, its
    own transpose), then the gradient's shape."""
    lines = diff("x'Ax", "x", layout="denominator", steps=True).report()
    assert lines[1].startswith(" 1. dy = dxᵀA x + xᵀA dx = xᵀAᵀdx + xᵀA dx = xᵀ(A + Aᵀ) dx, so ∂y/∂x = xᵀ(A + Aᵀ)")
    assert lines[1].endswith("product rule in differentials, transpose of a scalar, differential identification")
    assert lines[2].startswith(" 2. ∂y/∂x = (A + Aᵀ)x") and "layout convention" in lines[2]


def test_trace_golden_reads_the_differential():
    lines = diff("tr(A X B)", "X", steps=True).report()
    assert lines[1].startswith(" 1. dy = tr(B A dX), so ∂y/∂X = B A") and "trace trick" in lines[1]


def test_cli_steps_in_every_format(runner):
    text = runner.invoke(cli, ["diff", "max(0, w'x + b)", "--wrt", "w", "--steps"])
    assert text.exit_code == 0 and "chain rule" in text.stdout and text.stdout.rstrip().splitlines()[-1].startswith(
        "checked:")
    data = json.loads(runner.invoke(cli, ["diff", "max(0, w'x + b)", "--wrt", "w", "--steps", "--format", "json"]).stdout)
    assert [set(item) for item in data["steps"]] == [{"lhs", "rhs", "rule", "latex"}] * len(data["steps"])
    assert data["steps"][-1]["rhs"] == "step(wᵀx + b) xᵀ"
    latex = runner.invoke(cli, ["diff", "max(0, w'x + b)", "--wrt", "w", "--steps", "--format", "latex"]).stdout
    assert latex.startswith("\\begin{align*}") and latex.rstrip().endswith("\\end{align*}") and "&=" in latex
    assert "\\tag*{\\text{(vector chain rule)}}" in latex and latex.isascii()


def step_count(source: str, wrt: str, let: str = "") -> int:
    return len(diff(source, wrt, let, steps=True).derivation.steps)


def test_derivations_stay_short():
    five_layers = "x"
    for layer in range(1, 6):
        five_layers = f"tanh(W{layer} {five_layers})"
    assert step_count(five_layers, "x") <= 14
    for source, wrt, let in WORKED:
        assert step_count(source, wrt, let) <= 12, source


def test_the_committed_steps_gallery_equals_the_scripts_output():
    spec = importlib.util.spec_from_file_location("steps_gallery", ROOT / "scripts" / "steps_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "examples" / "steps.md").read_text()
    assert without_rounding_noise(committed) == without_rounding_noise(module.build())


def test_the_gallerys_latex_compiles_without_overfull_boxes(tmp_path, pdflatex_available):
    blocks = re.findall(r"```latex\n(.*?)```", (ROOT / "examples" / "steps.md").read_text(), flags=re.S)
    assert len(blocks) >= 8
    document = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                + "\n".join(blocks) + "\n\\end{document}\n")
    (tmp_path / "steps.tex").write_text(document)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "steps.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    log = (tmp_path / "steps.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line]
