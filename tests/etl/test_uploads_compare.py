"""The dry run compares an upload with the loaded file it replaces (issue 13 #8): byte-identical says so with
the sha256; otherwise the rows, years and values that would change, with examples.

Files: the real UNHCR extract ``population_cut.csv.gz`` (27 rows: 1951, 2016, 2018) as the loaded file, and
edits of it as uploads; each edit is stated where it is made."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from etl.uploads import validate
from tests.conftest import FIXTURES
from tests.helpers import read_fixture_text, rows_of, set_cell

CUT = FIXTURES / "unhcr_population" / "population_cut.csv.gz"


@pytest.fixture
def loaded(tmp_path, monkeypatch):
    """A raw folder whose loaded UNHCR file is ``text`` (the upload is compared with it)."""

    def _with(text: str):
        folder = tmp_path / "raw" / "unhcr_population"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "population.csv.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
        monkeypatch.setenv("CRISISRISK_RAW_DIR", str(tmp_path / "raw"))
        monkeypatch.setenv("CRISISRISK_DATA_DIR", str(tmp_path / "data"))
        return folder / "population.csv.gz"

    return _with


def test_same_bytes_are_reported_identical(ctx, loaded):
    current = loaded(read_fixture_text(CUT))
    data = current.read_bytes()
    report, _staged = validate("unhcr_population", "population.csv.gz", data, ctx)
    assert report.ok and report.comparison["identical"] is True
    assert report.comparison["sha256"] == hashlib.sha256(data).hexdigest()
    assert report.comparison["against"] == ["population.csv.gz"]


def test_rows_years_and_values_that_change_are_listed(ctx, loaded):
    text = read_fixture_text(CUT)
    header, *rows = rows_of(text)
    loaded("\n".join(",".join(r) for r in [header, *[r for r in rows if r[0] != "2018"]]) + "\n")
    row = next(i for i, r in enumerate(rows) if r[0] == "2016" and int(r[header.index("refugees")]) > 0)
    before = int(rows[row][header.index("refugees")])
    upload = set_cell(text, row, "refugees", str(before + 1000))  # one value raised by 1,000
    report, _staged = validate("unhcr_population", "population.csv.gz", gzip.compress(upload.encode()), ctx)
    cmp = report.comparison
    assert report.ok and cmp["identical"] is False
    assert cmp["rows_upload"] - cmp["rows_current"] == 3 == cmp["rows_added"]  # the 2018 rows
    assert cmp["years_added"] == [2018] and cmp["years_removed"] == []
    assert cmp["observations_added"] > 0 and all(e["year"] == 2018 for e in cmp["added_examples"])
    assert cmp["values_changed"] >= 1
    assert cmp["top_changes"] and all(c["change"] == pytest.approx(1000) for c in cmp["top_changes"])
    top = cmp["top_changes"][0]
    assert top["year"] == 2016 and top["upload"] - top["current"] == pytest.approx(1000)
