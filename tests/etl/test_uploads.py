"""Upload validation: malformed files are refused with a clear message and change nothing."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest
from sqlalchemy import func, select

from etl.uploads import MAX_UPLOAD_BYTES, record, validate
from tests.conftest import FIXTURES
from tests.helpers import read_fixture_text, set_cell
from warehouse.schema import observation, source_load

CUT = FIXTURES / "unhcr_population" / "population_cut.csv.gz"


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def test_valid_file_gives_a_dry_run_report_and_writes_nothing(ctx, regions_engine):
    before = _counts(regions_engine)
    report, staged = validate("unhcr_population", "population.csv.gz", CUT.read_bytes(), ctx)
    assert report.ok and staged is not None and staged.exists()
    assert report.rows_read == report.rows_would_load + report.rows_would_reject > 0
    assert "displacement.refugees_by_origin" in report.indicators
    assert report.replaces == ["population.csv.gz"]  # the shipped file it would supersede
    assert _counts(regions_engine) == before


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        ("population.xlsx", b"PK\x03\x04junk", "wrong_type", "does not look like a unhcr_population file"),
        ("population.csv.gz", b"year,coo\n1,2\n", "wrong_type", "not gzip-compressed"),
        ("../../etc/passwd", b"x", "bad_name", "not allowed"),
        ("population.csv.gz", b"", "empty", "empty"),
    ],
)
def test_wrong_type_and_names_are_refused(ctx, name, data, code, message):
    report, staged = validate("unhcr_population", name, data, ctx)
    assert not report.ok and staged is None
    assert report.error_code == code and message in report.error


def test_too_large_is_refused(ctx):
    report, _ = validate(
        "unhcr_population", "population.csv.gz", b"\x1f\x8b" + b"0" * (MAX_UPLOAD_BYTES + 1), ctx
    )
    assert report.error_code == "too_large" and "limit" in report.error


def test_gzip_bomb_is_refused(ctx):
    bomb = gzip.compress(b"0" * (50 * 1024 * 1024), compresslevel=9)  # 50 MB of zeros in ~50 KB
    report, _ = validate("unhcr_population", "population.csv.gz", bomb, ctx)
    assert report.error_code == "zip_bomb"


def test_missing_column_is_refused_with_the_column(ctx):
    text = read_fixture_text(CUT)
    rows = text.splitlines()
    header = rows[0].split(",")
    i = header.index("refugees")
    cut = "\n".join(",".join(c for j, c in enumerate(r.split(",")) if j != i) for r in rows) + "\n"
    report, _ = validate("unhcr_population", "population.csv.gz", _gz(cut), ctx)
    assert report.error_code == "contract" and "'refugees'" in report.error


def test_formula_injection_in_a_text_field_is_refused(ctx):
    from etl.uploads import _staging_root

    before = set(_staging_root().iterdir())
    text = set_cell(read_fixture_text(CUT), 3, "coo_name", "=cmd|' /C calc'!A0")
    report, _ = validate("unhcr_population", "population.csv.gz", _gz(text), ctx)
    assert set(_staging_root().iterdir()) == before  # the refused file's staged copy is removed
    assert report.error_code == "formula_injection"
    assert "row 5" in report.error and "coo_name" in report.error


def _xlsx(extra: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        for name, data in extra.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_excel_with_macros_is_refused(ctx):
    data = _xlsx({"xl/vbaProject.bin": b"\x00" * 100})
    report, _ = validate("inform_risk", "INFORM_Risk_2026_v071.xlsx", data, ctx)
    assert report.error_code == "macros"
    report, _ = validate("inform_risk", "INFORM_Risk_2026_v071.xlsm", data, ctx)
    assert report.error_code in ("macros", "wrong_type")


def test_zip_bomb_workbook_is_refused(ctx):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (60 * 1024 * 1024))
    report, _ = validate("inform_risk", "INFORM_Risk_2026_v071.xlsx", buf.getvalue(), ctx)
    assert report.error_code == "zip_bomb"


def test_refused_upload_is_recorded_and_nothing_loads(ctx, engine):
    report, staged = validate("unhcr_population", "population.csv.gz", b"not gzip", ctx)
    upload_id = record(engine, "alice", report, staged)
    from etl.uploads import UploadRefused, apply, get_upload

    assert get_upload(engine, upload_id)["status"] == "refused"
    with pytest.raises(UploadRefused, match="not a validated upload"):
        apply(engine, upload_id)
    assert _counts(engine) == (0, 0)


def _counts(engine):
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(observation)).scalar_one(),
            conn.execute(select(func.count()).select_from(source_load)).scalar_one(),
        )


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="B2"><f t="shared" ref="B2:B9" si="0">A2*2</f><v>2</v></c>',  # shared formula with attributes
        '<c r="B3"><f t="shared" si="0"/><v>4</v></c>',  # the empty follower of a shared formula
        '<c r="B2"><x:f xmlns:x="' + SHEET_NS + '">SUM(A1:A9)</x:f></c>',  # prefixed element
        '<c r="B2"><f aca="false">A2</f></c>',
    ],
)
def test_formula_in_any_form_is_refused(ctx, cell):
    """Issue 9 #15: the check looked for the bytes '<f>' only, so attributed or prefixed formulas passed."""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{SHEET_NS}"><sheetData>'
        f'<row r="2"><c r="A2"><v>1</v></c>{cell}</row></sheetData></worksheet>'
    )
    data = _xlsx({"xl/worksheets/sheet1.xml": b"<worksheet/>", "xl/worksheets/sheet7.xml": sheet.encode()})
    report, staged = validate("inform_risk", "INFORM_Risk_2026_v071.xlsx", data, ctx)
    assert staged is None
    assert report.error_code == "formula" and "sheet7" in report.error


def test_malformed_sheet_xml_is_refused(ctx):
    data = _xlsx({"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row>"})
    report, _ = validate("inform_risk", "INFORM_Risk_2026_v071.xlsx", data, ctx)
    assert report.error_code == "wrong_type" and "not well-formed XML" in report.error


def test_real_workbooks_formula_check():
    """Real files: the GSI 2016 workbook holds values only and passes; the GSI 2018 workbook's formulas are
    all
    written ``<f aca="false">`` (which the byte search for '<f>' let through) and are now found."""
    from etl.uploads import UploadRefused, _check_bytes
    from warehouse.config import raw_dir

    folder = raw_dir() / "walkfree_gsi_2016_2018"
    _check_bytes("gsi_2016_global_data.xlsx", (folder / "gsi_2016_global_data.xlsx").read_bytes())
    with pytest.raises(UploadRefused, match="contains formulas") as refused:
        _check_bytes(
            "gsi_2018_global_data_workbook.xlsx", (folder / "gsi_2018_global_data_workbook.xlsx").read_bytes()
        )
    assert refused.value.code == "formula"


def test_a_new_glotip_release_is_added_beside_the_older_ones(tmp_path, monkeypatch):
    """GLOTIP files are releases: uploading a third one must keep both shipped releases in data/raw.

    Before this rule the upload's name pattern (glotip_*) matched every release, so a load removed them all
    and
    the warehouse lost the values only the 2023 release lists.
    """
    from etl.sources import get_source
    from etl.uploads import _replaced

    for rel in (
        "unodc_glotip/glotip_2003_2018.csv.gz",
        "unodc_glotip_2025/glotip_2003_2020.csv.gz",
        "covariates_country_year/wb_gdp_current_usd.csv",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    monkeypatch.setenv("CRISISRISK_RAW_DIR", str(tmp_path))
    glotip = get_source("unodc_glotip")
    assert _replaced(glotip, "glotip_2026-04-01.csv.gz") == []
    assert _replaced(glotip, "glotip_2003_2020.csv.gz") == [
        tmp_path / "unodc_glotip_2025/glotip_2003_2020.csv.gz"
    ]
    assert _replaced(get_source("wb_gdp"), "wb_gdp_current_usd.csv") == [
        tmp_path / "covariates_country_year/wb_gdp_current_usd.csv"
    ]
