import os
import shutil

import pytest
from click.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def pdflatex_available() -> None:
    """The LaTeX compile tests need pdflatex: .ci/run installs it and sets CI, so there a missing pdflatex
    fails the test; on a developer's machine without TeX the test is skipped, and says why."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI: .ci/run installs texlive-latex-base and texlive-latex-recommended")
        pytest.skip("pdflatex is not installed here (in CI, where .ci/run installs it, this test fails instead)")


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """Rich and click read these; tests must not depend on the caller's terminal."""
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM"):
        monkeypatch.delenv(name, raising=False)


# The property tests draw the same examples on every run and every machine (the default profile),
# so a failure is a bug to fix, never a flake. `pytest --hypothesis-profile explore` draws fresh
# examples (and replays failures saved in .hypothesis/); what it finds is a bug too.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("default", derandomize=True, database=None, print_blob=True)
_hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
_hypothesis_settings.load_profile("default")

# The parser raises Python's recursion limit the first time it runs (matcalc.language.parser.RECURSION_LIMIT);
# raise it here, before any test, so that no hypothesis test sees it change under it.
from matcalc.language.parser import _ensure_recursion_limit  # noqa: E402

_ensure_recursion_limit()
