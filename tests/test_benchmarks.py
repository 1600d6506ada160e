"""The benchmark of the generated code computes the same thing three ways: what matcalc generates, the
formula written by hand with broadcasting, and torch.autograd. At a tiny size all three must agree
(timings are the benchmark's business, not the tests')."""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "generated_code.py"


def load_benchmark():
    """The benchmark script as a module; the thread settings it makes for itself are undone."""
    environment = dict(os.environ)
    spec = importlib.util.spec_from_file_location("generated_code_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(environment)
    return module


benchmark = load_benchmark()


@pytest.mark.parametrize("case", benchmark.CASES, ids=lambda case: case.name)
def test_generated_hand_written_and_autograd_agree(case):
    ways = benchmark.computations(case, 5, seed=3)
    results = {name: benchmark.as_arrays(way()) for name, way in ways.items()}
    reference = results["torch autograd"]
    assert len(reference) == len(case.wrt.split(","))
    for name, arrays in results.items():
        assert len(arrays) == len(reference), name
        for got, expected in zip(arrays, reference):
            assert got.shape == expected.shape, name
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=name)
    assert max(np.abs(array).max() for array in reference) > 1e-3  # not all zero by accident


def test_a_row_reports_the_targeted_ratio():
    case = benchmark.CASES[0]
    times = {"torch generated": 2.0, "torch hand-written": 1.0, "torch autograd": 4.0}
    line = benchmark.row(case, 8, "torch", times)
    assert "| 2.00 | 0.50 |" in line and line.endswith("gen/hand <= 1.3: NO |")
