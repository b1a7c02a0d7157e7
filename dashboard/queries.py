"""Read-only query layer of the dashboard and the API, cached per warehouse version.

The cache key is the deployed run id plus the ids of the current source loads, so deploying a model or
loading a source invalidates every cached answer. The version itself is re-read at most every
``ttl_s`` seconds. Cached frames are shared: callers must treat them as read-only (copy to modify).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from dashboard import watch
from warehouse.schema import (
    explanation,
    indicator,
    model_run,
    observation,
    prediction,
    region,
    rejected_row,
    source_load,
)

log = logging.getLogger(__name__)

# Indicators shown on the priorities page and the region page (codes from the ETL's catalogue).
REFUGEES_ORIGIN = "displacement.refugees_by_origin"
REFUGEES_HOSTED = "displacement.refugees_hosted"
IDP_CODES = ("displacement.idmc_conflict_idps", "displacement.conflict_idps_stock")
FTS_REQUIREMENTS = "response.fts_requirements_usd"
FTS_FUNDING = "response.fts_funding_usd"
FTS_COVERAGE = "response.fts_coverage_pct"
VICTIMS_DETECTED = "trafficking.victims_detected"
POPULATION = "structural.population"
PRIORITY_INDICATORS = (
    REFUGEES_ORIGIN,
    REFUGEES_HOSTED,
    *IDP_CODES,
    FTS_REQUIREMENTS,
    FTS_FUNDING,
    FTS_COVERAGE,
    POPULATION,
)
DRIVER_FAMILIES = ("displacement", "conflict", "detection")
DRIVER_INDICATORS = (  # shown first on the region page when a region has them
    REFUGEES_ORIGIN,
    REFUGEES_HOSTED,
    *IDP_CODES,
    "displacement.idps_unhcr",
    "conflict.deaths_organised_violence",
    "conflict.battle_deaths",
    "conflict.deaths",
    "detection.persons_prosecuted",
    "detection.persons_convicted",
)
MAX_LAG_YEARS = 2  # priorities: use the latest value at most this many years before the selected year

PREDICTION_FIELDS = [
    "region_id",
    "region_name",
    "iso3",
    "parent_id",
    "level",
    "year",
    "risk_score",
    "risk_band",
    "rank",
    "estimate_per_100k",
    "lower_per_100k",
    "upper_per_100k",
    "label_per_100k",
    "method",
    "has_subnational_data",
    "basis",
    "horizon",
    "label_year",
    "conflict_year",
    "displacement_year",
    "small_population",
    "score_change",
    "estimate_change",
]


def detected_basis_columns(table) -> list:
    """Issue 10's staleness columns of the prediction table (migration 0006): basis, horizon and input
    years."""
    return [
        table.c[c]
        for c in ("basis", "horizon", "label_year", "conflict_year", "displacement_year", "small_population")
    ]


class Queries:
    """All warehouse reads of the dashboard, memoised per warehouse version."""

    def __init__(self, engine: Engine, ttl_s: float = 5.0, max_entries: int = 512) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._version: tuple | None = None
        self._version_at = 0.0
        self._inflight: dict[tuple, threading.Event] = {}  # key -> set when its one computation ends
        self.hits = 0
        self.misses = 0
        self.waits = 0

    # --- cache -----------------------------------------------------------------------------------
    def version(self) -> tuple:
        """(deployed run id, current load ids); re-read at most every ``ttl_s`` seconds."""
        now = time.monotonic()
        with self._lock:
            if self._version is not None and now - self._version_at < self.ttl_s:
                return self._version
        with self.engine.connect() as conn:
            run = conn.execute(
                select(model_run.c.run_id)
                .where(model_run.c.status == "deployed")
                .order_by(model_run.c.deployed_at.desc())
            ).first()
            loads = tuple(
                r[0]
                for r in conn.execute(
                    select(source_load.c.load_id)
                    .where(source_load.c.status == "loaded")
                    .order_by(source_load.c.load_id)
                )
            )
        version = (run[0] if run else None, loads)
        with self._lock:
            if version != self._version:
                self._cache.clear()
            self._version, self._version_at = version, now
        return version

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._version = None

    def _cached(self, name: str, args: tuple, fn: Callable[[], Any]) -> Any:
        """The cached value, computed at most once at a time per key (single flight).

        After a promote the cache is cold; 50 clients asking for the same answer used to compute it 50 times
        at once (p95 5.3 s, issue 9 #12). Now the first computes it and the others wait for its result.
        """
        key = (self.version(), name, args)
        while True:
            with self._lock:
                if key in self._cache:
                    self.hits += 1
                    self._cache.move_to_end(key)
                    return self._cache[key]
                pending = self._inflight.get(key)
                owner = pending is None
                if owner:
                    pending = self._inflight[key] = threading.Event()
                else:
                    self.waits += 1
            if not owner:
                pending.wait(120)  # then read the value, or compute it if that computation failed
                continue
            try:
                self.misses += 1
                value = fn()
                with self._lock:
                    self._cache[key] = value
                    while len(self._cache) > self.max_entries:
                        self._cache.popitem(last=False)
                return value
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
                pending.set()

    def cached(self, name: str, args: tuple, compute: Callable[[], Any]) -> Any:
        """Memoise any answer per warehouse version under (name, args): for callers outside this class (the
        API's
        rendered JSON answers), with the same single-flight rule as the queries here."""
        return self._cached(name, args, compute)

    def warm(self) -> int:
        """Compute the answers every page opens with, for the current version (call after a promote, before
        answering it, so the first clients find them ready). Returns how many steps ran; failures are logged.
        """
        steps: list[Callable[[], Any]] = [
            self.deployed_run,
            self.runs,
            lambda: self.regions(0),
            lambda: self.regions(1),
            self.region_names,
            self.indicators,
            lambda: self.level_predictions(0),
            lambda: self.level_predictions(1),
            self.source_summary,
        ]
        done = 0
        for step in steps:
            try:
                step()
                done += 1
            except Exception:  # noqa: BLE001 - warming is an optimisation; the request path still computes
                log.warning("cache warm-up step failed", exc_info=True)
        years = self.years(0) if done else []
        if years:
            year = max(years)
            for step in (
                lambda: self.map_values(0, year),
                lambda: self.map_values(1, year),
                lambda: self.priorities(year, 0),
                lambda: self.top_drivers(year),
            ):
                try:
                    step()
                    done += 1
                except Exception:  # noqa: BLE001
                    log.warning("cache warm-up step failed", exc_info=True)
        return done

    def _frame(self, stmt, columns: list[str] | None = None) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(stmt)
            cols = columns or list(result.keys())
            return pd.DataFrame(result.all(), columns=cols)

    # --- model runs ------------------------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        return self.version()[0]

    def deployed_run(self) -> dict | None:
        """The deployed model_run row as a dict (``metadata`` and ``metrics`` parsed), or None."""
        run_id = self.run_id
        if run_id is None:
            return None
        return self._cached("deployed_run", (), lambda: self._run_row(run_id))

    def scenario_model(self):
        """The what-if engine's inputs for the deployed run (issue 15): loaded once per run and process by
        models.scenarios_store (raises models.registry.RegistryError when no run is deployed)."""
        from models.scenarios_store import load_scenario_model

        return load_scenario_model(self.engine, self.run_id)

    def _run_row(self, run_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(model_run).where(model_run.c.run_id == run_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["metadata"] = out.pop("metadata_json") or {}
        out["metrics"] = out.pop("metrics_json") or out["metadata"].get("metrics", {}) or {}
        return out

    def runs(self) -> pd.DataFrame:
        def load() -> pd.DataFrame:
            frame = self._frame(
                select(
                    model_run.c.run_id,
                    model_run.c.created_at,
                    model_run.c.status,
                    model_run.c.level,
                    model_run.c.deployed_at,
                    model_run.c.artefact_sha256,
                    model_run.c.metadata_json,
                    model_run.c.metrics_json,
                ).order_by(model_run.c.created_at.desc())
            )
            rows = []
            for r in frame.itertuples():
                meta = r.metadata_json or {}
                metrics = r.metrics_json or {}
                gate = metrics.get("gate", {}) or {}
                pooled = {p.get("model"): p for p in metrics.get("backtest_pooled", []) or []}
                # the run's own candidate (older runs deployed plain xgboost)
                xgb = pooled.get(meta.get("variant") or "xgboost") or pooled.get("xgboost", {})
                window = meta.get("training_window") or [None, None]
                rows.append(
                    {
                        "run_id": r.run_id,
                        "status": r.status,
                        "created_at": _iso(r.created_at),
                        "deployed_at": _iso(r.deployed_at),
                        "level": r.level,
                        "variant": meta.get("variant"),
                        "training_window": f"{window[0]}–{window[1]}" if window[0] else None,
                        "rmsle": xgb.get("rmsle"),
                        "spearman": xgb.get("spearman"),
                        "coverage80": xgb.get("coverage80"),
                        "gate_passed": gate.get("passed"),
                        "artefact_sha256": (r.artefact_sha256 or "")[:12],
                    }
                )
            return pd.DataFrame(
                rows,
                columns=[
                    "run_id",
                    "status",
                    "created_at",
                    "deployed_at",
                    "level",
                    "variant",
                    "training_window",
                    "rmsle",
                    "spearman",
                    "coverage80",
                    "gate_passed",
                    "artefact_sha256",
                ],
            )

        return self._cached("runs", (), load)

    # --- regions ---------------------------------------------------------------------------------
    def regions(self, level: int | None = None) -> pd.DataFrame:
        def load() -> pd.DataFrame:
            stmt = select(
                region.c.region_id,
                region.c.level,
                region.c.iso3,
                region.c.parent_id,
                region.c.name,
                region.c.type,
                region.c.area_km2,
                region.c.label_lon,
                region.c.label_lat,
                (region.c.geometry_wkb.is_not(None)).label("has_geometry"),
            )
            if level is not None:
                stmt = stmt.where(region.c.level == level)
            return self._frame(stmt.order_by(region.c.region_id))

        return self._cached("regions", (level,), load)

    def region(self, region_id: str) -> dict | None:
        frame = self.regions()
        hit = frame[frame["region_id"] == region_id]
        if hit.empty:
            return None
        out = hit.iloc[0].to_dict()
        if out.get("parent_id"):
            parent = frame[frame["region_id"] == out["parent_id"]]
            out["parent_name"] = parent["name"].iloc[0] if len(parent) else out["parent_id"]
        return out

    def region_names(self) -> dict[str, str]:
        return self._cached(
            "region_names",
            (),
            lambda: dict(zip(self.regions()["region_id"], self.regions()["name"], strict=True)),
        )

    # --- predictions -----------------------------------------------------------------------------
    def years(self, level: int = 0) -> list[int]:
        """Every year the deployed run predicts at ``level`` (ascending)."""
        frame = self.level_predictions(level)
        return sorted(int(y) for y in frame["year"].unique())

    def level_predictions(self, level: int) -> pd.DataFrame:
        """All predictions of the deployed run at one level, with names and change since the year before."""
        run_id = self.run_id

        def load() -> pd.DataFrame:
            if run_id is None:
                return pd.DataFrame(columns=PREDICTION_FIELDS)
            stmt = (
                select(
                    prediction.c.region_id,
                    region.c.name.label("region_name"),
                    region.c.iso3,
                    region.c.parent_id,
                    prediction.c.level,
                    prediction.c.year,
                    prediction.c.risk_score,
                    prediction.c.risk_band,
                    prediction.c.rank,
                    prediction.c.estimate_per_100k,
                    prediction.c.lower_per_100k,
                    prediction.c.upper_per_100k,
                    prediction.c.label_per_100k,
                    prediction.c.method,
                    prediction.c.has_subnational_data,
                    *detected_basis_columns(prediction),
                )
                .join(region, region.c.region_id == prediction.c.region_id)
                .where(prediction.c.run_id == run_id, prediction.c.level == level)
                .order_by(prediction.c.region_id, prediction.c.year)
            )
            frame = self._frame(stmt)
            return add_changes(frame)

        return self._cached("level_predictions", (level,), load)

    def predictions(
        self,
        level: int | None = 0,
        year: int | None = None,
        region_ids: Iterable[str] | None = None,
        parent: str | None = None,
    ) -> pd.DataFrame:
        levels = [level] if level is not None else [0, 1]
        frames = [self.level_predictions(lv) for lv in levels]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        mask = pd.Series(True, index=frame.index)
        if year is not None:
            mask &= frame["year"] == year
        if region_ids is not None:
            mask &= frame["region_id"].isin(list(region_ids))
        if parent is not None:
            mask &= frame["parent_id"] == parent
        return frame[mask].reset_index(drop=True)

    def region_predictions(self, region_id: str) -> pd.DataFrame:
        info = self.region(region_id)
        if info is None:
            return pd.DataFrame(columns=PREDICTION_FIELDS)
        return self.predictions(level=int(info["level"]), region_ids=[region_id])

    def map_values(self, level: int, year: int, parent: str | None = None) -> pd.DataFrame:
        """Predictions for one year with the top-3 drivers as text, for the map and its hover."""

        def load() -> pd.DataFrame:
            frame = self.predictions(level=level, year=year, parent=parent).copy()
            drivers = self.top_drivers(year)
            key = frame["region_id"] if level == 0 else frame["parent_id"]
            frame["drivers"] = [drivers.get(k, "") for k in key]
            return frame

        return self._cached("map_values", (level, year, parent), load)

    def map_locations(self, level: int, parent: str | None = None) -> list[str]:
        """Every region with a prediction in any year (fixed across years so a period change patches
        values)."""
        frame = self.level_predictions(level)
        if parent is not None:
            frame = frame[frame["parent_id"] == parent]
        return sorted(frame["region_id"].unique().tolist())

    def admin1_parents(self) -> list[str]:
        """Countries that have admin-1 predictions."""
        frame = self.level_predictions(1)
        return sorted(frame["parent_id"].dropna().unique().tolist())

    # --- explanations ----------------------------------------------------------------------------
    def explanations(self, region_id: str | None = None, year: int | None = None) -> pd.DataFrame:
        run_id = self.run_id

        def load() -> pd.DataFrame:
            cols = ["region_id", "year", "feature", "family", "value", "feature_value"]
            if run_id is None:
                return pd.DataFrame(columns=cols)
            stmt = select(
                explanation.c.region_id,
                explanation.c.year,
                explanation.c.feature,
                explanation.c.family,
                explanation.c.value,
                explanation.c.feature_value,
            ).where(explanation.c.run_id == run_id)
            if region_id is not None:
                stmt = stmt.where(explanation.c.region_id == region_id)
            if year is not None:
                stmt = stmt.where(explanation.c.year == year)
            return self._frame(
                stmt.order_by(explanation.c.region_id, explanation.c.year, explanation.c.feature)
            )

        return self._cached("explanations", (region_id, year), load)

    def top_drivers(self, year: int, n: int = 3) -> dict[str, str]:
        """region_id -> '+ feature<br>- feature...' (largest |SHAP| first), for the map hover.

        ASCII only and short labels: this text is part of every period change sent to the browser.
        """

        def load() -> dict[str, str]:
            frame = self.explanations(year=year)
            frame = frame[frame["feature"] != "__bias__"]
            if frame.empty:
                return {}
            frame = frame.assign(abs=frame["value"].abs()).sort_values(
                ["region_id", "abs"], ascending=[True, False]
            )
            top = frame.groupby("region_id", sort=False).head(n)
            labels = {f: short_label(f) for f in top["feature"].unique()}
            out: dict[str, list[str]] = {}
            for rid, feat, val in zip(top["region_id"], top["feature"], top["value"], strict=True):
                out.setdefault(rid, []).append(("+ " if val >= 0 else "- ") + labels[feat])
            return {k: "<br>".join(v) for k, v in out.items()}

        return self._cached("top_drivers", (year, n), load)

    def feature_labels(self) -> dict[str, str]:
        run = self.deployed_run()
        meta = (run or {}).get("metadata", {})
        feats = list(meta.get("features", []))
        expl_feats = self.explanations(year=None)["feature"].unique().tolist() if not feats else []
        return {f: feature_label(f) for f in feats + expl_feats}

    # --- observations and indicators -------------------------------------------------------------
    def indicators(self) -> pd.DataFrame:
        return self._cached(
            "indicators", (), lambda: self._frame(select(indicator).order_by(indicator.c.code))
        )

    def observations(self, region_id: str, indicators: Iterable[str] | None = None) -> pd.DataFrame:
        codes = tuple(sorted(indicators)) if indicators is not None else None

        def load() -> pd.DataFrame:
            stmt = (
                select(
                    observation.c.indicator,
                    observation.c.period_start,
                    observation.c.period_type,
                    observation.c.source,
                    observation.c.value,
                    observation.c.censored,
                    indicator.c.family,
                    indicator.c.unit,
                    indicator.c.description,
                )
                .join(indicator, indicator.c.code == observation.c.indicator)
                .where(observation.c.region_id == region_id, observation.c.period_type == "year")
            )
            if codes is not None:
                stmt = stmt.where(observation.c.indicator.in_(codes))
            frame = self._frame(stmt.order_by(observation.c.indicator, observation.c.period_start))
            frame["year"] = pd.to_datetime(frame["period_start"]).dt.year.astype(int) if len(frame) else []
            return frame

        return self._cached("observations", (region_id, codes), load)

    def indicator_series(
        self, region_id: str | None, indicator_code: str | None, year_from: int | None, year_to: int | None
    ) -> pd.DataFrame:
        stmt = select(
            observation.c.region_id,
            observation.c.indicator,
            observation.c.period_start,
            observation.c.period_type,
            observation.c.source,
            observation.c.value,
            observation.c.censored,
        ).order_by(observation.c.region_id, observation.c.indicator, observation.c.period_start)
        if region_id:
            stmt = stmt.where(observation.c.region_id == region_id)
        if indicator_code:
            stmt = stmt.where(observation.c.indicator == indicator_code)
        if year_from is not None:
            stmt = stmt.where(observation.c.period_start >= pd.Timestamp(year_from, 1, 1).date())
        if year_to is not None:
            stmt = stmt.where(observation.c.period_start <= pd.Timestamp(year_to, 12, 31).date())
        args = (region_id, indicator_code, year_from, year_to)
        return self._cached("indicator_series", args, lambda: self._frame(stmt.limit(200_000)))

    def coverage(self, region_id: str) -> pd.DataFrame:
        """Per indicator for one region: family, source, first and last year, count, last load time."""

        def load() -> pd.DataFrame:
            stmt = (
                select(
                    observation.c.indicator,
                    indicator.c.family,
                    observation.c.source,
                    func.min(observation.c.period_start).label("first"),
                    func.max(observation.c.period_start).label("last"),
                    func.count().label("n"),
                    func.max(source_load.c.finished_at).label("loaded_at"),
                )
                .join(indicator, indicator.c.code == observation.c.indicator)
                .join(source_load, source_load.c.load_id == observation.c.load_id)
                .where(observation.c.region_id == region_id)
                .group_by(observation.c.indicator, indicator.c.family, observation.c.source)
                .order_by(indicator.c.family, observation.c.indicator)
            )
            frame = self._frame(stmt)
            if len(frame):
                frame["first"] = pd.to_datetime(frame["first"]).dt.year
                frame["last"] = pd.to_datetime(frame["last"]).dt.year
                frame["loaded_at"] = frame["loaded_at"].map(_iso)
            return frame

        return self._cached("coverage", (region_id,), load)

    def latest_values(
        self, codes: Iterable[str], year: int, level: int, max_lag: int = MAX_LAG_YEARS
    ) -> pd.DataFrame:
        """Wide frame region_id x indicator: the latest value in [year - max_lag, year], plus its year."""
        codes = tuple(sorted(codes))

        def load() -> pd.DataFrame:
            stmt = (
                select(
                    observation.c.region_id,
                    observation.c.indicator,
                    observation.c.period_start,
                    observation.c.value,
                )
                .join(region, region.c.region_id == observation.c.region_id)
                .where(
                    observation.c.indicator.in_(codes),
                    observation.c.period_type == "year",
                    region.c.level == level,
                    observation.c.period_start >= pd.Timestamp(year - max_lag, 1, 1).date(),
                    observation.c.period_start <= pd.Timestamp(year, 1, 1).date(),
                )
            )
            frame = self._frame(stmt)
            if frame.empty:
                return pd.DataFrame(columns=["region_id"])
            frame["year"] = pd.to_datetime(frame["period_start"]).dt.year
            frame = frame.sort_values("year").groupby(["region_id", "indicator"]).tail(1)
            values = frame.pivot(index="region_id", columns="indicator", values="value")
            years = frame.pivot(index="region_id", columns="indicator", values="year").add_suffix("@year")
            return values.join(years).reset_index()

        return self._cached("latest_values", (codes, year, level, max_lag), load)

    def priorities(self, year: int, level: int = 0) -> pd.DataFrame:
        """The donor table: predictions for one year with displacement and FTS funding beside them."""

        def load() -> pd.DataFrame:
            pred = self.predictions(level=level, year=year)
            cols = [
                "region_id",
                "region_name",
                "iso3",
                "parent_id",
                "year",
                "rank",
                "risk_score",
                "risk_band",
                "estimate_per_100k",
                "lower_per_100k",
                "upper_per_100k",
                "score_change",
                "method",
            ]
            frame = pred[cols].copy()
            if level == 1:
                names = self.region_names()
                frame.insert(3, "country", frame["parent_id"].map(names))
            extra = self.latest_values(PRIORITY_INDICATORS, year, level)
            frame = frame.merge(extra, on="region_id", how="left")
            for code in PRIORITY_INDICATORS:
                if code not in frame:
                    frame[code] = float("nan")
            idp = frame[IDP_CODES[0]].where(frame[IDP_CODES[0]].notna(), frame[IDP_CODES[1]])
            disp_years = [
                c
                for c in (
                    f"{REFUGEES_ORIGIN}@year",
                    f"{REFUGEES_HOSTED}@year",
                    f"{IDP_CODES[0]}@year",
                    f"{IDP_CODES[1]}@year",
                )
                if c in frame
            ]
            fts_years = [c for c in (f"{FTS_REQUIREMENTS}@year", f"{FTS_FUNDING}@year") if c in frame]
            out = frame[[c for c in cols if c != "parent_id"] + (["country"] if level == 1 else [])].copy()
            out["population"] = frame[POPULATION] if level == 0 else float("nan")
            out["reporting_history"] = (
                frame["method"]
                .map(
                    {
                        "model": "reported",
                        "model_no_label_history": "never: extrapolated",
                        "exposure_downscaled": "downscaled from country",
                    }
                )
                .fillna(frame["method"])
            )
            out = out.drop(columns=["method"])
            out["refugees_origin"] = frame[REFUGEES_ORIGIN]
            out["refugees_hosted"] = frame[REFUGEES_HOSTED]
            out["idps"] = idp
            out["displacement_data_year"] = frame[disp_years].max(axis=1) if disp_years else float("nan")
            out["fts_requirements_usd"] = frame[FTS_REQUIREMENTS]
            out["fts_funding_usd"] = frame[FTS_FUNDING]
            cov = frame[FTS_COVERAGE]
            computed = 100 * frame[FTS_FUNDING] / frame[FTS_REQUIREMENTS].where(frame[FTS_REQUIREMENTS] > 0)
            out["fts_coverage_pct"] = cov.where(cov.notna(), computed)
            out["fts_year"] = frame[fts_years].max(axis=1) if fts_years else float("nan")
            return out.sort_values(["rank", "region_id"], na_position="last").reset_index(drop=True)

        return self._cached("priorities", (year, level), load)

    # --- sources ---------------------------------------------------------------------------------
    def source_summary(self) -> pd.DataFrame:
        """One row per source: registry info, years, observation rows, last load, rejected rows."""

        def load() -> pd.DataFrame:
            from etl.sources import all_sources

            loads = self._frame(
                select(
                    source_load.c.source,
                    func.count().label("files"),
                    func.sum(source_load.c.rows_read).label("rows_read"),
                    func.sum(source_load.c.rows_loaded).label("rows_loaded"),
                    func.sum(source_load.c.rows_rejected).label("rows_rejected"),
                    func.sum(source_load.c.observations).label("observations"),
                    func.max(source_load.c.finished_at).label("last_load"),
                )
                .where(source_load.c.status == "loaded")
                .group_by(source_load.c.source)
            )
            years = self._frame(
                select(
                    observation.c.source,
                    func.min(observation.c.period_start).label("first"),
                    func.max(observation.c.period_start).label("last"),
                ).group_by(observation.c.source)
            )
            history = self._frame(
                select(source_load.c.source, func.count().label("loads_total")).group_by(source_load.c.source)
            )
            reg = pd.DataFrame(
                [
                    {
                        "source": s.name,
                        "title": s.title,
                        "publisher": s.publisher,
                        "licence": s.licence,
                        "coverage": s.coverage,
                    }
                    for s in all_sources()
                ],
                columns=["source", "title", "publisher", "licence", "coverage"],
            )
            frame = (
                reg.merge(loads, on="source", how="outer")
                .merge(years, on="source", how="left")
                .merge(history, on="source", how="left")
            )
            frame["years"] = [
                f"{pd.Timestamp(a).year}–{pd.Timestamp(b).year}" if pd.notna(a) else "—"
                for a, b in zip(frame["first"], frame["last"], strict=True)
            ]
            frame["last_load"] = frame["last_load"].map(_iso)
            frame["status"] = ["loaded" if pd.notna(r) else "not loaded" for r in frame["rows_read"]]
            for col in ("files", "rows_read", "rows_loaded", "rows_rejected", "observations", "loads_total"):
                frame[col] = frame[col].fillna(0).astype(int)
            return frame.drop(columns=["first", "last"]).sort_values("source").reset_index(drop=True)

        return self._cached("source_summary", (), load)

    def rejected_reasons(self, source: str | None = None) -> pd.DataFrame:
        def load() -> pd.DataFrame:
            stmt = (
                select(source_load.c.source, rejected_row.c.reason_code, func.count().label("rows"))
                .join(source_load, source_load.c.load_id == rejected_row.c.load_id)
                .where(source_load.c.status == "loaded")
                .group_by(source_load.c.source, rejected_row.c.reason_code)
                .order_by(source_load.c.source, func.count().desc())
            )
            if source:
                stmt = stmt.where(source_load.c.source == source)
            return self._frame(stmt)

        return self._cached("rejected_reasons", (source,), load)

    def rejected_examples(
        self, source: str | None = None, per_reason: int = 3, limit: int = 60
    ) -> pd.DataFrame:
        def load() -> pd.DataFrame:
            stmt = (
                select(
                    source_load.c.source,
                    source_load.c.file,
                    rejected_row.c.row_number,
                    rejected_row.c.reason_code,
                    rejected_row.c.reason,
                    rejected_row.c.raw,
                )
                .join(source_load, source_load.c.load_id == rejected_row.c.load_id)
                .where(source_load.c.status == "loaded")
                .order_by(source_load.c.source, rejected_row.c.reason_code, rejected_row.c.rejected_id)
            )
            if source:
                stmt = stmt.where(source_load.c.source == source)
            frame = self._frame(stmt.limit(20_000))
            frame = frame.groupby(["source", "reason_code"], sort=False).head(per_reason).head(limit)
            frame["raw"] = frame["raw"].str.slice(0, 300)
            return frame.reset_index(drop=True)

        return self._cached("rejected_examples", (source, per_reason, limit), load)

    def has_loads(self) -> bool:
        return bool(self.version()[1])

    # --- crisis watch list (issue 11) ------------------------------------------------------------
    def watchlist(self, year: int | None = None) -> pd.DataFrame:
        """Watch-list rows of the deployed run (all years, or one), with region names and a small-population
        flag."""
        run_id = self.run_id

        def load() -> pd.DataFrame:
            from models.watchlist_store import WATCHLIST_COLUMNS, read_watchlist

            if run_id is None:
                return pd.DataFrame(
                    columns=[*WATCHLIST_COLUMNS, "region_name", "population", "small_population"]
                )
            frame = read_watchlist(self.engine, run_id=run_id, year=year)
            frame = frame.assign(
                region_name=frame["region_id"].map(self.region_names()).fillna(frame["region_id"])
            )
            if frame.empty:  # a year the run did not score
                return frame.assign(population=pd.Series(dtype=float), small_population=pd.Series(dtype=bool))
            pop = self.watch_detection(int(frame["year"].max()))[["region_id", "population"]]
            frame = frame.merge(pop, on="region_id", how="left")
            frame["small_population"] = frame["population"] < watch.SMALL_POPULATION
            return frame

        return self._cached("watchlist", (year,), load)

    def watchlist_years(self) -> list[int]:
        """Years the deployed run scored (the year a score is computed from)."""
        frame = self.watchlist()
        return sorted(int(y) for y in frame["year"].unique())

    def watchlist_skill(self) -> dict | None:
        """The measured skill and tables stored with the deployed run
        (models.watchlist_store.read_watchlist_skill)."""
        run_id = self.run_id

        def load():
            from models.watchlist_store import read_watchlist_skill

            return None if run_id is None else read_watchlist_skill(self.engine, run_id=run_id)

        return self._cached("watchlist_skill", (), load)

    def region_watchlist(self, region_id: str) -> pd.DataFrame:
        """Every year's watch-list row of one country."""
        frame = self.watchlist()
        return frame[frame["region_id"] == region_id].sort_values("year").reset_index(drop=True)

    def pair_predictions(
        self, citizenship: str | None = None, detecting: str | None = None, year: int | None = None
    ) -> pd.DataFrame:
        """Pair-model predictions: expected victims of a citizenship detected in a detecting country, with
        names."""
        run_id = self.run_id

        def load() -> pd.DataFrame:
            from models.watchlist_store import PAIR_COLUMNS, read_pair_predictions

            if run_id is None:
                return pd.DataFrame(columns=[*PAIR_COLUMNS, "detecting_name", "citizenship_name"])
            frame = read_pair_predictions(
                self.engine, run_id=run_id, citizenship_iso3=citizenship, detecting_iso3=detecting, year=year
            )
            names = self.region_names()
            frame["detecting_name"] = frame["detecting_iso3"].map(names).fillna(frame["detecting_iso3"])
            frame["citizenship_name"] = frame["citizenship_iso3"].map(names).fillna(frame["citizenship_iso3"])
            return frame

        return self._cached("pair_predictions", (citizenship, detecting, year), load)

    def watch_detection(self, year: int) -> pd.DataFrame:
        """Per country: latest TIP tier and persons prosecuted (at most 5 years old) and population, with
        years."""

        def load() -> pd.DataFrame:
            codes = (*watch.DETECTION_INDICATORS, watch.POPULATION)
            stmt = (
                select(
                    observation.c.region_id,
                    observation.c.indicator,
                    observation.c.period_start,
                    observation.c.value,
                )
                .join(region, region.c.region_id == observation.c.region_id)
                .where(
                    observation.c.indicator.in_(codes),
                    observation.c.period_type == "year",
                    region.c.level == 0,
                    observation.c.period_start >= pd.Timestamp(year - watch.DETECTION_MAX_AGE, 1, 1).date(),
                    observation.c.period_start <= pd.Timestamp(year, 1, 1).date(),
                )
            )
            obs = self._frame(stmt)
            cols = [
                "region_id",
                "tip_tier",
                "tip_tier_year",
                "prosecuted",
                "prosecuted_year",
                "population",
                "population_year",
            ]
            if obs.empty:
                return pd.DataFrame(columns=cols)
            obs["year"] = pd.to_datetime(obs["period_start"]).dt.year
            wide = watch.latest_by_region(obs, year, watch.DETECTION_MAX_AGE)
            rename = {
                watch.TIP_TIER: "tip_tier",
                watch.PROSECUTED: "prosecuted",
                watch.POPULATION: "population",
            }
            wide = wide.rename(columns={**rename, **{f"{k}@year": f"{v}_year" for k, v in rename.items()}})
            for col in cols:
                if col not in wide:
                    wide[col] = float("nan")
            return wide[cols]

        return self._cached("watch_detection", (year,), load)

    def watch_priorities(self, year: int) -> pd.DataFrame:
        """The donor table ranked by the watch list: rise, drivers, people exposed, funding, detection gap."""

        def load() -> pd.DataFrame:
            wl = self.watchlist(year).drop(columns=["population", "small_population"])
            if wl.empty:
                return wl
            det = self.watch_detection(year)
            frame = wl.merge(det, on="region_id", how="left")
            fts_codes = (FTS_REQUIREMENTS, FTS_FUNDING, FTS_COVERAGE)
            fts = self.latest_values(fts_codes, year, 0)
            for code in fts_codes:
                for col in (code, f"{code}@year"):
                    if col not in fts:
                        fts[col] = float("nan")
            frame = frame.merge(fts, on="region_id", how="left")
            computed = 100 * frame[FTS_FUNDING] / frame[FTS_REQUIREMENTS].where(frame[FTS_REQUIREMENTS] > 0)
            frame["fts_requirements_usd"] = frame[FTS_REQUIREMENTS]
            frame["fts_funding_usd"] = frame[FTS_FUNDING]
            frame["fts_coverage_pct"] = frame[FTS_COVERAGE].where(frame[FTS_COVERAGE].notna(), computed)
            frame["fts_year"] = frame[[f"{FTS_REQUIREMENTS}@year", f"{FTS_FUNDING}@year"]].max(axis=1)
            frame["small_population"] = frame["population"] < watch.SMALL_POPULATION
            frame = watch.add_detection_gap(frame)
            frame = frame.drop(columns=[c for c in frame.columns if c.startswith(("response.",))])
            return frame.sort_values(["rank", "region_id"]).reset_index(drop=True)

        return self._cached("watch_priorities", (year,), load)

    def admin1_watch(self, parent: str, year: int) -> pd.DataFrame:
        """Admin-1 units of one country: where the watch list's drivers (conflict deaths, displacement) are
        located."""

        def load() -> pd.DataFrame:
            units = self.regions(1)
            units = units[units["parent_id"] == parent].rename(columns={"name": "region_name"})
            codes = tuple(c for cs in watch.ADMIN1_CODES.values() for c in cs)
            stmt = (
                select(
                    observation.c.region_id,
                    observation.c.indicator,
                    observation.c.period_start,
                    observation.c.value,
                )
                .join(region, region.c.region_id == observation.c.region_id)
                .where(
                    observation.c.indicator.in_(codes),
                    observation.c.period_type == "year",
                    region.c.level == 1,
                    region.c.parent_id == parent,
                    observation.c.period_start >= pd.Timestamp(year - watch.ADMIN1_WINDOW, 1, 1).date(),
                    observation.c.period_start <= pd.Timestamp(year, 1, 1).date(),
                )
            )
            obs = self._frame(stmt)
            obs["year"] = pd.to_datetime(obs["period_start"]).dt.year if len(obs) else []
            return watch.admin1_exposure(units, obs, year)

        return self._cached("admin1_watch", (parent, year), load)

    # --- basis and position on the map (issue 13 items 3 and 4) ----------------------------------------
    def year_bases(self) -> dict[int, str]:
        """Each predicted year's basis: checked (some country's estimate that year is checked against its
        label), else from the newest detected-victims label the year's estimates use: nowcast (1–2 years old),
        projection (older).

        Why not the most common basis of the year's rows: countries that never report are projections every
        year, so early years with labels would read "projection". A run without label years falls back to
        the most common stored basis (a tie goes to the weaker one).
        """

        def load() -> dict[int, str]:
            frame = self.level_predictions(0)
            if frame.empty:
                return {}
            out = {int(year): year_basis(grp, int(year)) for year, grp in frame.groupby("year")}
            return {y: b for y, b in out.items() if b}

        return self._cached("year_bases", (), load)

    def newest_label_year(self, year: int) -> int | None:
        """The newest detected-victims label year any country's estimate for ``year`` uses (None: none)."""
        frame = self.level_predictions(0)
        vals = pd.to_numeric(frame.loc[frame["year"] == year, "label_year"], errors="coerce").dropna()
        return int(vals.max()) if len(vals) else None

    def national_position(self, iso3: str, year: int) -> tuple[float, int, int] | None:
        """(estimate per 100k, k, n): the country's detected-victims estimate and its rank k of n countries
        that year (1 = highest), for the admin-1 view's line on the country's global position."""
        frame = self.predictions(level=0, year=year)
        frame = frame.dropna(subset=["estimate_per_100k"])
        hit = frame[frame["region_id"] == iso3]
        if hit.empty:
            return None
        k, n = rank_within(frame, iso3)
        return float(hit["estimate_per_100k"].iloc[0]), k, n

    def neighbours(self, iso3: str, margin_deg: float = 1.0) -> list[str]:
        """Countries whose shape comes within ``margin_deg`` of a country's bounding box: drawn in grey around
        its admin-1 units for context."""

        def load() -> list[str]:
            import shapely

            bounds = self.country_bounds(iso3)
            if bounds is None:
                return []
            minx, miny, maxx, maxy = bounds
            box = shapely.box(minx - margin_deg, miny - margin_deg, maxx + margin_deg, maxy + margin_deg)
            with self.engine.connect() as conn:
                rows = [
                    r
                    for r in conn.execute(
                        select(region.c.region_id, region.c.geometry_wkb).where(
                            region.c.level == 0, region.c.region_id != iso3
                        )
                    )
                    if r[1]
                ]
            if not rows:
                return []
            geoms = shapely.from_wkb([r[1] for r in rows])
            near = shapely.intersects(geoms, box)
            return sorted(r[0] for r, hit in zip(rows, near, strict=True) if hit)

        return self._cached("neighbours", (iso3, margin_deg), load)

    def country_bounds(self, iso3: str) -> tuple[float, float, float, float] | None:
        """(minx, miny, maxx, maxy) of a country's admin-1 units (else of the country itself), or None without
        geometry: the map zooms to it."""

        def load() -> tuple[float, float, float, float] | None:
            import shapely

            with self.engine.connect() as conn:
                wkbs = [
                    r[0]
                    for r in conn.execute(
                        select(region.c.geometry_wkb).where(region.c.parent_id == iso3, region.c.level == 1)
                    )
                    if r[0]
                ]
                if not wkbs:
                    wkbs = [
                        r[0]
                        for r in conn.execute(select(region.c.geometry_wkb).where(region.c.region_id == iso3))
                        if r[0]
                    ]
            if not wkbs:
                return None
            minx, miny, maxx, maxy = shapely.total_bounds(shapely.from_wkb(wkbs))
            return float(minx), float(miny), float(maxx), float(maxy)

        return self._cached("country_bounds", (iso3,), load)

    # --- not cached: alerts, jobs, uploads and the audit log change without a new warehouse version ---------
    def alerts(
        self, status: str | None = "confirmed", region_id: str | None = None, limit: int = 500
    ) -> list[dict]:
        """Alerts in a review status (confirmed ones are what viewers may see), newest first."""
        from models import alerts

        return alerts.list_alerts(self.engine, status=status, region_id=region_id, limit=limit)

    def phase_curves(self, outcome: str) -> tuple[pd.DataFrame, dict | None]:
        """Curve points of the newest phase computation for one outcome, with its result row (None: none yet);
        not cached: ``crisisrisk phases compute`` can store new curves without a load or deploy."""
        from models import phases_store

        return phases_store.read_curves(self.engine, outcome=outcome)

    def country_phase(self, region_id: str, year: int) -> list[str]:
        """Where a country stands after its recent crisis events, in plain words (newest phase
        computation)."""
        from models import phases_store

        return phases_store.country_phase_sentences(self.engine, region_id, int(year))

    def recent_jobs(self, kind: str | None = None, limit: int = 30) -> list[dict]:
        from warehouse import jobs

        return jobs.recent_jobs(self.engine, kind, limit)

    def running_job(self, kind: str) -> dict | None:
        from warehouse import jobs

        return jobs.running_job(self.engine, kind)

    def job(self, job_id: int) -> dict | None:
        from warehouse import jobs

        return jobs.get_job(self.engine, job_id)

    def recent_uploads(self, limit: int = 30) -> list[dict]:
        from etl import uploads

        return uploads.recent_uploads(self.engine, limit)

    def upload(self, upload_id: int) -> dict | None:
        from etl import uploads

        return uploads.get_upload(self.engine, upload_id)

    def audit_entries(self, limit: int = 200) -> list[dict]:
        from warehouse import accounts

        return accounts.audit_entries(self.engine, limit)

    def model_runs(self) -> list[dict]:
        """Every model run with its status and metrics (the admin page's promote list; not cached)."""
        from models.registry import list_runs

        return list_runs(self.engine)


def source_files(name: str) -> tuple[list[str], list[str]] | None:
    """(expected file name patterns, current files in the raw folder) of a source, or None if unknown: what
    the
    admin page says before an upload."""
    from etl.sources import get_source
    from warehouse.config import raw_dir

    try:
        source = get_source(name)
    except KeyError:
        return None
    return list(source.file_patterns), sorted(p.name for p in source.paths(raw_dir()))


def source_publishers() -> dict[str, str]:
    """Source name -> publisher, for the region page's driver chart."""
    from etl.sources import all_sources

    return {s.name: s.publisher for s in all_sources()}


def upload_limit_bytes() -> int:
    """The largest upload accepted (etl.uploads), shown and enforced by the admin page's upload box."""
    from etl import uploads

    return uploads.MAX_UPLOAD_BYTES


BASIS_WEAKNESS = {"checked": 0, "nowcast": 1, "projection": 2}  # issue 10's bases, strongest first
USABLE_BASES = frozenset({"checked", "nowcast"})  # a label that year, or one at most two years old


def default_year(years: list[int], bases: dict[int, str]) -> int | None:
    """The map's default year: the latest with a usable estimate (its basis checked or nowcast, i.e. a
    detected-victims label at most two years old), not the latest projection; the latest year when none is
    usable. None without years."""
    if not years:
        return None
    usable = [y for y in years if bases.get(y) in USABLE_BASES]
    return usable[-1] if usable else years[-1]


def year_basis(rows: pd.DataFrame, year: int) -> str | None:
    """One year's basis (see Queries.year_bases) from that year's prediction rows; None when unknown."""
    if "basis" in rows and (rows["basis"] == "checked").any():
        return "checked"
    labels = pd.to_numeric(rows["label_year"], errors="coerce").dropna() if "label_year" in rows else []
    if len(labels):
        age = year - int(labels.max())
        return "checked" if age <= 0 else ("nowcast" if age <= 2 else "projection")
    counts = rows["basis"].dropna().value_counts() if "basis" in rows else pd.Series(dtype=int)
    if not len(counts):
        return None
    top = counts[counts == counts.max()].index
    return str(max(top, key=lambda b: BASIS_WEAKNESS.get(str(b), len(BASIS_WEAKNESS))))


def rank_within(frame: pd.DataFrame, region_id: str, column: str = "estimate_per_100k") -> tuple[int, int]:
    """(k, n): the region's rank among the rows of ``frame`` by ``column`` (1 = highest; tied values share the
    best rank) and how many rows have a value. (0, n) when the region has no value."""
    vals = pd.to_numeric(frame.set_index("region_id")[column], errors="coerce").dropna()
    if region_id not in vals.index:
        return 0, len(vals)
    ranks = vals.round(9).rank(ascending=False, method="min")
    return int(ranks.loc[region_id]), len(vals)


def add_changes(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``score_change`` and ``estimate_change`` against the same region's previous year (pure)."""
    frame = frame.sort_values(["region_id", "year"]).reset_index(drop=True)
    prev = frame[["region_id", "year", "risk_score", "estimate_per_100k"]].copy()
    prev["year"] = prev["year"] + 1
    prev = prev.rename(columns={"risk_score": "_prev_score", "estimate_per_100k": "_prev_est"})
    frame = frame.merge(prev, on=["region_id", "year"], how="left")
    frame["score_change"] = frame["risk_score"] - frame["_prev_score"]
    frame["estimate_change"] = frame["estimate_per_100k"] - frame["_prev_est"]
    return frame.drop(columns=["_prev_score", "_prev_est"])


_ABBREV = {
    "per100k": "per 100k",
    "idps": "IDPs",
    "tip": "TIP",
    "gdp": "GDP",
    "usd": "USD",
    "pct": "%",
    "3p": "3P",
    "gsi": "GSI",
    "oci": "OC index",
    "wgi": "WGI",
    "fsi": "FSI",
    "inform": "INFORM",
    "ln": "log",
    "log1p": "log",
    "fts": "FTS",
    "idmc": "IDMC",
    "unhcr": "UNHCR",
    "ucdp": "UCDP",
}


def feature_label(feature: str) -> str:
    """A readable label for a model feature name such as ``displacement.refugees_by_origin_per100k_lag1``."""
    name = feature.split(".", 1)[-1] if "." in feature else feature
    lag = ""
    for suffix in ("_lag1", "_lag2", "_lag3"):
        if name.endswith(suffix):
            name, lag = name[: -len(suffix)], f" (t−{suffix[-1]})"
    words = [_ABBREV.get(w.lower(), w) for w in name.replace("__", "_").split("_") if w]
    text = " ".join(words)
    return (text[:1].upper() + text[1:] + lag) if text else feature


def short_label(feature: str, width: int = 26) -> str:
    """ASCII label for the map hover: no lag suffix or rate unit, at most ``width`` characters."""
    text = feature_label(feature).split(" (t", 1)[0].replace("−", "-")
    for long, short in (
        (" per 100k", ""),
        (" per capita", " p.c."),
        ("Log ", ""),
        ("log ", ""),
        ("Humanitarian", "Hum."),
        ("government", "gov."),
        ("effectiveness", "eff."),
    ):
        text = text.replace(long, short)
    text = text.encode("ascii", "ignore").decode().strip()
    text = text[:1].upper() + text[1:]
    return text if len(text) <= width else text[: width - 1] + "."


def _iso(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    try:
        return pd.Timestamp(value).isoformat(timespec="seconds")
    except (ValueError, TypeError):
        return str(value)
