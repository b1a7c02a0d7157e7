"""``crisisrisk model ...`` and ``crisisrisk export ...`` commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.progress import TrainClock, TrainEvent
from warehouse.db import make_engine, migrate

log = logging.getLogger(__name__)
app = typer.Typer(help="Train, evaluate, list, promote and roll back models.", no_args_is_help=True)
export_app = typer.Typer(
    help="Export predictions and explanations as CSV (optionally with HXL).", no_args_is_help=True
)
console = Console(width=None if sys.stdout.isatty() else 200)


def _engine():
    engine = make_engine()
    migrate(engine)
    return engine


def _show_step(prog: Progress, task: TaskID, event: TrainEvent, clock: TrainClock | None = None) -> None:
    """A training event as the bar: step k of n (the backtest's fits move it within its step), with the
    fits done, elapsed time and ETA (models.progress.TrainClock)."""
    units = f" ({event.done}/{event.of})" if event.of else ""
    text = clock.line(event) if clock else f"step {event.step} of {event.total}: {event.message}{units}"
    prog.update(task, total=event.total, completed=event.step - 1 + event.fraction, description=text)


@app.command("train")
def train_cmd(
    no_deploy: Annotated[bool, typer.Option("--no-deploy", help="Keep the run as a candidate.")] = False,
) -> None:
    """Train, backtest per horizon against baselines, explain, and deploy if the run passes the gate."""
    from models.pipeline import TrainingError, train_run

    engine = _engine()
    with Progress(
        SpinnerColumn(), BarColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as prog:
        task = prog.add_task("training", total=None)
        try:
            clock = TrainClock()
            run_id = train_run(
                engine, deploy=not no_deploy, progress=lambda e: _show_step(prog, task, e, clock)
            )
        except TrainingError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    _print_evaluation(engine, run_id)
    _print_timings(engine, run_id)
    _after_change(engine, "train")


def _print_timings(engine, run_id: str) -> None:
    """One line of seconds per training step (issue 16), so a slow step is named where it is seen."""
    from models.registry import list_runs

    run = next((r for r in list_runs(engine) if r["run_id"] == run_id), None)
    metrics = ((run or {}).get("metadata_json") or {}).get("metrics") or {}
    steps = dict(metrics.get("timing_s") or {})
    if not steps:
        return
    per_h = metrics.get("timing_backtest_s") or {}
    total = float(steps.pop("total", sum(steps.values())))
    steps.pop("total_before_save", None)
    parts = [f"{k} {v:.1f}" for k, v in steps.items()]
    hs = ", ".join(f"{k} {v:.1f}" for k, v in per_h.items() if k != "workers")
    console.print(
        f"training steps (s): {'; '.join(parts)}; total {total:.1f}"
        + (f" (backtest {hs}, {per_h.get('workers')} threads)" if hs else ""),
        markup=False,
        highlight=False,
    )


def _after_change(engine, trigger: str) -> None:
    """Evaluate the alert rules on what the command changed (issue 14; CRISISRISK_ALERTS_AUTO=false: not)."""
    from models.post_change import run_and_report

    run_and_report(engine, trigger, lambda msg: console.print(msg, markup=False, highlight=False))


def _print_evaluation(engine, run_id: str | None) -> None:
    from models.registry import deployed_run, list_runs

    runs = {r["run_id"]: r for r in list_runs(engine)}
    run = runs.get(run_id) if run_id else deployed_run(engine)
    if run is None:
        console.print(f"[red]unknown run '{run_id}'[/red]" if run_id else "[red]no model is deployed[/red]")
        raise typer.Exit(1)
    m = run["metadata_json"]["metrics"]
    variant = run["metadata_json"].get("variant")
    if "backtest_horizons" not in m:
        console.print(f"run {run['run_id']} predates the per-horizon backtest; retrain to see it")
        return
    for key, title in (
        ("backtest_horizons", "all origins"),
        ("backtest_last3", "latest three origins per horizon"),
    ):
        table = Table(
            title=(
                f"Backtest per horizon, {title} — run {run['run_id']} ({run['status']}); "
                "RMSLE on log1p(detected victims per 100k)"
            )
        )
        for col in (
            "horizon",
            "model",
            "RMSLE",
            "MAE /100k",
            "Spearman",
            "top-20 recall",
            "80% coverage",
            "n",
        ):
            table.add_column(col, justify="left" if col == "model" else "right")
        for r in sorted(m[key], key=lambda r: (r["horizon"], r["rmsle"])):
            name = f"[bold]{r['model']}[/bold]" if r["model"] == variant else r["model"]
            table.add_row(
                str(r["horizon"]),
                name,
                f"{r['rmsle']:.3f}",
                f"{r['mae']:.2f}",
                f"{r['spearman']:.3f}",
                f"{r['top20_recall']:.2f}",
                "–" if r.get("coverage80") is None else f"{r['coverage80']:.2f}",
                str(r["n"]),
            )
        console.print(table)
    gate = m["gate"]
    colour = "green" if gate["passed"] else "red"
    console.print(
        f"[{colour}]Gate ({variant} vs the best baseline, latest three origins): "
        f"{'passed' if gate['passed'] else 'FAILED'}[/{colour}]"
    )
    for r in gate.get("horizons", []):
        if "model_rmsle" in r:
            console.print(
                f"  h{r['horizon']}: RMSLE {r['model_rmsle']:.3f} vs {r['best_baseline']} "
                f"{r['best_baseline_rmsle']:.3f} ({_better_or_worse(r['improvement_pct'])}), Spearman "
                f"{r['model_spearman']:.3f} vs {r['best_baseline_spearman']:.3f} → "
                f"{'passed' if r['passed'] else 'failed'}"
            )
    console.print(
        "Interval coverage (50/80/90%): "
        + "; ".join(
            f"h{c['horizon']} {c['coverage50']:.2f}/{c['coverage80']:.2f}/{c['coverage90']:.2f}"
            for c in m.get("coverage_by_horizon", [])
        )
    )
    op = m.get("operating_horizon")
    if op:
        console.print(
            f"Operating horizon: {op['latest_year']} is {op['horizon']} years past the newest label "
            f"({m.get('newest_label_year')}); validated up to {op['validated_up_to']}."
        )


def _better_or_worse(improvement_pct: float) -> str:
    """'1.7% better' / '0.6% worse': a signed percentage of RMSLE read either way round."""
    return f"{abs(improvement_pct):.1f}% {'better' if improvement_pct >= 0 else 'worse'}"


@app.command("evaluate")
def evaluate_cmd(
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: deployed).")] = None,
) -> None:
    """Print the backtest table of a run against the baselines."""
    _print_evaluation(_engine(), run_id)


@app.command("list")
def list_cmd() -> None:
    """Runs with status, training window and gate result."""
    from models.registry import list_runs

    table = Table(title="Model runs")
    for col in ("run", "status", "created (UTC)", "variant", "window", "RMSLE", "last-value RMSLE", "gate"):
        table.add_column(col)
    for r in list_runs(_engine()):
        meta = r["metadata_json"]
        gate = meta["metrics"]["gate"]
        table.add_row(
            r["run_id"],
            r["status"],
            str(r["created_at"])[:19],
            meta["variant"],
            "–".join(map(str, meta["training_window"])),
            _num(gate.get("model_rmsle")),
            _num(gate.get("last_value_rmsle")),
            "passed" if gate["passed"] else "failed",
        )
    console.print(table)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


@app.command("promote")
def promote_cmd(run_id: str) -> None:
    """Deploy a run (its artefacts are verified first); the current one is archived."""
    from models.registry import RegistryError, promote

    engine = _engine()
    try:
        promote(engine, run_id)
    except RegistryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"deployed {run_id}")
    _after_change(engine, "promote")


@app.command("rollback")
def rollback_cmd() -> None:
    """Re-deploy the previously deployed run."""
    from models.registry import RegistryError, rollback

    engine = _engine()
    try:
        run_id = rollback(engine)
    except RegistryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"rolled back to {run_id}")
    _after_change(engine, "rollback")


@app.command("card")
def card_cmd(
    run_id: Annotated[str | None, typer.Argument()] = None,
    out: Annotated[Path | None, typer.Option(help="Write the Markdown here.")] = None,
) -> None:
    """Print (or write) the model card of a run."""
    from models.registry import deployed_run, list_runs

    engine = _engine()
    run = (
        next((r for r in list_runs(engine) if r["run_id"] == run_id), None)
        if run_id
        else deployed_run(engine)
    )
    if run is None:
        console.print("[red]no such run[/red]")
        raise typer.Exit(1)
    text = run["metadata_json"]["model_card_md"]
    if out:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        print(text)


@app.command("explain")
def explain_cmd(
    region_id: str,
    year: Annotated[int | None, typer.Option(help="Year (default: latest).")] = None,
    top: Annotated[int, typer.Option(help="Drivers to show.")] = 8,
) -> None:
    """Why a country's risk is what it is: top SHAP drivers and what changed since the previous year."""
    import pandas as pd

    from models.export import ExportError, explanations_frame

    try:
        frame = explanations_frame(_engine(), 1900, 2100, region_id=region_id.upper())
    except ExportError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if frame.empty:
        console.print(f"[red]no explanations for region '{region_id}' in the deployed run[/red]")
        raise typer.Exit(1)
    year = year or int(frame["year"].max())
    now = frame[frame["year"] == year]
    if now.empty:
        console.print(f"[red]no explanation for {region_id} in {year}[/red]")
        raise typer.Exit(1)
    drivers = now[now["feature"] != "__bias__"].assign(a=lambda d: d["shap_value"].abs()).nlargest(top, "a")
    table = Table(title=f"{now['name'].iloc[0]} {year}: top drivers (SHAP, log1p detected victims per 100k)")
    for col in ("feature", "family", "value of feature", "SHAP"):
        table.add_column(col)
    for r in drivers.itertuples():
        fv = "missing" if pd.isna(r.feature_value) else f"{r.feature_value:.3g}"
        table.add_row(r.feature, r.family, fv, f"{r.shap_value:+.3f}")
    console.print(table)
    prev = frame[frame["year"] == year - 1]
    if not prev.empty:
        fam_now = now[now["feature"] != "__bias__"].groupby("family")["shap_value"].sum()
        fam_prev = prev[prev["feature"] != "__bias__"].groupby("family")["shap_value"].sum()
        change = (fam_now - fam_prev.reindex(fam_now.index).fillna(0)).sort_values(key=abs, ascending=False)
        console.print(
            f"What changed since {year - 1} (by family): "
            + ", ".join(f"{f} {v:+.3f}" for f, v in change.items())
        )


def _year_range(year_from: int, year_to: int) -> None:
    if year_from > year_to:
        console.print(f"[red]--from {year_from} is after --to {year_to}[/red]")
        raise typer.Exit(2)


@export_app.command("predictions")
def export_predictions(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    target: Annotated[
        str, typer.Option("--target", help="detected (victims per 100k) or rise (watch list)")
    ] = "detected",
    level: Annotated[str, typer.Option("--level", help="country or admin1")] = "country",
    year_from: Annotated[int, typer.Option("--from")] = 2019,
    year_to: Annotated[int, typer.Option("--to")] = 2100,
    hxl: Annotated[bool, typer.Option("--hxl", help="Add an HXL hashtag row.")] = False,
) -> None:
    """Predictions of the deployed run: estimate per 100k, 80% interval, risk score and band, basis and
    horizon."""
    from models.export import EXPORTERS, ExportError, write_csv

    levels = {"country": 0, "admin1": 1}
    if target not in {*EXPORTERS, "rise"}:
        console.print(
            f"[red]--target must be one of {', '.join(sorted({*EXPORTERS, 'rise'}))}, not '{target}'[/red]"
        )
        raise typer.Exit(2)
    if level not in levels:
        console.print(f"[red]--level must be 'country' or 'admin1', not '{level}'[/red]")
        raise typer.Exit(2)
    _year_range(year_from, year_to)
    if target == "rise":  # issue 11: the watch list (country level only)
        from models.watchlist_cli import export_rise_cmd

        return export_rise_cmd(_engine(), level, year_from, year_to, out, hxl)
    build, hxl_row = EXPORTERS[target]
    try:
        frame = build(_engine(), levels[level], year_from, year_to)
    except ExportError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    n = write_csv(frame, out, hxl_row(levels[level]) if hxl else None)
    console.print(f"wrote {n:,} rows ({frame[frame.columns[0]].nunique():,} regions) to {out}")


@export_app.command("explanations")
def export_explanations(
    out: Annotated[Path, typer.Option("--out")],
    year_from: Annotated[int, typer.Option("--from")] = 2019,
    year_to: Annotated[int, typer.Option("--to")] = 2100,
    hxl: Annotated[bool, typer.Option("--hxl")] = False,
) -> None:
    """SHAP values per prediction (country level), with the feature value and family."""
    from models.export import EXPLANATION_HXL, ExportError, explanations_frame, write_csv

    _year_range(year_from, year_to)
    try:
        frame = explanations_frame(_engine(), year_from, year_to)
    except ExportError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    n = write_csv(frame, out, EXPLANATION_HXL if hxl else None)
    console.print(f"wrote {n:,} rows to {out}")


from models.watchlist_cli import register as _register_watchlist  # noqa: E402 - issue 11: predict-dyads

_register_watchlist(app)
