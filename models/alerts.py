"""Alert rules, their evaluation, human review and their backtest (issue 14).

Why rules as data: cluster leads and analysts must be able to see, tune and switch off what raises an alert
without a code change, and every change is audited. Why a human in the loop: an alert that reaches a
protection
cluster has consequences; like HDX Signals, nothing is published before an analyst confirms it, and the
confirm/dismiss decisions are kept as labels to measure each rule's precision later.

- A rule = name, condition (one of CONDITIONS), params (thresholds), minimum, region scope, cool-down.
- Evaluation computes every firing of every enabled rule over the whole history (deterministic: the same data
  gives the same firings), applies the cool-down, and stores as ``pending`` alerts only the firings of the
  newest
  periods. The unique key rule:region:period makes it idempotent: re-running never adds an alert twice.
- Backtest: every historical firing joined to the realised change of the population's nationals detected
  abroad
  over the next three years (docs/WATCHLIST.md §1.2); a hit is a rise (change > 0). The hit rate is printed
  with
  its n, a 90% Wilson interval, and the base rate of a rise among all populations and years.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from models.jsonsafe import finite_float as _num
from models.jsonsafe import json_safe as _clean
from warehouse import accounts
from warehouse.io import inserted_id
from warehouse.schema import (
    ALERT_CONDITIONS,
    alert,
    alert_evaluation,
    alert_rule,
    model_run,
    prediction,
    region,
)

log = logging.getLogger(__name__)

CONDITIONS = ALERT_CONDITIONS
RECENT_PERIODS = 2  # live alerts: firings of the newest two data years of the rule's input (reporting lags)
HIT_HORIZON = 3

DISPLACED = ("displacement.refugees_by_origin", "displacement.asylum_seekers_by_origin")
IDPS = ("displacement.idmc_conflict_idps", "displacement.conflict_idps_stock", "displacement.idps_unhcr")
DEATHS = ("conflict.deaths_organised_violence",)
SERIES = {
    "displaced_total": "refugees and asylum-seekers abroad plus conflict IDPs (UNHCR, IDMC)",
    "conflict_deaths": "deaths in organised violence (UCDP)",
    "displaced_abroad": "refugees and asylum-seekers abroad (UNHCR)",
}

STARTER_RULES: list[dict[str, Any]] = [
    {
        "name": "displacement-3y-high",
        "condition": "new_maximum",
        "params": {"series": "displaced_total", "lookback_years": 3},
        "minimum": 100_000,
        "cooldown_years": 2,
        "description": (
            "HDX Signals rule: displaced people (abroad + conflict IDPs) at a new 3-year maximum, at least "
            "100,000"
        ),
    },
    {
        "name": "conflict-deaths-3y-high",
        "condition": "new_maximum",
        "params": {"series": "conflict_deaths", "lookback_years": 3},
        "minimum": 1_000,
        "cooldown_years": 2,
        "description": (
            "HDX Signals rule: deaths in organised violence at a new 3-year maximum, at least 1,000"
        ),
    },
    {
        "name": "outflow-surge",
        "condition": "outflow_surge",
        "params": {"ratio": 2.0, "min_increase": 10_000},
        "minimum": None,
        "cooldown_years": 3,
        "description": (
            "Refugees and asylum-seekers abroad at least doubled in a year, by at least 10,000 (the "
            "crisis-phase event rule)"
        ),
    },
    {
        "name": "watchlist-enters-top",
        "condition": "watchlist_enters_top",
        "params": {"top_n": 15},
        "minimum": None,
        "cooldown_years": 2,
        "description": "A population enters the top 15 of the crisis watch list",
    },
    {
        "name": "watchlist-score-jump",
        "condition": "watchlist_jump",
        "params": {"quantile": 0.9, "min_history": 5},
        "minimum": 0.05,
        "cooldown_years": 2,
        "description": (
            "The watch-list score rose by more than the 90th percentile of its own past yearly changes "
            "(all populations' changes where it has fewer than 5), and by at least 0.05 on the log scale "
            "(+5% expected rise)"
        ),
    },
    {
        "name": "prediction-above-previous-upper",
        "condition": "above_previous_upper",
        "params": {},
        "minimum": None,
        "cooldown_years": 2,
        "description": (
            "Predicted detected victims per 100k above the upper bound (the 90th percentile: upper end of "
            "the 80% interval) of the previous year's prediction"
        ),
    },
]


class RuleError(ValueError):
    """A rule definition that cannot be evaluated (unknown condition, bad threshold, bad scope)."""


# --- rule definitions


def validate_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Check a rule's fields and return it normalised; RuleError names the field."""
    name = str(rule.get("name") or "").strip()
    if not (2 <= len(name) <= 80):
        raise RuleError("name: 2-80 characters")
    condition = rule.get("condition")
    if condition not in CONDITIONS:
        raise RuleError(f"condition: one of {list(CONDITIONS)}, got {str(condition)[:40]!r}")
    params = dict(rule.get("params") or {})
    check_params = PARAM_CHECKS.get(str(condition))
    if check_params:
        check_params(params)
    minimum = rule.get("minimum")
    if minimum is not None and (not _finite(minimum) or float(minimum) < 0):
        raise RuleError("minimum: a number >= 0, or empty")
    cooldown = rule.get("cooldown_years", 2)
    if not _int_between(cooldown, 0, 20):
        raise RuleError("cooldown_years: an integer 0-20")
    scope = parse_scope(str(rule.get("region_scope") or "*"))
    return {
        "name": name,
        "condition": condition,
        "params": params,
        "minimum": None if minimum is None else float(minimum),
        "cooldown_years": cooldown,
        "region_scope": "*" if scope is None else ",".join(sorted(scope)),
        "enabled": bool(rule.get("enabled", True)),
        "description": rule.get("description"),
    }


def _int_between(value: Any, lo: int, hi: int) -> bool:
    """A true integer (not a bool) in [lo, hi]."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _check_new_maximum(params: dict[str, Any]) -> None:
    if params.get("series") not in SERIES:
        raise RuleError(f"params.series: one of {list(SERIES)}")
    if not _int_between(params.get("lookback_years", 3), 1, 20):
        raise RuleError("params.lookback_years: an integer 1-20")


def _check_outflow_surge(params: dict[str, Any]) -> None:
    for key, lo in (("ratio", 1.0), ("min_increase", 0.0)):
        if not _finite(params.get(key)) or float(params[key]) < lo:
            raise RuleError(f"params.{key}: a number >= {lo}")


def _check_watchlist_enters_top(params: dict[str, Any]) -> None:
    if not _int_between(params.get("top_n", 15), 1, 200):
        raise RuleError("params.top_n: an integer 1-200")


def _check_watchlist_jump(params: dict[str, Any]) -> None:
    q = params.get("quantile", 0.9)
    if not _finite(q) or not 0.5 <= float(q) < 1:
        raise RuleError("params.quantile: a number in [0.5, 1)")


# condition -> its params check (raises RuleError naming the field); a condition without params has none
PARAM_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "new_maximum": _check_new_maximum,
    "outflow_surge": _check_outflow_surge,
    "watchlist_enters_top": _check_watchlist_enters_top,
    "watchlist_jump": _check_watchlist_jump,
}


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x)) and not isinstance(x, bool)
    except (TypeError, ValueError):
        return False


def parse_scope(scope: str) -> set[str] | None:
    """'*' (or empty) = every country; else comma-separated ISO3 codes."""
    items = [s.strip().upper() for s in scope.split(",") if s.strip()]
    if not items or items == ["*"]:
        return None
    bad = [s for s in items if len(s) != 3 or not s.isalpha()]
    if bad:
        raise RuleError(f"region_scope: '*' or comma-separated ISO3 codes; not {bad[:3]}")
    return set(items)


def seed_starter_rules(engine: Engine) -> int:
    """Insert the starter rules into an empty rule table (rules are disabled, never deleted, so an empty table
    means a new warehouse). Returns how many were added."""
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(alert_rule)).scalar():
            return 0
        now = dt.datetime.now(dt.UTC)
        for r in STARTER_RULES:
            v = validate_rule(r)
            conn.execute(
                alert_rule.insert().values(
                    name=v["name"],
                    condition=v["condition"],
                    params_json=v["params"],
                    minimum=v["minimum"],
                    region_scope=v["region_scope"],
                    cooldown_years=v["cooldown_years"],
                    enabled=True,
                    description=v["description"],
                    created_at=now,
                    updated_at=now,
                    updated_by="starter rules",
                )
            )
    return len(STARTER_RULES)


def list_rules(engine: Engine, enabled_only: bool = False) -> list[dict[str, Any]]:
    stmt = select(alert_rule).order_by(alert_rule.c.rule_id)
    if enabled_only:
        stmt = stmt.where(alert_rule.c.enabled.is_(True))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def get_rule(engine: Engine, rule_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(alert_rule).where(alert_rule.c.rule_id == rule_id)).mappings().first()
    return dict(row) if row else None


def save_rule(
    engine: Engine, actor: str, fields: dict[str, Any], rule_id: int | None = None, client: str | None = None
) -> dict[str, Any]:
    """Add (rule_id None) or edit a rule; audited. Editing keeps the fields not given."""
    now = dt.datetime.now(dt.UTC)
    if rule_id is not None:
        current = get_rule(engine, rule_id)
        if current is None:
            raise LookupError(f"unknown rule {rule_id}")
        merged = {
            "name": current["name"],
            "condition": current["condition"],
            "params": current["params_json"],
            "minimum": current["minimum"],
            "cooldown_years": current["cooldown_years"],
            "region_scope": current["region_scope"],
            "enabled": current["enabled"],
            "description": current["description"],
            **fields,
        }
    else:
        merged = fields
    try:
        v = validate_rule(merged)
    except RuleError as exc:
        accounts.audit(
            engine, actor, "alert rule save", "refused", str(rule_id or fields.get("name")), str(exc), client
        )
        raise
    values = {
        "name": v["name"],
        "condition": v["condition"],
        "params_json": v["params"],
        "minimum": v["minimum"],
        "region_scope": v["region_scope"],
        "cooldown_years": v["cooldown_years"],
        "enabled": v["enabled"],
        "description": v["description"],
        "updated_at": now,
        "updated_by": actor[:120],
    }
    try:
        with engine.begin() as conn:
            if rule_id is None:
                rule_id = inserted_id(conn.execute(alert_rule.insert().values(created_at=now, **values)))
            else:
                conn.execute(update(alert_rule).where(alert_rule.c.rule_id == rule_id).values(**values))
    except IntegrityError:
        accounts.audit(
            engine, actor, "alert rule save", "refused", v["name"], "a rule of that name exists", client
        )
        raise RuleError(f"name: a rule named '{v['name']}' exists") from None
    accounts.audit(
        engine, actor, "alert rule save", "ok", f"rule {rule_id} {v['name']}", _plain_rule(values), client
    )
    return get_rule(engine, int(rule_id))  # type: ignore[return-value]


def _plain_rule(v: dict[str, Any]) -> str:
    return (
        f"condition={v['condition']} params={v['params_json']} minimum={v['minimum']}"
        f" scope={v['region_scope']} cooldown={v['cooldown_years']} enabled={v['enabled']}"
    )


# --- inputs


def _wide(obs: pd.DataFrame, codes: tuple[str, ...]) -> pd.DataFrame:
    from models.phases import wide

    return wide(obs, list(codes))


def series_panel(obs: pd.DataFrame, series: str) -> pd.DataFrame:
    """Country x year values of a named series (documented in SERIES)."""
    if series == "conflict_deaths":
        return _wide(obs, DEATHS)
    abroad = [_wide(obs, (c,)) for c in DISPLACED]
    abroad = [a for a in abroad if not a.empty]
    total = (
        abroad[0].add(abroad[1], fill_value=0)
        if len(abroad) == 2
        else (abroad[0] if abroad else pd.DataFrame())
    )
    if series == "displaced_abroad":
        return total
    if series == "displaced_total":
        idps = _wide(obs, IDPS)
        if total.empty:
            return idps
        return total.add(idps, fill_value=0) if not idps.empty else total
    raise RuleError(f"unknown series '{series}'")


def needed_indicators() -> list[str]:
    return sorted({*DISPLACED, *IDPS, *DEATHS})


class Inputs:
    """What the conditions read: observations, the deployed run's watch list and country predictions."""

    def __init__(self, obs: pd.DataFrame, watch: pd.DataFrame, predictions: pd.DataFrame) -> None:
        self.obs, self.watch, self.predictions = obs, watch, predictions

    @classmethod
    def from_warehouse(cls, engine: Engine) -> Inputs:
        from models import watchlist_store
        from warehouse import io as store

        obs = store.read_observations(engine, indicators=needed_indicators(), level=0)
        try:
            watch = watchlist_store.read_watchlist(engine)
        except Exception as exc:  # noqa: BLE001 - a warehouse without the watch-list tables
            log.warning("alerts: watch list unreadable (%s)", exc)
            watch = pd.DataFrame(columns=["region_id", "year", "score", "rank"])
        with engine.connect() as conn:
            run_id = conn.execute(select(model_run.c.run_id).where(model_run.c.status == "deployed")).scalar()
            rows = (
                []
                if run_id is None
                else conn.execute(
                    select(
                        prediction.c.region_id,
                        prediction.c.year,
                        prediction.c.estimate_per_100k,
                        prediction.c.lower_per_100k,
                        prediction.c.upper_per_100k,
                    ).where(prediction.c.run_id == run_id, prediction.c.level == 0)
                ).all()
            )
        preds = pd.DataFrame(rows, columns=["region_id", "year", "estimate", "lower", "upper"])
        return cls(obs, watch, preds)


# --- conditions: every historical firing

FIRING_COLUMNS = ["region_id", "period", "value", "threshold", "message"]


def _firings(mask: pd.DataFrame, value: pd.DataFrame, threshold: pd.DataFrame, text) -> pd.DataFrame:
    hits = mask.stack()
    hits = hits[hits.astype(bool)]
    rows = []
    for region_id, year in hits.index:
        v, t = float(value.at[region_id, year]), threshold.at[region_id, year]
        t = None if pd.isna(t) else float(t)
        rows.append(
            {
                "region_id": region_id,
                "period": int(year),
                "value": v,
                "threshold": t,
                "message": text(region_id, int(year), v, t),
            }
        )
    return pd.DataFrame(rows, columns=FIRING_COLUMNS)


def _people(x: float | None) -> str:
    if x is None:
        return "none"
    return f"{x / 1e6:.1f} million" if abs(x) >= 1e6 else f"{x:,.0f}"


def fire_new_maximum(inputs: Inputs, params: dict[str, Any], minimum: float | None) -> pd.DataFrame:
    """Value of year Y above the maximum of the previous ``lookback_years`` years (at least one of them
    known),
    and at least ``minimum``."""
    s = series_panel(inputs.obs, params["series"])
    if s.empty:
        return pd.DataFrame(columns=FIRING_COLUMNS)
    lookback = int(params.get("lookback_years", 3))
    prior = pd.concat([s.shift(lag, axis=1) for lag in range(1, lookback + 1)]).groupby(level=0).max()
    prior = prior.reindex(index=s.index, columns=s.columns)
    mask = s.notna() & prior.notna() & (s > prior) & (s >= (minimum or 0))
    label = SERIES[params["series"]]
    return _firings(
        mask,
        s,
        prior,
        lambda r, y, v, t: (
            f"{label}: {_people(v)} in {y}, a new {lookback}-year high (previous high {_people(t)})"
        ),
    )


def fire_outflow_surge(inputs: Inputs, params: dict[str, Any], minimum: float | None) -> pd.DataFrame:
    """The crisis-phase outflow-surge rule (models/phases.py) with the rule's thresholds."""
    from models.phases import outflow_surges

    rule = {
        "indicators": list(DISPLACED),
        "ratio": params.get("ratio", 2.0),
        "min_increase": max(float(params.get("min_increase", 10_000)), float(minimum or 0)),
    }
    ev = outflow_surges(inputs.obs, rule)
    return pd.DataFrame(
        {
            "region_id": ev["region_id"],
            "period": ev["year"].astype(int),
            "value": ev["value"],
            "threshold": ev["previous"].astype(float) * float(rule["ratio"]),
            "message": ["refugee-outflow surge: " + d for d in ev["detail"]],
        },
        columns=FIRING_COLUMNS,
    )


def _watch_wide(inputs: Inputs, column: str) -> pd.DataFrame:
    w = inputs.watch
    if w.empty:
        return pd.DataFrame()
    out = w.pivot_table(index="region_id", columns="year", values=column, aggfunc="first")
    out.columns = out.columns.astype(int)
    return out.reindex(columns=range(int(out.columns.min()), int(out.columns.max()) + 1))


def fire_watchlist_enters_top(inputs: Inputs, params: dict[str, Any], minimum: float | None) -> pd.DataFrame:
    """Rank <= top_n in year Y, and not in the top_n (or not ranked) in Y-1 while Y-1 has a list."""
    rank = _watch_wide(inputs, "rank")
    if rank.empty:
        return pd.DataFrame(columns=FIRING_COLUMNS)
    top = int(params.get("top_n", 15))
    prev = rank.shift(1, axis=1)
    year_listed = rank.notna().any(axis=0)
    prev_year_listed = year_listed.shift(1, fill_value=False)
    mask = (rank <= top) & (prev.isna() | (prev > top))
    mask = mask & pd.DataFrame(
        [prev_year_listed.to_numpy()] * len(rank), index=rank.index, columns=rank.columns
    )
    thresh = pd.DataFrame(float(top), index=rank.index, columns=rank.columns)
    return _firings(
        mask,
        rank,
        thresh,
        lambda r, y, v, t: f"enters the top {top} of the crisis watch list in {y} (rank {v:.0f})",
    )


def fire_watchlist_jump(inputs: Inputs, params: dict[str, Any], minimum: float | None) -> pd.DataFrame:
    """Score change Y-1 -> Y above the ``quantile`` of the population's own earlier yearly changes (the pooled
    earlier changes of all populations where it has fewer than ``min_history``): only years before Y are used.
    """
    score = _watch_wide(inputs, "score")
    if score.empty:
        return pd.DataFrame(columns=FIRING_COLUMNS)
    q, min_history = float(params.get("quantile", 0.9)), int(params.get("min_history", 5))
    change = score - score.shift(1, axis=1)
    thresh = pd.DataFrame(np.nan, index=change.index, columns=change.columns)
    for y in change.columns:
        past = change.loc[:, change.columns < y]
        if past.notna().sum().sum() < min_history:
            continue
        pooled = float(np.nanquantile(past.to_numpy(), q))
        own_n = past.notna().sum(axis=1)
        own_q = past.quantile(q, axis=1)
        thresh[y] = np.where(own_n >= min_history, own_q, pooled)
    mask = change.notna() & thresh.notna() & (change > thresh) & (change > 0) & (change >= (minimum or 0))
    return _firings(
        mask,
        change,
        thresh,
        lambda r, y, v, t: (
            f"watch-list score up {v:+.2f} in {y} (log scale), above its {q:.0%} yearly change ({t:+.2f})"
        ),
    )


def fire_above_previous_upper(inputs: Inputs, params: dict[str, Any], minimum: float | None) -> pd.DataFrame:
    """Deployed model: estimate for Y above the upper bound predicted for Y-1."""
    p = inputs.predictions
    if p.empty:
        return pd.DataFrame(columns=FIRING_COLUMNS)
    est = p.pivot_table(index="region_id", columns="year", values="estimate", aggfunc="first")
    upper = p.pivot_table(index="region_id", columns="year", values="upper", aggfunc="first")
    prev_upper = upper.shift(1, axis=1)
    mask = est.notna() & prev_upper.notna() & (est > prev_upper) & (est >= (minimum or 0))
    return _firings(
        mask,
        est,
        prev_upper,
        lambda r, y, v, t: (
            f"predicted {v:.2f} detected victims per 100k for {y}, "
            f"above the previous year's upper bound {t:.2f}"
        ),
    )


FIRE = {
    "new_maximum": fire_new_maximum,
    "outflow_surge": fire_outflow_surge,
    "watchlist_enters_top": fire_watchlist_enters_top,
    "watchlist_jump": fire_watchlist_jump,
    "above_previous_upper": fire_above_previous_upper,
}


def apply_cooldown(firings: pd.DataFrame, cooldown_years: int) -> pd.DataFrame:
    """Keep a firing only if the same region has no kept firing in the ``cooldown_years`` years before it."""
    if firings.empty or cooldown_years <= 0:
        return firings.reset_index(drop=True)
    keep = []
    for _, grp in firings.sort_values(["region_id", "period"]).groupby("region_id", sort=False):
        last = None
        for idx, period in zip(grp.index, grp["period"], strict=True):
            if last is None or period - last > cooldown_years:
                keep.append(idx)
                last = period
    return firings.loc[
        sorted(keep, key=lambda i: (firings.at[i, "region_id"], firings.at[i, "period"]))
    ].reset_index(drop=True)


def rule_firings(rule: dict[str, Any], inputs: Inputs) -> pd.DataFrame:
    """Every firing of one rule over the whole history, in scope, after the cool-down."""
    params = rule.get("params_json", rule.get("params")) or {}
    out = FIRE[rule["condition"]](inputs, params, rule.get("minimum"))
    scope = parse_scope(rule.get("region_scope") or "*")
    if scope is not None:
        out = out[out["region_id"].isin(scope)]
    return apply_cooldown(out, int(rule.get("cooldown_years") or 0))


# --- evaluation


def evaluate(
    engine: Engine,
    trigger: str = "cli",
    actor: str = "system",
    inputs: Inputs | None = None,
    recent_periods: int = RECENT_PERIODS,
) -> dict[str, Any]:
    """Evaluate every enabled rule and store new firings of the newest periods as pending alerts
    (idempotent)."""
    seed_starter_rules(engine)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        evaluation_id = inserted_id(
            conn.execute(
                alert_evaluation.insert().values(
                    trigger=trigger[:40], requested_by=actor[:120], started_at=now, status="running"
                )
            )
        )
    try:
        inputs = inputs or Inputs.from_warehouse(engine)
        with engine.connect() as conn:
            known = {r for (r,) in conn.execute(select(region.c.region_id).where(region.c.level == 0))}
        n_fired = n_new = 0
        per_rule = []
        for rule in list_rules(engine, enabled_only=True):
            firings = rule_firings(rule, inputs)
            firings = firings[firings["region_id"].isin(known)]
            if firings.empty:
                per_rule.append({"rule": rule["name"], "fired": 0, "new": 0})
                continue
            newest = int(firings["period"].max())
            recent = firings[firings["period"] > newest - recent_periods]
            new = _store(engine, rule, recent, evaluation_id)
            n_fired += len(recent)
            n_new += new
            per_rule.append({"rule": rule["name"], "fired": len(recent), "new": new, "newest_period": newest})
        message = "; ".join(f"{r['rule']}: {r['fired']} firing(s), {r['new']} new" for r in per_rule)
        _finish(engine, evaluation_id, "succeeded", n_fired, n_new, message)
        log.info("alerts evaluation %s (%s): %s", evaluation_id, trigger, message)
        return {"evaluation_id": evaluation_id, "n_fired": n_fired, "n_new": n_new, "rules": per_rule}
    except Exception as exc:
        _finish(engine, evaluation_id, "failed", None, None, f"{type(exc).__name__}: {exc}")
        raise


def _finish(
    engine: Engine, evaluation_id: int, status: str, n_fired: int | None, n_new: int | None, message: str
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(alert_evaluation)
            .where(alert_evaluation.c.evaluation_id == evaluation_id)
            .values(
                status=status,
                finished_at=dt.datetime.now(dt.UTC),
                n_fired=n_fired,
                n_new=n_new,
                message=message[:4000],
            )
        )


def dedup_key(rule_id: int, region_id: str, period: int) -> str:
    return f"{rule_id}:{region_id}:{period}"


def _store(engine: Engine, rule: dict[str, Any], firings: pd.DataFrame, evaluation_id: int) -> int:
    """Insert the firings not stored yet, honouring the cool-down against stored alerts; returns how many."""
    cooldown = int(rule["cooldown_years"] or 0)
    added = 0
    now = dt.datetime.now(dt.UTC)
    for f in firings.itertuples(index=False):
        key = dedup_key(rule["rule_id"], f.region_id, int(f.period))
        try:
            with engine.begin() as conn:  # one small transaction per firing
                if conn.execute(select(alert.c.alert_id).where(alert.c.dedup_key == key)).first():
                    continue
                # an earlier alert of this rule and region within the cool-down (stored from older data) also
                # holds
                near = conn.execute(
                    select(alert.c.alert_id).where(
                        alert.c.rule_id == rule["rule_id"],
                        alert.c.region_id == f.region_id,
                        alert.c.period < int(f.period),
                        alert.c.period >= int(f.period) - cooldown,
                    )
                ).first()
                if near:
                    continue
                conn.execute(
                    alert.insert().values(
                        rule_id=rule["rule_id"],
                        region_id=f.region_id,
                        period=int(f.period),
                        dedup_key=key,
                        status="pending",
                        value=_num(f.value),
                        threshold=_num(f.threshold),
                        message=f.message,
                        evidence_json={
                            "rule": rule["name"],
                            "condition": rule["condition"],
                            "params": rule["params_json"],
                            "minimum": rule["minimum"],
                        },
                        created_at=now,
                        evaluation_id=evaluation_id,
                    )
                )
            added += 1
        except IntegrityError:  # a concurrent evaluation stored it first: still exactly one
            continue
    return added


# --- review


def list_alerts(
    engine: Engine,
    status: str | None = "confirmed",
    region_id: str | None = None,
    rule: str | None = None,
    limit: int = 500,
    alert_id: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts with their rule name and region name, newest first."""
    stmt = (
        select(alert, alert_rule.c.name.label("rule"), region.c.name.label("region_name"))
        .join(alert_rule, alert_rule.c.rule_id == alert.c.rule_id)
        .join(region, region.c.region_id == alert.c.region_id)
    )
    if alert_id is not None:
        stmt = stmt.where(alert.c.alert_id == alert_id)
    if status:
        stmt = stmt.where(alert.c.status == status)
    if region_id:
        stmt = stmt.where(alert.c.region_id == region_id)
    if rule:
        stmt = stmt.where(alert_rule.c.name == rule)
    stmt = stmt.order_by(alert.c.period.desc(), alert.c.alert_id.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def get_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    rows = list_alerts(engine, status=None, alert_id=alert_id, limit=1)
    return rows[0] if rows else None


class ReviewError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def review(
    engine: Engine, alert_id: int, decision: str, note: str, actor: str, client: str | None = None
) -> dict[str, Any]:
    """pending -> confirmed or dismissed, with a note (required); audited. A decided alert cannot be
    re-decided."""
    if decision not in ("confirmed", "dismissed"):
        raise ReviewError(400, "decision: 'confirmed' or 'dismissed'")
    note = (note or "").strip()
    if not note:
        raise ReviewError(400, "note: say why (it is kept as a label for the rule's precision)")
    with engine.begin() as conn:
        changed = conn.execute(
            update(alert)
            .where(alert.c.alert_id == alert_id, alert.c.status == "pending")
            .values(
                status=decision,
                reviewed_by=actor[:120],
                reviewed_at=dt.datetime.now(dt.UTC),
                review_note=note[:4000],
            )
        ).rowcount
        if not changed:
            exists = conn.execute(select(alert.c.status).where(alert.c.alert_id == alert_id)).scalar()
    if not changed:
        accounts.audit(
            engine,
            actor,
            "alert review",
            "refused",
            f"alert {alert_id}",
            "unknown alert" if exists is None else f"already {exists}",
            client,
        )
        if exists is None:
            raise ReviewError(404, f"unknown alert {alert_id}")
        raise ReviewError(409, f"alert {alert_id} is already {exists}")
    accounts.audit(
        engine, actor, "alert review", "ok", f"alert {alert_id}", f"{decision}: {note[:500]}", client
    )
    return get_alert(engine, alert_id)  # type: ignore[return-value]


def precision(engine: Engine) -> list[dict[str, Any]]:
    """Per rule: reviewed alerts, confirmed share (the analysts' labels)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(alert_rule.c.name, alert.c.status, func.count())
            .join(alert, alert.c.rule_id == alert_rule.c.rule_id)
            .group_by(alert_rule.c.name, alert.c.status)
        ).all()
    out: dict[str, dict[str, int]] = {}
    for name, status, n in rows:
        out.setdefault(name, {"pending": 0, "confirmed": 0, "dismissed": 0})[status] = int(n)
    return [
        {
            "rule": k,
            **v,
            "precision": (
                v["confirmed"] / (v["confirmed"] + v["dismissed"])
                if v["confirmed"] + v["dismissed"]
                else None
            ),
        }
        for k, v in out.items()
    ]


# --- backtest


def wilson(hits: int, n: int, z: float = 1.645) -> tuple[float | None, float | None]:
    """90% Wilson interval of a proportion (honest for small n)."""
    if n == 0:
        return None, None
    p = hits / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def backtest_rule(rule: dict[str, Any], inputs: Inputs, labels: pd.DataFrame) -> dict[str, Any]:
    """How often the rule fired over the history, and the share followed by a rise of the population's
    nationals
    detected abroad within three years (realised change > 0), beside the base rate."""
    firings = rule_firings(rule, inputs)
    lab = labels.rename(columns={"origin": "region_id", "year": "period"})[["region_id", "period", "change"]]
    joined = firings.merge(lab, on=["region_id", "period"], how="inner")
    hits = int((joined["change"] > 0).sum())
    n = len(joined)
    base = float((labels["change"] > 0).mean()) if len(labels) else None
    lo, hi = wilson(hits, n)
    out = {
        "rule": rule["name"],
        "fired": int(len(firings)),
        "periods": [int(firings["period"].min()), int(firings["period"].max())] if len(firings) else None,
        "n_with_outcome": n,
        "hits": hits,
        "hit_rate": hits / n if n else None,
        "hit_rate_interval": [lo, hi],
        "base_rate": base,
        "mean_change": float(joined["change"].mean()) if n else None,
    }
    if n == 0:
        out["sentence"] = (
            f"fired {len(firings)} times; none has a measured outcome (the citizenship pairs cover "
            "origin years with three later reporting years only)"
        )
    else:
        out["sentence"] = (
            f"fired {len(firings)} times; of {n} firings with a measured outcome, {hits} "
            f"({hits / n:.0%}, 90% interval {lo:.0%}-{hi:.0%}) were followed by a rise of nationals "
            f"detected abroad within {HIT_HORIZON} years (base rate {base:.0%})"
        )
    return out


def backtest_all(engine: Engine, inputs: Inputs | None = None) -> list[dict[str, Any]]:
    """The backtest of every rule (enabled or not), with the realised-change labels of the watch list."""
    from models import watchlist

    seed_starter_rules(engine)
    inputs = inputs or Inputs.from_warehouse(engine)
    pairs, census = watchlist.read_pairs(engine)
    labels = (
        watchlist.realised_change(pairs, census)
        if len(pairs)
        else pd.DataFrame(columns=["origin", "year", "change", "n_detecting"])
    )
    return [backtest_rule(r, inputs, labels) for r in list_rules(engine)]


def store_backtest(engine: Engine, evaluation_id: int, backtest: list[dict[str, Any]]) -> None:
    """Keep the backtest with the evaluation that computed it (the Alerts page shows the newest)."""
    with engine.begin() as conn:
        conn.execute(
            update(alert_evaluation)
            .where(alert_evaluation.c.evaluation_id == evaluation_id)
            .values(backtest_json=_clean(backtest))
        )


def latest_backtest(engine: Engine) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The newest stored backtest and its evaluation row ([], None if none)."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(alert_evaluation)
                .where(alert_evaluation.c.backtest_json.is_not(None))
                .order_by(alert_evaluation.c.evaluation_id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    if row is None:
        return [], None
    return list(row["backtest_json"] or []), dict(row)


def latest_evaluation(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(alert_evaluation).order_by(alert_evaluation.c.evaluation_id.desc()).limit(1))
            .mappings()
            .first()
        )
    return dict(row) if row else None
