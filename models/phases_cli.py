"""``crisisrisk phases ...``, ``crisisrisk alerts ...`` and ``crisisrisk export phases`` (issue 14)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from etl.db import make_engine, migrate

log = logging.getLogger(__name__)
phases_app = typer.Typer(help="Crisis-phase curves: what happens to trafficking outcomes after a crisis starts.",
                         no_args_is_help=True)
alerts_app = typer.Typer(help="Alert rules, evaluation, human review, backtest and delivery.", no_args_is_help=True)
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
    outcome: Annotated[str, typer.Option("--outcome", help="nationals_abroad, detected_in_country or "
                                                           "watchlist_score")] = "",
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
            table.add_row(str(r.k), _fmt(r.effect), _fmt(r.lower), _fmt(r.upper), str(r.n), str(r.n_countries))
        console.print(table)
        s = summaries.get(f"{etype}/{out}", {})
        console.print(f"  {s.get('sentence', '')}")
        if "pretrend" in s:
            console.print(f"  {s['pretrend']['sentence']}")


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
