"""Admin page (``/admin``, analysts and admins): upload a new publisher file and see its dry-run report,
confirm the load (a background job), retrain (a background job), compare the candidate run with the deployed
run, promote or roll back, and read the history of uploads and jobs and the audit log.

Access: the guard in ``dashboard.auth`` refuses the page and every callback writing an ``admin-`` id to
anyone below analyst (and checks the CSRF token); the layout and each callback check again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import auth, context, ids, workflows
from dashboard.pages.common import table
from dashboard.queries import Queries, source_files, upload_limit_bytes

POLL_MS = 1500
LOG_LINES = 14
CANCEL = (  # pattern-matching id of each running job's Cancel button: {"type": CANCEL, "job": id}
    "admin-cancel"
)
REPORT_STATE = "admin-report-state"  # which upload's dry run the report area shows, and in which status
PROMOTE_DIALOG = "admin-promote-dialog"  # asks before promoting an identical or worse run, with the reason
BANNER_JOB = "admin-banner-job"  # the job the message banner speaks of; the poll rewrites it as the job goes
VERDICT_TEXT = {
    "identical": "Identical to the deployed run",
    "worse": "Worse than the deployed run",
    "mixed": "Worse than the deployed run at some horizons",
    "better": "Better than the deployed run",
    "first": "First run: nothing is deployed",
    "unknown": "Cannot be compared with the deployed run",
}
UPLOAD_COLUMNS = [
    ("upload_id", "Id"),
    ("at", "When (UTC)"),
    ("actor", "By"),
    ("source", "Source"),
    ("filename", "File"),
    ("size", "Size"),
    ("status", "Status"),
    ("summary", "Report"),
]
JOB_COLUMNS = [
    ("job_id", "Id"),
    ("kind", "Kind"),
    ("status", "Status"),
    ("requested_by", "By"),
    ("started_at", "Started (UTC)"),
    ("finished_at", "Finished (UTC)"),
    ("message", "Result"),
]
AUDIT_COLUMNS = [
    ("at", "When (UTC)"),
    ("actor", "Who"),
    ("action", "Action"),
    ("target", "Target"),
    ("outcome", "Outcome"),
    ("detail", "Detail"),
    ("client", "Client"),
]


dash.register_page(
    __name__,
    path="/admin",
    name="Admin",
    order=6,
    title="Admin · crisisrisk",
    description="Uploads, retraining, promotion (analysts)",
    required_role="analyst",
)


def _ts(value) -> str:
    return "" if value is None else str(value)[:19].replace("T", " ")


def _size(n: int | None) -> str:
    if not n:
        return "0 B"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _signature(value) -> str:
    return hashlib.sha1(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()[:16]


def forbidden() -> html.Div:
    principal = auth.current_principal()
    who = f"You are signed in as {principal.name} ({principal.role}). " if principal else ""
    return html.Div(
        className="card notice",
        children=[
            html.H2("Analysts only"),
            html.P(f"{who}The admin page (uploads, retraining, promotion) needs the analyst or admin role."),
            html.P(html.A("Sign in with another account", href="/login?next=/admin")),
        ],
    )


# --- pieces rendered from the database ----------------------------------------------------------------------
def pending_view(upload_id: int, job: dict | None) -> html.Div:
    """The report area while the dry run runs in the background (issue 9 #7); the poll replaces it."""
    pct = float((job or {}).get("progress") or 0)
    return html.Div(
        className="report pending",
        role="status",
        children=[
            html.H4(f"Checking upload #{upload_id}" + (f" (job #{job['job_id']})" if job else "")),
            html.Div(
                className="progress-row",
                children=[
                    html.Progress(value=str(round(pct)), max="100", className="progress"),
                    html.Span(f"{pct:.0f}%", className="progress-pct"),
                ],
            ),
            html.P((job or {}).get("message") or "waiting to start", className="job-message"),
            html.P(
                "The dry run parses and maps every row in the server; large files take minutes. You may leave"
                " this page: the report stays in the upload history.",
                className="note",
            ),
        ],
    )


def report_view(outcome: dict) -> html.Div:
    rep = outcome["report"] or {}
    if outcome["status"] in ("failed", "cancelled"):
        return html.Div(
            className="report refused",
            role="alert",
            children=[
                html.H4(f"Upload #{outcome['upload_id']}: dry run {outcome['status']}"),
                html.P(
                    rep.get("error")
                    or (
                        "cancelled by an analyst"
                        if outcome["status"] == "cancelled"
                        else "the dry run stopped"
                    ),
                    className="report-error",
                ),
                html.P("Nothing was written; upload the file again.", className="note"),
            ],
        )
    head = (
        f"Upload #{outcome['upload_id']}: {rep['filename']} for {rep['source']} ({_size(rep['size_bytes'])})"
    )
    if outcome["status"] != "validated":
        return html.Div(
            className="report refused",
            role="alert",
            children=[
                html.H4(["Refused: ", head]),
                html.P(rep.get("error") or "refused", className="report-error"),
                html.P(
                    f"Reason code: {rep.get('error_code')}. Nothing was written; fix the file and upload it"
                    " again.",
                    className="note",
                ),
            ],
        )
    facts = [
        ("Rows read", f"{rep['rows_read']:,}"),
        ("Rows that would load", f"{rep['rows_would_load']:,}"),
        ("Rows that would be rejected", f"{rep['rows_would_reject']:,}"),
        ("Observations", f"{rep['observations']:,}"),
        ("Years", "–".join(str(y) for y in rep["years"]) or "none"),
        ("Indicators", ", ".join(rep["indicators"]) or "none"),
        ("Replaces", ", ".join(rep["replaces"]) or "nothing (a new file)"),
        ("SHA-256", rep["sha256"][:16] + "…"),
    ]
    reasons = [{"Reason": k, "Rows": v} for k, v in rep["reasons"].items()]
    examples = [{"Row": e["row"], "Reason": e["reason"], "Detail": e["detail"]} for e in rep["examples"]]
    import pandas as pd

    return html.Div(
        className="report ok",
        children=[
            html.H4(["Checked: ", head]),
            html.P(
                "Nothing is written until you confirm. The load reloads the source from this file in one"
                " transaction; the file replaces the current one in data/raw only after that commit, so a"
                " failed, cancelled or interrupted load leaves both as they were.",
                className="note",
            ),
            html.Table(
                className="facts",
                children=[html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts])],
            ),
            *comparison_view(rep),
            (
                html.H4("Rows that would be rejected, by reason")
                if reasons
                else html.P("No row would be rejected.", className="note")
            ),
            table(ids.ADMIN_REPORT + "-reasons", pd.DataFrame(reasons), page_size=8) if reasons else None,
            html.H4("Examples of rejected rows") if examples else None,
            table(ids.ADMIN_REPORT + "-examples", pd.DataFrame(examples), page_size=6) if examples else None,
        ],
    )


def _years(years: list[int]) -> str:
    return ", ".join(str(y) for y in years) or "none"


def comparison_view(rep: dict) -> list:
    """The upload against the loaded file it replaces: identical bytes, or what a load would change."""
    import pandas as pd

    if "comparison" not in rep:  # a report made before the comparison existed
        return []
    cmp = rep["comparison"] or {}
    if not cmp:
        return [html.P("No file of this source is loaded yet: the upload adds one.", className="note")]
    against = ", ".join(cmp.get("against") or [])
    if cmp.get("identical"):
        return [
            html.P(
                [
                    html.Strong("Identical to the loaded file. "),
                    f"{cmp.get('identical_to', against)} has the same bytes (sha256 {cmp['sha256'][:16]}…);"
                    " loading this upload would change nothing.",
                ],
                className="report-compare identical notice",
                role="status",
            )
        ]
    if cmp.get("error"):
        return [html.P(f"Compared with {against}: {cmp['error']}.", className="note")]
    facts = [
        ("Rows", f"{cmp['rows_current']:,} now → {cmp['rows_upload']:,} in the upload"),
        ("Observations added", f"{cmp['observations_added']:,}"),
        ("Observations removed", f"{cmp['observations_removed']:,}"),
        ("Values that change", f"{cmp['values_changed']:,}"),
        ("Years added", _years(cmp["years_added"])),
        ("Years removed", _years(cmp["years_removed"])),
    ]
    parts: list = [
        html.H4(f"Compared with the loaded {against}"),
        html.Table(
            className="facts",
            children=[html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts])],
        ),
    ]
    if cmp.get("top_changes"):
        frame = pd.DataFrame(cmp["top_changes"]).rename(
            columns={
                "region_id": "Region",
                "indicator": "Indicator",
                "year": "Year",
                "current": "Now",
                "upload": "Upload",
                "change": "Change",
            }
        )
        parts += [
            html.H4("Largest value changes"),
            table(ids.ADMIN_REPORT + "-changes", frame, page_size=8),
        ]
    for key, title in (
        ("added_examples", "Examples of observations added"),
        ("removed_examples", "Examples of observations removed"),
    ):
        if cmp.get(key):
            frame = pd.DataFrame(cmp[key]).rename(
                columns={"region_id": "Region", "indicator": "Indicator", "year": "Year", "value": "Value"}
            )
            parts += [html.H4(title), table(f"{ids.ADMIN_REPORT}-{key}", frame, page_size=5)]
    return parts


def jobs_view(q: Queries) -> list:
    out = []
    for kind, title in (
        ("validate", "Dry run of an upload"),
        ("load", "Data load"),
        ("retrain", "Retraining"),
    ):
        last = next(iter(q.recent_jobs(kind, 1)), None)
        if kind != "validate":
            last = q.running_job(kind) or last
        if last is None:
            out.append(
                html.Div(className="job", children=[html.H4(title), html.P("No job yet.", className="note")])
            )
            continue
        pct = float(last.get("progress") or 0)
        log_tail = "\n".join((last.get("log") or "").strip().splitlines()[-LOG_LINES:])
        state = last["status"]
        out.append(
            html.Div(
                className=f"job job-{state}",
                id=f"admin-job-{kind}",
                children=[
                    html.H4(f"{title}: job #{last['job_id']} {state}"),
                    html.Div(
                        className="progress-row",
                        children=[
                            html.Progress(value=str(round(pct)), max="100", className="progress"),
                            html.Span(f"{pct:.0f}%", className="progress-pct"),
                        ],
                    ),
                    html.P(last.get("message") or "", className="job-message"),
                    html.P(
                        f"by {last['requested_by']}, started {_ts(last['started_at'])} UTC"
                        + (f", finished {_ts(last['finished_at'])} UTC" if last.get("finished_at") else ""),
                        className="note",
                    ),
                    html.Details(
                        [html.Summary("Log"), html.Pre(log_tail or "(empty)", className="job-log")],
                        open=state == "running",
                    ),
                    (
                        html.Button(
                            "Cancel this job",
                            id={"type": CANCEL, "job": int(last["job_id"])},
                            className="button secondary",
                            n_clicks=0,
                            disabled=bool(last.get("cancel_requested")),
                        )
                        if state == "running"
                        else None
                    ),
                ],
            )
        )
    return out


def uploads_view(q: Queries):
    import pandas as pd

    rows = []
    for u in q.recent_uploads(30):
        rep = u.get("report_json") or {}
        summary = (
            f"{rep.get('rows_would_load', 0):,} load / {rep.get('rows_would_reject', 0):,} reject"
            if rep.get("ok")
            else str(rep.get("error") or "")[:160]
        )
        rows.append(
            {
                "upload_id": u["upload_id"],
                "at": _ts(u["at"]),
                "actor": u["actor"],
                "source": u["source"],
                "filename": u["filename"],
                "size": _size(u["size_bytes"]),
                "status": u["status"],
                "summary": summary,
            }
        )
    if not rows:
        return html.P("No uploads yet.", className="note")
    frame = pd.DataFrame(rows)
    return table(
        ids.ADMIN_UPLOADS + "-table",
        frame,
        columns=[{"name": n, "id": c} for c, n in UPLOAD_COLUMNS],
        page_size=8,
    )


def job_history_view(q: Queries):
    import pandas as pd

    rows = [
        {
            "job_id": j["job_id"],
            "kind": j["kind"],
            "status": j["status"],
            "requested_by": j["requested_by"],
            "started_at": _ts(j["started_at"]),
            "finished_at": _ts(j["finished_at"]),
            "message": (j.get("message") or "")[:200],
        }
        for j in q.recent_jobs(None, 30)
    ]
    if not rows:
        return html.P("No jobs yet.", className="note")
    return table(
        ids.ADMIN_JOB_HISTORY + "-table",
        pd.DataFrame(rows),
        columns=[{"name": n, "id": c} for c, n in JOB_COLUMNS],
        page_size=8,
    )


def audit_view(q: Queries):
    import pandas as pd

    rows = [{**{c: e.get(c) for c, _ in AUDIT_COLUMNS}, "at": _ts(e["at"])} for e in q.audit_entries(200)]
    if not rows:
        return html.P("The audit log is empty.", className="note")
    return table(
        ids.ADMIN_AUDIT + "-table",
        pd.DataFrame(rows),
        columns=[{"name": n, "id": c} for c, n in AUDIT_COLUMNS],
        page_size=12,
        filter_action="native",
        sort_action="native",
        style_data_conditional=[
            {
                "if": {
                    "filter_query": '{outcome} = "denied" || {outcome} = "error" || {outcome} = "refused"'
                },
                "color": "#9b1c1c",
            }
        ],
    )


def runs_state(q: Queries) -> tuple[list[dict], str | None]:
    runs = q.model_runs()
    options = []
    for r in runs:
        if r["status"] == "deployed":
            continue
        gate = ((r.get("metrics_json") or {}).get("gate") or {}).get("passed")
        gate_txt = (
            "beats last-value baseline" if gate else ("does not beat the baseline" if gate is False else "")
        )
        options.append(
            {
                "label": f"{r['run_id']} · {r['status']}" + (f" · {gate_txt}" if gate_txt else ""),
                "value": r["run_id"],
            }
        )
    candidates = [r["run_id"] for r in runs if r["status"] == "candidate"]
    default = candidates[0] if candidates else (options[0]["value"] if options else None)
    return options, default


def compare_view(engine, candidate: str | None):
    import pandas as pd

    data = workflows.compare(engine, candidate)

    def gate(value):
        return {
            True: "beats the last-value baseline",
            False: "does NOT beat the last-value baseline",
            None: "gate unknown",
        }[value]

    head = html.Div(
        className="compare-head",
        children=[
            html.Div(
                className="kpi",
                children=[
                    html.Div("Deployed", className="kpi-label"),
                    html.Div(data["deployed"] or "none", className="kpi-value run-id"),
                    html.Div(gate(data.get("deployed_gate")), className="kpi-sub"),
                ],
            ),
            html.Div(
                className="kpi",
                children=[
                    html.Div("Candidate", className="kpi-label"),
                    html.Div(data["candidate"] or "none", className="kpi-value run-id"),
                    html.Div(
                        (
                            gate(data.get("candidate_gate"))
                            if data["candidate"]
                            else "press Retrain to make one"
                        ),
                        className="kpi-sub",
                    ),
                ],
            ),
        ],
    )
    parts = [head]
    judgement = data.get("judgement") or {}
    if data["candidate"] and data["candidate"] != data["deployed"] and judgement.get("verdict"):
        parts.append(verdict_view(judgement))
    if data["metrics"] and data.get("columns"):
        frame = pd.DataFrame(data["metrics"])
        parts += [
            html.H4("Backtest metrics (rolling origin, pooled) against the baselines"),
            table(
                ids.ADMIN_COMPARE + "-metrics",
                frame,
                columns=[
                    {"name": c, "id": c, "type": "numeric" if c != "metric" else "text"}
                    for c in frame.columns
                ],
                page_size=10,
            ),
        ]
    if data["rank_changes"]:
        frame = (
            pd.DataFrame(data["rank_changes"])
            .rename(
                columns={
                    "name": "Country",
                    "rank_deployed": "Rank now",
                    "rank_candidate": "Rank in candidate",
                    "change": "Change (+ = riskier)",
                    "estimate_deployed": "Estimate now (per 100k)",
                    "estimate_candidate": "Candidate estimate (per 100k)",
                }
            )
            .drop(columns=["region_id"])
        )
        parts += [
            html.H4(f"Countries whose rank changes most ({data['year']}, 1 = highest risk)"),
            table(ids.ADMIN_COMPARE + "-ranks", frame, page_size=12),
        ]
    elif data["candidate"] and data["deployed"] and data["candidate"] != data["deployed"]:
        text = (
            "The two runs share no predicted year, so ranks cannot be compared."
            if data["year"] is None
            else f"No country changes rank in {data['year']}: the two runs order every country the same way."
        )
        parts.append(html.P(text, className="note rank-none"))
    return html.Div(parts), not bool(data["candidate"])


def verdict_view(judgement: dict) -> html.Div:
    """The candidate against the deployed run in one line, and per horizon (backtest RMSLE)."""
    verdict = judgement["verdict"]
    rows = judgement.get("horizons") or []
    detail = (
        html.Ul(
            [
                html.Li(
                    f"h{r['horizon']}: RMSLE {r['candidate_rmsle']:.3f} against {r['deployed_rmsle']:.3f}"
                    f" deployed ({r['change_pct']:+.1f}%)"
                )
                for r in rows
            ],
            className="verdict-horizons",
        )
        if rows
        else None
    )
    warn = judgement.get("needs_confirmation")
    return html.Div(
        className=f"verdict verdict-{verdict}" + (" notice" if warn else ""),
        id="admin-verdict",
        role="alert" if warn else None,
        children=[
            html.Strong(VERDICT_TEXT.get(verdict, verdict) + ". "),
            html.Span(judgement.get("reason", "")[:1].upper() + judgement.get("reason", "")[1:] + "."),
            html.Span(" Promoting it asks for confirmation." if warn else "", className="note"),
            detail,
        ],
    )


# --- page
def refresh(q: Queries) -> None:
    """After a promote, rollback or load: drop the cache and warm it for the new version before answering
    (issue 9 #12: a cold cache gave 50 clients a p95 of 5.3 s right after a promote)."""
    q.clear()
    q.warm()


def layout(**_query):
    if not auth.allowed("analyst"):
        return forbidden()
    q = context.queries()
    principal = auth.current_principal()
    sources = workflows.source_options()
    limit_mb = upload_limit_bytes() / 1024 / 1024
    return html.Div(
        className="admin-page",
        children=[
            dcc.Interval(id=ids.ADMIN_POLL, interval=POLL_MS),
            dcc.Store(id=ids.ADMIN_UPLOAD_ID),
            dcc.Store(id=ids.ADMIN_RUNS_KEY),
            dcc.Store(id="admin-poll-state"),
            dcc.Store(id=REPORT_STATE),
            dcc.Store(id=BANNER_JOB),
            dcc.ConfirmDialog(id=PROMOTE_DIALOG),
            html.Div(
                className="region-head",
                children=[
                    html.H1("Admin: new data, retraining, promotion"),
                    html.P(
                        f"Signed in as {principal.name} ({principal.role}). Every action is recorded in the"
                        " audit log.",
                        id=ids.ADMIN_WHO,
                        className="note",
                    ),
                ],
            ),
            html.Div(id=ids.ADMIN_MESSAGE, className="admin-message", role="status"),
            html.Div(
                className="grid-2",
                children=[
                    html.Div(
                        className="card",
                        children=[
                            html.H3("1. Upload a new file for a source"),
                            html.Div(
                                className="control",
                                children=[
                                    html.Label("Source", htmlFor=ids.ADMIN_SOURCE),
                                    dcc.Dropdown(
                                        id=ids.ADMIN_SOURCE,
                                        options=sources,
                                        value=None,
                                        clearable=False,
                                        placeholder="Choose the source the file belongs to",
                                    ),
                                ],
                            ),
                            html.Div(id=ids.ADMIN_SOURCE_HELP, className="note"),
                            dcc.Upload(
                                id=ids.ADMIN_UPLOAD,
                                className="upload-box",
                                max_size=upload_limit_bytes(),
                                multiple=False,
                                disabled=True,
                                children=html.Div(
                                    [
                                        "Drop the file here or ",
                                        html.Span("choose it", className="link"),
                                        html.Br(),
                                        html.Span(
                                            "CSV, gzip, xlsx (values only) or JSON; at most "
                                            f"{limit_mb:,.0f} MB",
                                            className="note",
                                        ),
                                    ]
                                ),
                            ),
                            html.Div(id=ids.ADMIN_REPORT, className="report-area"),
                            html.Button(
                                "Confirm: load this file",
                                id=ids.ADMIN_CONFIRM,
                                className="button",
                                disabled=True,
                            ),
                        ],
                    ),
                    html.Div(
                        className="card",
                        children=[
                            html.H3("2. Background jobs"),
                            html.P(
                                "Dry runs, loads and retrains run in the server; this panel follows their"
                                " progress. Only one load and one retrain run at a time. Cancel stops a job"
                                " at its next step and changes nothing.",
                                className="note",
                            ),
                            html.Div(jobs_view(q), id=ids.ADMIN_JOBS),
                            html.Button(
                                "Retrain: make a candidate run", id=ids.ADMIN_RETRAIN, className="button"
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="card",
                children=[
                    html.H3("3. Candidate against the deployed model"),
                    html.Div(
                        className="controls",
                        children=[
                            html.Div(
                                className="control",
                                children=[
                                    html.Label("Run to compare and promote", htmlFor=ids.ADMIN_CANDIDATE),
                                    dcc.Dropdown(
                                        id=ids.ADMIN_CANDIDATE,
                                        clearable=False,
                                        placeholder="No candidate run yet",
                                    ),
                                ],
                            ),
                            html.Div(
                                className="control downloads",
                                children=[
                                    html.Button(
                                        "Promote to deployed",
                                        id=ids.ADMIN_PROMOTE,
                                        className="button",
                                        disabled=True,
                                    ),
                                    html.Button(
                                        "Roll back to the previous model",
                                        id=ids.ADMIN_ROLLBACK,
                                        className="button secondary",
                                        disabled=True,
                                    ),
                                ],
                            ),
                        ],
                    ),
                    html.Div(id=ids.ADMIN_COMPARE),
                ],
            ),
            html.Div(
                className="grid-2",
                children=[
                    html.Div(
                        className="card",
                        children=[html.H3("Upload history"), html.Div(uploads_view(q), id=ids.ADMIN_UPLOADS)],
                    ),
                    html.Div(
                        className="card",
                        children=[
                            html.H3("Job history"),
                            html.Div(job_history_view(q), id=ids.ADMIN_JOB_HISTORY),
                        ],
                    ),
                ],
            ),
            html.Div(
                className="card",
                children=[html.H3("Audit log (latest 200)"), html.Div(audit_view(q), id=ids.ADMIN_AUDIT)],
            ),
        ],
    )


@callback(
    Output(ids.ADMIN_SOURCE_HELP, "children"),
    Output(ids.ADMIN_UPLOAD, "disabled"),
    Input(ids.ADMIN_SOURCE, "value"),
)
def source_help(name):
    auth.require_dash("analyst")
    if not name:
        return (
            "Choose a source first; the upload is checked against that source's file names and columns.",
            True,
        )
    files = source_files(name)
    if files is None:
        return "Unknown source.", True
    patterns, current = files
    return [
        f"Expected file names: {', '.join(patterns)}. Current file(s): {', '.join(current) or 'none'}."
    ], False


@callback(
    Output(ids.ADMIN_REPORT, "children"),
    Output(ids.ADMIN_UPLOAD_ID, "data"),
    Output(ids.ADMIN_CONFIRM, "disabled"),
    Output(REPORT_STATE, "data"),
    Input(ids.ADMIN_UPLOAD, "contents"),
    State(ids.ADMIN_UPLOAD, "filename"),
    State(ids.ADMIN_SOURCE, "value"),
    prevent_initial_call=True,
)
def on_upload(contents, filename, source):
    principal = auth.require_dash("analyst")
    if not contents:
        return no_update, no_update, no_update, no_update
    if not source:
        return html.P("Choose the source first.", className="report refused"), None, True, None
    _header, _, b64 = str(contents).partition(",")
    limit = upload_limit_bytes()
    if len(b64) * 3 // 4 > limit + 4:
        data = b"\0" * (limit + 1)  # let validate() refuse and record it as too large
    else:
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            return (
                html.P(
                    "The browser sent the file in a form that could not be decoded; try again.",
                    className="report refused",
                ),
                None,
                True,
                None,
            )
    outcome = workflows.validate_upload(
        context.current().engine, principal.name, source, filename or "", data, auth.client_address()
    )
    if outcome["status"] == "refused":  # refused by the instant checks (size, empty, name)
        return report_view(outcome), None, True, None
    upload_id = outcome["upload_id"]
    return (
        pending_view(upload_id, outcome["job"]),
        upload_id,
        True,
        {"upload_id": upload_id, "status": "validating"},
    )


@callback(
    Output(ids.ADMIN_REPORT, "children", allow_duplicate=True),
    Output(ids.ADMIN_CONFIRM, "disabled", allow_duplicate=True),
    Output(REPORT_STATE, "data", allow_duplicate=True),
    Input(ids.ADMIN_POLL, "n_intervals"),
    State(REPORT_STATE, "data"),
    prevent_initial_call=True,
)
def follow_dry_run(_n, shown):
    """Poll the dry-run job of the upload shown; put its report in place when it ends."""
    auth.require_dash("analyst")
    if not shown or shown.get("status") != "validating":
        return no_update, no_update, no_update
    q = context.queries()
    item = q.upload(int(shown["upload_id"]))
    if item is None:
        return no_update, no_update, no_update
    if item["status"] == "validating":
        job = q.job(item["job_id"]) if item.get("job_id") else None
        key = (job or {}).get("progress"), (job or {}).get("message")
        if list(key) == shown.get("key"):
            return no_update, no_update, no_update
        return pending_view(item["upload_id"], job), no_update, {**shown, "key": list(key)}
    outcome = {"upload_id": item["upload_id"], "status": item["status"], "report": item.get("report_json")}
    return report_view(outcome), item["status"] != "validated", {**shown, "status": item["status"]}


@callback(
    Output(ids.ADMIN_MESSAGE, "children", allow_duplicate=True),
    Input({"type": CANCEL, "job": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def on_cancel(clicks):
    principal = auth.require_dash("analyst")
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update
    clicked = next((c for c, i in zip(clicks, ctx.inputs_list[0], strict=False) if i["id"] == trigger), 0)
    if not clicked:
        return no_update
    try:
        item = workflows.cancel_job(
            context.current().engine, principal.name, int(trigger["job"]), auth.client_address()
        )
        text, cls = (
            f"Cancel requested for job #{item['job_id']} ({item['kind']}); it stops at its next step.",
            "ok",
        )
    except workflows.WorkflowError as exc:
        text, cls = exc.message[:1].upper() + exc.message[1:], "error"
    return html.P(text, className=f"message {cls}", role="alert" if cls == "error" else None)


def _message(text: str, cls: str) -> html.P:
    return html.P(text, className=f"message {cls}", role="alert" if cls in ("error", "warn") else None)


def _start_load(q: Queries, actor: str, upload_id, client) -> tuple[str, dict]:
    if not upload_id:
        raise workflows.WorkflowError(400, "upload and check a file first")
    job = workflows.start_load(q.engine, actor, int(upload_id), client, lambda _ok=True: refresh(q))
    label = f"Loading upload #{upload_id}"
    return (
        f"{label} as job #{job['job_id']}; progress is shown under Background jobs.",
        {"job_id": int(job["job_id"]), "label": label, "status": "running"},
    )


def _deploy(q: Queries, actor: str, candidate, client, force: bool) -> str:
    if not candidate:
        raise workflows.WorkflowError(400, "choose a run to promote")
    out = workflows.promote(q.engine, actor, candidate, client, force=force)
    refresh(q)
    return out["message"] + "."


@callback(
    Output(ids.ADMIN_MESSAGE, "children"),
    Output(ids.ADMIN_CONFIRM, "disabled", allow_duplicate=True),
    Output(PROMOTE_DIALOG, "displayed"),
    Output(PROMOTE_DIALOG, "message"),
    Output(BANNER_JOB, "data"),
    Input(ids.ADMIN_CONFIRM, "n_clicks"),
    Input(ids.ADMIN_RETRAIN, "n_clicks"),
    Input(ids.ADMIN_PROMOTE, "n_clicks"),
    Input(ids.ADMIN_ROLLBACK, "n_clicks"),
    State(ids.ADMIN_UPLOAD_ID, "data"),
    State(ids.ADMIN_CANDIDATE, "value"),
    prevent_initial_call=True,
)
def on_action(_confirm, _retrain, _promote, _rollback, upload_id, candidate):
    """The buttons. Promote first asks the server for the verdict: a run identical to or worse than the
    deployed one opens the confirmation dialog with the reason instead of being deployed."""
    principal = auth.require_dash("analyst")
    trigger = ctx.triggered_id
    client = auth.client_address()
    q = context.queries()
    confirm_disabled, banner = no_update, no_update
    try:
        if trigger == ids.ADMIN_CONFIRM:
            text, banner = _start_load(q, principal.name, upload_id, client)
            cls, confirm_disabled = "ok", True
        elif trigger == ids.ADMIN_RETRAIN:
            job = workflows.start_retrain(q.engine, principal.name, client)
            text, cls = (
                (
                    f"Retraining started (job #{job['job_id']}). The result is a candidate run; it is not "
                    "deployed until you promote it."
                ),
                "ok",
            )
            banner = {"job_id": int(job["job_id"]), "label": "Retraining", "status": "running"}
        elif trigger == ids.ADMIN_PROMOTE:
            judgement = workflows.judgement(q.engine, candidate) if candidate else {}
            if judgement.get("needs_confirmation"):
                verdict = VERDICT_TEXT[judgement["verdict"]].lower()
                reason = f"Run {candidate}: {verdict}; {judgement['reason']}."
                return (
                    _message(reason + " Confirm in the dialog to promote it anyway.", "warn"),
                    no_update,
                    True,
                    reason + "\n\nPromote it to deployed anyway?",
                    no_update,
                )
            text, cls = _deploy(q, principal.name, candidate, client, force=False), "ok"
        elif trigger == ids.ADMIN_ROLLBACK:
            out = workflows.rollback(q.engine, principal.name, client)
            refresh(q)
            text, cls = out["message"] + ".", "ok"
        else:
            return no_update, no_update, no_update, no_update, no_update
    except workflows.WorkflowError as exc:
        text, cls = exc.message[:1].upper() + exc.message[1:], "error"
    return _message(text, cls), confirm_disabled, False, no_update, banner


@callback(
    Output(ids.ADMIN_MESSAGE, "children", allow_duplicate=True),
    Input(PROMOTE_DIALOG, "submit_n_clicks"),
    State(ids.ADMIN_CANDIDATE, "value"),
    prevent_initial_call=True,
)
def on_promote_confirmed(submitted, candidate):
    """The analyst confirmed promoting an identical or worse run: deployed with force (audited as such)."""
    principal = auth.require_dash("analyst")
    if not submitted:
        return no_update
    try:
        text, cls = _deploy(context.queries(), principal.name, candidate, auth.client_address(), True), "ok"
    except workflows.WorkflowError as exc:
        text, cls = exc.message[:1].upper() + exc.message[1:], "error"
    return _message(text, cls)


JOB_END_TEXT = {
    "succeeded": "{label} (job #{job_id}) finished: {message}.",
    "failed": "{label} (job #{job_id}) failed: {message}.",
    "cancelled": "{label} (job #{job_id}) was cancelled: {message}.",
}


@callback(
    Output(ids.ADMIN_MESSAGE, "children", allow_duplicate=True),
    Output(BANNER_JOB, "data", allow_duplicate=True),
    Input(ids.ADMIN_POLL, "n_intervals"),
    State(BANNER_JOB, "data"),
    prevent_initial_call=True,
)
def follow_banner(_n, banner):
    """The banner follows the job it announced (issue 13 #8: 'Loading upload #1…' stayed after the load)."""
    auth.require_dash("analyst")
    if not banner or banner.get("status") != "running":
        return no_update, no_update
    job = context.queries().job(int(banner["job_id"]))
    if job is None:
        return no_update, no_update
    state = job["status"]
    if state == "running":
        key = [job.get("progress"), job.get("message")]
        if key == banner.get("key"):
            return no_update, no_update
        text = f"{banner['label']} (job #{job['job_id']}): {float(job.get('progress') or 0):.0f}%, " + str(
            job.get("message") or "starting"
        )
        return _message(text, "ok"), {**banner, "key": key}
    message = str(job.get("message") or state).rstrip(".")
    text = JOB_END_TEXT.get(state, "{label} (job #{job_id}): {message}.").format(
        label=banner["label"], job_id=job["job_id"], message=message
    )
    return _message(text, "ok" if state == "succeeded" else "error"), {**banner, "status": state}


@callback(
    Output(ids.ADMIN_JOBS, "children"),
    Output(ids.ADMIN_UPLOADS, "children"),
    Output(ids.ADMIN_JOB_HISTORY, "children"),
    Output(ids.ADMIN_AUDIT, "children"),
    Output(ids.ADMIN_RUNS_KEY, "data"),
    Output("admin-poll-state", "data"),
    Input(ids.ADMIN_POLL, "n_intervals"),
    Input(ids.ADMIN_MESSAGE, "children"),
    State("admin-poll-state", "data"),
)
def poll(_n, _message, state):
    auth.require_dash("analyst")
    q = context.queries()
    state = dict(state or {})
    recent = q.recent_jobs(None, 30)
    ups = q.recent_uploads(30)
    last_audit = q.audit_entries(1)
    sigs = {
        "jobs": _signature([(j["job_id"], j["status"], j["progress"], j["message"]) for j in recent]),
        "uploads": _signature([(u["upload_id"], u["status"]) for u in ups]),
        "audit": _signature([e["audit_id"] for e in last_audit]),
        "runs": _signature([(r["run_id"], r["status"]) for r in q.model_runs()]),
    }
    out = [
        jobs_view(q) if sigs["jobs"] != state.get("jobs") else no_update,
        uploads_view(q) if sigs["uploads"] != state.get("uploads") else no_update,
        job_history_view(q) if sigs["jobs"] != state.get("jobs") else no_update,
        audit_view(q) if sigs["audit"] != state.get("audit") else no_update,
        sigs["runs"] if sigs["runs"] != state.get("runs") else no_update,
    ]
    if sigs == state:
        return (*out, no_update)
    return (*out, sigs)


@callback(
    Output(ids.ADMIN_CANDIDATE, "options"),
    Output(ids.ADMIN_CANDIDATE, "value"),
    Input(ids.ADMIN_RUNS_KEY, "data"),
    State(ids.ADMIN_CANDIDATE, "value"),
)
def candidates(_key, current):
    auth.require_dash("analyst")
    options, default = runs_state(context.queries())
    values = {o["value"] for o in options}
    # a new candidate (just trained) is selected; otherwise keep the analyst's choice
    if (
        default
        and default != current
        and any(o["value"] == default and "candidate" in o["label"] for o in options)
    ):
        return options, default
    return options, current if current in values else default


@callback(
    Output(ids.ADMIN_COMPARE, "children"),
    Output(ids.ADMIN_PROMOTE, "disabled"),
    Input(ids.ADMIN_CANDIDATE, "value"),
    Input(ids.ADMIN_RUNS_KEY, "data"),
)
def comparison(candidate, _key):
    auth.require_dash("analyst")
    return compare_view(context.current().engine, candidate)


@callback(
    Output(ids.ADMIN_ROLLBACK, "disabled"),
    Output(ids.ADMIN_ROLLBACK, "title"),
    Input(ids.ADMIN_RUNS_KEY, "data"),
)
def rollback_button(_key):
    """Roll back is offered only when a previously deployed run exists to go back to (issue 13 #8)."""
    auth.require_dash("analyst")
    target = workflows.rollback_target(context.current().engine)
    if target is None:
        return True, "Nothing to roll back to: no run was deployed before the current one."
    return False, f"Re-deploy run {target}, the one deployed before the current one."
