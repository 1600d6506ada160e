"""How fast `matcalc check` works through identity files, with one and with two worker processes.

    python benchmarks/check_speed.py

Measures identities per second on the example files and on a generated file of
1,000 identities (derivative identities of every cell of the shape table, true
and false, in three layouts), each with --jobs 1 and --jobs 2, in the same run.
The target: 1,000 identities in under 60 s on 2 cores.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from matcalc.batch import check_files

EXAMPLES = Path(__file__).parent.parent / "examples"

LET = ("let a: scalar, x: vector(n), y: vector(n), z: vector(m), A: matrix(n, n), B: matrix(n, m), "
       "C: matrix(m, n), X: matrix(n, m)")
# (identity in denominator layout, a wrong variant) for a mix of true and false lines
TEMPLATES = [
    ("d/dx x'A x = (A + A')x", "d/dx x'A x = 2 A x"),
    ("d/dX tr(X C) = C'", "d/dX tr(X C) = C"),
    ("d/dx ||x||^2 = 2 x", "d/dx ||x||^2 = x"),
    ("d/dz y'B z = B'y", "d/dz y'B z = 2 B'y"),
    ("d/da exp(a) x = exp(a) x'", "d/da exp(a) x = x'"),
    ("d/dx sum(exp(A x)) = A'exp(A x)", "d/dx sum(exp(A x)) = A exp(A x)"),
    ("d/dX ||X||_F^2 = 2 X", "d/dX ||X||_F^2 = X"),
    ("d/dA log(det(A)) = A^-T", "d/dA log(det(A)) = A^-1"),
    ("tr(B C) = tr(C B)", "tr(B C) = tr(B' C')"),
    ("d/dx logsumexp(x) = softmax(x)", "d/dx logsumexp(x) = exp(x)"),
]


def generated(count: int = 1000) -> str:
    lines = [LET, "layout denominator"]
    for number, (good, bad) in zip(range(count), itertools.cycle(TEMPLATES)):
        lines.append(good if number % 3 else bad)
    return "\n".join(lines) + "\n"


def measure(name: str, sources: list[tuple[str, str]]) -> None:
    for jobs in (1, 2):
        start = time.perf_counter()
        results = check_files(sources, jobs=jobs)
        seconds = time.perf_counter() - start
        statuses = {status: sum(r.status == status for r in results) for status in
                    ("proved", "holds (numerically)", "FALSE", "error")}
        print(f"| {name} | {len(results)} | {jobs} | {seconds:.1f} | {len(results) / seconds:.0f} | "
              f"{statuses['proved']} / {statuses['holds (numerically)']} / {statuses['FALSE']} / "
              f"{statuses['error']} |")


if __name__ == "__main__":
    print("| file | identities | jobs | seconds | identities/s | proved / holds / FALSE / error |")
    print("|---|---|---|---|---|---|")
    examples = [(path.name, path.read_text()) for path in sorted(EXAMPLES.glob("*.txt"))]
    measure("examples/*.txt", examples)
    measure("generated", [("generated", generated())])
