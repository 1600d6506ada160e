"""How the cost of a long sum grows with its number of terms: it should grow as the work does, not faster.

    python benchmarks/sum_speed.py            # both parts
    python benchmarks/sum_speed.py terms      # the table of terms alone

1. `x'A1x + x'A2x + ... + x'Akx` by x for k = 100 .. 2,000, through `matcalc.diff` (parsing, the
   derivative, the simplifier's passes and the self-check against finite differences): the CPU
   seconds of each (the best of a few runs), the seconds per term, and that figure as a ratio to
   the 100-term one. The ratio should stay near 1: a pass that read a sum's terms again at each level
   of the balanced tree long sums are built as (language/syntax.py, SUM_BALANCE_ABOVE) made it grow
   with log k, and a quadratic one with k. Sums of more than about 1,000 such terms are longer than
   the command line accepts (10,000 characters); the limit is lifted here, in this process only.
2. The whole command `matcalc diff "<1,000 terms>" --wrt x` (self-check included), its CPU time as a
   ratio to that of `matcalc diff "x'Ax" --wrt x`, both measured here (the median of a few runs each);
   the command's own bound is 2 s of CPU time.
Figures are ratios against baselines measured in the same run, not absolute targets.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from matcalc import diff
from matcalc.language.parser import Parser

TERMS = (100, 200, 500, 1000, 1500, 2000)
RUNS = 3  # the best of this many runs of each size
COMMAND_RUNS = 5


def long_sum(terms: int) -> str:
    return " + ".join(f"x'A{i}x" for i in range(1, terms + 1))


@contextmanager
def no_length_limit() -> Iterator[None]:
    """The parser's limit on the input's length lifted (its last default argument), then restored."""
    defaults = Parser.__init__.__defaults__
    assert defaults is not None
    Parser.__init__.__defaults__ = (*defaults[:-1], None)
    try:
        yield
    finally:
        Parser.__init__.__defaults__ = defaults


def cpu_seconds(terms: int, runs: int = RUNS) -> float:
    source = long_sum(terms)
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        with no_length_limit():
            result = diff(source, "x")
        best = min(best, time.process_time() - start)
        assert result.check is not None and result.check.holds, f"{terms} terms: the self-check failed"
    return best


def terms_table() -> None:
    print("## x'A1x + ... + x'Akx by x: CPU time per term\n")
    print("| terms | seconds | seconds per term | ratio to 100 terms |")
    print("|---|---|---|---|")
    diff("x'Ax", "x")  # imports and first-call costs outside the figures
    baseline = None
    for terms in TERMS:
        seconds = cpu_seconds(terms)
        per_term = seconds / terms
        baseline = baseline or per_term
        print(f"| {terms:,} | {seconds:.3f} | {per_term * 1e3:.3f} ms | {per_term / baseline:.2f} |")
    print()


def command_cpu(source: str) -> float:
    """The CPU time (user + system) of one `matcalc diff SOURCE --wrt x` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "matcalc.cli", "diff", source, "--wrt", "x"],
        check=True,
        capture_output=True,
        cwd=Path(__file__).parent.parent,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def command() -> None:
    print("## The whole command, self-check included\n")
    one, thousand = [], []
    for _ in range(COMMAND_RUNS):  # alternately, so that other work on the machine weighs on both alike
        one.append(command_cpu("x'Ax"))
        thousand.append(command_cpu(long_sum(1000)))
    small, large = statistics.median(one), statistics.median(thousand)
    print(f"`x'Ax`: {small:.2f} s of CPU; 1,000 terms: {large:.2f} s, {large / small:.2f}× the one-term command\n")


def main(argv: list[str]) -> None:
    parts = argv[1:] or ["terms", "command"]
    if "terms" in parts:
        terms_table()
    if "command" in parts:
        command()


if __name__ == "__main__":
    main(sys.argv)
