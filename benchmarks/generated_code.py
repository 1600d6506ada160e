"""How fast the modules matcalc generates (`--format torch|numpy`) run, against code written by hand.

    python benchmarks/generated_code.py            # n = 256, 1024, 2048 (a few minutes on 2 cores)
    python benchmarks/generated_code.py --quick    # n = 256 only, a smoke run

Each case is a function matcalc differentiates, computed three ways at each size n:

- generated: `derivative(...)` of the module `matcalc.diff(...).code(backend)` returns (the text is
  exec'd here, as a user would import it);
- hand-written: the same formula written with broadcasting in the same framework (a product with a
  diagonal as `v[:, None] * M`, each intermediate once);
- autograd: PyTorch's automatic differentiation of the function itself, forward pass included (the
  generated code computes the forward values too): `torch.autograd.grad` for gradients,
  `torch.func.jacrev` for matrices (twice for the Hessian) (`torch.autograd.functional.jacobian` with
  vectorize=True took 16 s for the n = 1024 Jacobian, and 50 times as long as `jacrev` at n = 512, so it
  is not the baseline); and `jax.grad` / `jax.jacrev` / `jax.hessian` where jax is importable.

Every time is the median of several runs (a run: as many calls as take 0.1 s, one for the slower
ones), the ways run alternately so that all see the same machine state; torch and NumPy run on one
thread (`torch.set_num_threads(1)`, OMP_NUM_THREADS=1). The figures that matter are the ratios, measured
in the same run: generated / hand-written and generated / autograd. Targets: a Jacobian or
Hessian (a matrix result) within 1.3x of hand-written broadcasting code, a gradient within 1.2x of
autograd's backward pass; the last column says which target a row has and whether it is met.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # NumPy on one thread, as torch
    os.environ.setdefault(_variable, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

import matcalc  # noqa: E402

SIZES = (256, 1024, 2048)
QUICK_SIZES = (256,)
REPEATS = {256: 15, 1024: 7, 2048: 5}  # runs of each computation, alternating; the median is shown
SECONDS_PER_ROW, MOST_REPEATS = 6.0, 21  # more runs, up to MOST_REPEATS, where they fit in this time
BATCH = 0.1  # seconds: a run is as many calls as take about this long (one call for the slower ones)
JACOBIAN_TARGET = 1.3  # generated / hand-written, for a matrix result
GRADIENT_TARGET = 1.2  # generated / autograd (forward and backward), for a gradient


@dataclass(frozen=True)
class Case:
    """A function, what matcalc differentiates, and the same derivative written by hand and by autograd."""

    name: str
    source: str
    wrt: str  # one variable or a comma list
    let: str
    layout: str
    order: int
    target: str  # "hand-written" (a matrix result) or "autograd" (a gradient)
    inputs: Callable[[int, np.random.Generator], dict[str, np.ndarray]]
    numpy_hand: Callable[..., object]
    torch_hand: Callable[..., object]
    torch_autograd: Callable[..., object]
    jax_autograd: Callable[..., object] | None = None


# --- the inputs: scaled so that tanh and sigmoid stay away from saturation and Sigma is well conditioned


def layer_inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    scale = 1 / np.sqrt(n)
    return {"W2": rng.normal(size=(n, n)) * scale, "W1": rng.normal(size=(n, n)) * scale, "x": rng.normal(size=n)}


def mlp_inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    scale = 1 / np.sqrt(n)
    values = {f"W{i}": rng.normal(size=(n, n)) * scale for i in (1, 2, 3)}
    return values | {
        "x": rng.normal(size=n),
        "b1": rng.normal(size=n),
        "b2": rng.normal(size=n),
        "y": rng.normal(size=n),
    }


def logistic_inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"X": rng.normal(size=(n, n)) / np.sqrt(n), "w": rng.normal(size=n), "y": rng.integers(0, 2, n) * 1.0}


def gaussian_inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    root = rng.normal(size=(n, n)) / np.sqrt(n)
    return {"S": root @ root.T + np.eye(n), "x": rng.normal(size=n), "mu": rng.normal(size=n)}


# --- the Jacobian of tanh(W2 tanh(W1 x)) by x (numerator layout: n x n)


def layer_numpy(W2, W1, x):
    h1 = np.tanh(W1 @ x)
    h2 = np.tanh(W2 @ h1)
    return ((1 - h2**2)[:, None] * W2 * (1 - h1**2)) @ W1


def layer_torch(W2, W1, x):
    import torch

    h1 = torch.tanh(W1 @ x)
    h2 = torch.tanh(W2 @ h1)
    return ((1 - h2**2)[:, None] * W2 * (1 - h1**2)) @ W1


def layer_autograd(W2, W1, x):
    import torch

    return torch.func.jacrev(lambda x: torch.tanh(W2 @ torch.tanh(W1 @ x)))(x)


def layer_jax(W2, W1, x):
    import jax
    import jax.numpy as jnp

    return jax.jacrev(lambda x: jnp.tanh(W2 @ jnp.tanh(W1 @ x)))(x)


# --- an MLP's loss ||W3 tanh(W2 tanh(W1 x + b1) + b2) - y||^2 by every weight and bias (denominator layout)


def mlp_numpy(W3, W2, W1, x, b1, b2, y):
    h1 = np.tanh(W1 @ x + b1)
    h2 = np.tanh(W2 @ h1 + b2)
    r = 2 * (W3 @ h2 - y)  # the factor 2 on a vector, not on n×n gradients
    d2 = (W3.T @ r) * (1 - h2**2)
    d1 = (W2.T @ d2) * (1 - h1**2)
    return np.outer(d1, x), d1, np.outer(d2, h1), d2, np.outer(r, h2)


def mlp_torch(W3, W2, W1, x, b1, b2, y):
    import torch

    h1 = torch.tanh(W1 @ x + b1)
    h2 = torch.tanh(W2 @ h1 + b2)
    r = 2 * (W3 @ h2 - y)  # the factor 2 on a vector, not on n×n gradients
    d2 = (W3.T @ r) * (1 - h2**2)
    d1 = (W2.T @ d2) * (1 - h1**2)
    return torch.outer(d1, x), d1, torch.outer(d2, h1), d2, torch.outer(r, h2)


def mlp_loss(W3, W2, W1, x, b1, b2, y, tanh):
    return ((W3 @ tanh(W2 @ tanh(W1 @ x + b1) + b2) - y) ** 2).sum()


def mlp_autograd(W3, W2, W1, x, b1, b2, y):
    import torch

    weights = [w.detach().requires_grad_() for w in (W1, b1, W2, b2, W3)]
    W1, b1, W2, b2, W3 = weights
    return torch.autograd.grad(mlp_loss(W3, W2, W1, x, b1, b2, y, torch.tanh), weights)


def mlp_jax(W3, W2, W1, x, b1, b2, y):
    import jax
    import jax.numpy as jnp

    def loss(W1, b1, W2, b2, W3):
        return mlp_loss(W3, W2, W1, x, b1, b2, y, jnp.tanh)

    return jax.grad(loss, argnums=(0, 1, 2, 3, 4))(W1, b1, W2, b2, W3)


# --- logistic regression's Hessian by w: X' diag(p (1 - p)) X, p = sigmoid(X w)


def logistic_numpy(X, w, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return X.T @ ((p * (1 - p))[:, None] * X)


def logistic_torch(X, w, y):
    import torch

    p = torch.sigmoid(X @ w)
    return X.T @ ((p * (1 - p))[:, None] * X)


def logistic_loss(w, X, y, log_sigmoid):
    return -(y @ log_sigmoid(X @ w)) - (1 - y) @ log_sigmoid(-(X @ w))


def logistic_autograd(X, w, y):
    import torch

    loss = lambda w: logistic_loss(w, X, y, torch.nn.functional.logsigmoid)
    return torch.func.jacrev(torch.func.jacrev(loss))(w)  # reverse over reverse: no forward-mode decompositions


def logistic_jax(X, w, y):
    import jax

    return jax.hessian(lambda w: logistic_loss(w, X, y, jax.nn.log_sigmoid))(w)


# --- the Gaussian log-likelihood -1/2 logdet(S) - 1/2 (x - mu)' inv(S) (x - mu) by S (denominator layout)


def gaussian_numpy(S, x, mu):
    inverse = np.linalg.inv(S)
    u = inverse @ (x - mu)
    return 0.5 * (np.outer(u, u) - inverse)


def gaussian_torch(S, x, mu):
    import torch

    inverse = torch.linalg.inv(S)
    u = inverse @ (x - mu)
    return 0.5 * (torch.outer(u, u) - inverse)


def gaussian_loglik(S, x, mu, logdet, solve):
    d = x - mu
    return -0.5 * logdet(S) - 0.5 * d @ solve(S, d)


def gaussian_autograd(S, x, mu):
    import torch

    S = S.detach().requires_grad_()
    (grad,) = torch.autograd.grad(gaussian_loglik(S, x, mu, torch.logdet, torch.linalg.solve), [S])
    return grad


def gaussian_jax(S, x, mu):
    import jax
    import jax.numpy as jnp

    logdet = lambda S: jnp.linalg.slogdet(S)[1]
    return jax.grad(lambda S: gaussian_loglik(S, x, mu, logdet, jnp.linalg.solve))(S)


CASES = [
    Case(
        "Jacobian of tanh(W2 tanh(W1 x))",
        "tanh(W2 tanh(W1 x))",
        "x",
        "W2: matrix(n, n), W1: matrix(n, n), x: vector(n)",
        "numerator",
        1,
        "hand-written",
        layer_inputs,
        layer_numpy,
        layer_torch,
        layer_autograd,
        layer_jax,
    ),
    Case(
        "MLP loss by W1, b1, W2, b2, W3",
        "||W3 tanh(W2 tanh(W1 x + b1) + b2) - y||^2",
        "W1,b1,W2,b2,W3",
        "W1: matrix(n, n), W2: matrix(n, n), W3: matrix(n, n), x: vector(n), b1: vector(n), b2: vector(n), "
        "y: vector(n)",
        "denominator",
        1,
        "autograd",
        mlp_inputs,
        mlp_numpy,
        mlp_torch,
        mlp_autograd,
        mlp_jax,
    ),
    Case(
        "logistic regression's Hessian by w",
        "-y' log(sigmoid(X w)) - (1 - y)' log(1 - sigmoid(X w))",
        "w",
        "X: matrix(n, n), w: vector(n), y: vector(n)",
        "denominator",
        2,
        "hand-written",
        logistic_inputs,
        logistic_numpy,
        logistic_torch,
        logistic_autograd,
        logistic_jax,
    ),
    Case(
        "Gaussian log-likelihood by S",
        "-1/2 logdet(S) - 1/2 (x - mu)' inv(S) (x - mu)",
        "S",
        "S: posdef(n), x: vector(n), mu: vector(n)",
        "denominator",
        1,
        "autograd",
        gaussian_inputs,
        gaussian_numpy,
        gaussian_torch,
        gaussian_autograd,
        gaussian_jax,
    ),
]


def generated_module(case: Case, backend: str) -> types.ModuleType:
    """The module matcalc writes for the case (checked by matcalc before it is returned), imported from its text."""
    text = matcalc.diff(case.source, case.wrt, case.let, layout=case.layout, order=case.order).code(backend)
    module = types.ModuleType(f"generated_{backend}")
    exec(compile(text, f"<matcalc {backend} module: {case.source}>", "exec"), module.__dict__)
    return module


def jax_available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def computations(case: Case, n: int, seed: int = 0, jax_too: bool = False) -> dict[str, Callable[[], object]]:
    """Each way of computing the case's derivative at size n, as a function of nothing (its inputs bound)."""
    import torch

    values = case.inputs(n, np.random.default_rng(seed))
    tensors = {name: torch.from_numpy(value) for name, value in values.items()}
    numpy_module, torch_module = generated_module(case, "numpy"), generated_module(case, "torch")
    ways = {
        "torch generated": lambda: torch_module.derivative(**tensors),
        "torch hand-written": lambda: case.torch_hand(**tensors),
        "torch autograd": lambda: case.torch_autograd(**tensors),
        "numpy generated": lambda: numpy_module.derivative(**values),
        "numpy hand-written": lambda: case.numpy_hand(**values),
    }
    if jax_too and case.jax_autograd is not None:
        import jax

        jax.config.update("jax_enable_x64", True)
        arrays = {name: jax.numpy.asarray(value) for name, value in values.items()}
        ways["jax autograd"] = lambda: jax.block_until_ready(case.jax_autograd(**arrays))
    return ways


def as_arrays(result) -> list[np.ndarray]:
    """A derivative (an array or a tuple of them, from any framework) as a list of NumPy arrays."""
    parts = result if isinstance(result, (tuple, list)) else [result]
    return [np.asarray(part.detach() if hasattr(part, "detach") else part) for part in parts]


def median_times(ways: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median time of one call of each way over `repeats` runs, the ways run alternately. A run of a
    way is as many calls as take about BATCH seconds (counted from a first, unmeasured call), so that a
    call of a millisecond is not lost in the timer's and the machine's noise."""
    calls, run_time = {}, 0.0
    for name, way in ways.items():
        start = time.perf_counter()
        way()
        seconds = max(time.perf_counter() - start, 1e-6)
        calls[name] = max(1, round(BATCH / seconds))
        run_time += calls[name] * seconds
    # more runs where they cost little (within SECONDS_PER_ROW), to steady the medians
    repeats = min(max(repeats, int(SECONDS_PER_ROW / run_time)), MOST_REPEATS)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                way()
            times[name].append((time.perf_counter() - start) / calls[name])
    return {name: statistics.median(values) for name, values in times.items()}


def row(case: Case, n: int, backend: str, times: dict[str, float]) -> str:
    generated, hand = times[f"{backend} generated"], times[f"{backend} hand-written"]
    autograd = times.get(f"{backend} autograd")
    versus_hand = generated / hand
    cells = [case.name, str(n), backend, f"{generated * 1e3:.2f}", f"{hand * 1e3:.2f}"]
    if autograd is None:
        cells += ["-", f"{versus_hand:.2f}", "-"]
    else:
        cells += [f"{autograd * 1e3:.2f}", f"{versus_hand:.2f}", f"{generated / autograd:.2f}"]
    if case.target == "hand-written":
        verdict = f"gen/hand <= {JACOBIAN_TARGET}: {'yes' if versus_hand <= JACOBIAN_TARGET else 'NO'}"
    elif autograd is not None:
        met = generated / autograd <= GRADIENT_TARGET
        verdict = f"gen/autograd <= {GRADIENT_TARGET}: {'yes' if met else 'NO'}"
    else:
        verdict = "-"
    return "| " + " | ".join([*cells, verdict]) + " |"


def main(sizes: tuple[int, ...]) -> None:
    import torch

    torch.set_num_threads(1)
    jax_too = jax_available()
    if not jax_too:
        print("jax is not importable: its column is skipped\n")
    print("times in ms, the median of alternate runs; the numpy rows have no autograd column\n")
    print("| case | n | backend | generated | hand-written | autograd | gen/hand | gen/autograd | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        for n in sizes:
            times = median_times(computations(case, n, jax_too=jax_too), REPEATS[n])
            print(row(case, n, "torch", times), flush=True)
            print(row(case, n, "numpy", times), flush=True)
            if "jax autograd" in times:
                print(f"|  |  | jax.grad / jacrev | | | {times['jax autograd'] * 1e3:.2f} | | | |", flush=True)


if __name__ == "__main__":
    main(QUICK_SIZES if "--quick" in sys.argv[1:] else SIZES)
