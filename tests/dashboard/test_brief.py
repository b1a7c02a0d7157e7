"""The one-page PDF brief (issue 13 item 2): its sections, sources, languages, route and command.

The warehouse is the dashboard fixture's (real regions, SYNTHETIC model outputs:
tests/dashboard/synthetic.py), so the tests check what the page says against what the query layer returns,
never a hard-coded estimate. The PDF's text is read back with pypdf; layout checks read the text positions
pypdf reports.
"""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from pypdf import PdfReader

from dashboard import brief, i18n, ids
from dashboard.queries import Queries
from tests.dashboard.synthetic import RUN_ID

A4_POINTS = (595.28, 841.89)
SECTIONS_EN = (
    "risk of detected trafficking",
    "Trend: detected victims per 100,000 people",
    "Top drivers of the",
    "What changed since",
    "Admin-1 units of Nigeria",
    "Model run",
    "Sources: publisher, data years, date loaded and licence",
    "detection bias",
)


@pytest.fixture(scope="module")
def queries(dash_engine) -> Queries:
    return Queries(dash_engine, ttl_s=0)


@pytest.fixture(scope="module")
def nigeria(queries) -> brief.BriefData:
    return brief.gather(queries, "NGA")


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _flat(text: str) -> str:
    """Text with line breaks and runs of spaces as one space (wrapped lines join up again)."""
    return re.sub(r"\s+", " ", text)


def _pages(pdf: bytes) -> list:
    return PdfReader(io.BytesIO(pdf)).pages


def test_english_brief_is_one_a4_page_with_every_section(nigeria):
    pdf = brief.build_pdf(nigeria, "en")
    pages = _pages(pdf)
    assert len(pages) == 1
    assert (float(pages[0].mediabox.width), float(pages[0].mediabox.height)) == pytest.approx(
        A4_POINTS, abs=0.5
    )
    text = _flat(_text(pdf))
    for section in SECTIONS_EN:
        assert section in text, section
    row = nigeria.estimate
    # the headline estimate and its 80% interval, as the query layer has them
    assert i18n.fmt_number(row["estimate_per_100k"], 2 if row["estimate_per_100k"] >= 0.1 else 3) in text
    assert f"Basis of the {nigeria.year} estimate" in text
    assert f"{nigeria.rank} of {nigeria.rank_of}" in text
    assert RUN_ID in text


def test_default_year_is_the_newest_that_is_not_a_projection(queries, nigeria):
    pred = queries.region_predictions("NGA")
    usable = pred[pred["basis"] != "projection"]["year"]
    assert nigeria.year == int(usable.max())
    assert nigeria.estimate["estimate_per_100k"] == pytest.approx(
        float(pred[pred["year"] == nigeria.year]["estimate_per_100k"].iloc[0])
    )


def test_drivers_are_named_in_plain_words_not_codes(nigeria):
    text = _flat(_text(brief.build_pdf(nigeria, "en")))
    assert nigeria.drivers, "the fixture stores SHAP explanations for Nigeria"
    from dashboard.figures import PLAIN_FEATURES

    for d in nigeria.drivers:
        assert d["feature"] not in text  # no raw feature code on the page
        key = re.sub(r"_lag\d$", "", d["feature"].split(".", 1)[-1])
        name = (
            PLAIN_FEATURES[key][0] if key in PLAIN_FEATURES else d["label"]
        )  # the screens' name, else the run's
        assert name[:18] in text, name
    shares = [d["share"] for d in nigeria.drivers]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0 + 1e-9


def test_driver_text_gives_the_value_on_the_scale_people_use():
    # log(population) 17.0 is about 24.2 million people; a log1p rate of 1.0986 is 2.0 per 100,000 people
    assert brief.driver_text("log_population", "x", 17.0) == "Population: 24.2 million people"
    assert brief.driver_text("conflict_deaths_per100k", "x", 1.0986123) == (
        "Deaths in organised violence: 2.0 per 100,000 people"
    )
    assert brief.driver_text("not_a_known_feature", "Its description") == "Its description"
    # a log1p rate so large that its value overflows: the name alone, never an error
    assert brief.driver_text("conflict_deaths_per100k", "x", 1e6) == "Deaths in organised violence"


def test_plain_label_drops_model_scale_notes():
    descriptions = {"idps_per100k": "Conflict IDPs per 100k (IDMC, else UNHCR), log1p"}
    assert brief.plain_label("idps_per100k", descriptions) == "Conflict IDPs per 100k"
    assert brief.plain_label("tip_tier", {}) == "TIP tier"  # no description: the label made from the name


def test_sources_print_publisher_and_licence_in_full(nigeria):
    """The registry's own metadata (as the data page lists it) for two real sources appears in full."""
    from etl.sources import get_source

    real = [get_source("unhcr_population"), get_source("unodc_glotip")]
    rows = [
        {
            "source": s.name,
            "title": s.title,
            "publisher": s.publisher,
            "licence": s.licence,
            "years": "2003–2020",  # made-up coverage for the test
            "last_load": "2026-01-01T00:00:00",
        }
        for s in real
    ]
    data = brief.BriefData(**{**nigeria.__dict__, "sources": rows})
    text = _flat(_text(brief.build_pdf(data, "en")))
    for s in real:
        assert _flat(s.publisher) in text
        assert _flat(s.licence) in text
    assert "Data 2003–2020, loaded Jan 1, 2026" in text


def test_gathered_sources_are_those_behind_the_numbers(queries, nigeria):
    summary = queries.source_summary()
    coverage = queries.coverage("NGA")
    names = [s["source"] for s in nigeria.sources]
    assert names and set(names) <= set(coverage["source"]) & set(summary["source"])


def test_admin1_ranks_are_within_the_country_with_ties_sharing_a_rank():
    units = pd.DataFrame(
        {  # four hand-made units: two share the lowest value
            "region_id": ["A", "B", "C", "D"],
            "estimate_per_100k": [0.5, 2.0, 0.5, 1.0],
            "lower_per_100k": [0.1, 1.0, 0.1, 0.4],
            "upper_per_100k": [0.9, 3.0, 0.9, 1.5],
            "has_subnational_data": [False, True, False, True],
        }
    )
    table = brief.admin1_table(units, {"B": "Unit B"})
    assert table["region_id"].tolist() == ["B", "D", "A", "C"]
    assert table["rank"].tolist() == [1, 2, 3, 3]
    assert table["name"].tolist()[0] == "Unit B" and table["name"].tolist()[2] == "A"


def test_admin1_unit_brief_ranks_it_among_its_country_units(queries, nigeria):
    unit = nigeria.admin1.iloc[-1]  # the lowest-ranked unit: the table must still show it
    data = brief.gather(queries, unit["region_id"], nigeria.year)
    assert data.level == 1 and data.rank_of == len(nigeria.admin1)
    assert data.rank == int(unit["rank"])
    text = _flat(_text(brief.build_pdf(data, "en")))
    assert f"Admin-1 unit of Nigeria · id {unit['region_id']}" in text
    assert str(unit["name"]) in text
    assert f"{int(unit['rank'])} of {len(nigeria.admin1)}" in text


def test_what_changed_compares_with_the_year_before(nigeria):
    text = _flat(_text(brief.build_pdf(nigeria, "en")))
    before = nigeria.previous["estimate_per_100k"]
    assert f"What changed since {nigeria.year - 1}" in text
    assert (
        f"Estimate {brief._fmt(before, 'en')} → {brief._fmt(nigeria.estimate['estimate_per_100k'], 'en')}"
        in text
    )


def test_year_without_an_estimate_and_unknown_region_are_clear_errors(queries):
    with pytest.raises(brief.BriefError) as missing:
        brief.gather(queries, "NGA", 1990)
    assert missing.value.status == 404 and "No estimate for Nigeria (NGA) in 1990" in missing.value.message
    with pytest.raises(brief.BriefError) as unknown:
        brief.gather(queries, "XXX")
    assert unknown.value.status == 404 and "'XXX'" in unknown.value.message


def _with_catalogue(monkeypatch, locale: str, messages: dict[str, str]) -> None:
    """A small hand-made catalogue for one language, so the test does not depend on the shipped .po files."""
    real = i18n.catalogue
    monkeypatch.setattr(i18n, "catalogue", lambda loc: messages if loc == locale else real(loc))


FR = {
    "Model run": "Exécution du modèle",
    "Sources: publisher, data years, date loaded and licence": (
        "Sources : éditeur, années des données, date de chargement et licence"
    ),
}
AR = {
    "Model run": "تشغيل النموذج",
    "Sources: publisher, data years, date loaded and licence": (
        "المصادر: الناشر وسنوات البيانات وتاريخ التحميل والترخيص"
    ),
    "{name}: risk of detected trafficking, {year}": "{name}: خطر الاتجار المكتشف، {year}",
}


def test_french_brief_uses_the_catalogue_and_french_numbers(monkeypatch, nigeria):
    _with_catalogue(monkeypatch, "fr", FR)
    pdf = brief.build_pdf(nigeria, "fr")
    text = _flat(_text(pdf))
    assert len(_pages(pdf)) == 1
    for french in FR.values():
        assert french in text
    estimate = i18n.fmt_number(nigeria.estimate["estimate_per_100k"], 2, locale="fr")
    assert "," in estimate and estimate in text  # decimal comma
    assert "Model run" not in text


def _x_of(pdf: bytes, needle: str) -> float:
    """The x position (points) where pypdf finds a text run containing ``needle``."""
    found: list[float] = []

    def visit(text, cm, tm, font, size):
        if needle in text:
            found.append(tm[4] * cm[0] + cm[4])

    _pages(pdf)[0].extract_text(visitor_text=visit)
    assert found, needle
    return found[0]


def test_arabic_brief_is_shaped_right_to_left_and_its_text_extracts(monkeypatch, nigeria):
    _with_catalogue(monkeypatch, "ar", AR)
    pdf = brief.build_pdf(nigeria, "ar")
    assert len(_pages(pdf)) == 1
    text = _flat(_text(pdf))
    assert AR["Model run"] in text
    assert AR["Sources: publisher, data years, date loaded and licence"] in text
    assert "خطر الاتجار المكتشف" in text
    assert "نيجيريا" in text  # the country's Arabic name (CLDR), as the screens show it
    assert "Model run" not in text
    # right to left, mirrored: the model-run column is on the right in English and on the left in Arabic; the
    # sources heading starts at the left margin in English and is set against the right margin in Arabic
    english = brief.build_pdf(nigeria, "en")
    assert _x_of(english, "Model run") > A4_POINTS[0] / 2 > _x_of(pdf, AR["Model run"])
    assert _x_of(english, "Sources") < A4_POINTS[0] / 8 < _x_of(pdf, "المصادر") - 100


def test_route_serves_the_pdf(client, nigeria):
    resp = client.get(f"/region/NGA/brief.pdf?year={nigeria.year}&lang=es")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert f"crisisrisk-brief-NGA-{nigeria.year}-es.pdf" in resp.headers["Content-Disposition"]
    assert len(_pages(resp.data)) == 1
    assert "Nigeria" in _text(resp.data)


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/region/XXX/brief.pdf", 404, "No region with id 'XXX'"),
        ("/region/NGA/brief.pdf?year=1990", 404, "No estimate for Nigeria (NGA) in 1990"),
        ("/region/NGA/brief.pdf?year=soon", 400, "year must be a whole number"),
    ],
)
def test_route_errors_answer_json_or_html(client, url, status, message):
    as_json = client.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == status and as_json.is_json
    assert message in as_json.get_json()["error"]["message"]
    as_html = client.get(url, headers={"Accept": "text/html"})
    assert as_html.status_code == status and as_html.mimetype == "text/html"
    assert message.replace("'", "&#39;") in as_html.get_data(as_text=True)


def test_route_needs_the_region_pages_read_access(client, dash_app):
    dash_app.server.config["CRISISRISK_PUBLIC_READ"] = False
    try:
        resp = client.get("/region/NGA/brief.pdf", headers={"Accept": "text/html"})
    finally:
        dash_app.server.config["CRISISRISK_PUBLIC_READ"] = True
    assert resp.status_code in (302, 401) and resp.mimetype != "application/pdf"


def test_cli_writes_the_brief(monkeypatch, tmp_path, dash_engine, nigeria):
    from typer.testing import CliRunner

    from crisisrisk.cli import app, register_commands

    register_commands()
    monkeypatch.setenv("CRISISRISK_DATABASE_URL", dash_engine.url.render_as_string(hide_password=False))
    out = tmp_path / "brief.pdf"
    ok = CliRunner().invoke(
        app, ["brief", "nga", "--year", str(nigeria.year), "--out", str(out), "--lang", "fr"]
    )
    assert ok.exit_code == 0, ok.output
    assert len(_pages(out.read_bytes())) == 1 and "Nigeria" in _text(out.read_bytes())
    missing = CliRunner().invoke(app, ["brief", "NGA", "--year", "1990", "--out", str(tmp_path / "x.pdf")])
    assert missing.exit_code == 1 and "No estimate for Nigeria (NGA) in 1990" in missing.output
    assert not (tmp_path / "x.pdf").exists()


def _lowest_text_y(pdf: bytes) -> float:
    """The lowest baseline (points from the bottom edge) of any text run on the page but the footer's."""
    ys: list[float] = []

    def visit(text, cm, tm, font, size):
        if text.strip() and "page 1 of 1" not in text:
            ys.append(tm[5] * cm[3] + cm[5])

    _pages(pdf)[0].extract_text(visitor_text=visit)
    return min(ys)


BOTTOM_MARGIN_PT = brief.MARGIN / 25.4 * 72  # 11 mm: body text ends above it; only the footer is lower


def _registry_rows(n: int | None = None) -> list[dict]:
    from etl.sources import all_sources

    return [
        {"source": s.name, "title": s.title, "publisher": s.publisher, "licence": s.licence, "years": "–"}
        for s in all_sources()
    ][:n]


def test_a_crowded_page_drops_admin1_rows_and_still_fits(nigeria):
    """More sources than any real brief has (21 seen, for an admin-1 unit; the registry's real metadata): the
    admin-1 table gives up rows, the note says how many are shown, every source is printed, nothing runs
    below the footer."""
    rows = _registry_rows(24)
    data = brief.BriefData(**{**nigeria.__dict__, "sources": rows})
    pdf = brief.build_pdf(data, "en")
    assert len(_pages(pdf)) == 1
    text = _flat(_text(pdf))
    shown = int(re.search(r"(\d+) of (\d+) units shown", text).group(1))
    assert shown < brief.ADMIN1_MAX_ROWS
    for row in rows:
        assert _flat(row["publisher"]) in text
    assert "more sources are listed" not in text
    assert _lowest_text_y(pdf) >= BOTTOM_MARGIN_PT


def test_sources_that_cannot_fit_are_counted_not_dropped_silently(nigeria):
    rows = _registry_rows() * 2  # every registered source twice: far more than a page holds
    data = brief.BriefData(**{**nigeria.__dict__, "sources": rows})
    pdf = brief.build_pdf(data, "en")
    assert len(_pages(pdf)) == 1
    text = _flat(_text(pdf))
    more = int(re.search(r"(\d+) more sources are listed on the Data page", text).group(1))
    printed = text.count("Licence: ")  # one per source entry
    assert more > 0 and printed + more == len(rows)
    assert _lowest_text_y(pdf) >= BOTTOM_MARGIN_PT


def test_region_page_links_to_the_brief_of_its_year(dash_app, client, nigeria):
    """The region page offers the server-made PDF; the link follows the year chosen (clientside)."""
    from dashboard.pages import region as region_page  # the module, not Dash's global registry of pages

    with dash_app.server.test_request_context("/region/NGA"):
        page = region_page.layout(region_id="NGA")
    link = _find_id(page, ids.REGION_BRIEF_PDF)
    assert link is not None and link.href.startswith("/region/NGA/brief.pdf?year=")
    assert client.get(link.href).status_code == 200  # the link the page shows is served
    assert any(ids.REGION_BRIEF_PDF in key for key in dash_app.callback_map)


def _find_id(component, wanted: str):
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "children") or hasattr(child, "id"):
            found = _find_id(child, wanted)
            if found is not None:
                return found
    return None
