"""GLOTIP releases as vintages of one source, and the citizenship pairs with their reporting census.

The cuts (tests/fixtures/unodc_glotip/glotip_pairs_cut_<release>.csv, built by build_cuts.py) hold the real
rows
of the 2023 and the April 2025 releases for a few keys; the expected values are those printed in the files and
in data/raw/unodc_glotip_2025/SOURCE.md.
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil

import pandas as pd
import pytest
from sqlalchemy import select

from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import load_source
from etl.sources import get_source
from etl.sources.glotip_citizenship import resolve_category
from etl.sources.unodc_glotip import pair_frame, release_of, reporting_census
from tests.conftest import FIXTURES, RAW_DIR
from warehouse.io import read_citizenship_pairs, read_reporting_census
from warehouse.schema import observation, rejected_row, source_load

SOURCE = get_source("unodc_glotip")
OLD = FIXTURES / "unodc_glotip" / "glotip_pairs_cut_2023-05-30.csv"
NEW = FIXTURES / "unodc_glotip" / "glotip_pairs_cut_2025-04-14.csv"
VICTIMS = "trafficking.victims_detected"


def _both(ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = []
    for path in (OLD, NEW):
        frame = SOURCE.parse(path)
        frame[FILE] = path.name
        frames.append(frame)
    parsed = pd.concat(frames, ignore_index=True)
    return parsed, SOURCE.to_observations(parsed, ctx)


def _row(parsed: pd.DataFrame, file, **cells) -> pd.Series:
    sel = parsed[FILE] == file.name
    for col, val in cells.items():
        sel &= parsed[col] == val
    assert sel.sum() == 1, cells
    return parsed[sel].iloc[0]


def test_release_is_read_from_the_file_name(tmp_path):
    assert release_of(tmp_path / "glotip_2026-03-31.csv") == "2026-03-31"
    assert release_of(tmp_path / "glotip_2003_2020.csv.gz") == "2025-04-14"  # a shipped file
    assert release_of(tmp_path / "glotip_2003_2018.csv.gz") == "2023-05-30"
    with pytest.raises(ContractError, match="cannot tell which GLOTIP release") as err:
        release_of(tmp_path / "data_glotip.csv")
    assert "data_glotip.csv" in str(err.value)
    with pytest.raises(ContractError, match="not a valid release date"):
        release_of(tmp_path / "glotip_2026-13-40.csv")


def test_newer_release_replaces_revised_values_and_the_older_row_is_quarantined(ctx):
    parsed, obs = _both(ctx)
    got = obs.set_index(["region_id", "indicator", obs["period_start"].map(lambda d: d.year)])
    assert got.loc[("FRA", VICTIMS, 2017), "value"] == 1456  # 198 in the 2023 release
    assert got.loc[("DEU", VICTIMS, 2007), "value"] == 689
    assert got.loc[("DEU", VICTIMS, 2016), "value"] == 536
    assert got.loc[("NGA", VICTIMS, 2016), "value"] == 1017
    assert got.loc[("FRA", VICTIMS, 2017), FILE] == NEW.name  # the release it came from
    old_france = _row(parsed, OLD, Iso3_code="FRA", Year="2017", Dimension="Total")
    assert old_france["txtVALUE"] == "198" and old_france[REJECT] == "superseded"
    assert "release 2025-04-14" in old_france[REJECT_DETAIL] and NEW.name in old_france[REJECT_DETAIL]
    for path in (OLD, NEW):  # rows read = rows loaded + rows rejected, per file
        rows = parsed[parsed[FILE] == path.name]
        assert rows[REJECT].isna().sum() + rows[REJECT].notna().sum() == len(rows) > 0
        assert rows.loc[rows[REJECT].notna(), REJECT_DETAIL].notna().all()


def test_citizenship_rows_become_pairs_with_nationals_censoring_and_rejected_aggregates(ctx):
    parsed, _ = _both(ctx)
    pairs = pair_frame(parsed).set_index(["detecting_iso3", "citizenship_iso3", "year"])
    # 'Nationals' is the detecting country itself
    assert (
        pairs.loc[("AGO", "AGO", 2017), "victims"] == 23 and pairs.loc[("AGO", "AGO", 2017), "is_nationals"]
    )
    # "Costa d'Avorio" is Côte d'Ivoire, not Costa Rica; its '<5'/7 are kept as published
    assert pairs.loc[("ITA", "CIV", 2018), "victims"] == 7
    assert not ((pairs.index.get_level_values(0) == "ITA") & (pairs.index.get_level_values(1) == "CRI")).any()
    # a censored value: Guyana 2018 lists 'Jamaicans' as '<5'; 'Venezuelans' 155 is exact
    assert _row(parsed, NEW, Iso3_code="GUY", Year="2018", Category="Jamaicans")["txtVALUE"] == "<5"
    assert pairs.loc[("GUY", "JAM", 2018), "victims"] == 5 and pairs.loc[("GUY", "JAM", 2018), "censored"]
    assert (
        pairs.loc[("GUY", "VEN", 2018), "victims"] == 155 and not pairs.loc[("GUY", "VEN", 2018), "censored"]
    )
    # nationals under the country's own demonym ('Guayanean', Guyana 2020) are the self-pair too
    assert (
        pairs.loc[("GUY", "GUY", 2020), "is_nationals"] and pairs.loc[("GUY", "GUY", 2020), "victims"] == 20
    )
    # aggregates are rejected with their reason, never matched to Barbados or Brazil
    for category in (
        "Caribbean (Trinidad and Tobago, Barbados, etc)",
        "Other Countries (Dominica, Panama, French Guiana, Brazil, etc.)",
    ):
        row = _row(parsed, NEW, Iso3_code="GUY", Year="2018", Category=category)
        assert row[REJECT] == "aggregate" and category in row[REJECT_DETAIL]
    assert {("GUY", "BRB", 2018), ("GUY", "BRA", 2018)}.isdisjoint(pairs.index)
    # precedence per reporting country-year: the 2025 release's 'RDC' replaces the 2023 release's 'Congo'
    assert ("AGO", "COD", 2017) in pairs.index and ("AGO", "COG", 2017) not in pairs.index
    assert _row(parsed, OLD, Iso3_code="AGO", Year="2017", Category="Congo")[REJECT] == "superseded"
    assert set(pairs["release"]) == {"2025-04-14"}
    # Solomon Islands lists its nationals twice ('Nationals' and its own name): one pair, the copy quarantined
    slb = parsed[(parsed[FILE] == NEW.name) & (parsed["Iso3_code"] == "SLB") & parsed["_pair"]]
    assert sorted(slb[REJECT].fillna("loaded")) == ["duplicate", "loaded", "unknown_country"]  # and "Unknown"
    assert pairs.loc[("SLB", "SLB", 2017), "is_nationals"]


def test_reporting_census_counts_the_listed_citizenships(ctx):
    parsed, _ = _both(ctx)
    pairs = pair_frame(parsed)
    pairs["load_id"] = 1
    census = reporting_census(pairs).set_index(["detecting_iso3", "year"])
    ita = pairs[(pairs["detecting_iso3"] == "ITA") & (pairs["year"] == 2018)]
    assert census.loc[("ITA", 2018), "n_citizenships"] == ita["citizenship_iso3"].nunique() >= 10
    assert census.loc[("AGO", 2017), "n_citizenships"] == 2  # nationals and DR Congo
    assert census.loc[("GUY", 2020), "release"] == "2025-04-14"  # a year only the newer release has
    assert len(census) == pairs.groupby(["detecting_iso3", "year"]).ngroups


@pytest.mark.parametrize(
    "category, expected",
    [
        ("Nationals", "nationals"),
        ("Costa d'Avorio", "CIV"),
        ("Côte d'Ivoire", "CIV"),
        ("Nigerians", "NGA"),
        ("Caribbean (Trinidad and Tobago, Barbados, etc)", "aggregate"),
        ("Other Countries (Dominica, Panama, French Guiana, Brazil, etc.)", "aggregate"),
        ("Africa", "aggregate"),
        ("Unknown", "unknown_country"),
        ("Nigerin", "unknown_country"),
        ("Q6.1_10s_2019", "unknown_country"),
        ("Atlantis", "unknown_country"),
        ("Kosovo under UNSCR 1244", "XKX"),
    ],
)
def test_categories_resolve_only_by_exact_name_or_listed_alias(category, expected):
    res = resolve_category(category)
    got = "nationals" if res.nationals else (res.iso3 or res.reason_code)
    assert got == expected


def test_every_category_in_the_shipped_releases_was_reviewed():
    """No category of either release falls through to 'not an exact country name or a listed alias'."""
    for path in (
        RAW_DIR / "unodc_glotip" / "glotip_2003_2018.csv.gz",
        RAW_DIR / "unodc_glotip_2025" / "glotip_2003_2020.csv.gz",
    ):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        cats = frame.loc[
            (frame["Dimension"] == "by citizenship") & (frame["Indicator"] == "Detected trafficking victims"),
            "Category",
        ].unique()
        unreviewed = [c for c in cats if "not an exact country name" in (resolve_category(c).reason or "")]
        assert unreviewed == [], path.name
        assert len(cats) >= 300  # 300 distinct categories in 2023, 539 in 2025


def _raw_with_releases(tmp_path, third: str | None = None):
    raw = tmp_path / "raw"
    for folder in ("natural_earth", "country_codes"):
        (raw / folder).parent.mkdir(parents=True, exist_ok=True)
        (raw / folder).symlink_to(RAW_DIR / folder)
    (raw / "unodc_glotip").mkdir()
    (raw / "unodc_glotip_2025").mkdir()
    shutil.copy(OLD, raw / "unodc_glotip" / OLD.name)
    new = raw / "unodc_glotip_2025" / "glotip_pairs_cut_2025-04-14.csv.gz"
    new.write_bytes(gzip.compress(NEW.read_bytes()))
    if third:
        (raw / "unodc_glotip" / "glotip_cut_2026-01-15.csv").write_text(third, encoding="utf-8")
    return raw


def test_load_records_the_release_and_a_later_release_loads_the_same_way(tmp_path, engine):
    raw = _raw_with_releases(tmp_path)
    assert load_source(engine, get_source("natural_earth"), raw).status == "loaded"
    first = load_source(engine, SOURCE, raw)
    assert first.status == "loaded", first.error

    def france_2017():
        with engine.connect() as conn:
            return conn.execute(
                select(observation.c.value, source_load.c.release, source_load.c.file)
                .join(source_load, source_load.c.load_id == observation.c.load_id)
                .where(
                    observation.c.region_id == "FRA",
                    observation.c.indicator == VICTIMS,
                    observation.c.period_start == dt.date(2017, 1, 1),
                )
            ).one()

    assert tuple(france_2017()) == (
        1456,
        "2025-04-14",
        "unodc_glotip_2025/glotip_pairs_cut_2025-04-14.csv.gz",
    )
    pairs, census = read_citizenship_pairs(engine), read_reporting_census(engine)
    assert list(pairs.columns) == [
        "detecting_iso3",
        "citizenship_iso3",
        "year",
        "victims",
        "censored",
        "is_nationals",
        "release",
    ]
    assert list(census.columns) == ["detecting_iso3", "year", "n_citizenships", "release"]
    assert pairs["year"].dtype.kind == "i" and census["n_citizenships"].dtype.kind == "i"
    nationals = pairs[pairs["is_nationals"]]
    assert (nationals["detecting_iso3"] == nationals["citizenship_iso3"]).all() and len(nationals) >= 2
    with engine.connect() as conn:
        loads = (
            conn.execute(
                select(source_load).where(
                    source_load.c.source == "unodc_glotip", source_load.c.status == "loaded"
                )
            )
            .mappings()
            .all()
        )
        superseded = (
            conn.execute(select(rejected_row.c.row_number).where(rejected_row.c.reason_code == "superseded"))
            .scalars()
            .all()
        )
    assert {r["release"] for r in loads} == {"2023-05-30", "2025-04-14"}
    assert all(r["rows_read"] == r["rows_loaded"] + r["rows_rejected"] for r in loads)
    assert superseded

    # A third release: a new dated file in an existing folder, no code change. Its France 2017 wins.
    text = NEW.read_text(encoding="utf-8").splitlines()
    header, rows = text[0], [line for line in text[1:] if line.startswith("FRA,") and ",2017," in line]
    assert len(rows) == 1 and ",1456," in rows[0].replace('"1,456"', "1456")
    third = header + "\n" + rows[0].replace('"1,456"', '"1,500"') + "\n"
    raw = _raw_with_releases(tmp_path / "again", third)
    second = load_source(engine, SOURCE, raw)
    assert second.status == "loaded", second.error
    assert tuple(france_2017())[:2] == (1500, "2026-01-15")
    assert len(read_citizenship_pairs(engine)) == len(pairs)  # pairs untouched by a file without any


def test_load_without_a_nameable_release_fails_clearly(tmp_path, engine):
    raw = _raw_with_releases(tmp_path)
    shutil.copy(OLD, raw / "unodc_glotip" / "glotip_latest.csv")
    assert load_source(engine, get_source("natural_earth"), raw).status == "loaded"
    result = load_source(engine, SOURCE, raw)
    assert result.status == "failed" and "glotip_latest.csv" in result.error and "release" in result.error


def test_every_reject_names_its_row(ctx):
    parsed, _ = _both(ctx)
    bad = parsed[parsed[REJECT].notna()]
    assert bad[ROW].notna().all() and set(bad[REJECT]) <= {
        "superseded",
        "aggregate",
        "unknown_country",
        "duplicate",
        "conflicting_duplicate",
        "out_of_scope",
    }
