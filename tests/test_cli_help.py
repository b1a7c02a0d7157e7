"""`--help` of every command (issue 13 #9): an on/off flag shows no value type (it printed `--debug <bool>`,
as if the flag took a value), while options that take a value still show theirs."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner


def _commands() -> list[tuple[list[str], Any]]:
    """Every command of the composed program, with the words that reach it (`["model", "train"]`)."""
    from crisisrisk.cli import app, register_commands

    register_commands()
    out: list[tuple[list[str], Any]] = []

    def walk(words: list[str], cmd: Any) -> None:
        out.append((words, cmd))
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            walk([*words, name], sub)

    walk([], typer.main.get_command(app))
    return out


def _help(words: list[str]) -> str:
    from crisisrisk.cli import app

    result = CliRunner().invoke(app, [*words, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0, (words, result.output)
    return result.output


def test_no_command_shows_a_type_after_a_flag():
    checked = flags = 0
    for words, cmd in _commands():
        text = _help(words)
        assert "<bool>" not in text, (words, text)
        checked += 1
        flags += sum(bool(getattr(p, "is_flag", False)) for p in cmd.params)
    assert checked > 30 and flags > 10  # the walk reached the whole program, flags included


def test_flags_still_listed_and_value_options_keep_their_type():
    serve = _help(["serve"])
    line = next(row for row in serve.splitlines() if row.lstrip("│ ").startswith("--debug"))
    assert "Dash development server" in line and "<" not in line
    port = next(row for row in serve.splitlines() if row.lstrip("│ ").startswith("--port"))
    assert "<int>" in port
    restore = _help(["restore"])
    assert "--yes" in restore and "<path>" in restore
