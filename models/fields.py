"""The prediction fields, once: name, type, header with unit and HXL hashtag of every column that the product
writes about a prediction (``crisisrisk export``, the dashboard downloads and ``/api/v1``).

Each output is an ordered selection of names from these tables (``DETECTED_EXPORT``, ``API_DETECTED``, ...);
the header, hashtag, type and rounding come from here, so a field means the same thing in every file.

HXL hashtags follow the HXL hashtag dictionary (hxlstandard.org, 1.1) and its hashtag chooser:
- places: ``#country+code`` (ISO3) and ``#country+name`` for countries, ``#adm1+code`` / ``#adm1+name`` for
  admin-1 units; a region column carries the tag of the level written (``Field.tag(level)``);
- ``#date+year`` for years (the dictionary allows a bare year); input years add what the year is of;
- numeric indicator values carry the data-type attribute ``+num`` (the dictionary's "any other numeric value";
  libhxl's default schema checks ``#indicator+num`` cells are numbers), text ones do not; ranks are
  ordinals and, as in the watch list, go without it;
- people counts use ``#affected``/``#population`` with the dictionary's ``+refugees``, ``+idps``,
  ``+displaced``;
  money uses ``#value`` with a currency attribute (``+usd``); facts about the row itself use ``#meta``;
- where the dictionary has no word (what is predicted: detected trafficking victims) a custom attribute
  names it (``+victims+detected``, ``+trafficking_rise``), as the tagging conventions allow.
So ``estimate_per_100k`` is ``#indicator+victims+detected+per100k+num`` everywhere (before: also
``#indicator+trafficking_detected+per100k+estimate`` in the CLI export, which lacked ``+num``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Field:
    """One column: ``kind`` is its JSON/OpenAPI type, ``decimals`` its rounding in files (None: as stored)."""

    name: str
    kind: Kind
    header: str
    hxl: str
    decimals: int | None = None
    country_hxl: str | None = None  # the tag at level 0 where it differs (a region column is a country there)

    def tag(self, level: int | None = None) -> str:
        """The HXL hashtag of this column in a file of one level (0 country, 1 admin-1; None: admin-1 tag)."""
        return self.country_hxl if level == 0 and self.country_hxl else self.hxl


def _table(*fields: Field) -> dict[str, Field]:
    table = {f.name: f for f in fields}
    if len(table) != len(fields):
        raise ValueError("a field name appears twice in a field table")
    return table


# Detected victims ("where victims are found"): the stored prediction, its inputs' years, the context columns.
DETECTED: dict[str, Field] = _table(
    Field("rank", "integer", "Rank (1 = highest risk in the year)", "#indicator+rank"),
    Field(
        "region_id",
        "text",
        "Region id (ISO3 or Natural Earth adm1_code)",
        "#adm1+code",
        country_hxl="#country+code",
    ),
    Field("iso3", "text", "ISO3", "#country+code"),
    Field("name", "text", "Region", "#adm1+name", country_hxl="#country+name"),
    Field("country", "text", "Country", "#country+name"),
    Field("level", "integer", "Level (0 country, 1 admin-1)", "#meta+level"),
    Field("year", "integer", "Year", "#date+year"),
    Field(
        "estimate_per_100k",
        "number",
        "Estimated detected victims per 100k",
        "#indicator+victims+detected+per100k+num",
        4,
    ),
    Field(
        "lower_per_100k",
        "number",
        "80% interval lower, per 100k",
        "#indicator+victims+detected+per100k+lower+num",
        4,
    ),
    Field(
        "upper_per_100k",
        "number",
        "80% interval upper, per 100k",
        "#indicator+victims+detected+per100k+upper+num",
        4,
    ),
    Field(
        "risk_score", "number", "Risk score (0-100 percentile within year)", "#indicator+risk+score+num", 1
    ),
    Field("risk_band", "text", "Risk band", "#indicator+risk+band"),
    Field("run_id", "text", "Model run", "#meta+run"),
    Field(
        "label_per_100k",
        "number",
        "Reported detected victims per 100k (UNODC), where reported",
        "#indicator+victims+detected+per100k+reported+num",
        4,
    ),
    Field("method", "text", "Method (country model or downscaled from country)", "#meta+method"),
    Field("has_subnational_data", "boolean", "Has admin-1 data", "#meta+subnational"),
    Field("parent_id", "text", "Country of an admin-1 unit (ISO3)", "#country+code+parent"),
    Field(
        "score_change",
        "number",
        "Change in risk score since previous year (points)",
        "#indicator+risk+score+change+num",
        1,
    ),
    Field(
        "estimate_change",
        "number",
        "Change in estimate since previous year, per 100k",
        "#indicator+victims+detected+per100k+change+num",
        4,
    ),
    Field("reporting_history", "text", "Detected-victim reporting history (UNODC)", "#meta+reporting"),
    Field("population", "integer", "Population (persons, World Bank, latest year)", "#population+total+num"),
    Field("refugees_origin", "integer", "Refugees originating (persons)", "#affected+refugees+origin+num"),
    Field("refugees_hosted", "integer", "Refugees hosted (persons)", "#affected+refugees+hosted+num"),
    Field("idps", "integer", "Conflict IDPs (persons)", "#affected+idps+num"),
    Field("displacement_data_year", "integer", "Displacement data year", "#date+year+displacement"),
    Field("fts_requirements_usd", "integer", "FTS requirements (USD)", "#value+funding+required+usd"),
    Field("fts_funding_usd", "integer", "FTS funding received (USD)", "#value+funding+total+usd"),
    Field("fts_coverage_pct", "number", "FTS coverage (%)", "#value+funding+pct", 1),
    Field("fts_year", "integer", "FTS plan year", "#date+year+funding"),
    Field("basis", "text", "Basis (input years)", "#meta+basis"),
    Field("horizon", "integer", "Horizon (years after the last label year)", "#meta+horizon"),
    Field("label_year", "integer", "Last UNODC label year", "#date+year+label"),
    Field("conflict_year", "integer", "Conflict data year", "#date+year+conflict"),
    Field("displacement_year", "integer", "Displacement data year", "#date+year+displacement"),
    Field("small_population", "boolean", "Population under 100,000", "#meta+small_population"),
)

# `crisisrisk export predictions --target detected` (issue 10: a public contract; keep names and order).
DETECTED_CONTRACT = [
    "iso3",
    "year",
    "estimate_per_100k",
    "lower_per_100k",
    "upper_per_100k",
    "risk_score",
    "risk_band",
    "basis",
    "horizon",
    "run_id",
]
DETECTED_CORE = [
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
]
DETECTED_STALENESS = [
    "basis",
    "horizon",
    "label_year",
    "conflict_year",
    "displacement_year",
    "small_population",
]
DETECTED_EXPORT = [*DETECTED_CORE, *DETECTED_STALENESS]
# /api/v1/predictions (target=detected): the export's core fields first, then what only the API has.
API_DETECTED = [
    *DETECTED_CORE,
    "rank",
    "label_per_100k",
    "method",
    "has_subnational_data",
    "parent_id",
    "score_change",
    "estimate_change",
    *DETECTED_STALENESS,
]
# The donor download of the priorities page ("where victims are found"); `country` only at admin-1.
DETECTED_DOWNLOAD = [
    "rank",
    "region_id",
    "name",
    "country",
    "iso3",
    "year",
    "risk_score",
    "risk_band",
    "estimate_per_100k",
    "lower_per_100k",
    "upper_per_100k",
    "score_change",
    "reporting_history",
    "population",
    "refugees_origin",
    "refugees_hosted",
    "idps",
    "displacement_data_year",
    "fts_requirements_usd",
    "fts_funding_usd",
    "fts_coverage_pct",
    "fts_year",
]

# The crisis watch list (target=rise): expected rise of a population's nationals detected abroad.
RISE: dict[str, Field] = _table(
    Field(
        "rank",
        "integer",
        "Watch-list rank (1 = strongest expected rise in the year)",
        "#indicator+trafficking_rise+rank",
    ),
    Field("region_id", "text", "ISO3", "#country+code"),
    Field("iso3", "text", "ISO3", "#country+code"),
    Field("name", "text", "Country", "#country+name"),
    Field(
        "year", "integer", "Score year (inputs dated up to it; looks at the next three years)", "#date+year"
    ),
    Field(
        "rise_factor",
        "number",
        "Expected rise factor (ratio, next 3 years / last 3)",
        "#indicator+trafficking_rise+factor+num",
        4,
    ),
    Field("lower", "number", "Rise factor, 80% interval lower", "#indicator+trafficking_rise+lower+num", 4),
    Field("upper", "number", "Rise factor, 80% interval upper", "#indicator+trafficking_rise+upper+num", 4),
    Field(
        "percentile",
        "number",
        "Watch-list percentile (0-100 within year)",
        "#indicator+trafficking_rise+percentile+num",
        1,
    ),
    Field(
        "score",
        "number",
        "Watch-list score (the headline method's value)",
        "#indicator+trafficking_rise+score+num",
    ),
    Field("top_driver", "text", "Top driver", "#indicator+driver+top"),
    Field("people_exposed", "text", "People exposed (persons, with years)", "#affected+displaced"),
    Field(
        "displaced_abroad",
        "integer",
        "Refugees and asylum-seekers abroad (persons)",
        "#affected+refugees+origin+num",
    ),
    Field("displaced_abroad_year", "integer", "Refugees abroad: data year", "#date+year+refugees+origin"),
    Field("idps", "integer", "Conflict IDPs (persons)", "#affected+idps+num"),
    Field("idps_year", "integer", "IDPs: data year", "#date+year+idps"),
    Field(
        "hosted", "integer", "Refugees and asylum-seekers hosted (persons)", "#affected+refugees+hosted+num"
    ),
    Field("hosted_year", "integer", "Hosted: data year", "#date+year+refugees+hosted"),
    Field("fts_requirements_usd", "integer", "FTS requirements (USD)", "#value+funding+required+usd"),
    Field("fts_funding_usd", "integer", "FTS funding received (USD)", "#value+funding+total+usd"),
    Field("fts_coverage_pct", "number", "FTS coverage (%)", "#value+funding+pct", 1),
    Field("fts_year", "integer", "FTS plan year", "#date+year+funding"),
    Field(
        "detection_gap",
        "text",
        "Detection gap (rising score, weak detection at home)",
        "#indicator+detection_gap",
    ),
    Field(
        "detection_evidence", "text", "Detection evidence (TIP tier, prosecutions, years)", "#meta+detection"
    ),
    Field("tip_tier", "number", "US TIP tier (1, 2, 2.5 = Watch List, 3)", "#indicator+tip_tier+num", 1),
    Field(
        "prosecuted",
        "integer",
        "Persons prosecuted for trafficking (UNODC GLOTIP)",
        "#indicator+prosecuted+num",
    ),
    Field("population", "integer", "Population (persons, World Bank)", "#population+total+num"),
    Field("small_population", "boolean", "Population under 100,000", "#meta+small_population"),
    Field("basis", "text", "Basis (input years)", "#meta+basis"),
    Field("method", "text", "Headline method", "#meta+method"),
    Field("run_id", "text", "Model run", "#meta+run"),
)
# `crisisrisk export predictions --target rise` (models.watchlist_store.RISE_EXPORT_COLUMNS is this list).
RISE_EXPORT = [
    "iso3",
    "year",
    "rise_factor",
    "lower",
    "upper",
    "rank",
    "top_driver",
    "people_exposed",
    "basis",
    "run_id",
]
# /api/v1/predictions?target=rise: the export's fields first, then what only the API has.
API_RISE = [
    *RISE_EXPORT,
    "name",
    "percentile",
    "score",
    "method",
    "displaced_abroad",
    "displaced_abroad_year",
    "idps",
    "idps_year",
    "hosted",
    "hosted_year",
    "small_population",
]
# The watch-list download of the priorities page.
RISE_DOWNLOAD = [
    "rank",
    "region_id",
    "name",
    "year",
    "rise_factor",
    "lower",
    "upper",
    "percentile",
    "top_driver",
    "people_exposed",
    "displaced_abroad",
    "displaced_abroad_year",
    "idps",
    "idps_year",
    "hosted",
    "hosted_year",
    "fts_requirements_usd",
    "fts_funding_usd",
    "fts_coverage_pct",
    "fts_year",
    "detection_gap",
    "detection_evidence",
    "tip_tier",
    "prosecuted",
    "population",
    "small_population",
    "basis",
    "method",
    "run_id",
]

# SHAP explanations of a prediction (country level only: admin-1 units have no model of their own).
EXPLANATION: dict[str, Field] = _table(
    Field("region_id", "text", "Country (ISO3)", "#country+code"),
    Field("iso3", "text", "ISO3", "#country+code"),
    Field("name", "text", "Country", "#country+name"),
    Field("year", "integer", "Year", "#date+year"),
    Field("feature", "text", "Feature", "#indicator+feature"),
    Field("family", "text", "Feature family", "#indicator+family"),
    Field("shap_value", "number", "SHAP value (log1p victims per 100k)", "#indicator+shap+num"),
    Field("feature_value", "number", "Feature value", "#indicator+feature+value+num"),
    Field("run_id", "text", "Model run", "#meta+run"),
)
EXPLANATION_EXPORT = list(EXPLANATION)


def hxl_row(table: dict[str, Field], names: list[str], level: int | None = None) -> list[str]:
    """The HXL hashtag row of ``names`` (each must be in ``table``; a KeyError names a missing one)."""
    return [table[name].tag(level) for name in names]


def decimals(table: dict[str, Field], names: list[str]) -> dict[str, int]:
    """``{column: decimals}`` of the columns that are rounded in files (for ``DataFrame.round``)."""
    return {n: places for n in names if n in table and (places := table[n].decimals) is not None}
