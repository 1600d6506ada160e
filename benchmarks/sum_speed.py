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
   Beside it, the same ratio for a plain walk over the parsed sum (a fixed work per node): a tree of
   2,000 terms does not fit the processor's caches as one of 100 does, so even that grows by about a
   third; the last column divides it out.
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

from matcalc import diff, nodes, parse
from matcalc.language.parser import Parser

TERMS = (100, 200, 500, 1000, 1500, 2000)
RUNS = 5  # the best of this many runs of each size
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


def cpu_seconds(terms: int) -> float:
    source = long_sum(terms)
    start = time.process_time()
    with no_length_limit():
        result = diff(source, "x")
    seconds = time.process_time() - start
    assert result.check is not None and result.check.holds, f"{terms} terms: the self-check failed"
    return seconds


def walk_seconds_per_node(terms: int) -> float:
    """A plain walk over the parsed sum, hashing each node: a fixed work per node, so that its time per
    node grows with the tree only as far as the machine's caches make it (the reference for the table)."""
    with no_length_limit():
        expr = parse(long_sum(terms)).expr
    size = nodes.size(expr)
    start = time.process_time()
    for _ in range(max(1, 200_000 // terms)):
        for sub in nodes.walk(expr):
            hash(sub)
    return (time.process_time() - start) / (max(1, 200_000 // terms) * size)


def terms_table() -> None:
    print("## x'A1x + ... + x'Akx by x: CPU time per term\n")
    print("| terms | seconds | seconds per term | ratio to 100 terms | a walk's ratio | the ratio over the walk's |")
    print("|---|---|---|---|---|---|")
    diff("x'Ax", "x")  # imports and first-call costs outside the figures
    best = dict.fromkeys(TERMS, float("inf"))
    walk = dict.fromkeys(TERMS, float("inf"))
    for _ in range(RUNS):  # round by round, so that other work on the machine weighs on every size alike
        for terms in TERMS:
            best[terms] = min(best[terms], cpu_seconds(terms))
            walk[terms] = min(walk[terms], walk_seconds_per_node(terms))
    baseline, walk_baseline = best[TERMS[0]] / TERMS[0], walk[TERMS[0]]
    for terms, seconds in best.items():
        ratio, walk_ratio = seconds / terms / baseline, walk[terms] / walk_baseline
        print(
            f"| {terms:,} | {seconds:.3f} | {seconds / terms * 1e3:.3f} ms | {ratio:.2f} | {walk_ratio:.2f} "
            f"| {ratio / walk_ratio:.2f} |"
        )
    print()


def command_cpu(source: str) -> tuple[float, bool]:
    """The CPU time (user + system) of one `matcalc diff SOURCE --wrt x` process, and whether it answered
    (it exits with 3 when its own bound of CPU time runs out)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        [sys.executable, "-m", "matcalc.cli", "diff", source, "--wrt", "x"],
        capture_output=True,
        cwd=Path(__file__).parent.parent,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), finished.returncode == 0


def command() -> None:
    print("## The whole command, self-check included\n")
    one, thousand, refused = [], [], 0
    for _ in range(COMMAND_RUNS):  # alternately, so that other work on the machine weighs on both alike
        one.append(command_cpu("x'Ax")[0])
        seconds, answered = command_cpu(long_sum(1000))
        thousand.append(seconds)
        refused += not answered
    small, large = statistics.median(one), statistics.median(thousand)
    print(
        f"`x'Ax`: {small:.2f} s of CPU; 1,000 terms: {large:.2f} s, {large / small:.2f}× the one-term command "
        f"(medians of {COMMAND_RUNS}; refused by the 2 s bound {refused} times)\n"
    )


def main(argv: list[str]) -> None:
    parts = argv[1:] or ["terms", "command"]
    if "terms" in parts:
        terms_table()
    if "command" in parts:
        command()


if __name__ == "__main__":
    main(sys.argv)
