"""How many Magnus & Neudecker results matcalc checks, and how many derivatives it prints as the book does.

    python scripts/vec_corpus_report.py [examples/magnus-neudecker.txt]

First `matcalc check` of the whole file: every line should hold. Then each derivative after a
`notation vec` line is computed with `matcalc.diff(expr, wrt, let, order=order, notation="vec")` and its
Kronecker form, in canonical text, is compared with the book's form read with the same declarations
(canonical text drops only the parentheses the parser does not need; nothing else is forgiven: the
order of terms and where K stands count). It prints the two counts, then each other entry with its
line and the two forms side by side. It exits 0.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "magnus-neudecker.txt"
_DERIVATIVE = re.compile(r"^d(?P<order>\d?)/d(?P<wrt>\w+?)(?P=order)? (?P<expr>.*) = (?P<form>.*)$")


def derivatives(text: str):
    """(line, expression, variable, order, declarations, the book's form) for each derivative after `notation vec`."""
    lets, vec = [], False
    for number, line in enumerate(text.splitlines(), 1):
        content = line.split("#")[0].strip()
        if content.startswith("let "):
            lets.append(content[4:])
        elif content.startswith("notation "):
            vec = content.split()[1] == "vec"
        elif vec and (found := _DERIVATIVE.match(content)):
            yield number, found["expr"], found["wrt"], int(found["order"] or 1), "; ".join(lets), found["form"]


def main(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from matcalc.api import check, diff, parse
    from matcalc.errors import MatcalcError
    from matcalc.render.canonical import canonical

    text = path.read_text()
    report = check(text)
    print(f"{path.name}: {report.text.splitlines()[-1] if report.text else ''}")
    entries = list(derivatives(text))
    differing = []
    for line, expr, wrt, order, let, form in entries:
        try:
            result = diff(expr, wrt, let, order=order, notation="vec")
        except MatcalcError as error:
            differing.append((line, f"({error.message})", form))
            continue
        shown = result.vec.matrix if result.vec is not None else result.derivative.inline_matrix
        mine = canonical(shown) if shown is not None else result.text
        if mine != parse(form, let).canonical:
            differing.append((line, mine, form))
    same = len(entries) - len(differing)
    print(f"diff --notation vec prints {same} of {len(entries)} derivatives as the book does")
    for line, mine, form in differing:
        print(f"  line {line}: matcalc {mine}   book {form}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
