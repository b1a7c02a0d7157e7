"""Admin-1 estimates: the country estimate spread across units by a transparent exposure index.

There is no sub-national trafficking label, so admin-1 values are *not* model predictions. For each
country-year, each unit gets an exposure index from the conflict and displacement data located in it
(latest year <= t - 1, up to 3 years old):

    deaths_rate  = UCDP GED deaths (best) per 100k residents
    events_rate  = UCDP GED events per 100k residents
    displaced    = IDMC located figures and IOM DTM IDPs per 100k residents
    index        = mean of the within-country percentile ranks of the three (0..1)
    multiplier   = 0.5 + index, rescaled so the population-weighted mean over the country is 1

Unit population comes from OCHA COD or Global Data Lab figures, else the unit's area share of the
country population. Units of a country with no located data at all keep the country rate and are
flagged ``has_subnational_data = False``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DEATHS = "conflict.ged_deaths_best"
EVENTS = "conflict.ged_events"
DISPLACED = ("displacement.idmc_new_displacements_located.conflict", "displacement.idmc_idps_located.conflict",
             "displacement.dtm_idps", "displacement.dtm_idps_snapshot")
POPULATION = ("structural.population_admin1", "structural.population_admin1_gdl")
CARRY_YEARS = 3


def _latest(obs: pd.DataFrame, codes: tuple[str, ...], year: int, lag: int = 1) -> pd.Series:
    """Per unit: sum over ``codes`` of each indicator's latest value in [t - lag - carry, t - lag]."""
    sub = obs[obs["indicator"].isin(codes) & (obs["year"] <= year - lag) & (obs["year"] >= year - lag - CARRY_YEARS)]
    if sub.empty:
        return pd.Series(dtype=float)
    latest = sub.sort_values("year").groupby(["region_id", "indicator"])["value"].last()
    return latest.groupby(level="region_id").sum()


def exposure_table(units: pd.DataFrame, obs: pd.DataFrame, year: int, country_population: pd.Series) -> pd.DataFrame:
    """Exposure index and multiplier for every admin-1 unit in ``units`` for one year.

    ``units``: region_id, iso3, area_km2. ``obs``: admin-1 yearly observations (region_id, year, indicator, value).
    """
    out = units[["region_id", "iso3", "area_km2"]].copy().set_index("region_id")
    pop = _latest(obs, POPULATION, year, lag=0).reindex(out.index)
    area_share = out["area_km2"] / out.groupby("iso3")["area_km2"].transform("sum")
    fallback = area_share * out["iso3"].map(country_population)
    out["population"] = pop.fillna(fallback)
    out["population_source"] = np.where(pop.notna(), "reported", "area share")
    per100k = 1e5 / out["population"].where(out["population"] > 0)
    out["deaths_per100k"] = _latest(obs, (DEATHS,), year).reindex(out.index).fillna(0) * per100k
    out["events_per100k"] = _latest(obs, (EVENTS,), year).reindex(out.index).fillna(0) * per100k
    out["displaced_per100k"] = _latest(obs, DISPLACED, year).reindex(out.index).fillna(0) * per100k
    located = (obs["indicator"].isin((DEATHS, EVENTS, *DISPLACED)) & (obs["year"] <= year - 1)
               & (obs["year"] >= year - 1 - CARRY_YEARS))
    countries_with_data = set(out.loc[out.index.isin(obs.loc[located, "region_id"]), "iso3"])
    out["has_subnational_data"] = out["iso3"].isin(countries_with_data)
    ranks = out.groupby("iso3")[["deaths_per100k", "events_per100k", "displaced_per100k"]].rank(pct=True, method="average")
    out["exposure_index"] = np.where(out["has_subnational_data"], ranks.mean(axis=1), np.nan)
    raw = np.where(out["has_subnational_data"], 0.5 + out["exposure_index"].fillna(0.5), 1.0)
    out["multiplier_raw"] = raw
    weights = out["population"].fillna(0)
    wmean = (out["multiplier_raw"] * weights).groupby(out["iso3"]).sum() / weights.groupby(out["iso3"]).sum()
    out["multiplier"] = out["multiplier_raw"] / out["iso3"].map(wmean).replace(0, np.nan).fillna(1.0)
    return out.reset_index()


def downscale(country_preds: pd.DataFrame, units: pd.DataFrame, obs: pd.DataFrame,
              country_population: pd.DataFrame) -> pd.DataFrame:
    """Admin-1 rows for every country-year prediction: estimate, interval scaled by the multiplier."""
    rows = []
    for year, preds in country_preds.groupby("year"):
        pop = country_population[country_population["year"] == year - 1].set_index("region_id")["value"]
        table = exposure_table(units[units["iso3"].isin(preds["region_id"])], obs, int(year), pop)
        merged = table.merge(preds[["region_id", "estimate_per_100k", "lower_per_100k", "upper_per_100k"]]
                             .rename(columns={"region_id": "iso3"}), on="iso3")
        for col in ("estimate_per_100k", "lower_per_100k", "upper_per_100k"):
            merged[col] = merged[col] * merged["multiplier"]
        merged["year"] = int(year)
        rows.append(merged)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
