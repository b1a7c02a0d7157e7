"""The one-page PDF brief of a region (issue 13 item 2): made on the server, in en, fr, ar or es.

A donor or a cluster lead takes one A4 page to a meeting: the headline estimate with its interval and basis,
the trend, the drivers in plain words, what changed, the admin-1 units, the model run and its backtest, and
every source with its publisher, dates and licence. Two steps, so that the page matches the screens and can be
tested without a server:

- ``gather(queries, region_id, year)`` reads everything through ``dashboard.queries.Queries`` (the same reads
  as the region page) into a plain ``BriefData``;
- ``build_pdf(data, lang)`` turns it into PDF bytes (pure: no database, no request, no network).

``/region/<id>/brief.pdf?year=Y&lang=xx`` (``blueprint``) and ``crisisrisk brief ISO3 --year Y --out F.pdf``
(``brief_cmd``) call both. Text goes through ``dashboard.i18n.translate``; fpdf2 shapes it with HarfBuzz and
sets Arabic right to left; the charts are images drawn offline by ``dashboard.brief_charts``.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from dashboard.i18n import LANGUAGES, RTL_LANGUAGES, fmt_date, fmt_number, fmt_percent, normalise, translate
from dashboard.queries import Queries, feature_label, rank_within

log = logging.getLogger(__name__)

ROUTE = "/region/<region_id>/brief.pdf"
LABEL_INDICATOR = "trafficking.victims_detected"
TOP_DRIVERS = 6
ADMIN1_MAX_ROWS, ADMIN1_MIN_ROWS = 10, 3  # the admin-1 table is shortened until the page fits on one sheet
ADMIN1_ROW_H = 3.5  # mm
BASES = ("checked", "nowcast", "projection")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


class BriefError(Exception):
    """A brief that cannot be made (unknown region, no estimate for the year): ``status`` and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- data ------------------------------------------------------------------------------------------------
@dataclass
class BriefData:
    """Everything the page shows, read once (``gather``); plain values, no database handle."""

    region_id: str
    name: str
    level: int
    country_id: str  # the region itself for a country, the parent for an admin-1 unit
    country_name: str
    year: int
    estimate: dict  # the prediction row of the year (estimate, interval, basis, label_year, horizon, ...)
    previous: dict | None  # the same region's row of the year before
    rank: int | None  # 1 = highest estimate, among countries or among the country's units
    rank_of: int
    previous_rank: int | None
    trend: pd.DataFrame  # year, estimate, lower, upper, label, basis
    drivers: list[dict]  # feature, label, value (SHAP), share of the total |SHAP|
    driver_changes: list[dict]  # feature, label, change of SHAP since the year before
    watch: dict | None  # the crisis watch list's row: rank, n, rise_factor, lower, upper
    admin1: pd.DataFrame  # region_id, name, rank, estimate, lower, upper, located
    sources: list[dict]  # title, publisher, licence, years, last_load
    run: dict  # run_id, created_at, variant, training_window, backtest figures at the horizon
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))


def gather(q: Queries, region_id: str, year: int | None = None) -> BriefData:
    """Read one region's brief through the query layer; ``year`` None = the latest year that is not a
    projection (the newest usable estimate), else the latest year.

    Raises ``BriefError`` 404 for an unknown region or a year without an estimate, 503 without a deployed
    model.
    """
    info = q.region(str(region_id))
    if info is None:
        raise BriefError(
            404, f"No region with id '{region_id}': ids are ISO3 codes (e.g. SSD) or adm1 codes."
        )
    run = q.deployed_run()
    if run is None:
        raise BriefError(503, "No model is deployed yet: train one (crisisrisk train) to make briefs.")
    level = int(info["level"])
    pred = q.region_predictions(info["region_id"]).sort_values("year")
    if pred.empty:
        raise BriefError(
            404, f"No estimates for {info['name']} ({info['region_id']}) in the deployed model run."
        )
    year = _pick_year(pred, year, info)
    rows = pred.set_index("year")
    country_id = info["region_id"] if level == 0 else str(info["parent_id"])
    peers = q.predictions(level=level, year=year, parent=info["parent_id"] if level == 1 else None)
    prev_peers = q.predictions(level=level, year=year - 1, parent=info["parent_id"] if level == 1 else None)
    labels = _driver_labels(run)
    now = q.explanations(country_id, year)
    before = q.explanations(country_id, year - 1)
    return BriefData(
        region_id=info["region_id"],
        name=str(info["name"]),
        level=level,
        country_id=country_id,
        country_name=str(info["name"] if level == 0 else info.get("parent_name") or country_id),
        year=year,
        estimate=rows.loc[year].to_dict(),
        previous=rows.loc[year - 1].to_dict() if (year - 1) in rows.index else None,
        rank=_rank_in(peers, info["region_id"]),
        rank_of=len(peers),
        previous_rank=_rank_in(prev_peers, info["region_id"]),
        trend=_trend(pred),
        drivers=top_drivers(now, labels),
        driver_changes=driver_changes(now, before, labels),
        watch=_watch_row(q, country_id, year),
        admin1=admin1_table(q.predictions(level=1, year=year, parent=country_id), q.region_names()),
        sources=_sources(q, run, info),
        run=run_summary(run, _horizon(rows.loc[year].to_dict())),
    )


def _pick_year(pred: pd.DataFrame, year: int | None, info: dict) -> int:
    years = [int(y) for y in pred["year"]]
    if year is None:
        usable = [int(y) for y, b in zip(pred["year"], pred["basis"], strict=True) if b != "projection"]
        return usable[-1] if usable else years[-1]
    if int(year) not in years:
        raise BriefError(
            404,
            f"No estimate for {info['name']} ({info['region_id']}) in {year}: the deployed model run has "
            f"estimates for {years[0]}–{years[-1]}.",
        )
    return int(year)


def _rank_in(peers: pd.DataFrame, region_id: str) -> int | None:
    """Rank by estimate among ``peers`` as the region page counts it (``queries.rank_within``: 1 = highest,
    ties share the better rank); None when the region has no estimate."""
    if peers.empty:
        return None
    k, _n = rank_within(peers, region_id)
    return k or None


def _trend(pred: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": pred["year"].astype(int),
            "estimate": pred["estimate_per_100k"].astype(float),
            "lower": pred["lower_per_100k"].astype(float),
            "upper": pred["upper_per_100k"].astype(float),
            "label": pd.to_numeric(pred["label_per_100k"], errors="coerce"),
            "basis": pred["basis"].fillna("checked").astype(str),
        }
    ).reset_index(drop=True)


def plain_label(feature: str, descriptions: dict[str, str]) -> str:
    """A model feature in plain words: the run's description without model-scale notes ("log1p", the
    parentheses of sources), else the label made from its name. Never the raw code."""
    text = descriptions.get(feature) or ""
    text = re.sub(r"\s*\([^)]*\)", "", text)
    text = re.sub(r",?\s*\blog1p\b", "", text)
    text = re.sub(r"\s+", " ", text).strip(" ,;.")
    return text[:1].upper() + text[1:] if text else feature_label(feature)


def _driver_labels(run: dict) -> dict[str, str]:
    meta = run.get("metadata") or {}
    descriptions = meta.get("feature_descriptions") or {}
    return {f: plain_label(f, descriptions) for f in [*meta.get("features", []), *descriptions]}


def top_drivers(expl: pd.DataFrame, labels: dict[str, str], n: int = TOP_DRIVERS) -> list[dict]:
    """The ``n`` SHAP terms of largest size, with their share of the total size (pure)."""
    terms = expl[expl["feature"] != "__bias__"] if len(expl) else expl
    if terms.empty:
        return []
    total = float(terms["value"].abs().sum()) or 1.0
    top = terms.assign(size=terms["value"].abs()).sort_values("size", ascending=False).head(n)
    values = top["feature_value"] if "feature_value" in top else [None] * len(top)
    return [
        {
            "feature": f,
            "label": labels.get(f) or feature_label(f),
            "value": float(v),
            "share": float(abs(v)) / total,
            "feature_value": None if x is None or pd.isna(x) else float(x),
        }
        for f, v, x in zip(top["feature"], top["value"], values, strict=True)
    ]


def driver_changes(now: pd.DataFrame, before: pd.DataFrame, labels: dict[str, str], n: int = 2) -> list[dict]:
    """The ``n`` SHAP terms that moved most since the year before (pure); empty without both years."""
    if now.empty or before.empty:
        return []
    a = now[now["feature"] != "__bias__"].set_index("feature")["value"]
    b = before[before["feature"] != "__bias__"].set_index("feature")["value"]
    diff = (a - b.reindex(a.index).fillna(0.0)).dropna()
    diff = diff[diff.abs() > 1e-9]
    top = diff.reindex(diff.abs().sort_values(ascending=False).index).head(n)
    return [
        {"feature": f, "label": labels.get(f) or feature_label(f), "change": float(v)} for f, v in top.items()
    ]


def _watch_row(q: Queries, country_id: str, year: int) -> dict | None:
    rows = q.region_watchlist(country_id)
    row = rows[rows["year"] == year]
    if row.empty:
        return None
    out = row.iloc[0].to_dict()
    out["n"] = len(q.watchlist(year))
    return out


def admin1_table(units: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """A country's admin-1 units of one year, ranked within the country (1 = highest estimate; ties share the
    better rank), with the interval and whether anything is located in the unit (pure)."""
    cols = ["region_id", "name", "rank", "estimate", "lower", "upper", "located"]
    if units.empty:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(
        {
            "region_id": units["region_id"],
            "name": [names.get(r, r) for r in units["region_id"]],
            "rank": units["estimate_per_100k"].round(9).rank(ascending=False, method="min").astype(int),
            "estimate": units["estimate_per_100k"].astype(float),
            "lower": units["lower_per_100k"].astype(float),
            "upper": units["upper_per_100k"].astype(float),
            "located": units["has_subnational_data"].fillna(False).astype(bool),
        }
    )
    return frame.sort_values(["rank", "name"]).reset_index(drop=True)[cols]


def _sources(q: Queries, run: dict, info: dict) -> list[dict]:
    """The sources behind this brief's numbers: those of the model's inputs and label that hold data for the
    country, plus (for an admin-1 unit) those located in the unit; as the data page lists them."""
    meta = run.get("metadata") or {}
    codes = {c for cs in (meta.get("feature_sources") or {}).values() for c in cs} | {LABEL_INDICATOR}
    country = info["region_id"] if int(info["level"]) == 0 else str(info["parent_id"])
    cov = q.coverage(country)
    names = set(cov[cov["indicator"].isin(codes)]["source"]) if len(cov) else set()
    if int(info["level"]) == 1:
        own = q.coverage(info["region_id"])
        names |= set(own["source"]) if len(own) else set()
    summary = q.source_summary()
    rows = summary[summary["source"].isin(names)].sort_values("title")
    return [
        {
            k: (None if pd.isna(r[k]) else r[k])
            for k in ("source", "title", "publisher", "licence", "years", "last_load")
        }
        for _, r in rows.iterrows()
    ]


def _horizon(row: dict) -> int | None:
    h = row.get("horizon")
    return None if h is None or (isinstance(h, float) and math.isnan(h)) else int(h)


def run_summary(run: dict, horizon: int | None) -> dict:
    """The model run and its backtest at the horizon of the brief's year, capped at the validated horizon."""
    meta = run.get("metadata") or {}
    metrics = run.get("metrics") or {}
    operating = metrics.get("operating_horizon") or {}
    validated = operating.get("validated_up_to") or operating.get("table_horizon")
    gate = metrics.get("gate") or {}
    by_h = {int(h["horizon"]): h for h in gate.get("horizons", []) if h.get("horizon") is not None}
    shown = None
    if by_h:
        shown = min(horizon or 1, int(validated or max(by_h)), max(by_h))
        shown = shown if shown in by_h else max(by_h)
    cov = {
        int(c["horizon"]): c for c in metrics.get("coverage_by_horizon", []) if c.get("horizon") is not None
    }
    window = meta.get("training_window") or [None, None]
    bt = by_h.get(shown, {}) if shown else {}
    return {
        "run_id": run.get("run_id"),
        "created_at": run.get("created_at"),
        "variant": meta.get("variant"),
        "training_window": window,
        "newest_label_year": metrics.get("newest_label_year"),
        "horizon": horizon,
        "validated_up_to": validated,
        "backtest_horizon": shown,
        "model_rmsle": bt.get("model_rmsle"),
        "baseline": bt.get("best_baseline"),
        "baseline_rmsle": bt.get("best_baseline_rmsle"),
        "spearman": bt.get("model_spearman"),
        "coverage80": (cov.get(shown) or {}).get("coverage80") if shown else None,
        "gate_passed": gate.get("passed"),
        "horizon_passed": bt.get("passed"),
    }


# --- PDF -------------------------------------------------------------------------------------------------
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 11.0
CONTENT_W = PAGE_W - 2 * MARGIN
GAP = 4.0
TREND_H = 49.0  # mm: the chart image is drawn at exactly this size
LEFT_W = 104.0  # the trend and admin-1 column; the drivers and model-run column takes the rest
INK = (31, 41, 51)
MUTED = (96, 108, 118)
RULE = (205, 211, 217)
PANEL = (241, 244, 247)
UP = (213, 94, 0)  # Okabe-Ito vermilion: pushes the estimate up
DOWN = (0, 114, 178)  # Okabe-Ito blue: pulls it down
FONT = "dejavu"


def _fmt(value: Any, lang: str) -> str:
    """An estimate with about three significant figures, in the language's digits and separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = abs(float(value))
    if v < 0.0005:  # an interval's lower bound at (nearly) zero: "0", not "0.000"
        return fmt_number(0, 0, locale=lang)
    decimals = 3 if v < 0.1 else 2 if v < 10 else 1 if v < 100 else 0
    return fmt_number(float(value), decimals, locale=lang)


def _year(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(int(value))


class _Page:
    """One A4 page drawn with fpdf2; mirrors the x axis for right-to-left languages."""

    def __init__(self, lang: str) -> None:
        from fpdf import FPDF

        self.lang = lang
        self.rtl = lang in RTL_LANGUAGES
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        from dashboard.brief_charts import font_dir

        fonts = font_dir()
        pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self._direction: str | None = None
        if self.rtl:  # HarfBuzz shaping joins Arabic letters and orders the line; Latin text needs none
            pdf.set_text_shaping(True)
        pdf.set_creator("crisisrisk")
        pdf.set_lang(lang)
        pdf.add_page()
        self.pdf = pdf

    def _(self, msgid: str, **values) -> str:
        """``translate`` in the page's language; named ``_`` so that the catalogue extraction finds the
        msgids."""
        return translate(msgid, self.lang, **values)

    def x(self, x: float, w: float) -> float:
        """The left edge of a box placed at ``x`` (from the start side) with width ``w``."""
        return PAGE_W - x - w if self.rtl else x

    def align(self, align: str) -> str:
        return {"L": "R", "R": "L"}.get(align, align) if self.rtl else align

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def direction(self, text: str) -> None:
        """Arabic text is laid out as a right-to-left paragraph (so "{rank} of {n}" reads in Arabic order);
        text with no Arabic letter (source titles, licences) keeps the direction of its own letters."""
        if not self.rtl:
            return
        wanted = "rtl" if ARABIC_LETTER.search(text) else None
        if wanted != self._direction:
            self.pdf.set_text_shaping(True, direction=wanted)
            self._direction = wanted

    def text(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        """One line at (x, y), cut with an ellipsis if it is wider than ``w``."""
        self.direction(text)
        self.pdf.set_xy(self.x(x, w), y)
        self.pdf.cell(w, h, _fit(self.pdf, text, w), align=self.align(align))

    def para(self, x: float, y: float, w: float, lh: float, text: str, align: str = "L") -> float:
        """Wrapped text; returns the y below it."""
        self.direction(text)
        self.pdf.set_xy(self.x(x, w), y)
        self.pdf.multi_cell(w, lh, text, align=self.align(align), new_x="LEFT", new_y="NEXT")
        return self.pdf.get_y()

    def lines(self, w: float, text: str) -> int:
        self.direction(text)
        return len(self.pdf.multi_cell(w, 1, text, dry_run=True, output="LINES"))

    def fit_font(self, text: str, w: float, size: float, smallest: float, bold: bool = False) -> None:
        """The largest font size from ``size`` down to ``smallest`` at which ``text`` fits in ``w``."""
        self.font(size, bold=bold)
        while size > smallest and self.pdf.get_string_width(text) > w - 0.6:
            size -= 0.5
            self.font(size, bold=bold)

    def heading(self, x: float, y: float, w: float, text: str) -> float:
        self.fit_font(text, w, 9.2, 7.0, bold=True)  # a long country name shrinks the heading, not cut it
        self.text(x, y, w, 4.6, text)
        self.pdf.set_draw_color(*RULE)
        self.pdf.set_line_width(0.25)
        self.pdf.line(self.x(x, w), y + 4.9, self.x(x, w) + w, y + 4.9)
        return y + 6.2

    def rect(self, x: float, y: float, w: float, h: float, fill: tuple[int, int, int]) -> None:
        self.pdf.set_fill_color(*fill)
        self.pdf.rect(self.x(x, w), y, w, h, style="F")


@contextmanager
def _in_locale(lang: str) -> Iterator[None]:
    """A request in ``lang`` around the drawing, so the screens' own builders that translate for the current
    request (``figures.plain_feature_label`` / ``plain_feature_value``) speak the brief's language, in the
    CLI too. The route's request already has it (``?lang=``, else the same cookie / Accept-Language)."""
    from flask import Flask, has_request_context

    from dashboard.i18n import current_locale

    if has_request_context() and current_locale() == lang:
        yield
        return
    with Flask(__name__).test_request_context("/", query_string={"lang": lang}):
        yield


def local_country_name(iso3: str, name: str, lang: str) -> str:
    """A country's name in ``lang`` (CLDR's, as the screens show it: dashboard.i18n); the warehouse's name
    when CLDR has none. Admin-1 units keep their own names."""
    if lang == "en":
        return name
    from dashboard import i18n

    return i18n._country_names({iso3: name}, lang).get(name, name)


def driver_text(feature: str, fallback: str, value: float | None = None) -> str:
    """A driver as the screens name it (figures.PLAIN_FEATURES, translated), with its value on the scale
    people use when known; the run's description when the screens have no name for it."""
    from dashboard.figures import plain_feature_label, plain_feature_value

    label = plain_feature_label(feature, fallback=fallback)
    if value is None:
        return label
    from dashboard import i18n

    try:
        shown = plain_feature_value(feature, value)
    except (ArithmeticError, ValueError, OverflowError):  # a value the screens' formatter cannot write
        log.warning("driver %s: value %r not shown (cannot be formatted)", feature, value)
        return label
    return i18n._("{label}: {value}", label=label, value=shown)


def _fit_lines(page: _Page, text: str, w: float, max_lines: int) -> str:
    """``text`` shortened word by word (with an ellipsis) until it wraps into at most ``max_lines`` lines."""
    if page.lines(w, text) <= max_lines:
        return text
    words = text.split()
    while len(words) > 1 and page.lines(w, " ".join(words) + "…") > max_lines:
        words.pop()
    return " ".join(words).rstrip(",;:") + "…"


def _fit(pdf, text: str, w: float) -> str:
    if pdf.get_string_width(text) <= w - 0.6:
        return text
    while text and pdf.get_string_width(text + "…") > w - 0.6:
        text = text[:-1]
    return text.rstrip() + "…"


def build_pdf(data: BriefData, lang: str = "en") -> bytes:
    """The brief as PDF bytes: one A4 page. When the page would run past the bottom margin, the admin-1 table
    loses the rows that overflow (down to ``ADMIN1_MIN_ROWS``), then the sources are set smaller."""
    from dashboard import brief_charts  # matplotlib is imported on the first brief, not at server start

    lang = normalise(lang) or "en"
    trend = brief_charts.trend_png(data.trend, data.year, LEFT_W, TREND_H)
    limit = PAGE_H - MARGIN
    rows, compact = ADMIN1_MAX_ROWS, False
    for _attempt in range(4):
        page = _Page(lang)
        with _in_locale(lang):
            bottom = _draw(page, data, rows, trend, compact)
        if bottom <= limit:
            break
        log.info("brief of %s: %d admin-1 rows end at %.0f mm, making room", data.region_id, rows, bottom)
        if rows > ADMIN1_MIN_ROWS:
            rows = max(ADMIN1_MIN_ROWS, rows - math.ceil((bottom - limit) / ADMIN1_ROW_H))
        elif not compact:
            compact = True
        else:
            log.warning("brief of %s ends at %.0f mm, past the bottom margin", data.region_id, bottom)
            break
    return bytes(page.pdf.output())


def _draw(page: _Page, data: BriefData, admin1_rows: int, trend_png: bytes, compact: bool = False) -> float:
    y = _header(page, data)
    y = _headline(page, data, y + 2)
    y = _charts(page, data, y + 3, trend_png)
    y = _changes(page, data, y + 2.5)
    y = _admin1_and_run(page, data, y + 2.5, admin1_rows)
    y = _sources_block(page, data, y + 2.5, compact)
    _footer(page, data)
    return y


def _header(page: _Page, data: BriefData) -> float:
    _ = page._
    page.font(7, color=MUTED)
    page.text(MARGIN, MARGIN - 1, CONTENT_W / 2, 4, _("crisisrisk · one-page region brief"))
    page.text(
        MARGIN + CONTENT_W / 2,
        MARGIN - 1,
        CONTENT_W / 2,
        4,
        _("Made {date} from the deployed model run", date=fmt_date(data.generated, locale=page.lang)),
        align="R",
    )
    name = local_country_name(data.country_id, data.name, page.lang) if data.level == 0 else data.name
    title = _("{name}: risk of detected trafficking, {year}", name=name, year=data.year)
    page.fit_font(title, CONTENT_W, 16, 11, bold=True)
    page.text(MARGIN, MARGIN + 3.5, CONTENT_W, 8, title)
    page.font(7.8, color=MUTED)
    sub = (
        _("Country · ISO3 code {code}", code=data.region_id)
        if data.level == 0
        else _(
            "Admin-1 unit of {country} · id {code}",
            country=local_country_name(data.country_id, data.country_name, page.lang),
            code=data.region_id,
        )
    )
    page.text(MARGIN, MARGIN + 11.5, CONTENT_W, 4, sub)
    y = MARGIN + 16.5
    caveat = _(
        "Read this as the risk of DETECTED trafficking: the model estimates victims that authorities detect"
        " per 100,000 people. Detection follows how hard a state looks for victims (detection bias), so a low"
        " number can mean little searching, not little trafficking."
    )
    page.font(7.2, bold=True)
    h = page.lines(CONTENT_W - 4, caveat) * 3.3 + 2.4
    page.rect(MARGIN, y, CONTENT_W, h, PANEL)
    page.pdf.set_fill_color(*UP)
    page.pdf.rect(page.x(MARGIN, 1.2), y, 1.2, h, style="F")
    page.para(MARGIN + 2.5, y + 1.2, CONTENT_W - 4, 3.3, caveat)
    return y + h


def _basis_word(page: _Page, basis: Any) -> str:
    words = {
        "checked": page._("Checked against a report"),
        "nowcast": page._("Nowcast"),
        "projection": page._("Projection"),
    }
    return words.get(str(basis), page._("Basis not recorded"))


def _headline(page: _Page, data: BriefData, y: float) -> float:
    """Four boxes: estimate with interval, basis with the age of the newest label, rank, watch list."""
    _, row, lang = page._, data.estimate, page.lang
    label_year = row.get("label_year")
    has_label = label_year is not None and not (isinstance(label_year, float) and math.isnan(label_year))
    age = data.year - int(label_year) if has_label else None
    country = local_country_name(data.country_id, data.country_name, page.lang)
    where = _("countries") if data.level == 0 else _("units in {country}", country=country)
    boxes = [
        (
            _("Detected victims per 100,000 people"),
            _fmt(row.get("estimate_per_100k"), lang),
            _(
                "80% interval {low} to {high}",
                low=_fmt(row.get("lower_per_100k"), lang),
                high=_fmt(row.get("upper_per_100k"), lang),
            ),
        ),
        (
            _("Basis of the {year} estimate", year=data.year),
            _basis_word(page, row.get("basis")),
            _(
                "Newest victims report used: {label_year}, {age} years before",
                label_year=_year(label_year),
                age=age,
            )
            if has_label
            else _("No victims report for this country yet"),
        ),
        (
            _("Rank by estimate"),
            _("{rank} of {n}", rank=data.rank if data.rank is not None else "–", n=data.rank_of),
            _("1 = highest, among {where}", where=where),
        ),
        _watch_box(page, data),
    ]
    w = (CONTENT_W - 3 * 2.5) / 4
    inner = w - 3.6
    page.font(6.3)
    label_lines = max(min(page.lines(inner, b[0]), 2) for b in boxes)
    page.font(6.1)
    detail_lines = max(min(page.lines(inner, b[2]), 3) for b in boxes)
    value_y = 1.2 + label_lines * 2.7 + 0.6
    h = value_y + 6.4 + detail_lines * 2.8 + 1.0
    for i, (label, value, detail) in enumerate(boxes):
        x = MARGIN + i * (w + 2.5)
        page.rect(x, y, w, h, PANEL)
        page.font(6.3, color=MUTED)
        page.para(x + 1.8, y + 1.2, inner, 2.7, label)
        page.font(12.5, bold=True)
        page.text(x + 1.8, y + value_y, inner, 6, value)
        page.font(6.1, color=MUTED)
        page.para(x + 1.8, y + value_y + 6.4, inner, 2.8, detail)
    return y + h


def _watch_box(page: _Page, data: BriefData) -> tuple[str, str, str]:
    _, lang, w = page._, page.lang, data.watch
    if w is None:
        return (
            _("Crisis watch list {year}", year=data.year),
            _("not scored"),
            _("No watch-list score this year"),
        )
    return (
        _("Crisis watch list {year}", year=data.year),
        _("{rank} of {n}", rank=int(w["rank"]), n=int(w["n"])),
        _(
            "Expected rise ×{rise} (80%: ×{low} to ×{high}) in nationals detected abroad",
            rise=fmt_number(w["rise_factor"], 2, locale=lang),
            low=fmt_number(w["lower"], 2, locale=lang),
            high=fmt_number(w["upper"], 2, locale=lang),
        ),
    )


def _charts(page: _Page, data: BriefData, y: float, png: bytes) -> float:
    right_x, right_w = MARGIN + LEFT_W + GAP, CONTENT_W - LEFT_W - GAP
    y1 = page.heading(MARGIN, y, LEFT_W, page._("Trend: detected victims per 100,000 people"))
    page.pdf.image(io.BytesIO(png), x=page.x(MARGIN, LEFT_W), y=y1, w=LEFT_W, h=TREND_H)
    y_left = _legend(page, y1 + TREND_H + 0.6)
    y2 = page.heading(right_x, y, right_w, page._("Top drivers of the {year} estimate", year=data.year))
    y_right = _drivers(page, data, right_x, right_w, y2)
    return max(y_left, y_right)


def _legend(page: _Page, y: float) -> float:
    """The trend's key, flowing onto a second line when it is wider than the chart."""
    from dashboard import brief_charts

    _ = page._
    items = [
        ("-", brief_charts.ESTIMATE, _("checked estimate")),
        ("--", brief_charts.ESTIMATE, _("nowcast")),
        (":", brief_charts.ESTIMATE, _("projection")),
        ("band", brief_charts.ESTIMATE, _("80% interval")),
        ("diamond", brief_charts.OBSERVED, _("reported victims")),
        ("rule", brief_charts.SELECTED, _("year of this brief")),
    ]
    page.font(6.1, color=MUTED)
    x, line_y = MARGIN, y
    for kind, colour, label in items:
        width = 5 + page.pdf.get_string_width(label) + 1
        if x + width > MARGIN + LEFT_W:
            x, line_y = MARGIN, line_y + 3.6
        _key(page, kind, _rgb(colour), page.x(x, 4), line_y)
        page.text(x + 5, line_y, width - 5, 3.4, label)
        x += width + 2.5
    return line_y + 3.6


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _key(page: _Page, kind: str, rgb: tuple[int, int, int], sx: float, y: float) -> None:
    """One legend symbol, 4 mm wide, drawn as the chart draws it."""
    pdf = page.pdf
    pdf.set_draw_color(*rgb)
    pdf.set_fill_color(*rgb)
    pdf.set_line_width(0.45)
    if kind in ("-", "--", ":"):
        dash = {"-": (0, 0), "--": (1.1, 0.6), ":": (0.35, 0.45)}[kind]
        pdf.set_dash_pattern(dash=dash[0], gap=dash[1])
        pdf.line(sx, y + 1.7, sx + 4, y + 1.7)
        pdf.set_dash_pattern()
    elif kind == "band":
        pdf.set_fill_color(*(int(c + (255 - c) * 0.72) for c in rgb))
        pdf.rect(sx, y + 0.6, 4, 2.2, style="F")
    elif kind == "diamond":
        pdf.polygon(
            [(sx + 2, y + 0.6), (sx + 3.1, y + 1.7), (sx + 2, y + 2.8), (sx + 0.9, y + 1.7)], style="F"
        )
    else:
        pdf.set_dash_pattern(dash=0.5, gap=0.5)
        pdf.line(sx + 2, y + 0.3, sx + 2, y + 3.1)
        pdf.set_dash_pattern()


def _drivers(page: _Page, data: BriefData, x: float, w: float, y: float) -> float:
    """Horizontal bars of the largest SHAP terms (labelled in plain words), then one sentence."""
    _ = page._
    if not data.drivers:
        page.font(7, color=MUTED)
        return page.para(x, y, w, 3.2, _("This model run stored no explanation for this year."))
    label_w, bar_w = w * 0.56, w * 0.44 - 9
    biggest = max(abs(d["value"]) for d in data.drivers) or 1.0
    row_h = 6.1
    for i, d in enumerate(data.drivers):
        ry = y + i * row_h
        page.font(6.2)
        page.pdf.set_xy(page.x(x, label_w), ry + 0.2)
        label = _fit_lines(page, driver_text(d["feature"], d["label"], d.get("feature_value")), label_w, 2)
        page.direction(label)
        page.pdf.multi_cell(label_w, 2.7, label, align=page.align("L"), max_line_height=2.7)
        length = max(0.4, bar_w * abs(d["value"]) / biggest)
        page.rect(x + label_w + 1, ry + 1.3, length, 3.0, UP if d["value"] >= 0 else DOWN)
        page.font(5.8, color=MUTED)
        page.text(
            x + label_w + 1.6 + length,
            ry + 1.0,
            12,
            3.4,
            fmt_percent(d["share"], 0, locale=page.lang),
        )
    y += len(data.drivers) * row_h + 0.8
    ups = [driver_text(d["feature"], d["label"]) for d in data.drivers if d["value"] > 0][:2]
    downs = [driver_text(d["feature"], d["label"]) for d in data.drivers if d["value"] < 0][:2]
    page.font(6.4)
    sentence = " ".join(
        s
        for s in (
            _("Pushing the estimate up: {names}.", names="; ".join(ups)) if ups else "",
            _("Pulling it down: {names}.", names="; ".join(downs)) if downs else "",
            _("Bars: share of the model's explanation (SHAP); orange raises, blue lowers."),
        )
        if s
    )
    if data.level == 1:
        sentence += " " + _("Admin-1 units have no model of their own: these are the country's drivers.")
    return page.para(x, y, w, 2.9, sentence)


def _changes(page: _Page, data: BriefData, y: float) -> float:
    _, lang = page._, page.lang
    y = page.heading(MARGIN, y, CONTENT_W, _("What changed since {year}", year=data.year - 1))
    page.font(7)
    if data.previous is None:
        return page.para(
            MARGIN, y, CONTENT_W, 3.3, _("No estimate for {year}: nothing to compare.", year=data.year - 1)
        )
    now, prev = data.estimate, data.previous
    lines = [
        _(
            "Estimate {before} → {after} per 100,000 people ({change}); rank {rank_before} → {rank_after}"
            " of {n}.",
            before=_fmt(prev.get("estimate_per_100k"), lang),
            after=_fmt(now.get("estimate_per_100k"), lang),
            change=_signed(now.get("estimate_per_100k"), prev.get("estimate_per_100k"), lang),
            rank_before=data.previous_rank if data.previous_rank is not None else "–",
            rank_after=data.rank if data.rank is not None else "–",
            n=data.rank_of,
        )
    ]
    if str(now.get("basis")) != str(prev.get("basis")):
        lines.append(
            _(
                "Basis: {before} in {year}, {after} now.",
                before=_basis_word(page, prev.get("basis")),
                year=data.year - 1,
                after=_basis_word(page, now.get("basis")),
            )
        )
    for d in data.driver_changes:
        if d["change"] > 0:
            lines.append(
                _(
                    "{name} pushes the estimate up more than a year before.",
                    name=driver_text(d["feature"], d["label"]),
                )
            )
        else:
            lines.append(
                _(
                    "{name} pushes the estimate down more than a year before.",
                    name=driver_text(d["feature"], d["label"]),
                )
            )
    return page.para(MARGIN, y, CONTENT_W, 3.3, "  ·  ".join(lines))


def _signed(now: Any, prev: Any, lang: str) -> str:
    if now is None or prev is None or not prev:
        return "–"
    pct = 100 * (float(now) - float(prev)) / float(prev)
    return ("+" if pct >= 0 else "−") + fmt_percent(abs(pct) / 100, 0, locale=lang)


def _admin1_and_run(page: _Page, data: BriefData, y: float, max_rows: int) -> float:
    right_x, right_w = MARGIN + LEFT_W + GAP, CONTENT_W - LEFT_W - GAP
    y_left = _admin1(page, data, y, max_rows)
    y_right = _run(page, data, right_x, right_w, y)
    return max(y_left, y_right)


def _admin1(page: _Page, data: BriefData, y: float, max_rows: int) -> float:
    _, lang = page._, page.lang
    units = data.admin1
    country = local_country_name(data.country_id, data.country_name, page.lang)
    title = _("Admin-1 units of {country}, {year}", country=country, year=data.year)
    y = page.heading(MARGIN, y, LEFT_W, title)
    if units.empty:
        page.font(7, color=MUTED)
        return page.para(MARGIN, y, LEFT_W, 3.2, _("No admin-1 estimates for this country."))
    shown = units.head(max_rows)
    if data.level == 1 and data.region_id not in set(shown["region_id"]):
        shown = pd.concat([shown.head(max_rows - 1), units[units["region_id"] == data.region_id]])
    cols = [  # (header, width, align)
        (_("Rank"), 13.0, "L"),
        (_("Unit"), 33.0, "L"),
        (_("Per 100,000"), 17.0, "R"),
        (_("80% interval"), 20.0, "R"),
        (_("Located data"), 21.0, "R"),
    ]
    _row(page, y, [c[0] for c in cols], cols, 3.4, header=True)
    y += 3.6
    for r in shown.itertuples():
        bold = r.region_id == data.region_id
        page.font(6.6, bold=bold)
        cells = [
            _("{rank} of {n}", rank=int(r.rank), n=len(units)),
            str(r.name),
            _fmt(r.estimate, lang),
            f"{_fmt(r.lower, lang)}–{_fmt(r.upper, lang)}",
            _("yes") if r.located else _("country rate"),
        ]
        _row(page, y, cells, cols, ADMIN1_ROW_H)
        y += ADMIN1_ROW_H
    page.font(5.9, color=MUTED)
    note = _(
        "{shown} of {n} units shown, highest first. Downscaled: the country estimate times an exposure index"
        " (conflict deaths, displaced people); no public sub-national trafficking count exists.",
        shown=len(shown),
        n=len(units),
    )
    ties = int(units["estimate"].round(6).value_counts().iloc[0])
    if ties > 1:
        note += " " + _(
            "{k} units share one value: nothing is located in them, so they share the lowest exposure.",
            k=ties,
        )
    return page.para(MARGIN, y + 0.6, LEFT_W, 2.7, note)


def _row(
    page: _Page,
    y: float,
    cells: list[str],
    cols: list[tuple[str, float, str]],
    h: float,
    header: bool = False,
) -> None:
    """One table row; a header cell's font shrinks until its words fit the column (French, Spanish)."""
    x = MARGIN
    for text, (_, w, align) in zip(cells, cols, strict=True):
        if header:
            page.fit_font(text, w, 6.2, 4.6, bold=True)
            page.pdf.set_text_color(*MUTED)
        page.text(x, y, w, h, text, align=align)
        x += w
    page.pdf.set_draw_color(*RULE)
    page.pdf.set_line_width(0.15)
    page.pdf.line(page.x(MARGIN, LEFT_W), y + h, page.x(MARGIN, LEFT_W) + LEFT_W, y + h)


def _run(page: _Page, data: BriefData, x: float, w: float, y: float) -> float:
    _, lang, run = page._, page.lang, data.run
    y = page.heading(x, y, w, _("Model run"))
    window = run.get("training_window") or [None, None]
    created = run.get("created_at")
    lines = [
        _(
            "Run {run_id}, trained {date}.",
            run_id=run.get("run_id"),
            date=fmt_date(created, locale=lang) if created else "–",
        ),
        _(
            "Model {variant}, trained on reports {first}–{last}; newest victims report {newest}.",
            variant=run.get("variant") or "–",
            first=_year(window[0]),
            last=_year(window[1]),
            newest=_year(run.get("newest_label_year")),
        ),
    ]
    h = run.get("backtest_horizon")
    if h:
        lines.append(
            _(
                "Backtest {h} years ahead: error (RMSLE) {model} against {baseline} for the best baseline"
                " ({baseline_name}); rank correlation {spearman}; the 80% interval held {coverage} of"
                " outcomes.",
                h=h,
                model=fmt_number(run.get("model_rmsle"), 3, locale=lang),
                baseline=fmt_number(run.get("baseline_rmsle"), 3, locale=lang),
                baseline_name=run.get("baseline") or "–",
                spearman=fmt_number(run.get("spearman"), 2, locale=lang),
                coverage=fmt_percent(run["coverage80"], 0, locale=lang)
                if run.get("coverage80") is not None
                else "–",
            )
        )
    else:
        lines.append(_("This model run stored no backtest by horizon."))
    horizon, validated = run.get("horizon"), run.get("validated_up_to")
    if horizon and validated and horizon > validated:
        lines.append(
            _(
                "This year is {h} years after the newest report, beyond the {v} years the backtest checks.",
                h=horizon,
                v=validated,
            )
        )
    gate = run.get("gate_passed")
    if gate is not None:
        lines.append(
            _("Quality gate against the baselines: passed.")
            if gate
            else _("Quality gate against the baselines: not passed at every horizon.")
        )
    page.font(6.6)
    y = y
    for line in lines:
        y = page.para(x, y, w, 3.05, line) + 0.5
    return y


def _sources_block(page: _Page, data: BriefData, y: float, compact: bool = False) -> float:
    """Every source in full, in two columns (three when crowded): title, publisher, data years, load date,
    licence."""
    _, lang = page._, page.lang
    y = page.heading(MARGIN, y, CONTENT_W, _("Sources: publisher, data years, date loaded and licence"))
    entries = []
    for s in data.sources:
        loaded = fmt_date(s["last_load"], locale=lang) if s.get("last_load") else "–"
        entries.append(
            _(
                "{title}. {publisher}. Data {years}, loaded {loaded}. Licence: {licence}.",
                title=str(s.get("title") or s.get("source")).rstrip("."),
                publisher=str(s.get("publisher") or "–").rstrip("."),
                years=s.get("years") or "–",
                loaded=loaded,
                licence=str(s.get("licence") or "–").rstrip("."),
            )
        )
    if not entries:
        page.font(6.4, color=MUTED)
        return page.para(MARGIN, y, CONTENT_W, 3, _("No source holds data for this region."))
    n_cols = 3 if compact else 2  # a crowded page sets the sources smaller, in three columns
    col_w = (CONTENT_W - (n_cols - 1) * GAP) / n_cols
    page.font(5.4 if compact else 5.9)
    lh = 2.35 if compact else 2.6
    heights = [page.lines(col_w, e) * lh + 0.7 for e in entries]
    kept = len(entries)
    if compact:  # the last resort: the sources that fit, in full, and a line that says where the rest are
        room = PAGE_H - MARGIN - y - 3.2
        while kept > 1 and _tallest(heights[:kept], n_cols) > room:
            kept -= 1
    bottoms = []
    start = 0
    for c, col in enumerate(_balanced(heights[:kept], n_cols)):
        cy = y
        for e in entries[start : start + col]:
            cy = page.para(MARGIN + c * (col_w + GAP), cy, col_w, lh, e) + 0.7
        start += col
        bottoms.append(cy)
    if kept < len(entries):
        page.font(6, bold=True)
        more = _("{n} more sources are listed on the Data page (/data).", n=len(entries) - kept)
        return page.para(MARGIN, max(bottoms), CONTENT_W, 3, more)
    return max(bottoms)


def _tallest(heights: list[float], n_cols: int) -> float:
    out, start = 0.0, 0
    for count in _balanced(heights, n_cols):
        out = max(out, sum(heights[start : start + count]))
        start += count
    return out


def _balanced(heights: list[float], n_cols: int) -> list[int]:
    """How many entries (in order) go in each column so that the columns end near the same height."""
    counts, target, acc, col = [0] * n_cols, sum(heights) / n_cols, 0.0, 0
    for hgt in heights:
        if col < n_cols - 1 and counts[col] and acc + hgt / 2 > target * (col + 1):
            col += 1
        counts[col] += 1
        acc += hgt
    return counts


def _footer(page: _Page, data: BriefData) -> None:
    page.font(6, color=MUTED)
    page.text(
        MARGIN,
        PAGE_H - MARGIN + 3,
        CONTENT_W,
        3,
        page._(
            "crisisrisk · {path} · page 1 of 1 · figures are estimates with uncertainty, not counts",
            path=f"/region/{data.region_id}?year={data.year}",
        ),
        align="C",
    )


# --- route and CLI ---------------------------------------------------------------------------------------
def blueprint():
    """``GET /region/<region_id>/brief.pdf?year=Y&lang=xx``: the brief as a PDF download (read access, as
    the region page). Unknown region or year: 404 with the reason, as JSON or HTML by the Accept header."""
    from flask import Blueprint, Response, request

    from dashboard import auth, context
    from dashboard.i18n import current_locale

    bp = Blueprint("brief", __name__)

    @bp.route(ROUTE, methods=["GET"])
    @auth.requires("read")
    def region_brief(region_id: str):
        raw_year = request.args.get("year")
        lang = normalise(request.args.get("lang")) or current_locale()
        try:
            if raw_year not in (None, "") and not str(raw_year).isdigit():
                raise BriefError(400, f"year must be a whole number such as 2023, not '{raw_year[:20]}'.")
            data = gather(context.queries(), region_id, int(raw_year) if raw_year else None)
            pdf = build_pdf(data, lang)
        except BriefError as exc:
            return _error(exc, request)
        name = f"crisisrisk-brief-{data.region_id}-{data.year}-{lang}.pdf"
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "Cache-Control": "private, max-age=300",
            },
        )

    return bp


def _error(exc: BriefError, request):
    import json

    from flask import Response
    from markupsafe import escape

    from dashboard import auth

    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    if wants_json:
        body = json.dumps({"error": {"status": exc.status, "message": exc.message}})
        return Response(body, status=exc.status, mimetype="application/json")
    html = auth.page(
        "Brief not available", f"<p>{escape(exc.message)}</p><p><a href='/'>Back to the map</a></p>"
    )
    return Response(html, status=exc.status, mimetype="text/html")


def brief_cmd(
    region_id: Annotated[str, typer.Argument(help="Region id: an ISO3 code (e.g. NGA) or an admin-1 code.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    year: Annotated[
        int | None, typer.Option("--year", help="Year of the estimate (default: the newest usable one).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help=f"Language: {', '.join(LANGUAGES)}.")] = "en",
) -> None:
    """Write the one-page PDF brief of a region (as /region/<id>/brief.pdf serves it)."""
    from warehouse.db import make_engine

    code = normalise(lang)
    if code is None:
        typer.echo(f"✗ unknown language '{lang}': use one of {', '.join(LANGUAGES)}", err=True)
        raise typer.Exit(2)
    try:
        data = gather(Queries(make_engine()), region_id.upper() if len(region_id) == 3 else region_id, year)
    except BriefError as exc:
        typer.echo(f"✗ {exc.message}", err=True)
        raise typer.Exit(1) from None
    out.write_bytes(build_pdf(data, code))
    typer.echo(f"✓ wrote {out} ({data.name}, {data.year}, {code})")
