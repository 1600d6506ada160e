"""The house's linters, configured in pyproject.toml: ruff (lint and format) and mypy, clean on matcalc/."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize(
    "tool",
    [
        ["ruff", "check", "matcalc"],
        ["ruff", "format", "--check", "matcalc"],
        ["mypy"],  # its files and options are in pyproject.toml
    ],
    ids=" ".join,
)
def test_linter_is_clean(tool):
    result = subprocess.run([sys.executable, "-m", *tool], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
