"""Admin-1 estimates: the country estimate spread across units by a transparent exposure index.

There is no sub-national trafficking label, so admin-1 values are *not* model predictions. For each
country-year, each unit gets an exposure index from the conflict and displacement data located in it
(latest year <= t - 1, up to 3 years old):

    deaths_rate  = UCDP GED deaths (best) per 100k residents
    events_rate  = UCDP GED events per 100k residents
    displaced    = IDMC located figures and IOM DTM IDPs per 100k residents
    index        = mean of the within-country percentile ranks of the three (0..1)
    multiplier   = 0.5 + index, rescaled so the population-weighted mean over the country is 1

Unit population = the unit's share of the country population in the latest OCHA COD (preferred) or Global
Data Lab year, times the current World Bank country population; else the unit's area share. Units of a country
with no located data at all keep the country rate and are
flagged ``has_subnational_data = False``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DEATHS = "conflict.ged_deaths_best"
EVENTS = "conflict.ged_events"
DISPLACED = (
    "displacement.idmc_new_displacements_located.conflict",
    "displacement.idmc_idps_located.conflict",
    "displacement.dtm_idps",
    "displacement.dtm_idps_snapshot",
)
POPULATION = ("structural.population_admin1", "structural.population_admin1_gdl")
CARRY_YEARS = 3


def _latest(obs: pd.DataFrame, codes: tuple[str, ...], year: int, lag: int = 1) -> pd.Series:
    """Per unit: sum over ``codes`` of each indicator's latest value in [t - lag - carry, t - lag]."""
    sub = obs[
        obs["indicator"].isin(codes) & (obs["year"] <= year - lag) & (obs["year"] >= year - lag - CARRY_YEARS)
    ]
    if sub.empty:
        return pd.Series(dtype=float)
    latest = sub.sort_values("year").groupby(["region_id", "indicator"])["value"].last()
    return latest.groupby(level="region_id").sum()


def _population_share(units: pd.DataFrame, obs: pd.DataFrame, year: int) -> pd.Series:
    """Each unit's share of its country's population in the latest year with reported unit populations.

    Shares move slowly, so a 2019 Global Data Lab or a 2021 OCHA figure is a fair guide for later years; the
    share times the current country population gives a current unit population.
    """
    sub = obs[obs["indicator"].isin(POPULATION) & (obs["year"] <= year)]
    if sub.empty:
        return pd.Series(np.nan, index=units.index)
    prio = {c: i for i, c in enumerate(POPULATION)}
    sub = sub.assign(iso3=sub["region_id"].map(units["iso3"]), p=sub["indicator"].map(prio)).dropna(
        subset=["iso3"]
    )
    latest = sub.sort_values(["p", "year"], ascending=[True, False]).drop_duplicates("iso3")[
        ["iso3", "indicator", "year"]
    ]
    chosen = sub.merge(latest, on=["iso3", "indicator", "year"])
    values = chosen.set_index("region_id")["value"]
    totals = chosen.groupby("iso3")["value"].sum()
    return (values / values.index.map(units["iso3"]).map(totals).to_numpy()).reindex(units.index)


def exposure_table(
    units: pd.DataFrame, obs: pd.DataFrame, year: int, country_population: pd.Series
) -> pd.DataFrame:
    """Exposure index and multiplier for every admin-1 unit in ``units`` for one year.

    ``units``: region_id, iso3, area_km2. ``obs``: admin-1 yearly observations (region_id, year, indicator,
    value).
    """
    out = units[["region_id", "iso3", "area_km2"]].copy().set_index("region_id")
    share = _population_share(out, obs, year)
    area_share = out["area_km2"] / out.groupby("iso3")["area_km2"].transform("sum")
    out["population"] = share.fillna(area_share) * out["iso3"].map(country_population)
    out["population_source"] = np.where(share.notna(), "reported share", "area share")
    per100k = 1e5 / out["population"].where(out["population"] > 0)
    out["deaths_per100k"] = _latest(obs, (DEATHS,), year).reindex(out.index).fillna(0) * per100k
    out["events_per100k"] = _latest(obs, (EVENTS,), year).reindex(out.index).fillna(0) * per100k
    out["displaced_per100k"] = _latest(obs, DISPLACED, year).reindex(out.index).fillna(0) * per100k
    located = (
        obs["indicator"].isin((DEATHS, EVENTS, *DISPLACED))
        & (obs["year"] <= year - 1)
        & (obs["year"] >= year - 1 - CARRY_YEARS)
    )
    countries_with_data = set(out.loc[out.index.isin(obs.loc[located, "region_id"]), "iso3"])
    out["has_subnational_data"] = out["iso3"].isin(countries_with_data)
    ranks = out.groupby("iso3")[["deaths_per100k", "events_per100k", "displaced_per100k"]].rank(
        pct=True, method="average"
    )
    out["exposure_index"] = np.where(out["has_subnational_data"], ranks.mean(axis=1), np.nan)
    raw = np.where(out["has_subnational_data"], 0.5 + out["exposure_index"].fillna(0.5), 1.0)
    out["multiplier_raw"] = raw
    weights = out["population"].fillna(0)
    wmean = (out["multiplier_raw"] * weights).groupby(out["iso3"]).sum() / weights.groupby(out["iso3"]).sum()
    out["multiplier"] = out["multiplier_raw"] / out["iso3"].map(wmean).replace(0, np.nan).fillna(1.0)
    return out.reset_index()


def downscale(
    country_preds: pd.DataFrame, units: pd.DataFrame, obs: pd.DataFrame, country_population: pd.DataFrame
) -> pd.DataFrame:
    """Admin-1 rows for every country-year prediction: estimate, interval scaled by the multiplier."""
    rows = []
    for year, preds in country_preds.groupby("year"):
        pop = country_population[country_population["year"] == year - 1].set_index("region_id")["value"]
        table = exposure_table(units[units["iso3"].isin(preds["region_id"])], obs, int(year), pop)
        merged = table.merge(
            preds[["region_id", "estimate_per_100k", "lower_per_100k", "upper_per_100k"]].rename(
                columns={"region_id": "iso3"}
            ),
            on="iso3",
        )
        for col in ("estimate_per_100k", "lower_per_100k", "upper_per_100k"):
            merged[col] = merged[col] * merged["multiplier"]
        merged["year"] = int(year)
        rows.append(merged)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
