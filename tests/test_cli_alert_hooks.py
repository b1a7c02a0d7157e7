"""Loads and promotes made on the command line evaluate the alert rules afterwards (issue 14): `crisisrisk etl
run`
through the hook crisisrisk/cli.py registers (etl never imports models), `crisisrisk model
promote|rollback|train`
directly; idempotent (a second load adds none), CRISISRISK_ALERTS_AUTO=false turns it off, a failure is one
line.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import FIXTURES, _fresh_url
from warehouse.db import make_engine
from warehouse.schema import alert, alert_evaluation

RAW = FIXTURES / "integration" / "raw"
LINE = re.compile(r"alerts: (\d+) new alert\(s\) pending review \((\d+) pending in all\)")


@pytest.fixture
def cli(tmp_path, monkeypatch):
    from crisisrisk.cli import _register_optional, app

    url = _fresh_url(tmp_path, "clihooks")
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", url)
    monkeypatch.setenv("CRISISRISK_RAW_DIR", str(RAW))
    monkeypatch.setenv("CRISISRISK_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("CRISISRISK_ALERTS_AUTO", raising=False)
    _register_optional()
    engine = make_engine(url)
    yield app, engine
    engine.dispose()


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).select_from(alert).where(alert.c.status == "pending")
        ).scalar()
        evaluations = conn.execute(select(func.count()).select_from(alert_evaluation)).scalar()
    return int(pending), int(evaluations)


def test_etl_run_evaluates_the_rules_once(cli, monkeypatch):
    app, engine = cli
    runner = CliRunner()
    first = runner.invoke(app, ["etl", "run", "--source", "natural_earth", "--source", "unhcr_population"])
    assert first.exit_code == 0, first.output
    new, pending = map(int, LINE.search(first.output).groups())
    assert new > 0 and (new, pending) == (
        counts(engine)[0],
        counts(engine)[0],
    )  # the printed count is the stored one
    again = runner.invoke(app, ["etl", "run", "--source", "unhcr_population", "--force"])
    assert LINE.search(again.output).groups() == ("0", str(pending))  # same data: never twice
    unchanged = runner.invoke(app, ["etl", "run", "--source", "unhcr_population"])
    assert (
        "unchanged" in unchanged.output and "alerts:" not in unchanged.output
    )  # nothing loaded: nothing to do
    evaluations = counts(engine)[1]
    monkeypatch.setenv("CRISISRISK_ALERTS_AUTO", "false")
    off = runner.invoke(app, ["etl", "run", "--source", "unhcr_population", "--force"])
    assert off.exit_code == 0 and "not evaluated (CRISISRISK_ALERTS_AUTO is off)" in off.output
    assert counts(engine)[1] == evaluations  # no evaluation row written


def test_model_promote_rollback_and_train_evaluate(cli, monkeypatch):
    import models.cli
    import models.pipeline
    import models.registry

    app, engine = cli
    runner = CliRunner()
    assert (
        runner.invoke(
            app,
            ["etl", "run", "--source", "natural_earth", "--source", "unhcr_population"],
            env={"CRISISRISK_ALERTS_AUTO": "off"},
        ).exit_code
        == 0
    )
    assert counts(engine) == (0, 0)
    # the registry's own behaviour is tested elsewhere: here only what the commands do after it succeeded
    monkeypatch.setattr(models.registry, "promote", lambda engine, run_id, root=None: None)
    monkeypatch.setattr(models.registry, "rollback", lambda engine, root=None: "RUN-BEFORE")
    monkeypatch.setattr(models.pipeline, "train_run", lambda engine, deploy=True, progress=None: "RUN-NEW")
    monkeypatch.setattr(models.cli, "_print_evaluation", lambda engine, run_id: None)
    promoted = runner.invoke(app, ["model", "promote", "RUN-X"])
    assert promoted.exit_code == 0, promoted.output
    new, pending = map(int, LINE.search(promoted.output).groups())
    assert new > 0 and pending == counts(engine)[0] == new
    for args in (["model", "rollback"], ["model", "train"]):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
        assert LINE.search(out.output).groups() == ("0", str(pending)), out.output
    with engine.connect() as conn:
        triggers = [
            t
            for (t,) in conn.execute(
                select(alert_evaluation.c.trigger).order_by(alert_evaluation.c.evaluation_id)
            )
        ]
    assert triggers == ["promote", "rollback", "train"]


def test_a_failed_evaluation_is_one_line_and_keeps_the_load(cli, monkeypatch):
    import models.alerts

    def broken(*args, **kwargs):
        raise RuntimeError("warehouse unreadable [test]")

    app, engine = cli
    monkeypatch.setattr(models.alerts, "evaluate", broken)
    out = CliRunner().invoke(app, ["etl", "run", "--source", "natural_earth"])
    assert out.exit_code == 0 and "Traceback" not in out.output
    assert (
        "alerts: evaluation after load failed (RuntimeError: warehouse unreadable [test]); the load itself is"
        " kept"
        in " ".join(out.output.split())
    )
