"""A port already in use (issue 13 #9): `serve` and `up` print one line that suggests --port and exit 2,
instead of the server's 89-line traceback; `up` says so before its ETL and training, not after."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner


@pytest.fixture
def taken_port():
    """A port this test listens on, so nobody else can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _run(args: list[str]):
    from crisisrisk.cli import app, register_commands

    register_commands()
    return CliRunner().invoke(app, args, terminal_width=200)


@pytest.mark.parametrize("command", ["serve", "up"])
def test_a_taken_port_is_one_clear_line(command, taken_port, monkeypatch):
    def no_engine(*_a, **_k):
        raise AssertionError("the port is checked before the warehouse is opened")

    monkeypatch.setattr("warehouse.db.make_engine", no_engine)
    result = _run([command, "--host", "127.0.0.1", "--port", str(taken_port)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output
    assert f"port {taken_port} on 127.0.0.1 is already in use" in lines[0] and "--port" in lines[0]


def test_a_free_port_is_free_and_a_bad_host_is_named():
    from dashboard.cli import port_in_use

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    assert port_in_use("127.0.0.1", free) is None
    problem = port_in_use("no-such-host.invalid", free)
    assert problem is not None and "unknown host" in problem and "--host" in problem
