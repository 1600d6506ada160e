"""How fast matcalc differentiates, against SymPy's MatrixExpr.diff measured in the same run.

    python benchmarks/diff_speed.py            # all three parts
    python benchmarks/diff_speed.py startup    # the start-up ratio alone

1. A suite of expressions covering every cell of the shape table: the time for
   matcalc to differentiate each, and for SymPy's `diff` on the same expression
   (lowered with matcalc.render.to_sympy), with how many of SymPy's answers are right
   (checked against finite differences; a crash or an unevaluated answer is wrong).
2. `W_k tanh(... tanh(W_1 x))` by W_1 for k = 1..20: time and output size.
3. The whole command `matcalc diff "x'Ax" --wrt x` (self-check included) against
   `python -c "import sympy"`, run alternately, the median of each over 21 runs: the ratio
   should stay at most 1.0 (matcalc imports neither SymPy nor its LaTeX printer for this).
Figures are ratios against baselines measured in the same run, not absolute targets.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

from matcalc import diff, parse
from matcalc.layout import Layout
from matcalc.render.to_sympy import dimension, symbol, to_sympy
from matcalc.numeric.differences import finite_difference, sample_point

DECLS = (
    "a: scalar, b: scalar, x: vector(n), y: vector(n), z: vector(m), w: vector(m), A: matrix(n, n), "
    "B: matrix(n, m), C: matrix(m, n), X: matrix(n, m), P: posdef(n), W: matrix(m, n)"
)

# (expression, variable): scalar, vector and matrix outputs by scalar, vector and matrix variables
SUITE = [
    ("x'A x", "x"),
    ("x'A x", "A"),
    ("a x'y", "a"),
    ("||x||^2", "x"),
    ("||X||_F^2", "X"),
    ("tr(X C)", "X"),
    ("tr(A B C)", "B"),
    ("log(det(P))", "P"),
    ("det(A)", "A"),
    ("z'C x", "C"),
    ("sum(exp(B z))", "z"),
    ("logsumexp(x)", "x"),
    ("-y' log(softmax(x))", "x"),
    ("1/2 ||y - B z||^2", "z"),
    ("max(0, w'z + a)", "w"),
    ("sigmoid(x'y + a)", "a"),
    ("a^3 - 4 a", "a"),
    ("tr(A^-1 B C)", "A"),
    ("x'A^2 x", "A"),
    ("sum(abs(x))", "x"),
    ("A x", "x"),
    ("x' A", "x"),
    ("B z", "z"),
    ("tanh(W x)", "x"),
    ("softmax(x)", "x"),
    ("x .* y", "x"),
    ("a x + y", "a"),
    ("exp(a) z", "a"),
    ("sigmoid(W x)", "W"),
    ("A x", "A"),
    ("B z", "B"),
    ("X z", "X"),
    ("C x", "C"),
    ("a A", "a"),
    ("a^2 B + C'", "a"),
    ("A B", "B"),
    ("X'A", "X"),
    ("A^-1", "A"),
    ("A .* A", "A"),
    ("x y'", "x"),
    ("diag(x) A", "x"),
    ("W X", "X"),
    ("x x'", "x"),
    ("inv(A) B", "A"),
]


def time_call(function, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def sympy_answer(expression: str, variable: str):
    parsed = parse(expression, DECLS)
    target = symbol(variable, parsed.shapes()[variable])
    return parsed, to_sympy(parsed.expr).diff(target)


def sympy_is_right(parsed, variable: str, answer) -> bool:
    """Compare SymPy's answer with finite differences in any axis order (SymPy has its own conventions)."""
    try:
        point = sample_point(parsed.expr, parsed.env, np.random.default_rng(1))
        sizes = {dimension(name): size for name, size in point.sizes.items()}
        replacements = {}
        for name, shape in parsed.shapes().items():
            sym = symbol(name, shape).subs(sizes)
            value = point.values[name]
            replacements[sym] = sp.ImmutableMatrix(value) if not shape.is_scalar else sp.Float(value.item())
        value = answer.subs(sizes).xreplace(replacements)
        explicit = {atom: atom.as_explicit() for atom in value.atoms(sp.OneMatrix, sp.Identity, sp.ZeroMatrix)}
        value = value.xreplace(explicit).doit()
        if hasattr(value, "as_explicit") and not isinstance(value, sp.MatrixBase):
            value = value.as_explicit()  # array expressions such as PermuteDims(ArrayTensorProduct(...))
        numbers = np.array(sp.Array(value).tolist() if hasattr(value, "shape") else float(value), dtype=float)
        numbers = numbers.reshape([d for d in numbers.shape if d != 1])
        expected = finite_difference(parsed.expr, variable, point, Layout.NUMERATOR)
        for order in itertools.permutations(range(expected.ndim)):  # any axis order counts as right
            candidate = np.transpose(expected, order)
            if candidate.shape == numbers.shape and np.allclose(numbers, candidate, rtol=1e-4, atol=1e-6):
                return True
        return False
    except Exception:
        return False


def suite() -> None:
    print(f"## Suite: {len(SUITE)} expressions\n")
    print("| expression | by | matcalc (ms) | SymPy (ms) | SymPy right |")
    print("|---|---|---|---|---|")
    ours, theirs, right, answered = [], [], 0, 0
    for expression, variable in SUITE:
        mine = time_call(lambda e=expression, v=variable: diff(e, v, DECLS))
        ours.append(mine)
        try:
            parsed, answer = sympy_answer(expression, variable)
            seconds = time_call(lambda e=expression, v=variable: sympy_answer(e, v), repeat=2)
            correct = sympy_is_right(parsed, variable, answer)
            answered += 1
        except Exception as error:  # SymPy crashed
            seconds, correct = float("nan"), False
            answer = type(error).__name__
        theirs.append(seconds)
        right += correct
        print(
            f"| `{expression}` | {variable} | {mine * 1e3:.1f} | {seconds * 1e3:.1f} | {'yes' if correct else 'no'} |"
        )
    paired = [(m, t) for m, t in zip(ours, theirs) if t == t]
    ratio = statistics.median(t / m for m, t in paired)
    print(
        f"\nslowest matcalc: {max(ours) * 1e3:.1f} ms; median SymPy/matcalc time ratio: {ratio:.2f} "
        f"(over the {len(paired)} SymPy answered); SymPy right on {right} of {len(SUITE)}\n"
    )


def chain(k: int) -> str:
    expression = "x"
    for layer in range(1, k):
        expression = f"tanh(W{layer} {expression})"
    return f"W{k} {expression}"


def chains() -> None:
    print("## W_k tanh(... tanh(W_1 x)) by W_1 (differentiation alone, then the whole command)\n")
    print("| k | time (ms) | output characters |")
    print("|---|---|---|")
    for k in (1, 10, 20, 40, 60, 80, 100):
        seconds = time_call(lambda k=k: diff(chain(k), "W1", check=False), repeat=3)
        result = diff(chain(k), "W1", check=False)
        size = len(result.text) + sum(len(name) + len(value) for name, value in result.where)
        print(f"| {k} | {seconds * 1e3:.1f} | {size} |")
    print()
    for k in (20, 100):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "matcalc", "diff", chain(k), "--wrt", "W1"], check=True, capture_output=True
        )
        print(f"whole command, self-check included, k = {k}: {time.perf_counter() - start:.2f} s")
    print()


STARTUP_RUNS = 21  # runs of each command; the median of each is compared


def matcalc_command() -> list[str]:
    """The installed console script beside this interpreter, as users run it; else python -m matcalc."""
    script = Path(sys.executable).with_name("matcalc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "matcalc"]


def startup(runs: int = STARTUP_RUNS) -> float:
    """The median time of `matcalc diff "x'Ax" --wrt x` (self-check included) over that of
    `python -c "import sympy"`, the two run alternately so that both see the same machine state."""
    commands = {
        'matcalc diff "x\'Ax" --wrt x': [*matcalc_command(), "diff", "x'Ax", "--wrt", "x"],
        'python -c "import sympy"': [sys.executable, "-c", "import sympy"],
    }
    for command in commands.values():  # once each unmeasured: bytecode written, files in the page cache
        subprocess.run(command, check=True, capture_output=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    ours, baseline = (statistics.median(values) for values in times.values())
    ratio = ours / baseline
    print("## Start-up\n")
    print(
        f"median of {runs} alternate runs each: matcalc diff {ours * 1e3:.0f} ms, import sympy "
        f"{baseline * 1e3:.0f} ms, ratio {ratio:.2f}\n"
    )
    return ratio


if __name__ == "__main__":
    if sys.argv[1:] == ["startup"]:
        startup()
    else:
        suite()
        chains()
        startup()
