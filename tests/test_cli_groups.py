"""The composed `crisisrisk` program has every group and command; a group that fails to import is an error."""

from __future__ import annotations

import sys

import pytest
import typer.main
from typer.testing import CliRunner

# group (or top-level command) -> its commands. A change here is a change to the documented command line.
EXPECTED = {
    "alerts": {"deliver", "evaluate", "list", "review", "rules"},
    "backup": set(),
    "brief": set(),
    "etl": {"rejected", "run", "sources", "status", "sync"},
    "export": {"explanations", "phases", "predictions"},
    "jobs": {"cancel", "list"},
    "model": {"card", "evaluate", "explain", "list", "predict-dyads", "promote", "rollback", "train"},
    "phases": {"compute", "show"},
    "pipeline": {"run"},
    "restore": set(),
    "serve": set(),
    "tokens": {"create", "revoke"},
    "up": set(),
    "users": {"add", "disable", "list", "logout", "passwd", "role", "unlock"},
}


def _tree() -> dict[str, set[str]]:
    from crisisrisk.cli import app, register_commands

    register_commands()
    root = typer.main.get_command(app)
    return {name: set(getattr(cmd, "commands", {}) or {}) for name, cmd in root.commands.items()}


def test_every_group_and_command_is_present():
    assert _tree() == EXPECTED


def test_registering_twice_adds_nothing():
    first = _tree()
    assert _tree() == first


def test_help_lists_every_group():
    from crisisrisk.cli import app, register_commands

    register_commands()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for name in EXPECTED:
        assert name in result.output


def test_a_group_that_cannot_be_imported_is_an_error_not_a_missing_group(monkeypatch):
    import crisisrisk.cli as cli

    monkeypatch.setattr(cli, "_registered", False)
    monkeypatch.setitem(sys.modules, "dashboard.cli", None)  # `import dashboard.cli` now raises ImportError
    with pytest.raises(ImportError):
        cli.register_commands()
