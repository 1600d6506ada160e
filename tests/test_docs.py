"""The documentation is tested: every example it shows is run, and prints what the page says.

Pages: README.md, docs/*.md and examples/*.md. A `$ ...` transcript runs in a fresh folder with links to
examples/ and scripts/ (so a command may read them, and write what it likes); a `>>>` session is a doctest,
one namespace per page. The README's picture is made from LaTeX that must be today's output, and the
README's set-up commands are CI's.
"""

import importlib.util
import re

import pytest
from helpers import (
    ROOT,
    UNSET_VARIABLES,
    documentation_pages,
    prepare_folder,
    relative,
    run_command,
    run_sessions,
    sessions,
    transcripts,
    without_rounding_noise,
)

from matcalc.cli import cli

README = (ROOT / "README.md").read_text()
TRANSCRIPTS = [transcript for page in documentation_pages() for transcript in transcripts(page)]
SESSIONS = [test for page in documentation_pages() if (test := sessions(page)) is not None]


@pytest.fixture
def documentation_folder(tmp_path, monkeypatch):
    """Where a transcript runs: examples/ and scripts/ are there, and nothing it writes lands in the repository."""
    for name in UNSET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return prepare_folder(tmp_path)


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda transcript: transcript.id)
def test_transcript_prints_what_the_page_shows(transcript, documentation_folder):
    for command in transcript.commands:
        printed = run_command(command.text, documentation_folder)
        assert without_rounding_noise(printed) == without_rounding_noise(command.expected), (
            f"{transcript.page}:{command.line}: $ {command.text}"
        )


@pytest.mark.parametrize("test", SESSIONS, ids=lambda test: test.name)
def test_session_prints_what_the_page_shows(test, monkeypatch):
    for name in UNSET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    failures = run_sessions(test)
    assert not failures, failures


def test_every_page_with_examples_is_found():
    pages = {transcript.page for transcript in TRANSCRIPTS}
    assert {"README.md", "examples/README.md", "examples/steps.md", "docs/commands.md"} <= pages
    assert "README.md" in {test.name for test in SESSIONS}


def test_no_shown_command_is_left_untested():
    """A `$ matcalc` line outside a transcript block would be shown and never run."""
    for page in documentation_pages():
        tested = {command.line for transcript in transcripts(page) for command in transcript.commands}
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if line.startswith("$ ") and "matcalc" in line:
                assert number in tested, f"{relative(page)}:{number} is shown but not run: {line}"


def test_no_page_cites_a_document_users_do_not_have():
    for page in documentation_pages():
        text = page.read_text()
        assert re.search(r"\bSPEC\b", text) is None, f"{relative(page)} cites SPEC"


SETUP_COMMANDS = [
    'python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/matcalc diff "||y - Xw||^2" --wrt w',
    'python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e ".[test]" && .venv/bin/python -m pytest',
]


@pytest.mark.parametrize("command", SETUP_COMMANDS, ids=["install", "test"])
def test_the_readme_shows_each_set_up_command_in_its_own_block(command):
    assert f"```\n{command}\n```" in README


def test_ci_runs_the_readme_test_command():
    ci_script = (ROOT / ".ci" / "run").read_text()
    test_command = ci_script.strip().splitlines()[-1]
    assert f"```\n{test_command}\n```" in README


def load_picture_script():
    spec = importlib.util.spec_from_file_location(
        "render_readme_example", ROOT / "scripts" / "render_readme_example.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_picture_was_made_from_todays_latex():
    """docs/example.png is compiled from docs/example.tex; that file must be what matcalc prints today."""
    script = load_picture_script()
    committed = (ROOT / "docs" / "example.tex").read_text()
    assert committed == script.document(), "stale: run python scripts/render_readme_example.py"
    assert script.source_digest(ROOT / "docs" / "example.png") == script.digest(committed), (
        "docs/example.png was not compiled from docs/example.tex: run python scripts/render_readme_example.py"
    )
    assert "](docs/example.png)" in README


def test_every_command_has_help_text(runner):
    for name, command in cli.commands.items():
        assert command.help, name
        assert runner.invoke(cli, [name, "--help"]).exit_code == 0


def test_every_command_is_documented():
    commands = (ROOT / "docs" / "commands.md").read_text()
    for name in cli.commands:
        assert f"## matcalc {name}" in commands, name


def test_every_docs_page_is_linked_from_the_index():
    index = (ROOT / "docs" / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, page.name


def test_every_module_is_on_the_architecture_page():
    page = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "matcalc"
    modules = [path.name for path in package.glob("*.py") if not path.name.startswith("__")]
    folders = [f"{path.name}/" for path in package.iterdir() if (path / "__init__.py").is_file()]
    in_folders = [f"{folder}{path.name}" for folder in folders for path in (package / folder).glob("*.py")
                  if not path.name.startswith("__")]
    for name in modules + folders + in_folders:
        assert f"`{name}`" in page, f"docs/architecture.md does not say what matcalc/{name} does"
