"""IDMC GIDD disaggregated figures (2023) located in Natural Earth admin-1 units.

One published row = one displacement figure (``ID``): a flow (``Figure category`` = ``Internal
Displacements``, movements during ``Year``) or a stock (``IDPs``, people displaced at 31 December), with
its cause (``Conflict`` / ``Disaster``), ``Total figures`` in people (IDMC has already converted
households) and one or more places in ``Locations coordinates`` ("lat, lon" pairs separated by "; ").
In this release the figures add up to IDMC's national totals (e.g. Sudan conflict IDPs 9,052,822), so they
are summed, not de-duplicated by event.

Placing a figure:

- each location is a point; it is matched to the admin-1 polygons **of the figure's own country only**
  (``ctx.admin_index.assign``); a point outside all of them takes the nearest polygon of that country if
  it lies within ``TOLERANCE_KM`` = 50 km, else it stays unplaced. 50 km rather than the core's 25 km
  because the shipped admin-1 polygons are simplified and drop small islands: IDMC's centroids of
  island/coastal units (Okinawa, Kochi, Ca Mau, Isle of Youth, Tafea) miss them by 25-45 km;
- territories that IDMC codes separately but Natural Earth holds as admin-1 units of another country
  (Reunion ``REU`` -> France, see ``ADMIN1_HOST``) are matched against that country's polygons;
- a figure with several locations is **split equally** across them (IDMC's README recommends this; the
  file does not say how a figure divides between places), so each location carries total / n;
- locations whose coordinates do not parse are not placeable; nor are locations whose accuracy is the
  whole country (``Country/territory (AM0)``, the country centroid), except in a country that is a
  single admin-1 unit (Macao, Guam, Jersey);
- a figure with no placeable location is rejected as ``missing_location``; a figure whose placeable
  locations all fall outside its country's polygons beyond the tolerance is rejected as
  ``outside_country`` (with the nearest distance found); a figure with some locations placed is loaded:
  the placed shares go to their admin-1 units and **the unplaced shares are dropped** from the admin-1
  totals (one log line gives the people dropped per indicator), so admin-1 sums can be below IDMC's
  national figure.

Observations: admin-1 x year sums, ``period_start`` = 1 January of ``Year``, ``period_type`` = ``year``:
``displacement.idmc_new_displacements_located.{conflict,disaster}`` (flows) and
``displacement.idmc_idps_located.{conflict,disaster}`` (stocks). The Abyei Area (``AB9``) is rejected as
``disputed_area``; a repeated ``ID`` is a ``duplicate``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contract import (
    FILE,
    REJECT,
    ROW,
    parse_number,
    parse_year,
    read_text_table,
    reject,
    reject_duplicates,
    require_columns,
    strip_column_names,
)
from etl.sources import register
from etl.sources.base import OBSERVATION_COLUMNS, IndicatorDef, Source, mark_unused, year_start
from etl.sources.idmc_country_year import reject_disputed

log = logging.getLogger(__name__)

COLUMNS = [
    "ID",
    "ISO3",
    "Country",
    "Figure cause",
    "Year",
    "Figure category",
    "Total figures",
    "Locations coordinates",
]
ACCURACY = "Locations accuracy"  # optional: used to drop country-centroid locations
COUNTRY_LEVEL = "Country/territory (AM0)"
TOLERANCE_KM = 50.0
# IDMC codes territories separately that Natural Earth holds as admin-1 units of another country.
ADMIN1_HOST = {"REU": "FRA", "GUF": "FRA", "GLP": "FRA", "MTQ": "FRA", "MYT": "FRA"}
CAUSES = {"Conflict": "conflict", "Disaster": "disaster"}
CATEGORIES = {
    "Internal Displacements": "displacement.idmc_new_displacements_located",
    "IDPs": "displacement.idmc_idps_located",
}

INDICATORS = (
    IndicatorDef(
        "displacement.idmc_new_displacements_located.conflict",
        "displacement",
        "displacements",
        "higher_is_riskier",
        "Internal displacements by conflict and violence during the year, located "
        "in the admin-1 unit (IDMC GIDD figures, multi-place figures split equally)",
    ),
    IndicatorDef(
        "displacement.idmc_new_displacements_located.disaster",
        "displacement",
        "displacements",
        "higher_is_riskier",
        "Internal displacements by disasters during the year, located in the "
        "admin-1 unit (IDMC GIDD figures, multi-place figures split equally)",
    ),
    IndicatorDef(
        "displacement.idmc_idps_located.conflict",
        "displacement",
        "persons",
        "higher_is_riskier",
        "People displaced by conflict and violence at year end, located in the admin-1 unit (IDMC GIDD)",
    ),
    IndicatorDef(
        "displacement.idmc_idps_located.disaster",
        "displacement",
        "persons",
        "higher_is_riskier",
        "People displaced by disasters at year end, located in the admin-1 unit (IDMC GIDD)",
    ),
)


def explode_locations(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per listed location: source row index, n listed, lat, lon, usable flag and why not.

    ``country_level`` flags locations whose accuracy is the whole country (AM0, the country centroid).
    """
    coords = frame["Locations coordinates"].astype(str).str.split(";")
    n = coords.map(len)
    pairs = coords.explode()
    out = pd.DataFrame({"row": pairs.index, "text": pairs.astype(str).str.strip().values})
    out["n"] = n.loc[out["row"]].values
    parts = out["text"].str.split(",", n=1, expand=True).reindex(columns=[0, 1])
    out["lat"] = pd.to_numeric(parts[0].str.strip(), errors="coerce").astype(float)
    out["lon"] = pd.to_numeric(parts[1].str.strip(), errors="coerce").astype(float)
    usable = out["lat"].between(-90, 90) & out["lon"].between(-180, 180)
    out["why"] = None
    out.loc[~usable, "why"] = "no valid 'lat, lon' coordinates"
    out["country_level"] = False
    if ACCURACY in frame.columns:
        acc = frame[ACCURACY].astype(str).str.split(";")
        aligned = acc.map(len) == n
        acc_long = acc.explode().astype(str).str.strip().values
        out["country_level"] = (acc_long == COUNTRY_LEVEL) & aligned.loc[out["row"]].to_numpy()
    out["usable"] = usable
    return out


@register
class IdmcLocated(Source):
    name = "idmc_located"
    title = "IDMC GIDD disaggregated displacement figures located in admin-1 units"
    publisher = "Internal Displacement Monitoring Centre (IDMC)"
    licence = "CC BY-NC 4.0 (non-commercial)"
    coverage = "159 countries, figures of 2023 (flows and year-end stocks), point locations -> admin-1"
    folder = "idmc_gidd"
    file_patterns = ("idmc_gidd_disaggregated_*.csv.gz", "idmc_gidd_disaggregated_*.csv")
    level = "admin1"
    indicators = INDICATORS

    def parse(self, path: Path) -> pd.DataFrame:
        frame = strip_column_names(read_text_table(path))
        require_columns(frame, COLUMNS, path)
        for col in ("ID", "ISO3", "Country", "Figure cause", "Figure category", "Locations coordinates"):
            frame[col] = frame[col].astype(str).str.strip()
        frame["_year"] = parse_year(frame, "Year", minimum=2000, maximum=2100)
        frame["_total"] = parse_number(frame, "Total figures", allow_blank=False, minimum=0)
        cause = frame["Figure cause"].map(CAUSES)
        category = frame["Figure category"].map(CATEGORIES)
        mark_unused(
            frame,
            cause.isna(),
            "out_of_scope",
            "column 'Figure cause': '" + frame["Figure cause"] + "' is not Conflict or Disaster",
        )
        mark_unused(
            frame,
            category.isna(),
            "out_of_scope",
            "column 'Figure category': '"
            + frame["Figure category"]
            + "' is not 'Internal Displacements' or 'IDPs'",
        )
        frame["_indicator"] = category + "." + cause
        reject_disputed(frame, "ISO3")
        reject(frame, frame["ID"] == "", "missing_value", "column 'ID' is empty")
        reject_duplicates(frame, ["ID"], what="figure")
        locations = explode_locations(frame)
        usable_rows = set(locations.loc[locations["usable"], "row"])
        first_why = locations.groupby("row")["why"].first()
        no_loc = ~frame.index.isin(list(usable_rows))
        reject(
            frame,
            no_loc,
            "missing_location",
            "column 'Locations coordinates': no usable location ("
            + first_why.reindex(frame.index).fillna("empty").astype(str)
            + ")",
        )
        return frame

    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        ctx.countries_by_code(parsed, "ISO3", name_column="Country")
        adm1 = ctx.regions[ctx.regions["level"] == 1]
        units = adm1.groupby("iso3").size()
        parsed["_polygons_of"] = parsed["_region_id"].where(
            parsed["_region_id"].isin(units.index), parsed["_region_id"].map(ADMIN1_HOST)
        )
        no_units = parsed[REJECT].isna() & ~parsed["_polygons_of"].isin(units.index)
        reject(
            parsed,
            no_units,
            "no_region",
            "country '" + parsed["_region_id"].astype(str) + "' has no admin-1 units in the warehouse",
        )
        ok = parsed[REJECT].isna()
        if not ok.any():
            return pd.DataFrame(columns=OBSERVATION_COLUMNS)
        loc = explode_locations(parsed[ok])
        loc["iso3"] = parsed.loc[loc["row"], "_polygons_of"].to_numpy()
        # a country centroid says nothing about the admin-1 unit, unless the country is one unit
        single_unit = loc["iso3"].map(units).eq(1).to_numpy()
        centroid = loc["usable"] & loc["country_level"] & ~single_unit
        loc.loc[centroid, "why"] = "location is the whole country (AM0), not a sub-national place"
        loc["usable"] = loc["usable"] & ~centroid
        no_loc = parsed.index.isin(parsed[ok].index) & ~parsed.index.isin(
            loc.loc[loc["usable"], "row"].unique()
        )
        why = loc.groupby("row")["why"].first().reindex(parsed.index).fillna("").astype(str)
        reject(
            parsed,
            pd.Series(no_loc, index=parsed.index),
            "missing_location",
            "column 'Locations coordinates': no usable location (" + why + ")",
        )
        loc = loc[~loc["row"].isin(parsed.index[no_loc])]
        loc["share"] = (parsed.loc[loc["row"], "_total"].to_numpy() / loc["n"]).astype(float)
        use = loc[loc["usable"]]
        placed = ctx.admin_index.assign(
            use["lon"].to_numpy(), use["lat"].to_numpy(), use["iso3"].to_numpy(), tolerance_km=TOLERANCE_KM
        )
        loc["region_id"] = None
        loc["distance_km"] = np.nan
        loc.loc[use.index, "region_id"] = placed["region_id"].to_numpy()
        loc.loc[use.index, "distance_km"] = placed["distance_km"].to_numpy()
        loc["placed"] = loc["region_id"].notna()

        per_row = loc.groupby("row").agg(
            placed=("placed", "sum"), usable=("usable", "sum"), nearest=("distance_km", "min")
        )
        none_placed = per_row.index[per_row["placed"] == 0]
        if len(none_placed):
            near = per_row.loc[none_placed, "nearest"]
            text = np.where(
                near.notna(),
                "the nearest is " + near.round(1).astype(str) + " km away",
                f"no polygon within {TOLERANCE_KM:g} km",
            )
            detail = pd.Series(
                "all "
                + per_row.loc[none_placed, "usable"].astype(int).astype(str)
                + " usable location(s) fall outside the admin-1 units of "
                + parsed.loc[none_placed, "_polygons_of"].astype(str)
                + f" by more than {TOLERANCE_KM:g} km ("
                + text
                + ")",
                index=none_placed,
            )
            mask = parsed.index.isin(none_placed)
            reject(
                parsed, pd.Series(mask, index=parsed.index), "outside_country", detail.reindex(parsed.index)
            )

        ok = parsed[REJECT].isna()
        loc = loc[loc["row"].isin(parsed.index[ok])]
        loc["indicator"] = parsed.loc[loc["row"], "_indicator"].to_numpy()
        loc["_year"] = parsed.loc[loc["row"], "_year"].to_numpy()
        loc[FILE] = parsed.loc[loc["row"], FILE].to_numpy()
        dropped = loc[~loc["placed"]].groupby("indicator")["share"].sum()
        total = loc.groupby("indicator")["share"].sum()
        figures = int(ok.sum())
        split = int((parsed.loc[ok, "Locations coordinates"].str.count(";") > 0).sum())
        log.info(
            "idmc_located: %d of %d figures placed (%.1f%%), %d split across several locations; "
            "unplaced shares dropped from admin-1 totals: %s",
            figures,
            len(parsed),
            100.0 * figures / max(len(parsed), 1),
            split,
            {k: f"{dropped.get(k, 0.0):,.0f} of {total[k]:,.0f}" for k in total.index},
        )
        sub = loc[loc["placed"]]
        grouped = sub.groupby(["region_id", "_year", "indicator"], as_index=False).agg(
            value=("share", "sum"), **{FILE: (FILE, "first")}
        )
        return pd.DataFrame(
            {
                "region_id": grouped["region_id"].astype(str),
                "period_start": year_start(grouped["_year"]),
                "period_type": "year",
                "indicator": grouped["indicator"],
                "value": grouped["value"].astype(float),
                "censored": False,
                FILE: grouped[FILE],
            }
        )


__all__ = ["IdmcLocated", "TOLERANCE_KM", "explode_locations", "ROW"]
