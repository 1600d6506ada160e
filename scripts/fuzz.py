"""Fuzz matcalc: random, mutated, generated and hostile inputs through the API and the CLI.

    python scripts/fuzz.py [INPUTS] [SEED] [ORACLE_SHARE]   (defaults: 10000 inputs, seed 0, 0.2)

Every input must be answered or refused cleanly: through the API only a MatcalcError may escape;
through the CLI (click's CliRunner) the exit status is one of SPEC §6's (0-4), no exception other than
SystemExit, and no "internal error". Each input should take under 2 s. The script prints how many
inputs it tried, every traceback (with the input that caused it), the slowest input and its time, and
the peak memory of the process (resource.getrusage). Exit status 1 if there was any finding.

A share of the inputs (ORACLE_SHARE) is judged by an oracle that shares nothing with matcalc: each is
an expression generated twice, as matcalc text and as a PyTorch function built from the same choices
(`twin`), and PyTorch's autograd of that function, at a random point away from kinks, is what every
answer must be: the shown derivative (`function()`), the JSON `numpy` field, and the NumPy and PyTorch
modules (their derivative and their expression), the JAX module compiled. A refusal (exit 2 or 3) of an
input whose function and derivative autograd computes there is reported as a false refusal.

tests/test_fuzz.py runs a few thousand inputs of the same kinds (without the oracle) on every test run.
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


# ---------------------------------------------------------------------------------------------------------------
# Twins: matcalc text and a PyTorch function built from the same choices (the oracle's expressions)

TWIN_LET = GENERATED_LET
TWIN_VARIABLES = ("a", "b", "x", "y", "A", "B")


@dataclass
class Twin:
    text: str
    build: object  # env -> torch tensor; env holds the variables, "n", and "kinks" (what kinks are taken of)


def _atomic(text: str) -> bool:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*|\d+(\.\d+)?", text):
        return True
    match = re.match(r"[a-z]+[0-9]*\(", text)
    if not match or not text.endswith(")"):
        return False
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and position >= match.end() - 1:
            return position == len(text) - 1
    return False


def _p(twin: Twin) -> str:
    return twin.text if _atomic(twin.text) else f"({twin.text})"


def _kink(env: dict, value, gap=None):
    """`value`, noting `gap` (by default the value itself), whose zeros are kinks, for the point to avoid."""
    gap = value if gap is None else gap
    env["kinks"].append(gap.detach().reshape(-1) if hasattr(gap, "detach") else gap)
    return value


def twin(rng: random.Random, kind: str | None = None, depth: int = 0) -> Twin:
    """A random well-typed expression over x, y (vectors n), A, B (n×n), a, b (scalars) as (text, function)."""
    kind = kind or rng.choice(["scalar", "scalar", "vector", "matrix"])
    if depth >= 3 or rng.random() < 0.3:
        return rng.choice(_twin_leaves()[kind])
    forms = {"scalar": _scalar_forms, "vector": _vector_forms, "matrix": _matrix_forms}[kind]
    return rng.choice(forms(rng, lambda k: twin(rng, k, depth + 1)))


def _twin_leaves() -> dict[str, list[Twin]]:
    import torch

    return {
        "scalar": [Twin("a", lambda e: e["a"]), Twin("b", lambda e: e["b"]), Twin("2", lambda e: 2.0),
                   Twin("0.5", lambda e: 0.5), Twin("n", lambda e: float(e["n"]))],
        "vector": [Twin("x", lambda e: e["x"]), Twin("y", lambda e: e["y"]),
                   Twin("ones(n)", lambda e: torch.ones(e["n"], dtype=torch.float64))],
        "matrix": [Twin("A", lambda e: e["A"]), Twin("B", lambda e: e["B"]),
                   Twin("eye(n)", lambda e: torch.eye(e["n"], dtype=torch.float64))],
    }


def _t(value):
    """A number as a tensor (torch's functions take tensors only)."""
    import torch

    return value if torch.is_tensor(value) else torch.tensor(float(value), dtype=torch.float64)


def _inverse(env: dict, matrix):
    """The inverse, the point kept away from where the matrix is singular (a determinant near 0 is noted as
    a kink: rounding decides there what a derivative of the determinant is)."""
    import torch

    _kink(env, matrix, torch.linalg.det(matrix))
    return torch.linalg.inv(matrix)


def _extremum(env: dict, function, left: Twin, right: Twin):
    """max or min of two twins, with its kink where they are equal."""
    first, second = _t(left.build(env)), _t(right.build(env))
    return _kink(env, function(first, second), first - second)


def _scalar_forms(rng: random.Random, sub) -> list[Twin]:
    import torch

    s1, s2, v1, v2, m = sub("scalar"), sub("scalar"), sub("vector"), sub("vector"), sub("matrix")
    f = rng.choice(["exp", "tanh", "sin", "cos", "arctan", "sigmoid", "abs", "relu", "log", "sqrt"])
    functions = {"exp": torch.exp, "tanh": torch.tanh, "sin": torch.sin, "cos": torch.cos, "arctan": torch.atan,
                 "sigmoid": torch.sigmoid, "abs": torch.abs, "relu": torch.relu, "log": torch.log, "sqrt": torch.sqrt}
    kinked = f in ("abs", "relu")
    p = rng.choice([2, 3, -1])
    return [
        Twin(f"{_p(s1)} + {_p(s2)}", lambda e: s1.build(e) + s2.build(e)),
        Twin(f"{_p(s1)} - {_p(s2)}", lambda e: s1.build(e) - s2.build(e)),
        Twin(f"{_p(s1)} * {_p(s2)}", lambda e: s1.build(e) * s2.build(e)),
        Twin(f"{_p(s1)} / (1 + {_p(s2)}^2)", lambda e: s1.build(e) / (1 + s2.build(e) ** 2)),
        Twin(f"{_p(v1)}' {_p(v2)}", lambda e: v1.build(e) @ v2.build(e)),
        Twin(f"{_p(v1)}' {_p(m)} {_p(v2)}", lambda e: v1.build(e) @ m.build(e) @ v2.build(e)),
        Twin(f"sum({v1.text})", lambda e: torch.sum(v1.build(e))),
        Twin(f"mean({m.text})", lambda e: torch.mean(m.build(e))),
        Twin(f"tr({m.text})", lambda e: torch.trace(m.build(e))),
        Twin(f"det({m.text})", lambda e: _kink(e, torch.linalg.det(m.build(e)))),
        Twin(f"logdet({m.text})", lambda e: torch.log(_kink(e, torch.linalg.det(m.build(e))))),
        Twin(f"||{v1.text}||^2", lambda e: torch.sum(v1.build(e) ** 2)),
        Twin(f"||{v1.text}||", lambda e: torch.linalg.norm(_kink(e, v1.build(e)))),
        Twin(f"||{m.text}||_F", lambda e: torch.linalg.norm(_kink(e, m.build(e)))),
        Twin(f"||{v1.text}||_1", lambda e: torch.sum(torch.abs(_kink(e, v1.build(e))))),
        Twin(f"logsumexp({v1.text})", lambda e: torch.logsumexp(v1.build(e), 0)),
        Twin(f"{f}({s1.text})",
             lambda e: functions[f](_t(_kink(e, s1.build(e)) if kinked else s1.build(e)))),
        Twin(f"{_p(s1)}^{p}", lambda e: _t(s1.build(e)) ** p),
        Twin(f"-{_p(s1)}", lambda e: -s1.build(e)),
        # kinks under powers and quotients, where printed code once lost its parentheses
        Twin(f"relu({s1.text})^2", lambda e: torch.relu(_t(_kink(e, s1.build(e)))) ** 2),
        Twin(f"abs({s1.text})^3", lambda e: torch.abs(_t(_kink(e, s1.build(e)))) ** 3),
        Twin(f"max({s1.text}, {s2.text})^2", lambda e: _extremum(e, torch.maximum, s1, s2) ** 2),
        Twin(f"min({s1.text}, {s2.text}) {_p(s2)}", lambda e: _extremum(e, torch.minimum, s1, s2) * s2.build(e)),
        Twin(f"max(0, {s1.text})^3", lambda e: torch.relu(_t(_kink(e, s1.build(e)))) ** 3),
        Twin(f"{_p(s2)} / (1 + relu({s1.text}))", lambda e: s2.build(e) / (1 + torch.relu(_t(_kink(e, s1.build(e)))))),
        Twin(f"{_p(s2)} / max({s1.text}, 1)", lambda e: s2.build(e) / _extremum(e, torch.maximum, s1, Twin("1", lambda e: 1.0))),
    ]


def _vector_forms(rng: random.Random, sub) -> list[Twin]:
    import torch

    s, v1, v2, m = sub("scalar"), sub("vector"), sub("vector"), sub("matrix")
    return [
        Twin(f"{_p(v1)} + {_p(v2)}", lambda e: v1.build(e) + v2.build(e)),
        Twin(f"{_p(v1)} - {_p(s)}", lambda e: v1.build(e) - s.build(e)),
        Twin(f"{_p(m)} {_p(v1)}", lambda e: m.build(e) @ v1.build(e)),
        Twin(f"{_p(s)} {_p(v1)}", lambda e: s.build(e) * v1.build(e)),
        Twin(f"{_p(v1)} .* {_p(v2)}", lambda e: v1.build(e) * v2.build(e)),
        Twin(f"{_p(v1)} ./ (1 + {_p(v2)} .^ 2)", lambda e: v1.build(e) / (1 + v2.build(e) ** 2)),
        Twin(f"softmax({v1.text})", lambda e: torch.softmax(v1.build(e), 0)),
        Twin(f"tanh({v1.text})", lambda e: torch.tanh(v1.build(e))),
        Twin(f"sigmoid({v1.text})", lambda e: torch.sigmoid(v1.build(e))),
        Twin(f"exp({v1.text})", lambda e: torch.exp(v1.build(e))),
        Twin(f"relu({v1.text})", lambda e: torch.relu(_kink(e, v1.build(e)))),
        Twin(f"abs({v1.text})", lambda e: torch.abs(_kink(e, v1.build(e)))),
        Twin(f"max({v1.text}, 0)", lambda e: torch.relu(_kink(e, v1.build(e)))),
        Twin(f"min({v1.text}, {v2.text})", lambda e: _extremum(e, torch.minimum, v1, v2)),
        Twin(f"{_p(v1)} .^ 2", lambda e: v1.build(e) ** 2),
        Twin(f"relu({v1.text}) .^ 2", lambda e: torch.relu(_kink(e, v1.build(e))) ** 2),
        Twin(f"{_p(v1)} / (2 + abs({s.text}))", lambda e: v1.build(e) / (2 + torch.abs(_t(_kink(e, s.build(e)))))),
        Twin(f"diag({m.text})", lambda e: torch.diagonal(m.build(e))),
    ]


def _matrix_forms(rng: random.Random, sub) -> list[Twin]:
    import torch

    s, v1, v2, m1, m2 = sub("scalar"), sub("vector"), sub("vector"), sub("matrix"), sub("matrix")
    return [
        Twin(f"{_p(m1)} + {_p(m2)}", lambda e: m1.build(e) + m2.build(e)),
        Twin(f"{_p(m1)} {_p(m2)}", lambda e: m1.build(e) @ m2.build(e)),
        Twin(f"{_p(m1)}'", lambda e: m1.build(e).T),
        Twin(f"inv({m1.text})", lambda e: _inverse(e, m1.build(e))),
        Twin(f"{_p(m1)}^2", lambda e: torch.linalg.matrix_power(m1.build(e), 2)),
        Twin(f"{_p(v1)} {_p(v2)}'", lambda e: torch.outer(v1.build(e), v2.build(e))),
        Twin(f"diag({v1.text})", lambda e: torch.diag(v1.build(e))),
        Twin(f"{_p(s)} {_p(m1)}", lambda e: s.build(e) * m1.build(e)),
        Twin(f"{_p(m1)} .* {_p(m2)}", lambda e: m1.build(e) * m2.build(e)),
        Twin(f"tanh({m1.text})", lambda e: torch.tanh(m1.build(e))),
        Twin(f"relu({m1.text})", lambda e: torch.relu(_kink(e, m1.build(e)))),
    ]


@dataclass
class Case:
    kind: str  # where the text came from
    target: str  # what it goes through
    text: str
    let: str = ""
    wrt: str = "x"
    options: list[str] = field(default_factory=list)
    twin: Twin | None = None  # the oracle's PyTorch function of the same expression
    order: int = 1
    layout: str = "numerator"

    def identity_file(self) -> str:
        """The text as an identity file: its let line, and the text itself if it is an identity, else the
        text equal to itself (so it is checked, not refused for a missing "=")."""
        identity = self.text if "=" in self.text else f"{self.text} = {self.text}"
        return (f"let {self.let}\n" if self.let else "") + identity + "\n"

    def describe(self) -> str:
        extra = f" let={self.let!r}" if self.let else ""
        extra += f" wrt={self.wrt!r}" if self.target.endswith(("diff", "oracle")) else ""
        extra += f" options={self.options}" if self.options else ""
        extra += f" order={self.order} layout={self.layout}" if self.twin is not None else ""
        return f"[{self.kind} via {self.target}] {self.text[:300]!r}{'...' if len(self.text) > 300 else ''}{extra}"


TARGETS = ["api-parse", "api-diff", "api-check", "cli-parse", "cli-diff", "cli-check", "cli-solve"]


def cases(count: int, seed: int, oracle: float = 0.0, formats: bool = False) -> Iterator[Case]:
    """`count` inputs; a share `oracle` of them twins judged by autograd; `formats`: the CLI is asked for
    every code format too (the PyTorch one imports torch, seconds the first time)."""
    rng = random.Random(seed)
    expressions, identities = example_lines()
    for _ in range(count):
        if oracle and rng.random() < oracle:
            yield _oracle_case(rng)
            continue
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
        yield Case(kind, target, text, let, wrt, _options(rng, target, formats))


def _oracle_case(rng: random.Random) -> Case:
    names: list[str] = []
    while not names:  # an expression of some variable
        expression = twin(rng)
        names = [name for name in TWIN_VARIABLES if re.search(rf"\b{name}\b", expression.text)]
    order = 2 if rng.random() < 0.15 else 1
    layout = rng.choice(["numerator", "denominator", "mixed"])
    return Case("twin", "oracle", expression.text, TWIN_LET, rng.choice(names), twin=expression, order=order,
                layout=layout)


def _declarations(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return ", ".join(rng.sample(DECLARATIONS, rng.randint(1, 4)))
    return rng.choice(HOSTILE_DECLARATIONS)


def _options(rng: random.Random, target: str, formats: bool = False) -> list[str]:
    options: list[str] = []
    if target == "cli-diff":
        pool = [["--layout", "denominator"], ["--layout", "mixed"], ["--order", "2"], ["--format", "json"],
                ["--format", "numpy"], ["--format", "latex"], ["--format", "table"], ["--verify"],
                ["--at", "x=[1, 2]"], ["--at", "x=1"], ["--at", "A=[[1, 2], [3, 4]], x=[1, 2]"],
                ["--at", "x=1" + "0" * 400], ["--fromat", "json"], ["--order", "7"], ["--wrt", "y"],
                ["--steps"], ["--no-check"]]
        if formats:
            pool += [["--format", "torch"], ["--format", "jax"], ["--format", "sympy"], ["--format", "numpy"],
                     ["--order", "3"], ["--order", "5"]]
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
        self.refusals: list[Finding] = []  # inputs the oracle could answer that matcalc refused (exit 2 or 3)

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
        if case.target == "oracle":
            return self._oracle(case)
        if case.target.startswith("api-"):
            return self._api(case)
        return self._cli(case)

    def _oracle(self, case: Case) -> str:
        """The answers for a twin against autograd of its PyTorch function, at random points (see above)."""
        import numpy as np

        import matcalc
        from matcalc.errors import MatcalcError

        rng = random.Random(case.text + case.wrt)
        points = [p for p in (_twin_point(case, rng) for _ in range(6)) if p is not None][:2]
        if not points:
            self._outcome("oracle: no point where autograd is finite and away from kinks")
            return ""
        try:
            result = matcalc.diff(case.text, case.wrt, case.let, case.layout, case.order)
            answers = _answers(result, rng.random() < 0.2)
        except MatcalcError as error:
            if error.exit_code == 4:
                return f"exit 4: {error}"
            self._outcome(f"oracle: refused (exit {error.exit_code})")
            self.refusals.append(Finding(case, f"exit {error.exit_code}: {error.message}"))
            return ""
        except Exception:  # noqa: BLE001 - what the fuzzer looks for
            return traceback.format_exc(limit=-6)
        from matcalc.numeric.evaluate import SingularMatrixError

        for arrays, value, derivative in points:
            for name, compute in answers.items():
                try:
                    got = compute(arrays)
                except SingularMatrixError:  # the result assumes a matrix invertible that is not, here
                    break
                except Exception as error:  # noqa: BLE001 - printed code or function() that raises
                    return f"{name} raises {type(error).__name__}: {error}"
                if got is None:  # SymPy took too long at this point
                    continue
                want = value if name.endswith("expression") else derivative
                if name == "the sympy code" and np.size(got) == want.size:
                    got = np.reshape(np.asarray(got, dtype=float), want.shape)  # SymPy's matrices keep size-1 axes
                problem = _disagreement(got, want)
                if problem:
                    return f"{name} {problem} (autograd: {_short(want)}; got {_short(got)})"
        self._outcome("oracle: agreed")
        return ""

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


def _twin_point(case: Case, rng: random.Random):
    """(SPEC arrays, autograd's value, autograd's derivative in the case's layout) at a random point where
    both are finite and moderate and every kink is at least 1e-3 away; None if this draw is not such."""
    import numpy as np
    import torch
    from torch.func import jacrev

    n = 3
    generator = np.random.default_rng(rng.randrange(2**32))

    def entries(*shape):
        return generator.uniform(0.5, 1.5, shape) * generator.choice([-1.0, 1.0], shape)

    values = {"a": entries(), "b": entries(), "x": entries(n), "y": entries(n),
              "A": 2 * np.eye(n) + generator.uniform(-0.5, 0.5, (n, n)), "B": entries(n, n)}
    tensors = {name: torch.tensor(value, dtype=torch.float64) for name, value in values.items()}

    def function(variable):
        env = {**tensors, case.wrt: variable, "n": n, "kinks": []}
        return _t(case.twin.build(env))

    with torch.no_grad():
        env = {**tensors, "n": n, "kinks": []}
        try:
            value = _t(case.twin.build(env))
        except RuntimeError:  # torch.linalg: a singular matrix at this point
            return None
        gaps = [float(torch.min(torch.abs(_t(gap)))) for gap in env["kinks"] if _t(gap).numel()]
    if min(gaps, default=1.0) < 1e-3:
        return None
    derivative = function
    for _ in range(case.order):
        derivative = jacrev(derivative)
    try:
        grad = derivative(tensors[case.wrt]).numpy(force=True)
    except RuntimeError:  # torch.linalg: a singular matrix at this point
        return None
    value = value.numpy(force=True)
    if not (np.all(np.isfinite(value)) and np.all(np.isfinite(grad))) or max(np.max(np.abs(value)), np.max(np.abs(grad))) > 1e6:
        return None
    return values, value, _arranged(grad, value.ndim, np.ndim(values[case.wrt]), case.order, case.layout)


def _arranged(grad, out_rank: int, wrt_rank: int, order: int, layout: str):
    """autograd's axes (the function's, then the variable's once per differentiation) in SPEC §3's order:
    numerator appends each differentiation's axes reversed, denominator reverses all, mixed is denominator
    for a scalar function."""
    import numpy as np

    axes = list(range(out_rank))
    for k in range(order):
        axes += [out_rank + k * wrt_rank + j for j in reversed(range(wrt_rank))]
    arranged = np.transpose(grad, axes)
    if layout == "denominator" or (layout == "mixed" and out_rank == 0):
        arranged = np.transpose(arranged, list(reversed(range(arranged.ndim))))
    return arranged


def _answers(result, with_sympy: bool) -> dict:
    """name -> a function of the SPEC arrays giving what that answer computes there."""
    import inspect

    import numpy as np

    field = compile(result.numpy, "<numpy field>", "eval")
    modules = {}
    for backend in ("numpy", "torch"):
        modules[backend] = {}
        exec(result.code(backend), modules[backend])  # matcalc's generated code, checked by matcalc first
    compile(result.code("jax"), "<jax module>", "exec")

    def keywords(function, arrays):
        wanted = inspect.signature(function).parameters
        arrays = {_python_name(name, wanted): value for name, value in arrays.items()}
        return {name: value for name, value in {**arrays, "n": 3}.items() if name in wanted}

    def torch_inputs(arrays):
        import torch

        return {name: torch.tensor(value, dtype=torch.float64) for name, value in arrays.items()}

    from matcalc import nodes

    variables = result.parsed.shapes()
    sized = any(
        "n" in (sub.shape.rows, sub.shape.cols) or (isinstance(sub, nodes.DimSize) and sub.name == "n")
        for sub in nodes.walk(result.parsed.expr)
    )
    given = {"n": 3} if sized else {}
    answers = {
        "the shown derivative": lambda arrays: result.function()(**{v: arrays[v] for v in variables}, **given),
        "the numpy field": lambda arrays: eval(field, {"np": np, "n": 3, **arrays}),  # matcalc's code
    }
    for backend, namespace in modules.items():
        convert = torch_inputs if backend == "torch" else (lambda arrays: arrays)
        for function in ("derivative", "expression"):
            answers[f"the {backend} module's {function}"] = (
                lambda arrays, f=namespace[function], convert=convert: f(**keywords(f, convert(arrays)))
            )
    if with_sympy:
        from matcalc.render.sympy import has_unspecified, sympy_value

        namespace: dict = {}
        code = result.sympy_code()
        exec(code, namespace)  # matcalc's generated code, checked by matcalc first
        built = namespace[f"d_{result.wrt}"]
        evaluated = f"d_{result.wrt} was compared with matcalc's own object but not evaluated" not in code
        if evaluated and (not has_unspecified(built) if hasattr(built, "atoms") else True):
            answers["the sympy code"] = lambda arrays: _within_seconds(
                lambda: sympy_value(built, _sympy_values(arrays), {"n": 3}), 5.0
            )
    return answers


def _within_seconds(compute, seconds: float):
    """compute(), or None where it takes longer than `seconds` of CPU time (SymPy can take minutes)."""
    from matcalc.errors import OutOfTime, time_limit

    try:
        with time_limit(seconds):
            return compute()
    except OutOfTime:
        return None


def _python_name(name: str, wanted) -> str:
    return name if name in wanted else next((w for w in wanted if w.rstrip("_") == name), name)


def _sympy_values(arrays: dict) -> dict:
    import numpy as np

    return {name: (float(v) if np.ndim(v) == 0 else np.reshape(v, (np.shape(v)[0], -1)).tolist())
            for name, v in arrays.items()}


def _disagreement(got, want) -> str:
    import numpy as np

    got = np.asarray(got.detach().numpy() if hasattr(got, "detach") else got, dtype=float)
    if got.size == want.size and got.shape != want.shape and want.ndim == 0:
        got = got.reshape(())
    if got.shape != want.shape:
        return f"has shape {got.shape}, autograd's {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want), initial=0)))
    gap = float(np.max(np.abs(got - want), initial=0))
    return f"differs by {gap / scale:.1e} (relative)" if not gap <= 1e-6 * scale else ""


def _short(value) -> str:
    import numpy as np

    value = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value, dtype=float)
    return np.array2string(value.ravel()[:6], precision=4) + ("..." if value.size > 6 else "")


def peak_memory_mb() -> float:
    """The peak resident memory of this process, in MB (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 10_000
    seed = int(argv[2]) if len(argv) > 2 else 0
    oracle = float(argv[3]) if len(argv) > 3 else 0.2
    fuzzer = Fuzzer()
    fuzzer.verbose = True
    start = time.perf_counter()
    for number, case in enumerate(cases(count, seed, oracle, formats=True), start=1):
        fuzzer.run(case)
        if number % 1000 == 0:
            print(f"{number} inputs, {len(fuzzer.findings)} tracebacks, slowest {fuzzer.slowest[0]:.2f} s, "
                  f"peak memory {peak_memory_mb():.0f} MB, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"inputs tried: {fuzzer.tried} (seed {seed})")
    print(f"findings (tracebacks, internal errors, answers autograd contradicts): {len(fuzzer.findings)}")
    for finding in fuzzer.findings[:50]:
        print(f"  {finding.case.describe()}\n    " + finding.problem.strip().replace("\n", "\n    "))
    print(f"refusals of inputs autograd answers: {len(fuzzer.refusals)}")
    for finding in fuzzer.refusals[:50]:
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
