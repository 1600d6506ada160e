"""Fuzz matcalc: random, mutated, generated and hostile inputs through the API and the CLI.

    python scripts/fuzz.py [INPUTS] [SEED]       (defaults: 10000 inputs, seed 0)

Every input must be answered or refused cleanly: through the API only a MatcalcError may escape;
through the CLI (click's CliRunner) the exit status is one of SPEC §6's (0-4), no exception other than
SystemExit, and no "internal error". Each input should take under 2 s. The script prints how many
inputs it tried, every traceback (with the input that caused it), the slowest input and its time, and
the peak memory of the process (resource.getrusage). Exit status 1 if there was any traceback.

tests/test_fuzz.py runs a few hundred inputs of the same kinds on every test run.
"""

from __future__ import annotations

import random
import re
import resource
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STATUSES = {0, 1, 2, 3, 4}
SLOW = 2.0  # seconds of CPU time: an input slower than this is reported
HANG = 20.0  # seconds of CPU time: an input is stopped after this, and reported as a hang

# ---------------------------------------------------------------------------------------------------------------
# Inputs


def example_lines() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(expression, let) and (identity, let) pairs from examples/*.txt and examples/expressions.list: each
    with the declarations of the `let` lines above it."""
    expressions, identities = [], []
    for path in sorted(EXAMPLES.glob("*.txt")) + [EXAMPLES / "expressions.list"]:
        let: dict[str, str] = {}
        for raw in path.read_text(encoding="utf-8").split("\n"):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            if text.startswith("let "):
                for part in text[4:].replace(";", ",").split("),"):
                    name, _, kind = part.partition(":")
                    let[name.strip()] = kind.strip() + (")" if "(" in kind and not kind.strip().endswith(")") else "")
            elif text.startswith("layout "):
                continue
            else:
                declared = ", ".join(f"{name}: {kind}" for name, kind in let.items())
                if "=" in text:
                    identities.append((text, declared))
                    expressions.extend((side.strip(), declared) for side in text.split("=", 1))
                else:
                    expressions.append((text, declared))
    return expressions, identities


GENERATED_LET = "x: vector(n), y: vector(n), A: matrix(n, n), B: matrix(n, n), a: scalar, b: scalar"


ALPHABET = "xyzwAXBWabcn12 +-*/^'()|.,;:=_@dT" + "‖ᵀ⁻¹²³⊙−" + "\\{}$" + "\t\n"
FUNCTIONS = ["exp", "log", "sin", "cos", "tanh", "sqrt", "sigmoid", "relu", "abs", "sign", "softmax",
             "logsumexp", "sum", "mean", "tr", "det", "logdet", "diag", "inv", "norm", "norm1", "norm2",
             "max", "min", "dot", "eye", "ones", "vector", "matrix", "f", "arcsin", "arccos", "arctan"]
WEIRD = ["\x00", "\u200b", "\u202e", "\ufeff", "\U0001f600", "\x85", "\u2028", "\x0c", "\x1b[31m", "é", "ß",
         "Ω", "∂", "∇", "∑", "√", "𝐱", "ﬁ", "\uffff", "\r", "\x7f"]
DECLARATIONS = ["x: vector(n)", "y: vector(n)", "w: vector(n)", "z: vector(m)", "a: scalar", "b: scalar",
                "A: matrix(n, n)", "B: matrix(n, n)", "X: matrix(n, m)", "W: matrix(m, n)", "S: symmetric(n)",
                "P: posdef(n)", "C: matrix(3, 2)", "D: matrix(2, 3)", "u: vector(3)", "v: vector(2)",
                "f: function", "p: simplex(n)", "h: onehot(n)", "t: scalar"]
HOSTILE_DECLARATIONS = ["x: vector(99999999999999999999999)", "A: matrix(30000, 30000)", "x: vector(0)",
                        "x: vector(-1)", "x: vector(1)", "A: matrix(1, 1)", "x: vector(n), n: scalar",
                        "x: vector(" + "9" * 400 + ")", "A: matrix(n, n), A: matrix(n, m)", "x:", ": vector(n)",
                        "x: tensor(n)", "x: vector(n" + ")" * 50, "é: scalar"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))


def mutate(rng: random.Random, text: str) -> str:
    """A few random edits: delete, insert, replace, duplicate, swap, wrap, negate."""
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(text))
        kind = rng.randrange(9)
        if kind == 0 and text:
            text = text[:position] + text[position + 1:]
        elif kind == 1:
            text = text[:position] + rng.choice(ALPHABET) + text[position:]
        elif kind == 2 and text:
            text = text[:position] + rng.choice(ALPHABET) + text[position + 1:]
        elif kind == 3 and text:
            start = rng.randint(0, len(text) - 1)
            piece = text[start:rng.randint(start, len(text))]
            text = text[:position] + piece + text[position:]
        elif kind == 4:
            text = f"{rng.choice(FUNCTIONS)}({text})"
        elif kind == 5:
            text = "-" + text
        elif kind == 6:
            text = f"({text}){rng.choice(['^2', '^-1', chr(39), '^T', '^20', '^-2', '.^3', '^0.5'])}"
        elif kind == 7:
            text = f"{text} {rng.choice(['+', '-', '*', '.*', '/', '@', ''])} {text}"
        else:
            text = text[:position] + rng.choice(WEIRD) + text[position:]
    return text


def generated(rng: random.Random, depth: int = 0) -> str:
    """A well-typed expression over x, y (vectors n), A, B (n×n), a (scalar): (text, kind) built bottom up."""
    return _gen(rng, rng.choice(["scalar", "vector", "matrix"]), depth)


def _gen(rng: random.Random, kind: str, depth: int) -> str:
    leaves = {"scalar": ["a", "b", "2", "0.5", "x'y", "tr(A)", "sum(x)", "||x||^2", "n"],
              "vector": ["x", "y", "A x", "ones(n)", "vector(1)"],
              "matrix": ["A", "B", "I", "x y'", "diag(x)"]}
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(leaves[kind])
    sub = lambda k: _gen(rng, k, depth + 1)  # noqa: E731
    if kind == "scalar":
        forms = [lambda: f"{sub('scalar')} + {sub('scalar')}", lambda: f"{sub('scalar')} {sub('scalar')}",
                 lambda: f"{sub('vector')}'{sub('vector')}", lambda: f"sum({sub('vector')})",
                 lambda: f"tr({sub('matrix')})", lambda: f"det({sub('matrix')})",
                 lambda: f"logdet({sub('matrix')})", lambda: f"||{sub('vector')}||^2",
                 lambda: f"{rng.choice(['exp', 'log', 'tanh', 'sin', 'sqrt', 'abs', 'relu'])}({sub('scalar')})",
                 lambda: f"{sub('vector')}'{sub('matrix')}{sub('vector')}", lambda: f"logsumexp({sub('vector')})",
                 lambda: f"mean({sub('matrix')})", lambda: f"{sub('scalar')}^{rng.choice(['2', '3', '-1'])}",
                 lambda: f"max(0, {sub('scalar')})", lambda: f"-{sub('scalar')}"]
    elif kind == "vector":
        forms = [lambda: f"{sub('vector')} + {sub('vector')}", lambda: f"{sub('matrix')} {sub('vector')}",
                 lambda: f"{sub('scalar')} {sub('vector')}", lambda: f"{sub('vector')} .* {sub('vector')}",
                 lambda: f"softmax({sub('vector')})", lambda: f"tanh({sub('vector')})",
                 lambda: f"sigmoid({sub('vector')})", lambda: f"diag({sub('matrix')})",
                 lambda: f"{sub('vector')} - {sub('scalar')}", lambda: f"max({sub('vector')}, 0)",
                 lambda: f"{sub('vector')}.^2", lambda: f"exp({sub('vector')})"]
    else:
        forms = [lambda: f"{sub('matrix')} + {sub('matrix')}", lambda: f"{sub('matrix')} {sub('matrix')}",
                 lambda: f"{sub('matrix')}'", lambda: f"inv({sub('matrix')})", lambda: f"{sub('matrix')}^-1",
                 lambda: f"{sub('matrix')}^{rng.choice(['2', '3', '12', '13', '20', '-2'])}",
                 lambda: f"{sub('vector')} {sub('vector')}'", lambda: f"diag({sub('vector')})",
                 lambda: f"{sub('scalar')} {sub('matrix')}", lambda: f"{sub('matrix')} .* {sub('matrix')}",
                 lambda: f"exp({sub('matrix')})"]
    return rng.choice(forms)()


def hostile(rng: random.Random) -> str:
    k = rng.randint(1, 12)
    choices = [
        lambda: "9" * rng.randint(20, 5000) + " x",
        lambda: "1e" + str(rng.randint(300, 10**6)) + " x",
        lambda: "(" * rng.randint(50, 3000) + "x" + ")" * rng.randint(0, 3000),
        lambda: "-" * rng.randint(10, 3000) + "x",
        lambda: "sum(" * rng.randint(10, 500) + "x" + ")" * rng.randint(0, 500),
        lambda: "x" + "'" * rng.randint(10, 9000),
        lambda: "a^" * rng.randint(5, 2000) + "a",
        lambda: " + ".join(["x'A x"] * rng.randint(10, 2500)),
        lambda: "x" * rng.randint(100, 20000),
        lambda: rng.choice(WEIRD) * rng.randint(1, 1000),
        lambda: "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(rng.randint(1, 60))).replace("\ud800", ""),
        lambda: "tanh(" * k + "W x" + ")" * k,
        lambda: f"A^{rng.choice([13, 40, 1000, 10**9, 10**30])}",
        lambda: f"(A + B)^{rng.randint(10, 60)}",
        lambda: f"x^{rng.choice(['1e308', '1e309', '-1e400', '10000000000', '0.5', '-0.5'])}",
        lambda: "||" * rng.randint(2, 200) + "x" + "||" * rng.randint(0, 200),
        lambda: "d/dx " * rng.randint(2, 50) + "x'x",
        lambda: "\\frac{" * rng.randint(2, 300) + "x" + "}" * rng.randint(0, 300),
        lambda: "x" + "\x00" + "y",
        lambda: "x\n" * rng.randint(1, 500),
        lambda: "$" * rng.randint(1, 50) + "\\mathbf{x}^\\top A" + "$" * rng.randint(0, 50),
    ]
    return _surrogate_free(rng.choice(choices)())


def _surrogate_free(text: str) -> str:
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


@dataclass
class Case:
    kind: str  # where the text came from
    target: str  # what it goes through
    text: str
    let: str = ""
    wrt: str = "x"
    options: list[str] = field(default_factory=list)

    def identity_file(self) -> str:
        """The text as an identity file: its let line, and the text itself if it is an identity, else the
        text equal to itself (so it is checked, not refused for a missing "=")."""
        identity = self.text if "=" in self.text else f"{self.text} = {self.text}"
        return (f"let {self.let}\n" if self.let else "") + identity + "\n"

    def describe(self) -> str:
        extra = f" let={self.let!r}" if self.let else ""
        extra += f" wrt={self.wrt!r}" if self.target.endswith("diff") else ""
        extra += f" options={self.options}" if self.options else ""
        return f"[{self.kind} via {self.target}] {self.text[:300]!r}{'...' if len(self.text) > 300 else ''}{extra}"


TARGETS = ["api-parse", "api-diff", "api-check", "cli-parse", "cli-diff", "cli-check", "cli-solve"]


def cases(count: int, seed: int) -> Iterator[Case]:
    rng = random.Random(seed)
    expressions, identities = example_lines()
    for _ in range(count):
        kind = rng.choices(["random", "mutated", "generated", "hostile", "identity"], [1, 4, 4, 1, 3])[0]
        let = ""
        if kind == "random":
            text = random_text(rng)
        elif kind == "mutated":
            text, let = rng.choice(expressions)
            text = mutate(rng, text) if rng.random() < 0.8 else text
        elif kind == "generated":
            text, let = generated(rng), GENERATED_LET if rng.random() < 0.7 else ""
            if rng.random() < 0.5:
                text = f"{text} = {generated(rng)}" if rng.random() < 0.5 else f"d/dx {text} = {generated(rng)}"
        elif kind == "hostile":
            text = hostile(rng)
        else:
            text, let = rng.choice(identities)
            text = mutate(rng, text) if rng.random() < 0.6 else text
        if rng.random() < 0.2:
            let = _declarations(rng)
        names = [name for name in re.findall(r"[A-Za-z][A-Za-z0-9]*", text) if name not in FUNCTIONS] or ["x"]
        wrt = rng.choice(names) if rng.random() < 0.85 else rng.choice(["", "x,y", "é", "-x", "A", "a"])
        target = rng.choice(TARGETS)
        if "=" in text and rng.random() < 0.7:
            target = rng.choice(["api-check", "cli-check"])
        yield Case(kind, target, text, let, wrt, _options(rng, target))


def _declarations(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return ", ".join(rng.sample(DECLARATIONS, rng.randint(1, 4)))
    return rng.choice(HOSTILE_DECLARATIONS)


def _options(rng: random.Random, target: str) -> list[str]:
    options: list[str] = []
    if target == "cli-diff":
        pool = [["--layout", "denominator"], ["--layout", "mixed"], ["--order", "2"], ["--format", "json"],
                ["--format", "numpy"], ["--format", "latex"], ["--format", "table"], ["--verify"],
                ["--at", "x=[1, 2]"], ["--at", "x=1"], ["--at", "A=[[1, 2], [3, 4]], x=[1, 2]"],
                ["--at", "x=1" + "0" * 400], ["--fromat", "json"], ["--order", "7"], ["--wrt", "y"],
                ["--steps"], ["--no-check"]]
    elif target == "cli-check":
        pool = [["--format", "json"], ["--layout", "denominator"], ["--seed", "3"], ["--jobs", "1"]]
    elif target == "cli-parse":
        pool = [["--format", "json"], ["--fromat", "json"]]
    else:
        pool = [["--format", "json"], ["--format", "numpy"]]
    for _ in range(rng.randint(0, 2)):
        options += rng.choice(pool)
    return options


# ---------------------------------------------------------------------------------------------------------------
# Running


@dataclass
class Finding:
    case: Case
    problem: str


class Fuzzer:
    def __init__(self):
        from click.testing import CliRunner

        self.runner = CliRunner()
        self.verbose = False  # print each finding as it is found
        self.tried = 0
        self.findings: list[Finding] = []
        self.slowest: tuple[float, Case | None] = (0.0, None)
        self.slow: list[tuple[float, Case]] = []
        self.outcomes: dict[str, int] = {}  # "answered" or "refused (exit N)", to see that inputs get far

    def run(self, case: Case, limit: float = HANG) -> None:
        from matcalc.errors import OutOfTime, time_limit

        start = time.process_time()  # CPU time: what the limits count, whatever else the machine does
        try:
            with time_limit(limit):
                problem = self._run(case)
        except OutOfTime:
            problem = f"still running after {limit:g} s"
        elapsed = time.process_time() - start
        self.tried += 1
        if problem:
            self.findings.append(Finding(case, problem))
            if self.verbose:
                print(f"TRACEBACK {case.describe()}\n    " + problem.strip().replace("\n", "\n    "), flush=True)
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, case)
        if elapsed > SLOW:
            self.slow.append((elapsed, case))

    def _outcome(self, name: str) -> None:
        self.outcomes[name] = self.outcomes.get(name, 0) + 1

    def _run(self, case: Case) -> str:
        if case.target.startswith("api-"):
            return self._api(case)
        return self._cli(case)

    def _api(self, case: Case) -> str:
        import matcalc
        from matcalc.batch import check_source
        from matcalc.errors import MatcalcError

        try:
            if case.target == "api-parse":
                matcalc.parse(case.text, case.let)
            elif case.target == "api-diff":
                result = matcalc.diff(case.text, case.wrt, case.let)
                for one in [result] if hasattr(result, "text") else list(result):  # several variables: several
                    one.text, one.latex, one.to_json()  # noqa: B018 - rendering must not fail either
            else:
                for row in check_source(case.identity_file()):
                    self._outcome(f"check row: {row.status}")
                    if row.detail.startswith("internal error"):
                        return row.detail
                return ""
        except MatcalcError as error:
            self._outcome(f"refused (exit {error.exit_code})")
            # exit 4 is a derivative the self-check refused: a wrong rule, never the input's fault
            return f"exit 4 (the self-check refused a result): {error}" if error.exit_code == 4 else ""
        except Exception:  # noqa: BLE001 - this is what the fuzzer looks for
            return traceback.format_exc(limit=-6)
        self._outcome("answered")
        return ""

    def _cli(self, case: Case) -> str:
        from matcalc.cli import cli

        command = case.target.removeprefix("cli-")
        let = ["--let", case.let] if case.let else []
        if command == "check":
            args, stdin = ["check", "-", *case.options], case.identity_file()
        elif command == "parse":
            args, stdin = ["parse", case.text, *let, *case.options], None
        else:
            args, stdin = [command, case.text, "--wrt", case.wrt, *let, *case.options], None
        if "\x00" in "".join(args):  # a command line cannot hold NUL: give such text on standard input
            args = [("-" if arg == case.text else arg) for arg in args]
            stdin = case.text if command != "check" else stdin
        result = self.runner.invoke(cli, args, input=stdin)
        self._outcome(f"cli {command}: exit {result.exit_code}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            return "".join(traceback.format_exception(result.exception, limit=-6))
        if result.exit_code not in STATUSES:
            return f"exit status {result.exit_code}"
        if "internal error" in result.output or "Traceback" in result.output:
            return result.output[-2000:]
        if result.exit_code == 0 and result.output.startswith("Usage:") and "--help" not in args and "-h" not in args:
            return "printed the usage instead of an answer"
        return ""


def peak_memory_mb() -> float:
    """The peak resident memory of this process, in MB (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 10_000
    seed = int(argv[2]) if len(argv) > 2 else 0
    fuzzer = Fuzzer()
    fuzzer.verbose = True
    start = time.perf_counter()
    for number, case in enumerate(cases(count, seed), start=1):
        fuzzer.run(case)
        if number % 1000 == 0:
            print(f"{number} inputs, {len(fuzzer.findings)} tracebacks, slowest {fuzzer.slowest[0]:.2f} s, "
                  f"peak memory {peak_memory_mb():.0f} MB, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"inputs tried: {fuzzer.tried} (seed {seed})")
    print(f"tracebacks: {len(fuzzer.findings)}")
    for finding in fuzzer.findings[:50]:
        print(f"  {finding.case.describe()}\n    " + finding.problem.strip().replace("\n", "\n    "))
    slowest, case = fuzzer.slowest
    print(f"slowest input: {slowest:.2f} s of CPU time: {case.describe() if case else '-'}")
    print(f"inputs over {SLOW:g} s: {len(fuzzer.slow)}")
    for elapsed, case in sorted(fuzzer.slow, key=lambda item: -item[0])[:20]:
        print(f"  {elapsed:.2f} s: {case.describe()}")
    print(f"peak memory: {peak_memory_mb():.0f} MB")
    print("outcomes: " + ", ".join(f"{name} {n}" for name, n in sorted(fuzzer.outcomes.items())))
    print(f"total time: {time.perf_counter() - start:.0f} s")
    return 1 if fuzzer.findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
