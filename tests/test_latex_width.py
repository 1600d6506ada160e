"""Long LaTeX results break across lines (issue 11): an aligned block chosen by width, still one line
of text, that pdflatex sets on an article page with no overfull box."""

import subprocess

import pytest

from matcalc.cli import cli

LONG = [
    ["y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "--wrt", "w", "--order", "2"],
    [" + ".join(f"a{i} x'A{i}x" for i in range(1, 8)), "--wrt", "x"],
    ["-y' log(softmax(W2 tanh(W1 x + b1)))", "--wrt", "W1", "--layout", "denominator"],
    ["||W2 tanh(W1 x) - y||^2", "--wrt", "x", "--order", "2"],
    ["tanh(W5 tanh(W4 tanh(W3 tanh(W2 tanh(W1 x)))))", "--wrt", "x"],
]


def latex(runner, args, *extra):
    result = runner.invoke(cli, ["diff", *args, "--format", "latex", *extra])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # one line of text, whatever it sets as
    return result.stdout.strip()


@pytest.mark.parametrize("args", LONG)
def test_a_long_result_is_an_aligned_block(runner, args):
    text = latex(runner, args)
    assert text.startswith(r"\begin{aligned}") and text.endswith(r"\end{aligned}") and r"\\" in text
    assert not latex(runner, args, "--latex-width", "0").startswith(r"\begin{aligned}")


def test_a_short_result_stays_one_line(runner):
    assert latex(runner, ["x'Ax", "--wrt", "x"]) == \
        r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + A^\top)"


def test_long_results_set_without_an_overfull_box(runner, tmp_path, pdflatex_available):
    body = "\n".join(rf"\[ {latex(runner, args)} \]" for args in LONG)
    (tmp_path / "long.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                                       f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "long.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    log = (tmp_path / "long.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line]
