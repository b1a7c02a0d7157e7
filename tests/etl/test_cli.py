"""The `crisisrisk etl` commands, run through Typer's test runner against a temporary warehouse."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from etl.cli import app
from tests.conftest import FIXTURES, _fresh_url

RAW = FIXTURES / "integration" / "raw"


def test_run_status_rejected_and_unknown_source(tmp_path, monkeypatch):
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", _fresh_url(tmp_path, "cli"))
    monkeypatch.setenv("CRISISRISK_RAW_DIR", str(RAW))
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--source", "natural_earth", "--source", "unodc_glotip"])
    assert result.exit_code == 0, result.output
    assert "unodc_glotip:" in result.output and "rejected" in result.output
    again = runner.invoke(app, ["run", "--source", "unodc_glotip"])
    assert "unchanged" in again.output
    status = runner.invoke(app, ["status"])
    assert "glotip_2003_2018.csv.gz" in status.output and "loaded" in status.output
    rejected = runner.invoke(app, ["rejected", "--source", "unodc_glotip", "--limit", "3"])
    assert rejected.exit_code == 0 and "reason" in rejected.output
    bad = runner.invoke(app, ["run", "--source", "no_such_source"])
    assert bad.exit_code == 2 and "unknown source 'no_such_source'" in bad.output


def test_sync_copies_documented_folders_and_reports_missing_readers(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(RAW / "unodc_glotip", raw / "unodc_glotip")
    shared = tmp_path / "shared"
    (shared / "new_publisher").mkdir(parents=True)
    (shared / "new_publisher" / "SOURCE.md").write_text("# origin and licence")
    (shared / "undocumented").mkdir()
    monkeypatch.setenv("CRISISRISK_RAW_DIR", str(raw))
    result = CliRunner().invoke(app, ["sync", "--from", str(shared)])
    assert result.exit_code == 0, result.output
    assert (raw / "new_publisher" / "SOURCE.md").exists() and not (raw / "undocumented").exists()
    assert "skip undocumented: no SOURCE.md" in result.output
    assert "data/raw/new_publisher has no registered reader" in result.output
