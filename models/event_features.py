"""Years since each crisis event type, as candidate model features (issue 14).

Why: the phase curves (models/phases.py) say *when* after a crisis starts detected trafficking moves (e.g.
nationals
detected abroad rise in years 2-4 after a refugee-outflow surge), which the lagged levels and one-year changes
of
the model's features cannot express. A feature "years since the latest outflow surge" lets a model learn that
timing. The events are exactly those of the phase curves (the rules and thresholds of models/phases.toml), so
the
feature and the curve always mean the same thing.

Temporal rule: the value for country-year t uses events dated t - ``lag`` or earlier only (``lag`` = 1 for the
detected-victims model, whose other covariates are lagged one year; 0 for a watch-list score year, which uses
inputs dated that year). No event in the ``cap`` years up to t - lag reads as ``cap`` ("none in cap years");
where
the event's source does not cover that whole window (before its first year) and no event was seen, the value
is
missing (unknown, not "none").

Pure functions of DataFrames; nothing here reads the warehouse.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from models.phases import EVENT_TYPES, detect_events

log = logging.getLogger(__name__)
DEFAULT_CAP = 10  # years; "none in 10 years" is the cap
FEATURE_PREFIX = (  # not years_since_conflict_onset: models.features has that (spell length)
    "years_since_event_"
)


def feature_name(event_type: str) -> str:
    return f"{FEATURE_PREFIX}{event_type}"


FEATURES = tuple(feature_name(t) for t in EVENT_TYPES)


def years_since(
    events: pd.DataFrame,
    index: pd.MultiIndex,
    cap: int = DEFAULT_CAP,
    lag: int = 1,
    coverage_start: dict[str, int] | None = None,
) -> pd.DataFrame:
    """For every (region_id, year) of ``index``: years since the latest event of each type dated <= year -
    lag.

    ``events``: region_id, year, event_type (every qualifying event year, as models.phases.detect_events
    gives).
    ``coverage_start``: first year each event type's source can see; a window reaching before it with no event
    seen
    is missing. Returns one float column per event type (FEATURES), values in lag..cap, indexed like
    ``index``.
    """
    regions = index.get_level_values(0).to_numpy()
    years = index.get_level_values(1).to_numpy(dtype=int)
    cutoff = years - lag  # the newest event year the feature may see
    out = {}
    for etype in EVENT_TYPES:
        ev = events[events["event_type"] == etype] if len(events) else events
        by_region = (
            {r: np.sort(g["year"].astype(int).to_numpy()) for r, g in ev.groupby("region_id")}
            if len(ev)
            else {}
        )
        latest = np.full(len(index), np.nan)
        for r in pd.unique(regions):
            ev_years = by_region.get(r)
            if ev_years is None:
                continue
            rows = np.flatnonzero(regions == r)
            pos = np.searchsorted(ev_years, cutoff[rows], side="right") - 1
            found = pos >= 0
            latest[rows[found]] = ev_years[pos[found]]
        value = years - latest  # NaN where no event at all
        value = np.where(np.isnan(value) | (value > cap), float(cap), value)
        start = (coverage_start or {}).get(etype)
        if start is not None:
            seen = ~np.isnan(latest) & (years - latest <= cap)
            blind = (years - cap < start) & ~seen  # the window t-cap..t-lag not fully covered, no event in it
            value = np.where(blind, np.nan, value)
        out[feature_name(etype)] = value
    return pd.DataFrame(out, index=index)


def coverage_starts(obs: pd.DataFrame, cfg: dict[str, Any]) -> dict[str, int]:
    """First year with any observation of each event rule's input (conflict onsets also need the quiet
    years)."""
    codes = {
        "conflict_onset": [cfg["conflict_onset"]["indicator"]],
        "outflow_surge": list(cfg["outflow_surge"]["indicators"]),
        "idp_surge": list(cfg["idp_surge"]["indicators"]),
        "large_disaster": [
            cfg["large_disaster"]["deaths_indicator"],
            cfg["large_disaster"]["affected_indicator"],
        ],
    }
    out = {}
    for etype, cs in codes.items():
        ys = obs.loc[obs["indicator"].isin(cs), "year"]
        if len(ys):
            extra = (
                int(cfg["conflict_onset"]["quiet_years"]) if etype == "conflict_onset" else 1
            )  # surges: a year
            out[etype] = int(ys.min()) + extra  # before is needed
    return out


def event_features(
    obs: pd.DataFrame,
    index: pd.MultiIndex,
    cfg: dict[str, Any] | None = None,
    cap: int = DEFAULT_CAP,
    lag: int = 1,
) -> pd.DataFrame:
    """Years-since features for ``index`` from level-0 yearly observations (region_id, year, indicator,
    value),
    with the event rules of models/phases.toml."""
    from models.phases import load_config

    cfg = cfg or load_config()
    obs = obs[obs["level"] == 0] if "level" in obs.columns else obs
    events = detect_events(obs, cfg)
    log.info("event features: %s events, cap %s, lag %s", len(events), cap, lag)
    return years_since(events, index, cap=cap, lag=lag, coverage_start=coverage_starts(obs, cfg))
