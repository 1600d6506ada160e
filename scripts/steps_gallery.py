"""Write examples/steps.md: the course's worked examples derived step by step, from matcalc's own output.

    python scripts/steps_gallery.py          # rewrite examples/steps.md
    python scripts/steps_gallery.py --check  # exit 1 if examples/steps.md differs from what it would write

tests/test_steps.py checks that the committed page equals this script's output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "examples" / "steps.md"

INTRO = """\
# The derivation, step by step

`matcalc diff ... --steps` writes the derivation as the course notes do on paper:
intermediate variables, local derivatives with the rule that justifies each,
the chain rule, and the layout convention at the end. A network is derived as
backpropagation: the forward pass with an intermediate variable for each
layer, each layer's local derivative, the error signal δ of each layer from
the loss down, and each weight's derivative read off the differential of its
layer (the outer product). Every step's right-hand
side comes from the same engine as the answer and is checked against finite
differences like the answer. This page is written by `scripts/steps_gallery.py`;
`tests/test_steps.py` fails when it is out of date, and compiles every LaTeX
block below with pdflatex.
"""

EXAMPLES = [
    ("The tangent line of 3x² − 4x (d2l)",
     ["3x^2 - 4x", "--wrt", "x", "--let", "x: scalar"]),
    ("Parr & Howard's neuron, max(0, w·x + b)",
     ["max(0, w'x + b)", "--wrt", "w"]),
    ("The neuron's loss for one sample, (max(0, w·x + b) − t)²",
     ["(max(0, w'x + b) - t)^2", "--wrt", "w", "--let", "t: scalar"]),
    ("A quadratic form, xᵀAx (differentials)",
     ["x'Ax", "--wrt", "x", "--layout", "denominator"]),
    ("Least squares, ‖y − Xw‖²",
     ["||y - Xw||^2", "--wrt", "w", "--layout", "denominator"]),
    ("Softmax cross-entropy, −yᵀlog(softmax(o))",
     ["-y' log(softmax(o))", "--wrt", "o", "--layout", "denominator"]),
    ("A two-layer network, W2 tanh(W1 x)",
     ["tanh(W2 tanh(W1 x))", "--wrt", "x"]),
    ("A trace, tr(A X B) (trace trick)",
     ["tr(A X B)", "--wrt", "X", "--layout", "denominator"]),
]

# Networks, derived as backpropagation: (title, arguments, the number of layers, each an affine map).
CLASSIFIER = "-y' log(softmax(W2 tanh(W1 x + b1) + b2))"
CLASSIFIER_SHAPES = "y: onehot(n), b1: vector(m), b2: vector(n)"
NETWORKS = [
    ("A two-layer softmax classifier by its first weight matrix (backpropagation)",
     [CLASSIFIER, "--wrt", "W1", "--let", CLASSIFIER_SHAPES, "--layout", "denominator"], 2),
    ("The same classifier by its first bias",
     [CLASSIFIER, "--wrt", "b1", "--let", CLASSIFIER_SHAPES], 2),
    ("A three-layer tanh regression by its middle weight matrix",
     ["1/2 ||W3 tanh(W2 tanh(W1 x + b1) + b2) + b3 - y||^2", "--wrt", "W2",
      "--let", "b1: vector(m), b2: vector(p), b3: vector(n)", "--layout", "denominator"], 3),
    ("Logistic regression",
     ["-y' log(sigmoid(X w)) - (1 - y)' log(1 - sigmoid(X w))", "--wrt", "w", "--layout", "denominator"], 1),
]


def run(arguments: list[str]) -> str:
    result = CliRunner().invoke(_cli(), ["diff", *arguments])
    if result.exit_code != 0:
        raise SystemExit(f"matcalc diff {' '.join(arguments)} failed: {result.output}")
    return result.output


def _cli():
    sys.path.insert(0, str(ROOT))
    from matcalc.cli import cli

    return cli


def build() -> str:
    parts = [INTRO]
    for title, arguments in EXAMPLES + [(title, arguments) for title, arguments, _ in NETWORKS]:
        command = "matcalc diff " + " ".join(_quoted(a) for a in arguments) + " --steps"
        text = run([*arguments, "--steps"])
        latex = run([*arguments, "--steps", "--format", "latex"])
        parts.append(f"\n## {title}\n\n```\n$ {command}\n{text}```\n\n```latex\n{latex}```\n")
    return "".join(parts)


def _quoted(argument: str) -> str:
    """As a person types it in a shell: double quotes around anything with spaces or quotes."""
    return f'"{argument}"' if any(c in argument for c in " '|;") else argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed page is out of date")
    arguments = parser.parse_args()
    page = build()
    if arguments.check:
        sys.exit(0 if PAGE.read_text() == page else 1)
    PAGE.write_text(page)
    print(PAGE)


if __name__ == "__main__":
    main()
