"""The README stays in step with CI and with the command registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatcli.cli import build_parser
from chatcli.commands.sessions_table import LABEL_COMMANDS, SESSION_COMMANDS, TRASH_COMMANDS
from chatcli.commands.spec import Command
from chatcli.config import ENV_VARS, SETTINGS, settings_table
from chatcli.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"


def readme_test_command() -> str:
    """The first line of the first ``sh`` block after "run the tests" in the README."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"run the tests.*?```sh\n(.*?)\n```", text, flags=re.IGNORECASE | re.DOTALL)
    assert match is not None, "the README has no 'run the tests' shell block"
    lines = [line.strip() for line in match.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def ci_test_command() -> str:
    """The command line of ``.ci/run`` that runs pytest."""
    lines = [
        line.strip()
        for line in CI_RUN.read_text(encoding="utf-8").splitlines()
        if "pytest" in line and not line.lstrip().startswith("#")
    ]
    assert len(lines) == 1, lines
    return lines[0]


def test_readme_test_command_is_the_one_ci_runs() -> None:
    assert readme_test_command() == ci_test_command()
    assert "pytest" in readme_test_command()


def _row(text: str, words: tuple[str, ...]) -> str:
    """The README table row documenting the command ``sessions <word>``."""
    name = " ".join(words)
    rows = [line for line in text.splitlines() if line.startswith("|") and f"`{name}" in line]
    assert rows, f"the README's command table has no row for {name!r}"
    return "\n".join(rows)


@pytest.mark.parametrize(
    "command", (*SESSION_COMMANDS, *TRASH_COMMANDS, *LABEL_COMMANDS), ids=lambda c: c.name
)
def test_readme_documents_every_session_command_and_option(command: Command) -> None:
    row = _row(README.read_text(encoding="utf-8"), command.words)
    for option in command.options:
        if option.dest == "json":
            continue  # documented once for every command
        assert any(flag in row for flag in option.flags), f"{command.name}: {option.label()} is undocumented"


def test_readme_exit_code_table_is_the_exit_code_enum() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("Exit codes:") :]
    rows = re.findall(r"^\| (\d+) \|", table[: table.index("\n\n", table.index("| code"))], re.MULTILINE)
    assert [int(code) for code in rows] == sorted(int(code) for code in ExitCode)


def _models_table(text: str) -> list[str]:
    """The lines of the first table under "## Models"."""
    section = text[text.index("## Models") :]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return lines[start:end]


def test_readme_models_table_is_generated_from_the_settings_definition() -> None:
    """Every setting (the hints name history_budget, request_timeout, connect_timeout) is documented."""
    table = _models_table(README.read_text(encoding="utf-8"))
    # To regenerate: python -c 'import chatcli.config as c; print(*c.settings_table(), sep="\n")'
    assert table == settings_table()
    documented = "\n".join(table)
    for key, variable in ENV_VARS.items():
        assert f"`{key}`" in documented and f"`{variable}`" in documented


def test_settings_flags_are_the_command_lines() -> None:
    parser = build_parser()
    flags = {flag for action in parser._actions for flag in action.option_strings}
    for spec in SETTINGS:
        if spec.flag is not None:
            assert spec.flag in flags, spec
