"""``crisisrisk phases ...``, ``crisisrisk alerts ...`` and ``crisisrisk export phases`` (issue 14)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.db import make_engine, migrate

log = logging.getLogger(__name__)
phases_app = typer.Typer(
    help="Crisis-phase curves: what happens to trafficking outcomes after a crisis starts.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(
    help="Alert rules, evaluation, human review, backtest and delivery.", no_args_is_help=True
)
console = Console(width=None if sys.stdout.isatty() else 200)


def _engine():
    engine = make_engine()
    migrate(engine)
    return engine


def _fmt(x) -> str:
    return "–" if x is None or x != x else f"{x:+.2f}"


@phases_app.command("compute")
def compute_cmd() -> None:
    """Detect the events, compute every curve (event type x outcome) and store them."""
    from models import phases_store

    engine = _engine()
    result_id = phases_store.compute_and_store(engine)
    console.print(f"stored phase curves as result {result_id}")
    _show(engine)


@phases_app.command("show")
def show_cmd(
    outcome: Annotated[
        str, typer.Option("--outcome", help="nationals_abroad, detected_in_country or " "watchlist_score")
    ] = "",
) -> None:
    """The newest stored curves with n, 90% intervals, the pre-trend check and the verdict."""
    _show(_engine(), outcome or None)


def _show(engine, outcome: str | None = None) -> None:
    from models import phases_store

    frame, result = phases_store.read_curves(engine, outcome=outcome)
    if result is None:
        console.print("[yellow]no phase curves yet: run `crisisrisk phases compute`[/yellow]")
        raise typer.Exit(1)
    summaries = (result["meta_json"] or {}).get("summaries", {})
    for (etype, out), grp in frame.groupby(["event_type", "outcome"], sort=False):
        table = Table(title=f"{etype} -> {out} (log scale; 90% cluster-bootstrap interval)")
        for col in ("k", "effect", "lower", "upper", "n", "countries"):
            table.add_column(col, justify="right")
        for r in grp.itertuples(index=False):
            table.add_row(
                str(r.k), _fmt(r.effect), _fmt(r.lower), _fmt(r.upper), str(r.n), str(r.n_countries)
            )
        console.print(table)
        s = summaries.get(f"{etype}/{out}", {})
        console.print(f"  {s.get('sentence', '')}")
        if "pretrend" in s:
            console.print(f"  {s['pretrend']['sentence']}")


@alerts_app.command("evaluate")
def alerts_evaluate_cmd() -> None:
    """Evaluate every enabled rule now (idempotent: new firings become pending alerts, never twice), then
    backtest
    every rule. The server does this by itself after loads and promotes made through the dashboard or the API.
    """
    from models import alerts

    engine = _engine()
    inputs = alerts.Inputs.from_warehouse(engine)
    result = alerts.evaluate(engine, "cli", "cli", inputs=inputs)
    alerts.store_backtest(engine, result["evaluation_id"], alerts.backtest_all(engine, inputs))
    for r in result["rules"]:
        console.print(f"{r['rule']}: {r['fired']} recent firing(s), {r['new']} new pending alert(s)")
    console.print(
        f"evaluation {result['evaluation_id']}: {result['n_new']} new alert(s); review them with "
        "`crisisrisk alerts list --status pending` and `crisisrisk alerts review`"
    )


@alerts_app.command("list")
def alerts_list_cmd(
    status: Annotated[str, typer.Option("--status", help="pending, confirmed, dismissed or all")] = "pending",
    region: Annotated[str, typer.Option("--region", help="ISO3")] = "",
) -> None:
    """Alerts with their rule, region, data year and message."""
    from models import alerts

    if status not in ("pending", "confirmed", "dismissed", "all"):
        console.print("[red]--status must be pending, confirmed, dismissed or all[/red]")
        raise typer.Exit(2)
    rows = alerts.list_alerts(
        _engine(), status=None if status == "all" else status, region_id=region.upper() or None
    )
    table = Table(title=f"{len(rows)} alert(s), status {status}")
    for col in ("id", "status", "rule", "region", "year", "message"):
        table.add_column(col)
    for a in rows:
        table.add_row(
            str(a["alert_id"]),
            a["status"],
            a["rule"],
            f"{a['region_name']} ({a['region_id']})",
            str(a["period"]),
            a["message"],
        )
    console.print(table)


@alerts_app.command("review")
def alerts_review_cmd(
    alert_id: Annotated[int, typer.Argument(help="Alert id")],
    decision: Annotated[str, typer.Option("--decision", help="confirmed or dismissed")],
    note: Annotated[str, typer.Option("--note", help="Why (kept as a label for the rule's precision)")],
    who: Annotated[str, typer.Option("--as", help="Reviewer name for the audit log")] = "cli",
) -> None:
    """Confirm or dismiss a pending alert (audited); confirmed alerts are delivered by `crisisrisk alerts
    deliver`."""
    from models import alerts

    try:
        row = alerts.review(_engine(), alert_id, decision, note, who)
    except alerts.ReviewError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"alert {alert_id} is {row['status']}")


@alerts_app.command("rules")
def alerts_rules_cmd() -> None:
    """The rules with their newest backtest: how often each fired and the share followed by a rise."""
    from models import alerts

    engine = _engine()
    alerts.seed_starter_rules(engine)
    backtest, _ = alerts.latest_backtest(engine)
    by_name = {b["rule"]: b for b in backtest}
    for r in alerts.list_rules(engine):
        state = "enabled" if r["enabled"] else "disabled"
        console.print(
            f"[bold]{r['name']}[/bold] ({state}; {r['condition']} {r['params_json']}, minimum "
            f"{r['minimum']}, scope {r['region_scope']}, cool-down {r['cooldown_years']} years)"
        )
        sentence = (by_name.get(r["name"]) or {}).get(
            "sentence", "no backtest yet: crisisrisk alerts evaluate"
        )
        console.print(f"  {sentence}")


def export_phases(out: Annotated[Path, typer.Option("--out", help="CSV file to write.")]) -> None:
    """The newest crisis-phase curves: one row per event type, outcome and k (effect on the log scale, 90%
    interval, n)."""
    from models import phases_store
    from models.export import write_csv

    try:
        frame = phases_store.export_frame(_engine())
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    n = write_csv(frame, out)
    console.print(f"wrote {n:,} curve points to {out}")


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    """Join the main program: `crisisrisk phases`, `crisisrisk alerts`, `crisisrisk export phases`."""
    app.add_typer(phases_app, name="phases")
    app.add_typer(alerts_app, name="alerts")
    export_app.command("phases")(export_phases)
