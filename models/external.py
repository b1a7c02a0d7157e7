"""External validity of the rankings (issue 11 item 5): checks against independent risk measures, never
targets.

Why: the detected-victims ranking correlated negatively with every independent risk measure we ship, which is
how
we learnt that it ranks detection. Every ranking the product shows is now checked the same way, in every run.
No watch-list candidate uses any of these measures as a feature.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sqlalchemy import Engine, select

from warehouse.io import read_observations
from warehouse.schema import prediction

log = logging.getLogger(__name__)

REFERENCES = {
    "structural.inform_risk": "INFORM Risk",
    "trafficking.oc_human_trafficking": "OC Index human trafficking",
    "detection.oc_resilience": "OC Index resilience",
    "structural.gsi2016_vulnerability": "GSI 2016 vulnerability",
    "structural.gsi2018_vulnerability": "GSI 2018 vulnerability",
}
LATEST_YEARS = 3


def rank_correlations(
    ranking: pd.DataFrame, references: pd.DataFrame, name: str, latest_years: int = LATEST_YEARS
) -> list[dict[str, Any]]:
    """Spearman of ``ranking`` (region_id, year, value) against each reference in its nearest edition year."""
    rows: list[dict[str, Any]] = []
    if ranking.empty:
        return rows
    years = sorted(ranking["year"].unique())[-latest_years:]
    for code, label in REFERENCES.items():
        ref = references[references["indicator"] == code]
        if ref.empty:
            continue
        editions = np.array(sorted(ref["year"].unique()))
        for year in years:
            edition = int(editions[np.argmin(np.abs(editions - year))])
            merged = ranking[ranking["year"] == year].merge(
                ref[ref["year"] == edition][["region_id", "value"]].rename(columns={"value": "reference"}),
                on="region_id",
            )
            if len(merged) < 10:
                continue
            rho = float(spearmanr(merged["value"], merged["reference"]).statistic)
            rows.append(
                {
                    "ranking": name,
                    "year": int(year),
                    "reference": label,
                    "reference_code": code,
                    "edition_year": edition,
                    "n": len(merged),
                    "spearman": rho,
                }
            )
    return rows


def external_validity(
    engine: Engine, watchlist: pd.DataFrame, run_id: str | None = None
) -> list[dict[str, Any]]:
    """The watch list's and the detected-in-country ranking's correlations, for their latest three years."""
    refs = read_observations(engine, indicators=list(REFERENCES), level=0)
    rows = rank_correlations(
        watchlist.rename(columns={"score": "value"})[["region_id", "year", "value"]],
        refs,
        "watch list (rise score)",
    )
    if run_id is not None:
        with engine.connect() as conn:
            det = pd.DataFrame(
                conn.execute(
                    select(prediction.c.region_id, prediction.c.year, prediction.c.estimate_per_100k).where(
                        prediction.c.run_id == run_id, prediction.c.level == 0
                    )
                ).all(),
                columns=["region_id", "year", "value"],
            )
        rows += rank_correlations(det, refs, "detected in country (per 100k)")
    return rows


def summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Mean Spearman per ranking and reference over the latest years (the model page's table)."""
    if not rows:
        return pd.DataFrame(columns=["ranking", "reference", "years", "mean_spearman"])
    frame = pd.DataFrame(rows)
    return (
        frame.groupby(["ranking", "reference"])
        .agg(years=("year", lambda s: f"{s.min()}-{s.max()}"), mean_spearman=("spearman", "mean"))
        .reset_index()
    )
