"""Analyst actions shared by the admin page and the API: validate and load an upload, retrain, compare,
promote, roll back. Each one is audited (who, what, when, outcome) and raises the API's typed errors
(``dashboard.api_core.ApiError``: ``BadRequest``, ``NotFound``, ``Conflict``) with an HTTP status, a clear
message and a code for anything the caller got wrong. The work itself is done by ``etl.uploads``,
``warehouse.jobs`` and ``models.registry``; nothing here duplicates it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from dashboard import jobs_runner
from dashboard.api_core import ApiError, BadRequest, Conflict, NotFound
from etl import uploads
from warehouse import accounts
from warehouse.jobs import JobBusy
from warehouse.schema import model_run, prediction, region

log = logging.getLogger(__name__)
METRICS = [
    ("rmsle", "RMSLE (lower is better)"),
    ("spearman", "Spearman rank correlation"),
    ("top20_recall", "Top-20 recall"),
    ("coverage80", "80% interval coverage"),
]
BASELINES = ["last_value", "mean_3y", "ridge", "conflict_displacement_only"]


# One error family with the API (issue 12): the admin page catches and raises ``WorkflowError`` by this name.
WorkflowError = ApiError


def train(engine: Engine, progress) -> str:
    """Train a candidate run (never deployed here). Tests replace this with a fast fake."""
    from models.pipeline import train_run

    return train_run(engine, deploy=False, progress=progress)


# --- uploads -----------------------------------------------------------------------------------------------
def source_names() -> list[str]:
    from etl.sources import all_sources

    return [s.name for s in all_sources()]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,;(") + "…"


def source_label(source) -> str:
    """What the upload dropdown shows (issue 13 #8: internal ids read like 'unhcr_idmc'): the dataset's title
    and its publisher, without the compiler notes after ';' or ', via'."""
    publisher = source.publisher.split(";")[0].split(", via ")[0].split(" (via ")[0].strip()
    if publisher.count("(") > publisher.count(")"):  # cut inside a bracket: "UNHCR (Refugee Data Finder"
        publisher += ")"
    if len(publisher) > 50:  # long ones lose their bracketed notes rather than be cut inside them
        publisher = re.sub(r"\s*\([^)]*\)", "", publisher)
    return f"{_short(source.title, 70)} — {_short(publisher, 50)}"


def source_options() -> list[dict[str, str]]:
    """Dropdown options of the registered sources by title: label (title — publisher), value (the id, which
    the API takes), and the id in ``search`` so typing it still finds the source."""
    from etl.sources import all_sources

    options = [
        {"label": source_label(s), "value": s.name, "search": f"{s.name} {s.title} {s.publisher}"}
        for s in all_sources()
    ]
    return sorted(options, key=lambda o: o["label"].lower())


def validate_upload(
    engine: Engine,
    actor: str,
    source_name: str,
    filename: str,
    data: bytes,
    client: str | None = None,
    then_load: bool = False,
    on_loaded=None,
) -> dict[str, Any]:
    """Check a file and dry-run it as a background job (issue 9 #7); nothing is loaded yet.

    The instant checks (size, empty, file name) answer at once: ``status`` 'refused' with the report.
    Otherwise
    the upload is recorded as 'validating' and a ``validate`` job parses and maps it; the answer holds the
    job, whose record (and the upload's) gives the report when it ends. ``then_load`` starts the load job
    when the dry run passed (the API's ``confirm=true``).
    """
    import hashlib

    from etl.sources import get_source

    try:
        source = get_source(source_name)
    except KeyError:
        raise BadRequest(
            f"unknown source '{str(source_name)[:60]}'; choose one of: {', '.join(source_names())}",
            "unknown_source",
        ) from None
    try:
        uploads.precheck(source, filename or "", data)
    except uploads.UploadRefused as exc:
        report = uploads.UploadReport(
            source_name,
            str(filename or "")[:200],
            len(data),
            hashlib.sha256(data).hexdigest(),
            ok=False,
            error_code=exc.code,
            error=str(exc),
        )
        upload_id = uploads.record(engine, actor, report, None)
        accounts.audit(
            engine,
            actor,
            "upload",
            "refused",
            f"{source_name}/{report.filename}",
            f"upload {upload_id}: {report.error_code}: {report.error}",
            client,
        )
        return {"upload_id": upload_id, "status": "refused", "report": report.to_dict(), "job": None}
    upload_id = uploads.record_pending(engine, actor, source_name, filename, data)
    target = f"{source_name}/{filename}"

    def work(report) -> dict[str, Any]:
        from etl.context import MappingContext
        from warehouse.config import raw_dir
        from warehouse.jobs import JobCancelled

        try:
            ctx = MappingContext(raw_dir=raw_dir(), engine=engine)
            result, staged = uploads.validate(source_name, filename or "", data, ctx, progress=report)
        except JobCancelled:
            raise  # the upload becomes 'cancelled' in done()
        except Exception as exc:  # noqa: BLE001 - a file no reader can parse is refused, not a server error
            # logged at error level with the traceback: it may be a fault of ours (issue 9 #6), not the file's
            log.exception("upload %s (%s/%s): dry run failed unexpectedly", upload_id, source_name, filename)
            result = uploads.UploadReport(
                source_name,
                str(filename)[:200],
                len(data),
                hashlib.sha256(data).hexdigest(),
                ok=False,
                error_code="unreadable",
                error=(
                    f"the file could not be read as a {source_name} file "
                    f"({type(exc).__name__}: {str(exc)[:300]})"
                ),
            )
            staged = None
        uploads.complete(engine, upload_id, result, staged)
        if result.ok:
            detail = (
                f"upload {upload_id}: {result.rows_read:,} rows read, "
                f"{result.rows_would_load:,} would load, "
                f"{result.rows_would_reject:,} would be rejected; sha256 {result.sha256[:12]}"
            )
            accounts.audit(
                engine,
                actor,
                "upload",
                "ok",
                f"{source_name}/{result.filename}",
                "validated: " + detail,
                client,
            )
            message = f"dry run of {result.filename}: " + detail.split(": ", 1)[1]
        else:
            accounts.audit(
                engine,
                actor,
                "upload",
                "refused",
                f"{source_name}/{result.filename}",
                f"upload {upload_id}: {result.error_code}: {result.error}",
                client,
            )
            message = f"refused {result.filename}: {result.error_code}: {result.error}"
        out: dict[str, Any] = {
            "message": message[:500],
            "upload_id": upload_id,
            "status": "validated" if result.ok else "refused",
            "report": result.to_dict(),
        }
        if result.ok and then_load:
            try:
                out["load_job_id"] = start_load(engine, actor, upload_id, client, on_loaded)["job_id"]
            except ApiError as exc:
                out["load_error"] = exc.message
        return out

    def done(ok: bool, result: dict[str, Any]) -> None:
        if result.get("cancelled"):  # before or during the dry run: the upload cannot be loaded
            uploads.set_status(engine, upload_id, "cancelled")
            accounts.audit(
                engine, actor, "upload", "refused", target, f"upload {upload_id}: dry run cancelled", client
            )
        elif not ok:
            uploads.set_status(engine, upload_id, "failed")

    job_id = jobs_runner.submit(engine, "validate", actor, work, done, upload_id=upload_id)
    uploads.link_job(engine, upload_id, job_id)
    from warehouse.jobs import get_job

    return {"upload_id": upload_id, "status": "validating", "report": None, "job": get_job(engine, job_id)}


def cancel_job(engine: Engine, actor: str, job_id: int, client: str | None = None) -> dict[str, Any]:
    """Ask a running job to stop at its next progress point (cooperative: the warehouse stays intact)."""
    from warehouse import jobs

    try:
        item = jobs.request_cancel(engine, job_id)
    except LookupError:
        raise NotFound(f"unknown job {job_id}", "unknown_job") from None
    except ValueError as exc:
        accounts.audit(engine, actor, "job cancel", "refused", f"job {job_id}", str(exc), client)
        raise Conflict(str(exc), "not_running") from None
    accounts.audit(
        engine,
        actor,
        "job cancel",
        "ok",
        f"job {job_id}",
        f"{item['kind']} job {job_id}: cancel requested (status now {item['status']})",
        client,
    )
    return item


def start_load(
    engine: Engine, actor: str, upload_id: int, client: str | None = None, on_loaded=None
) -> dict[str, Any]:
    """Load a validated upload as a background job; returns the job record."""
    item = uploads.get_upload(engine, upload_id)
    if item is None:
        raise NotFound(f"unknown upload {upload_id}", "unknown_upload")
    if item["status"] != "validated":
        raise Conflict(
            f"upload {upload_id} is {item['status']}; only a validated upload waiting to be "
            "loaded can be loaded",
            "not_validated",
        )
    target = f"{item['source']}/{item['filename']}"

    def work(report) -> dict[str, Any]:
        report(2, f"loading upload {upload_id}: {target}")
        result = uploads.apply(
            engine, upload_id, progress=jobs_runner.StepProgress(report), who=f"{actor}: {target}"
        )
        files = [
            {
                "file": f.file,
                "rows_read": f.rows_read,
                "rows_loaded": f.rows_loaded,
                "rows_rejected": f.rows_rejected,
                "observations": f.observations,
            }
            for f in result.files
        ]
        loaded = sum(f["rows_loaded"] for f in files)
        rejected = sum(f["rows_rejected"] for f in files)
        return {
            "message": (
                f"loaded {target}: {loaded:,} rows loaded, {rejected:,} rejected, "
                f"{result.observations:,} observations"
            ),
            "upload_id": upload_id,
            "source": item["source"],
            "observations": result.observations,
            "files": files,
        }

    def done(ok: bool, result: dict[str, Any]) -> None:
        accounts.audit(
            engine,
            actor,
            "load finish",
            "ok" if ok else "refused" if result.get("cancelled") else "error",
            target,
            result.get("message") or result.get("error"),
            client,
        )
        if ok:
            _alerts_after(engine, "load", actor)
        if on_loaded is not None:
            on_loaded(ok)

    try:
        job_id = jobs_runner.submit(engine, "load", actor, work, done, upload_id=upload_id)
    except JobBusy as exc:
        accounts.audit(engine, actor, "load start", "refused", target, str(exc), client)
        raise Conflict(str(exc), "busy") from None
    uploads.link_job(engine, upload_id, job_id)
    accounts.audit(engine, actor, "load start", "ok", target, f"upload {upload_id}, job {job_id}", client)
    from warehouse.jobs import get_job

    return get_job(engine, job_id)


# --- retraining and the registry ----------------------------------------------------------------------------
def start_retrain(engine: Engine, actor: str, client: str | None = None, on_done=None) -> dict[str, Any]:
    """Train a candidate run in the background; a second request while one runs gets 409 (JobBusy)."""

    def work(report) -> dict[str, Any]:
        from models.train import load_config

        try:
            bt = load_config()["backtest"]
            origins = (int(bt["first_origin"]), int(bt["last_origin"]))
        except Exception:  # noqa: BLE001 - only used for the progress bar
            origins = None
        report(1, "retraining: candidate run (it is not deployed until promoted)")
        run_id = train(engine, jobs_runner.TrainProgress(report, origins))
        return {
            "message": f"candidate run {run_id} is ready; compare it and promote it if it is better",
            "run_id": run_id,
        }

    def done(ok: bool, result: dict[str, Any]) -> None:
        accounts.audit(
            engine,
            actor,
            "retrain finish",
            "ok" if ok else "error",
            result.get("run_id"),
            result.get("message") or result.get("error"),
            client,
        )
        if on_done is not None:
            on_done(ok)

    try:
        job_id = jobs_runner.submit(engine, "retrain", actor, work, done)
    except JobBusy as exc:
        accounts.audit(engine, actor, "retrain start", "refused", None, str(exc), client)
        raise Conflict(str(exc), "busy") from None
    accounts.audit(engine, actor, "retrain start", "ok", None, f"job {job_id}", client)
    from warehouse.jobs import get_job

    return get_job(engine, job_id)


def _alerts_after(engine: Engine, trigger: str, actor: str) -> None:
    """Issue 14: re-evaluate the alert rules (and the phase curves) in the background after a data change."""
    from dashboard.alerts_delivery import after_change

    after_change(engine, trigger, actor)


def run_row(engine: Engine, run_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(model_run).where(model_run.c.run_id == run_id)).mappings().first()
    return dict(row) if row else None


def promote(
    engine: Engine, actor: str, run_id: str, client: str | None = None, force: bool = False
) -> dict[str, Any]:
    """Deploy a run (atomic swap in models.registry); the previous one is archived.

    A run identical to or worse than the deployed one (``judge``) is refused with 409 ``needs_confirmation``
    and the reason, unless ``force``: promoting it is a deliberate choice, not a click (issue 13 #8). A better
    run, or the first one, is promoted as before.
    """
    from models import registry

    run_id = str(run_id).strip()
    if not run_id or len(run_id) > 64:
        raise BadRequest("run id must be 1-64 characters", "bad_run_id")
    run = run_row(engine, run_id)
    if run is None:
        raise NotFound(f"unknown run '{run_id}'", "unknown_run")
    if run["status"] == "deployed":
        return {"deployed": run_id, "previous": None, "message": f"run {run_id} is already deployed"}
    previous = registry.deployed_run(engine)
    verdict = judge(previous, run)
    if verdict["needs_confirmation"] and not force:
        accounts.audit(
            engine, actor, "promote", "refused", run_id, f"needs confirmation: {verdict['reason']}", client
        )
        raise Conflict(
            f"run {run_id} is {verdict['verdict']}: {verdict['reason']}; promote it with force=true to deploy"
            " it anyway",
            "needs_confirmation",
            verdict=verdict,
        )
    try:
        registry.promote(engine, run_id)
    except registry.RegistryError as exc:
        accounts.audit(engine, actor, "promote", "error", run_id, str(exc), client)
        raise Conflict(f"run {run_id} cannot be promoted: {exc}", "registry") from None
    gate = (run.get("metrics_json") or {}).get("gate") or {}
    detail = f"previous: {previous['run_id'] if previous else 'none'}; gate passed: {gate.get('passed')}"
    if verdict["needs_confirmation"]:
        detail += f"; confirmed although {verdict['verdict']}: {verdict['reason']}"
    accounts.audit(engine, actor, "promote", "ok", run_id, detail, client)
    _alerts_after(engine, "promote", actor)
    return {
        "deployed": run_id,
        "previous": previous["run_id"] if previous else None,
        "message": (
            f"run {run_id} is deployed"
            + ("" if gate.get("passed", True) else " (it does not beat the last-value baseline)")
        ),
    }


def rollback_target(engine: Engine) -> str | None:
    """The run a rollback would re-deploy (the one deployed before the current one), or None: then the
    admin page disables its button (issue 13 #8). The same rule as ``models.registry.rollback``."""
    with engine.connect() as conn:
        current = conn.execute(
            select(model_run.c.deployed_at).where(model_run.c.status == "deployed")
        ).first()
        if current is None or current.deployed_at is None:
            return None
        return conn.execute(
            select(model_run.c.run_id)
            .where(
                model_run.c.status == "archived",
                model_run.c.deployed_at.is_not(None),
                model_run.c.deployed_at < current.deployed_at,
            )
            .order_by(model_run.c.deployed_at.desc())
        ).scalar()


def rollback(engine: Engine, actor: str, client: str | None = None) -> dict[str, Any]:
    """Re-deploy the previously deployed run (atomic, models.registry.rollback)."""
    from models import registry

    current = registry.deployed_run(engine)
    try:
        restored = registry.rollback(engine)
    except registry.RegistryError as exc:
        accounts.audit(
            engine, actor, "rollback", "refused", current["run_id"] if current else None, str(exc), client
        )
        raise Conflict(f"cannot roll back: {exc}", "registry") from None
    accounts.audit(
        engine,
        actor,
        "rollback",
        "ok",
        restored,
        f"from {current['run_id'] if current else 'none'} to {restored}",
        client,
    )
    _alerts_after(engine, "rollback", actor)
    return {
        "deployed": restored,
        "previous": current["run_id"] if current else None,
        "message": f"rolled back to run {restored}",
    }


# --- comparison of a candidate with the deployed run --------------------------------------------------------
SAME = 1e-9  # relative: metrics closer than this are the same number (a rerun on the same data)


def horizon_metrics(run: dict[str, Any] | None) -> dict[int, dict[str, float | None]]:
    """Backtest RMSLE and Spearman of a run's own model per horizon: the gate's rows (latest origins), else
    the run's model in ``backtest_horizons``; {} for a run without per-horizon metrics."""
    metrics = (run or {}).get("metrics_json") or {}
    out: dict[int, dict[str, float | None]] = {}
    for row in (metrics.get("gate") or {}).get("horizons") or []:
        if isinstance(row, dict) and row.get("model_rmsle") is not None:
            out[int(row["horizon"])] = {
                "rmsle": float(row["model_rmsle"]),
                "spearman": None if row.get("model_spearman") is None else float(row["model_spearman"]),
            }
    if out or run is None:
        return out
    model = _model_row(run)
    for row in metrics.get("backtest_horizons") or []:
        if isinstance(row, dict) and row.get("model") == model and row.get("rmsle") is not None:
            spearman = row.get("spearman")
            out[int(row["horizon"])] = {
                "rmsle": float(row["rmsle"]),
                "spearman": None if spearman is None else float(spearman),
            }
    return out


def judgement(engine: Engine, run_id: str) -> dict[str, Any]:
    """``judge`` of a run against the deployed run, by id."""
    from models import registry

    return judge(registry.deployed_run(engine), run_row(engine, run_id))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= SAME * max(abs(a), abs(b), 1.0)


def judge(deployed: dict[str, Any] | None, candidate: dict[str, Any] | None) -> dict[str, Any]:
    """Is the candidate identical to, worse than, mixed or better than the deployed run, horizon by horizon
    (backtest RMSLE, lower is better)? ``needs_confirmation`` for identical, worse and mixed runs, with the
    reason in words; a first run (nothing deployed) or one without metrics to compare needs none."""
    out: dict[str, Any] = {"verdict": "unknown", "reason": "", "needs_confirmation": False, "horizons": []}
    if candidate is None:
        return out
    if deployed is None:
        return {**out, "verdict": "first", "reason": "no run is deployed yet"}
    old, new = horizon_metrics(deployed), horizon_metrics(candidate)
    shared = sorted(set(old) & set(new))
    if not shared:
        return {**out, "reason": "the two runs share no horizon with backtest metrics"}
    rows, better, worse = [], [], []
    for h in shared:
        a, b = old[h]["rmsle"], new[h]["rmsle"]
        assert a is not None and b is not None
        change = (b - a) / a * 100 if a else 0.0
        rows.append({"horizon": h, "deployed_rmsle": round(a, 4), "candidate_rmsle": round(b, 4),
                     "change_pct": round(change, 2)})  # fmt: skip
        if not _same(a, b):
            (worse if b > a else better).append(f"h{h} ({b:.3f} vs {a:.3f}, {change:+.1f}%)")
    identical = not better and not worse and all(
        _same(old[h]["spearman"], new[h]["spearman"]) for h in shared
    )
    dep = deployed["run_id"]
    if identical or candidate.get("artefact_sha256") == deployed.get("artefact_sha256"):
        verdict = "identical"
        reason = f"its backtest RMSLE and Spearman equal the deployed run {dep}'s at every horizon"
    elif worse and not better:
        verdict = "worse"
        reason = f"its backtest RMSLE is worse than the deployed run {dep}'s at " + ", ".join(worse)
    elif worse:
        verdict = "mixed"
        reason = f"better than the deployed run {dep} at {', '.join(better)} but worse at {', '.join(worse)}"
    else:
        verdict = "better"
        reason = f"its backtest RMSLE is better than the deployed run {dep}'s at " + ", ".join(better)
        if len(better) < len(shared):
            reason += " and the same at the other horizons"
    return {
        "verdict": verdict,
        "reason": reason,
        "needs_confirmation": verdict in ("identical", "worse", "mixed"),
        "horizons": rows,
    }


def _model_row(run: dict[str, Any]) -> str:
    meta = run.get("metadata_json") or {}
    gate = (run.get("metrics_json") or {}).get("gate") or {}
    return str(gate.get("model") or meta.get("variant") or "xgboost")


def _pooled(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = (run.get("metrics_json") or {}).get("backtest_pooled") or []
    return {str(r.get("model")): r for r in rows if isinstance(r, dict)}


def _gate_passed(run: dict[str, Any] | None) -> bool | None:
    return (((run or {}).get("metrics_json") or {}).get("gate") or {}).get("passed")


def _metric_columns(
    deployed: dict[str, Any] | None, candidate: dict[str, Any] | None
) -> list[tuple[str, dict[str, Any] | None]]:
    """The columns of the comparison: each run's own model row, then the baselines of the newer run."""
    columns: list[tuple[str, dict[str, Any] | None]] = []
    for label, run in (("deployed", deployed), ("candidate", candidate)):
        if run is not None:
            pooled = _pooled(run)
            columns.append(
                (f"{label}: {run['run_id']}", pooled.get(_model_row(run)) or pooled.get("xgboost"))
            )
    base_from = candidate or deployed
    if base_from is not None:
        pooled = _pooled(base_from)
        columns += [(f"baseline: {name}", pooled[name]) for name in BASELINES if name in pooled]
    return columns


def _metric_rows(columns: list[tuple[str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """One row per metric, one value (rounded to 3 places, or None) per column."""
    rows = []
    for key, label in METRICS:
        row: dict[str, Any] = {"metric": label}
        for col, values in columns:
            value = (values or {}).get(key)
            row[col] = None if value is None else round(float(value), 3)
        rows.append(row)
    return rows


def _rank_changes(
    engine: Engine, deployed_id: str, candidate_id: str, top: int
) -> tuple[int | None, list[dict[str, Any]]]:
    """The newest year both runs predict (countries) and its ``top`` largest rank changes, or (None, [])."""
    with engine.connect() as conn:
        stmt = (
            select(
                prediction.c.run_id,
                prediction.c.region_id,
                prediction.c.year,
                prediction.c.rank,
                prediction.c.estimate_per_100k,
                region.c.name,
            )
            .join(region, region.c.region_id == prediction.c.region_id)
            .where(prediction.c.level == 0, prediction.c.run_id.in_([deployed_id, candidate_id]))
        )
        frame = pd.DataFrame(conn.execute(stmt).mappings().all())
    if frame.empty:
        return None, []
    old = frame[frame["run_id"] == deployed_id]
    new = frame[frame["run_id"] == candidate_id]
    common = sorted(set(old["year"]) & set(new["year"]))
    if not common:
        return None, []
    year = int(common[-1])
    merged = old[old["year"] == year].merge(
        new[new["year"] == year], on=["region_id", "name"], suffixes=("_deployed", "_candidate")
    )
    merged["change"] = merged["rank_deployed"] - merged["rank_candidate"]  # positive = moved up (riskier)
    merged = merged[merged["change"] != 0]  # an unchanged rank is no change (the page says when none moved)
    merged["size"] = merged["change"].abs()
    merged = merged.sort_values(["size", "rank_candidate"], ascending=[False, True], kind="stable").head(top)
    return year, [
        {
            "region_id": r.region_id,
            "name": r.name,
            "rank_deployed": int(r.rank_deployed),
            "rank_candidate": int(r.rank_candidate),
            "change": int(r.change),
            "estimate_deployed": round(float(r.estimate_per_100k_deployed), 3),
            "estimate_candidate": round(float(r.estimate_per_100k_candidate), 3),
        }
        for r in merged.itertuples()
    ]


def compare(engine: Engine, candidate_id: str | None, top: int = 12) -> dict[str, Any]:
    """Metrics of the candidate and the deployed run against the baselines, and the largest rank changes."""
    from models import registry

    deployed = registry.deployed_run(engine)
    candidate = run_row(engine, candidate_id) if candidate_id else None
    columns = _metric_columns(deployed, candidate)
    out: dict[str, Any] = {
        "deployed": deployed and deployed["run_id"],
        "candidate": candidate and candidate["run_id"],
        "metrics": _metric_rows(columns),
        "rank_changes": [],
        "year": None,
        "columns": [c for c, _ in columns],
        "deployed_gate": _gate_passed(deployed),
        "candidate_gate": _gate_passed(candidate),
        "judgement": judge(deployed, candidate),
        "rollback_to": rollback_target(engine),
    }
    if deployed is not None and candidate is not None and deployed["run_id"] != candidate["run_id"]:
        out["year"], out["rank_changes"] = _rank_changes(engine, deployed["run_id"], candidate["run_id"], top)
    return out
