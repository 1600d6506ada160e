"""Make the README's picture, docs/example.png, from what `matcalc diff ... --format latex` prints today.

    python scripts/render_readme_example.py

Writes docs/example.tex (a document of one displayed equation per command in COMMANDS, each line exactly
as matcalc printed it) and compiles it into docs/example.png, which records the SHA-256 of the LaTeX it
was made from. tests/test_docs.py rebuilds the LaTeX (without compiling it) and fails when it differs from
docs/example.tex, or when the picture was made from another file.

Needs pdflatex with amsmath (Debian: texlive-latex-base, texlive-latex-recommended) and pdftoppm
(Debian: poppler-utils).
"""

from __future__ import annotations

import hashlib
import shlex
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

from click.testing import CliRunner

from matcalc.cli import cli

ROOT = Path(__file__).resolve().parent.parent
TEX, PNG = ROOT / "docs" / "example.tex", ROOT / "docs" / "example.png"
COMMANDS = [
    """matcalc diff "x'Ax" --wrt x --layout denominator --format latex""",
    """matcalc diff "-y'log(sigmoid(Xw)) - (1 - y)'log(1 - sigmoid(Xw))" --wrt w --layout denominator \
--format latex""",
    """matcalc diff "-y' log(softmax(o))" --wrt o --let "y: onehot(n)" --layout denominator --format latex""",
    """matcalc diff "logsumexp(x)" --wrt x --order 2 --format latex""",
    """matcalc diff "tanh(W2 tanh(W1 x))" --wrt x --format latex""",
    """matcalc diff "A X b" --wrt X --let "b: vector(k)" --format latex""",
]
PREAMBLE = "".join(
    line + "\n"
    for line in (
        r"\documentclass[12pt]{article}",
        r"\usepackage{amsmath,amssymb}",
        r"\usepackage[margin=0.25in,paperwidth=5.8in,paperheight=3.5in]{geometry}",
        r"\pagestyle{empty}",
    )
)
DIGEST_KEY = b"matcalc-source-sha256"


def latex_of(command: str) -> str:
    """The one line of LaTeX that the command prints."""
    result = CliRunner().invoke(cli, shlex.split(command)[1:], prog_name="matcalc")
    if result.exit_code != 0:
        raise SystemExit(f"{command}\nexited {result.exit_code}:\n{result.output}")
    return result.output.strip()


def document() -> str:
    """The LaTeX document: for each command, the command as a comment and its output displayed."""
    body = "".join(f"% $ {command}\n\\[ {latex_of(command)} \\]\n" for command in COMMANDS)
    return f"{PREAMBLE}\\begin{{document}}\n{body}\\end{{document}}\n"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def with_text_chunk(png: bytes, key: bytes, value: str) -> bytes:
    """The PNG with a tEXt chunk (key, value) after its header chunk, which is always first."""
    data = key + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    header_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, 13 bytes of data and CRC
    return png[:header_end] + chunk + png[header_end:]


def source_digest(png_path: Path) -> str | None:
    """The SHA-256 of the LaTeX the picture was compiled from, as recorded in it (None if not recorded)."""
    png, position = png_path.read_bytes(), 8
    while position < len(png):
        (length,), kind = struct.unpack(">I", png[position : position + 4]), png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        if kind == b"tEXt" and data.startswith(DIGEST_KEY + b"\0"):
            return data[len(DIGEST_KEY) + 1 :].decode("latin-1")
        position += 12 + length
    return None


def compile_to_png(latex: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "example.tex").write_text(latex)
        subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "example.tex"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["pdftoppm", "-png", "-r", "140", "-singlefile", "example.pdf", "example"], cwd=folder, check=True
        )
        return Path(folder, "example.png").read_bytes()


def main() -> None:
    latex = document()
    TEX.write_text(latex)
    PNG.write_bytes(with_text_chunk(compile_to_png(latex), DIGEST_KEY, digest(latex)))
    print(f"{TEX.relative_to(ROOT)}, {PNG.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
