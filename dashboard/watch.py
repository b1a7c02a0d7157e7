"""Pure helpers for the crisis watch list on the pages and the API: texts, the detection gap, admin-1
exposure.

The watch list (models/watchlist_store.py) ranks the expected rise of a population's nationals detected as
trafficking victims abroad over year+1..year+3. These helpers turn its rows into plain words with units and
years, and decide the priorities table's "detection gap" column. No database access here: frames in, frames
out.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

TIP_TIER = "detection.tip_tier"
PROSECUTED = "detection.persons_prosecuted"
POPULATION = "structural.population"
DETECTION_INDICATORS = (TIP_TIER, PROSECUTED)
DETECTION_MAX_AGE = 5  # years: an older TIP tier or prosecution count says nothing about detection now
GAP_PERCENTILE = 75.0  # "rising": in the top quarter of the year's watch list
WEAK_TIER = 2.5  # US TIP Tier 2 Watch List (2.5) or Tier 3 (3)
FEW_PROSECUTIONS = 10  # persons prosecuted for trafficking in a year (UNODC GLOTIP)
SMALL_POPULATION = 100_000
DETECTION_GAP_DEFINITION = (
    "Detection gap: the watch list expects a rise (top quarter of the year's list, percentile >="
    f" {GAP_PERCENTILE:.0f}) while detection at home is weak: the latest US TIP tier is Tier 2 Watch List or"
    f" Tier 3 (>= {WEAK_TIER}), or, for a country not in Tier 1, UNODC GLOTIP records fewer than"
    f" {FEW_PROSECUTIONS} persons prosecuted for trafficking in the latest year, or none at all. Both looked"
    f" up at most {DETECTION_MAX_AGE} years before the score year. A gap means victims among this population"
    " are less likely to be identified at home."
)
DETECTED_CAVEAT = (
    "'Where victims are found' is the model of detected victims per 100,000 in the country: it "
    "follows how hard a state looks for victims (detection capacity), so it is context, not the "
    "risk to a population."
)
ADMIN1_CODES = (
    {  # located inputs of the headline's drivers, as the downscaling reads them (models/downscale.py)
        "deaths": ("conflict.ged_deaths_best",),
        "displaced": (
            "displacement.idmc_idps_located.conflict",
            "displacement.dtm_idps",
            "displacement.dtm_idps_snapshot",
            "displacement.idmc_new_displacements_located.conflict",
        ),
    }
)
ADMIN1_WINDOW = 3  # located values up to three years before the score year


def window_text(year: int) -> str:
    """What a score year looks at, in words."""
    return f"looks at {int(year) + 1}–{int(year) + 3}"


def people(value) -> str:
    """A count of people, readable: 1,234 / 45,600 / 3.4 million."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "no data"
    value = float(value)
    return f"{value / 1e6:.1f} million" if value >= 1e6 else f"{value:,.0f}"


def rise_text(rise, lower, upper) -> str:
    """'×1.35 (80% interval ×1.10–×1.62)': expected ratio of the next three years to the last three."""
    if rise is None or pd.isna(rise):
        return "no score"
    return f"×{float(rise):.2f} (80% interval ×{float(lower):.2f}–×{float(upper):.2f})"


def skill_text(skill: dict | None) -> tuple[str, str]:
    """(strength, sentence) of the headline's measured skill; 'not measured' when the run has none."""
    if not skill:
        return "not measured", "Skill not measured: this model run stored no watch-list validation."
    inner = skill.get("skill") or {}
    strength = str(inner.get("strength") or "not measured")
    sentence = str(inner.get("sentence") or "Skill not measured.")
    if strength == "weak" and "weak" not in sentence.lower():
        sentence += " Skill: weak."
    return strength, sentence


def pair_gate_text(skill: dict | None) -> str:
    """The pair model's measured gain over the pair's own history, so nobody reads the chart as validated.

    The run stores per horizon how much lower the model's RMSLE is than the pair's last value and 3-year mean.
    """
    pair = (skill or {}).get("pair_model") or {}
    rows = pair.get("backtest") or []
    if not rows:
        return "Pair model not validated in this run."
    gains = "; ".join(
        f"{int(r['horizon'])} year{'s' if int(r['horizon']) > 1 else ''} ahead "
        f"{100 * float(r['improvement_vs_last']):.0f}% / {100 * float(r['improvement_vs_mean_3y']):.0f}%"
        for r in sorted(rows, key=lambda r: int(r["horizon"]))
    )
    verdict = (
        "It passes its gate"
        if pair.get("gate_passed")
        else "It does NOT pass its gate of 10% at every horizon: read it as a rough guide"
    )
    return (
        "Backtest: the pair model's error (RMSLE) is lower than the pair's last value / its 3-year mean by "
        f"{gains}. {verdict}."
    )


def protocol_table(skill: dict | None) -> pd.DataFrame:
    """The pre-registered protocol's rows, one per candidate and label variant, in the page's words and
    units."""
    rows = pd.DataFrame((skill or {}).get("protocol") or [])
    if rows.empty:
        return rows
    headline = (skill or {}).get("headline")
    rows = rows.assign(_head=rows["candidate"] != headline).sort_values(
        ["_head", "label", "mean_spearman"], ascending=[True, False, False], kind="stable"
    )  # headline first
    return pd.DataFrame(
        {
            "candidate": rows["candidate"] + np.where(rows["candidate"] == headline, " (headline)", ""),
            "kind": rows["kind"],
            "label": rows["label"].map({"main": "all reporting years", "listed": "listed only"}),
            "years": rows["first_year"].astype(str) + "–" + rows["last_year"].astype(str),
            "mean_spearman": rows["mean_spearman"].round(3),
            "top15_more_pct": rows["top_lift_pct"].round(1),
            "top15_lift_95pct": (
                rows["top_lift_lo"].round(3).astype(str) + " to " + rows["top_lift_hi"].round(3).astype(str)
            ),
        }
    ).reset_index(drop=True)


def external_validity_table(skill: dict | None) -> pd.DataFrame:
    """Spearman of each ranking against each independent risk measure, one column per year (checks, not
    targets)."""
    rows = pd.DataFrame((skill or {}).get("external_validity") or [])
    if rows.empty:
        return rows
    wide = rows.pivot_table(index=["ranking", "reference"], columns="year", values="spearman").round(2)
    wide.columns = [f"Spearman {c}" for c in wide.columns]
    counts = rows.groupby(["ranking", "reference"])["n"].max().rename("countries")
    return wide.join(counts).reset_index()


def pair_model_table(skill: dict | None) -> pd.DataFrame:
    """The pair model's backtest per horizon against the pair's last value and 3-year mean (RMSLE, log1p
    victims)."""
    rows = pd.DataFrame(((skill or {}).get("pair_model") or {}).get("backtest") or [])
    if rows.empty:
        return rows
    return pd.DataFrame(
        {
            "years ahead": rows["horizon"].astype(int),
            "cutoffs": rows["cutoffs"],
            "pairs scored": rows["n"],
            "RMSLE model": rows["rmsle_model"].round(3),
            "RMSLE last value": rows["rmsle_last_value"].round(3),
            "RMSLE 3-year mean": rows["rmsle_mean_3y"].round(3),
            "better than last value (%)": (100 * rows["improvement_vs_last"]).round(1),
            "better than 3-year mean (%)": (100 * rows["improvement_vs_mean_3y"]).round(1),
            "80% coverage": rows["coverage80"].round(2),
        }
    )


def driver_terms(drivers) -> pd.DataFrame:
    """The stored drivers list as a frame (driver, label, value, contribution), largest |contribution|
    first."""
    cols = ["driver", "label", "value", "contribution"]
    if not isinstance(drivers, list) or not drivers:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame([{c: d.get(c) for c in cols} for d in drivers if isinstance(d, dict)], columns=cols)
    frame["contribution"] = pd.to_numeric(frame["contribution"], errors="coerce")
    frame = frame.dropna(subset=["contribution"])
    return frame.reindex(frame["contribution"].abs().sort_values(ascending=False).index).reset_index(
        drop=True
    )


def latest_by_region(obs: pd.DataFrame, year: int, max_age: int) -> pd.DataFrame:
    """Wide frame region_id x indicator of the latest value in [year - max_age, year], with '<code>@year'."""
    sub = obs[(obs["year"] <= year) & (obs["year"] >= year - max_age)]
    if sub.empty:
        return pd.DataFrame(columns=["region_id"])
    sub = sub.sort_values("year").groupby(["region_id", "indicator"]).tail(1)
    values = sub.pivot(index="region_id", columns="indicator", values="value")
    years = sub.pivot(index="region_id", columns="indicator", values="year").add_suffix("@year")
    return values.join(years).reset_index()


def add_detection_gap(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``detection_gap`` (yes / no / unknown / not rising) and its reason, from the columns
    percentile, tip_tier(+_year), prosecuted(+_year). See DETECTION_GAP_DEFINITION."""
    out = frame.copy()
    gaps, reasons = [], []
    for r in out.itertuples():
        tier, pros = getattr(r, "tip_tier", np.nan), getattr(r, "prosecuted", np.nan)
        evidence = []
        if pd.notna(tier):
            evidence.append(f"TIP tier {tier:g} ({int(r.tip_tier_year)})")
        if pd.notna(pros):
            evidence.append(f"{pros:,.0f} persons prosecuted ({int(r.prosecuted_year)})")
        # Tier 1 (full compliance with the minimum standards) is never weak; otherwise few or no prosecutions
        # are
        weak = (pd.notna(tier) and tier >= WEAK_TIER) or (
            not (pd.notna(tier) and tier <= 1)
            and ((pd.notna(pros) and pros < FEW_PROSECUTIONS) or (pd.notna(tier) and pd.isna(pros)))
        )
        rising = pd.notna(r.percentile) and r.percentile >= GAP_PERCENTILE
        if not rising:
            gaps.append("not rising")
        elif pd.isna(tier) and pd.isna(pros):
            gaps.append("unknown")
            evidence.append("no TIP tier or prosecution count")
        elif weak:
            gaps.append("yes")
            if pd.isna(pros):
                evidence.append("no prosecution count")
        else:
            gaps.append("no")
        reasons.append("; ".join(evidence))
    out["detection_gap"] = gaps
    out["detection_evidence"] = reasons
    return out


def admin1_exposure(units: pd.DataFrame, obs: pd.DataFrame, year: int) -> pd.DataFrame:
    """Where in a country the headline's drivers are located: conflict deaths and displaced people per unit.

    ``units``: region_id, region_name. ``obs``: level-1 observations (region_id, indicator, year, value).
    For each unit, the latest located value of each code in [year - ADMIN1_WINDOW, year], summed per kind.
    ``share`` (%) is the mean of the unit's share of the country's located conflict deaths and its share of
    the
    located displaced people (each kind only where the country has some); units with
    nothing located in the window have ``located = False`` and no share (shown as "no located data", never
    tied
    at a made-up value). ``rank`` is 1 for the largest share; equal shares get equal ranks.
    """
    out = units[["region_id", "region_name"]].copy().set_index("region_id")
    sub = obs[
        (obs["year"] <= year) & (obs["year"] >= year - ADMIN1_WINDOW) & obs["region_id"].isin(out.index)
    ]
    for kind, codes in ADMIN1_CODES.items():
        part = sub[sub["indicator"].isin(codes)]
        if part.empty:
            out[kind], out[f"{kind}_year"] = np.nan, np.nan
            continue
        latest = part.sort_values("year").groupby(["region_id", "indicator"]).tail(1)
        if (
            kind == "displaced"
        ):  # stock and flow figures of several sources: take the largest, never their sum
            pick = latest.sort_values("value").groupby("region_id").tail(1).set_index("region_id")
        else:
            pick = latest.groupby("region_id").agg(value=("value", "sum"), year=("year", "max"))
        out[kind] = pick["value"].reindex(out.index)
        out[f"{kind}_year"] = pick["year"].reindex(out.index)
    out["located"] = out[["deaths", "displaced"]].notna().any(axis=1)
    shares = []
    for kind in ADMIN1_CODES:  # deaths and people are not added up: each kind is a share of its country total
        total = float(out[kind].sum(skipna=True))
        if total > 0:
            shares.append(100 * out[kind].fillna(0) / total)
    share = pd.concat(shares, axis=1).mean(axis=1) if shares else pd.Series(np.nan, index=out.index)
    out["share"] = share.where(out["located"])
    out["rank"] = out["share"].rank(ascending=False, method="min")
    return out.reset_index()
