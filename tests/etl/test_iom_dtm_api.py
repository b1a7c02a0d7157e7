"""DTM API reader on cuts of both real extracts (20 + 42 rows): operations, rounds, Haiti overlap,
matching."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import get_source
from tests.conftest import FIXTURES
from tests.helpers import read_fixture_text, rows_of, to_csv_text, write_like

OLD = FIXTURES / "iom_dtm_api" / "dtm_api_admin0_2_irq_sdn_hti_snapshot2024-09_cut.csv.gz"
NEW = FIXTURES / "iom_dtm_api" / "dtm_api_admin0_2_afg_hti_tcd_snapshot2025-10_cut.csv.gz"
SOURCE = get_source("iom_dtm_api")


def _both(ctx, old=OLD, new=NEW):
    parsed = pd.concat(
        [SOURCE.parse(new), SOURCE.parse(old)], ignore_index=True
    )  # loader order: sorted names
    return parsed, SOURCE.to_observations(parsed, ctx)


def _edit(text: str, data_row: int, column: str, value: str) -> str:
    rows = rows_of(text)
    rows[data_row + 2][rows[0].index(column)] = value
    return to_csv_text(rows)


def _value(obs, region, year):
    hit = obs[(obs.region_id == region) & (obs.period_start.map(lambda d: d.year) == year)]
    return hit["value"].item()


def test_published_values_and_rules(ctx):
    parsed, obs = _both(ctx)
    assert len(parsed) == 62 and parsed[ROW].min() == 3
    # Sudan 2023: the Overview operation (9,052,822 at 2023-12-31), not Monthly nor an earlier round
    assert _value(obs, "SDN", 2023) == 9_052_822
    # Afghanistan round 16 (2022-12-31), reason splits summed: DTM's published 6,557,855
    assert _value(obs, "AFG", 2022) == 6_557_855
    # Haiti 2022-11-30: the newer extract wins; its BA rows are used and the SA figure is not added
    assert _value(obs, "HTI", 2022) == 155_166
    reasons = parsed[REJECT].value_counts()
    assert reasons["unmatched_admin1"] >= 1 and "duplicate" in reasons and "out_of_scope" in reasons
    assert parsed[REJECT].isna().sum() + parsed[REJECT].notna().sum() == len(parsed)
    detail = parsed[REJECT_DETAIL].astype(str)
    assert detail.str.contains("'West Kordofan' \\(SDN\\) has no Natural Earth").any()
    assert detail[(parsed[REJECT] == "duplicate")].str.contains("superseded by the newer extract").all()
    assert (parsed.loc[parsed[REJECT] == "duplicate", FILE] == OLD.name).all()
    assert detail.str.contains("operation 'Armed Clashes in Sudan \\(Monthly\\)' not used for SDN 2023").any()
    assert detail.str.contains("earlier round \\(2023-08-31\\)").any()
    assert detail.str.contains("admin-2 detail not used").any()
    assert detail.str.contains("site assessment \\(SA\\)").any()
    # admin-1: DTM spellings reach Natural Earth units (Panjsher/Parwan despite NE's duplicate 'Parwan')
    assert {"AFG-1769", "AFG-1772", "IRQ-3051", "IRQ-3472", "SDN-5858"} <= set(obs["region_id"])
    assert not obs.duplicated(["region_id", "period_start", "indicator"]).any()


def test_missing_column_names_file_and_column(tmp_path):
    rows = rows_of(read_fixture_text(OLD))
    i = rows[0].index("numPresentIdpInd")
    path = write_like(tmp_path / OLD.name, to_csv_text([r[:i] + r[i + 1 :] for r in rows]))
    with pytest.raises(ContractError) as err:
        SOURCE.parse(path)
    assert err.value.column == "numPresentIdpInd" and OLD.name in str(err.value)


def test_text_in_number_column_is_quarantined(tmp_path):
    path = write_like(tmp_path / OLD.name, _edit(read_fixture_text(OLD), 0, "numPresentIdpInd", "n/a yet"))
    row = SOURCE.parse(path).set_index(ROW).loc[3]
    assert row[REJECT] == "invalid_number" and "'n/a yet' is not a number" in row[REJECT_DETAIL]


def test_unknown_country_is_quarantined(tmp_path, ctx):
    text = _edit(_edit(read_fixture_text(OLD), 0, "admin0Pcode", "QQQ"), 0, "admin0Name", "Atlantis")
    parsed, _ = _both(ctx, old=write_like(tmp_path / OLD.name, text))
    row = parsed[(parsed[FILE] == OLD.name) & (parsed[ROW] == 3)].iloc[0]
    assert row[REJECT] == "unknown_country" and "Atlantis" in row[REJECT_DETAIL]


def test_repeated_id_is_a_duplicate(tmp_path):
    rows = rows_of(read_fixture_text(OLD))
    rows.append(list(rows[2]))
    parsed = SOURCE.parse(write_like(tmp_path / OLD.name, to_csv_text(rows)))
    last = parsed[parsed[ROW] == parsed[ROW].max()].iloc[0]
    assert last[REJECT] == "duplicate" and "repeated DTM id" in last[REJECT_DETAIL]


def test_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContractError, match="empty"):
        SOURCE.parse(write_like(tmp_path / OLD.name, ""))


def test_wrong_encoding_names_row(tmp_path):
    text = _edit(read_fixture_text(OLD), 2, "admin1Name", "Nord-Ouest é")
    with pytest.raises(ContractError) as err:
        SOURCE.parse(write_like(tmp_path / OLD.name, text, encoding="cp1252"))
    assert err.value.row == 5 and "UTF-8" in str(err.value)
