"""The one prediction field table (models.fields): every output takes names, headers and HXL tags from it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from models import fields

# HXL tagging conventions: #hashtag+attribute+attribute, lower case
HXL_TAG = re.compile(r"^#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$")
OUTPUTS = {
    "DETECTED_EXPORT": (fields.DETECTED, fields.DETECTED_EXPORT),
    "API_DETECTED": (fields.DETECTED, fields.API_DETECTED),
    "DETECTED_DOWNLOAD": (fields.DETECTED, fields.DETECTED_DOWNLOAD),
    "RISE_EXPORT": (fields.RISE, fields.RISE_EXPORT),
    "API_RISE": (fields.RISE, fields.API_RISE),
    "RISE_DOWNLOAD": (fields.RISE, fields.RISE_DOWNLOAD),
    "EXPLANATION_EXPORT": (fields.EXPLANATION, fields.EXPLANATION_EXPORT),
}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_every_output_names_fields_of_its_table_once(output):
    table, names = OUTPUTS[output]
    assert len(names) == len(set(names)), f"{output} names a field twice"
    missing = [n for n in names if n not in table]
    assert not missing, f"{output} names fields the table does not declare: {missing}"


@pytest.mark.parametrize("table", [fields.DETECTED, fields.RISE, fields.EXPLANATION])
def test_tags_are_hxl_and_numbers_say_so(table):
    for f in table.values():
        for tag in {f.tag(0), f.tag(1)}:
            assert HXL_TAG.match(tag), f"{f.name}: '{tag}' is not an HXL hashtag with attributes"
            # the dictionary's data-type attribute: +num on numeric indicators, never on text
            if tag.startswith("#indicator") and f.kind in ("number", "integer") and "+rank" not in tag:
                assert "num" in tag.split("+")[1:], f"{f.name} is numeric but '{tag}' lacks +num"
            if f.kind == "text":
                assert "num" not in tag.split("+")[1:], f"{f.name} is text but '{tag}' says +num"


def test_detected_contract_of_issue_10_is_unchanged():
    # `crisisrisk export predictions --target detected`: names and order are a public contract
    assert fields.DETECTED_EXPORT == [
        "region_id",
        "iso3",
        "name",
        "level",
        "year",
        "estimate_per_100k",
        "lower_per_100k",
        "upper_per_100k",
        "risk_score",
        "risk_band",
        "run_id",
        "basis",
        "horizon",
        "label_year",
        "conflict_year",
        "displacement_year",
        "small_population",
    ]
    assert set(fields.DETECTED_CONTRACT) <= set(fields.DETECTED_EXPORT)
    assert fields.API_DETECTED[: len(fields.DETECTED_CORE)] == fields.DETECTED_CORE
    assert fields.API_RISE[: len(fields.RISE_EXPORT)] == fields.RISE_EXPORT


def test_a_region_is_tagged_by_the_level_written():
    row0 = fields.hxl_row(fields.DETECTED, ["region_id", "name"], 0)
    row1 = fields.hxl_row(fields.DETECTED, ["region_id", "name"], 1)
    assert row0 == ["#country+code", "#country+name"] and row1 == ["#adm1+code", "#adm1+name"]
    with pytest.raises(KeyError, match="not_a_field"):
        fields.hxl_row(fields.DETECTED, ["not_a_field"])


def _deployed_warehouse(tmp_path, monkeypatch):
    """A warehouse with a deployed run r1 and two hand-made 2020 predictions (NGA and one admin-1 unit)."""
    from tests.conftest import _fresh_url
    from warehouse.db import make_engine, migrate
    from warehouse.schema import model_run, prediction, region

    url = _fresh_url(tmp_path, "fields")
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", url)
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            region.insert(),
            [
                {"region_id": "NGA", "level": 0, "iso3": "NGA", "name": "Nigeria"},
                {"region_id": "NGA-1", "level": 1, "iso3": "NGA", "parent_id": "NGA", "name": "=Lagos"},
            ],
        )
        conn.execute(
            model_run.insert().values(
                run_id="r1",
                created_at=dt.datetime.now(dt.UTC),
                status="deployed",
                level=0,
                artefact_sha256="0" * 64,
                panel_sha256="0" * 64,
                metadata_json={"run_id": "r1"},
                metrics_json={},
            )
        )
        base = {
            "run_id": "r1",
            "year": 2020,
            "estimate_per_100k": 1.234567,
            "lower_per_100k": 0.5,
            "upper_per_100k": 2.0,
            "risk_score": 87.654,
            "risk_band": "high",
            "basis": "checked",
            "horizon": 2,
            "label_year": 2018,
            "conflict_year": 2020,
            "displacement_year": 2019,
            "small_population": False,
        }
        conn.execute(
            prediction.insert(),
            [
                {**base, "region_id": "NGA", "level": 0},
                {**base, "region_id": "NGA-1", "level": 1, "method": "exposure_downscaled"},
            ],
        )
    return engine


@pytest.mark.parametrize(("level", "name"), [("country", 0), ("admin1", 1)])
def test_cli_export_hxl_row_is_the_table_row(tmp_path, monkeypatch, level, name):
    from typer.testing import CliRunner

    from models.cli import export_app

    _deployed_warehouse(tmp_path, monkeypatch)
    out = tmp_path / "p.csv"
    args = [
        "predictions",
        "--target",
        "detected",
        "--level",
        level,
        "--from",
        "2020",
        "--to",
        "2020",
        "--out",
        str(out),
        "--hxl",
    ]
    result = CliRunner().invoke(export_app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == fields.DETECTED_EXPORT
    assert rows[1] == fields.hxl_row(fields.DETECTED, fields.DETECTED_EXPORT, name)
    tags = dict(zip(rows[0], rows[1], strict=True))
    assert tags["estimate_per_100k"] == "#indicator+victims+detected+per100k+num"
    data = dict(zip(rows[0], rows[2], strict=True))
    assert data["estimate_per_100k"] == "1.2346" and data["risk_score"] == "87.7"  # the table's decimals
    if name == 1:
        assert data["name"] == "'=Lagos"  # a region name starting with '=' cannot run as a formula


def test_download_and_cli_export_tag_a_field_alike():
    import pandas as pd

    from dashboard.exports import to_csv
    from models.export import prediction_hxl

    frame = pd.DataFrame(
        [
            {
                "rank": 1,
                "region_id": "NGA",
                "region_name": "Nigeria",
                "iso3": "NGA",
                "year": 2020,
                "risk_score": 87.654,
                "risk_band": "high",
                "estimate_per_100k": 1.234567,
                "lower_per_100k": 0.5,
                "upper_per_100k": 2.0,
                "population": 2.1e8,
            }
        ]
    )
    table = list(csv.reader(io.StringIO(to_csv(frame, 0, hxl=True))))
    download = dict(
        zip(
            [fields.DETECTED[c].header for c in frame.columns.str.replace("region_name", "name")],
            table[1],
            strict=True,
        )
    )
    export = dict(zip(fields.DETECTED_EXPORT, prediction_hxl(0), strict=True))
    shared = (
        "region_id",
        "iso3",
        "year",
        "estimate_per_100k",
        "lower_per_100k",
        "upper_per_100k",
        "risk_score",
    )
    for col in shared:
        assert download[fields.DETECTED[col].header] == export[col], col
    assert table[2][table[0].index("Population (persons, World Bank, latest year)")] == "210000000"
