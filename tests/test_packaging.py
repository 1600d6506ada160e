"""The wheel holds every module under matcalc/, and nothing of the tests: what users install is what we test."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import matcalc

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the files a release is made from, so the checkout gains no build/ folder."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "matcalc", source / "matcalc", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."]
    subprocess.run(command, cwd=source, check=True, capture_output=True)
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_every_module_under_matcalc(wheel):
    on_disk = {path.relative_to(ROOT).as_posix() for path in (ROOT / "matcalc").rglob("*.py")}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name for name in archive.namelist() if name.endswith(".py")}
    assert on_disk == in_wheel


def test_every_folder_of_matcalc_is_a_package():
    """A folder without __init__.py would be left out by package discovery."""
    for folder in (ROOT / "matcalc").rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), folder


def test_the_wheel_carries_the_version_and_the_command(wheel):
    assert f"-{matcalc.__version__}-" in wheel.name
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(name for name in archive.namelist() if name.endswith("entry_points.txt"))
        assert "matcalc = matcalc.cli:main" in archive.read(entry_points).decode()


def test_the_changelog_has_this_version():
    assert f"## {matcalc.__version__}" in (ROOT / "CHANGELOG.md").read_text()
