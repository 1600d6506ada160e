"""Render docs/example.png for the README from matcalc's own LaTeX output.

    python scripts/render_readme_example.py

Needs pdflatex (Debian: texlive-latex-base) and pdftoppm (Debian: poppler-utils).
The image shows `matcalc diff ... --format latex` for a few course examples,
compiled as pasted into a document.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [
    ["x'Ax", "--wrt", "x", "--layout", "denominator"],
    ["-y' log(softmax(o))", "--wrt", "o", "--layout", "denominator"],
    ["max(0, w'x + b)", "--wrt", "w"],
    ["tanh(W2 tanh(W1 x))", "--wrt", "x"],
    ["A X b", "--wrt", "X", "--let", "b: vector(k)"],
    ["1/2 ||X w - y||^2", "--wrt", "w", "--order", "2"],
]


def latex_lines() -> list[str]:
    lines = []
    for arguments in EXAMPLES:
        command = [sys.executable, "-m", "matcalc", "diff", *arguments, "--format", "latex"]
        lines.append(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip())
    return lines


def main() -> None:
    body = "\n".join(rf"\[ {line} \]" for line in latex_lines())
    document = (r"\documentclass[12pt]{article}\usepackage{amsmath,amssymb}\pagestyle{empty}"
                r"\usepackage[margin=0.5in,paperwidth=8.5in,paperheight=4.3in]{geometry}"
                "\n\\begin{document}\n" + body + "\n\\end{document}\n")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "example.tex").write_text(document)
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "example.tex"], cwd=folder,
                       check=True, capture_output=True)
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", "example.pdf", str(ROOT / "docs" / "example")],
                       cwd=folder, check=True)
    print(ROOT / "docs" / "example.png")


if __name__ == "__main__":
    main()
