"""``crisisrisk etl ...`` commands: run, status, sources, rejected."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import select

from warehouse.config import raw_dir
from warehouse.db import make_engine, migrate

if TYPE_CHECKING:
    from etl.loader import LoadResult

log = logging.getLogger(__name__)
app = typer.Typer(help="Build the warehouse from the real published files in data/raw.", no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 200)
# Run after `etl run` has loaded something, with (engine, echo): crisisrisk/cli.py adds the alert evaluation
# here
# (issue 14), so etl itself never imports models (DESIGN §2).
POST_RUN_HOOKS: list[Callable] = []


def add_post_run_hook(hook: Callable) -> None:
    """Register ``hook(engine, echo)`` once (the composed CLI may be built more than once in a process)."""
    if hook not in POST_RUN_HOOKS:
        POST_RUN_HOOKS.append(hook)


def _engine():
    engine = make_engine()
    migrate(engine)
    return engine


@app.command("run")
def run_cmd(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only these sources (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Reload even when a file has not changed.")] = False,
    wait: Annotated[
        float | None,
        typer.Option(
            "--wait",
            min=0,
            help="Seconds to wait for another ETL writer (a run or an upload load) to finish; "
            "default CRISISRISK_ETL_LOCK_WAIT_S or 300. 0 fails at once.",
        ),
    ] = None,
) -> None:
    """Load every registered source (or only the named ones) into the warehouse (one writer at a time)."""
    from etl.loader import run
    from etl.sources import all_sources, get_source
    from warehouse.writer_lock import EtlBusy

    try:
        selected = [get_source(n) for n in source] if source else all_sources()
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(2) from None
    engine = _engine()
    statuses: Counter[str] = Counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("ETL", total=len(selected))

        def done(result: LoadResult) -> None:
            progress.advance(task)
            statuses[result.status] += 1
            progress.console.print(_result_line(result))

        def step_or_wait(msg: str) -> None:
            if msg.startswith("waiting for the ETL writer"):
                progress.console.print(f"[yellow]{msg}[/yellow]")
            else:
                progress.update(task, description=msg[:80])

        try:
            run(
                engine,
                [s.name for s in selected],
                force=force,
                progress=step_or_wait,
                on_result=done,
                wait_s=wait,
            )
        except EtlBusy as exc:
            progress.stop()
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(3) from None
        progress.update(task, description="ETL finished")
    failures = statuses["failed"] + _report_unreadable(all_named=not source)
    if statuses["loaded"]:
        for hook in POST_RUN_HOOKS:
            hook(engine, lambda msg: console.print(msg, markup=False, highlight=False))
    if failures:
        console.print(f"[red]{failures} source(s) failed; the warehouse keeps their previous load.[/red]")
        raise typer.Exit(1)


def _result_line(result: LoadResult) -> str:
    """One source's outcome as a console line: failed (why), unchanged, or rows read = loaded + rejected."""
    if result.status == "failed":
        return f"[red]✗ {result.source}: {result.error}[/red]"
    if result.status == "unchanged":
        return f"[dim]= {result.source}: unchanged (use --force to reload)[/dim]"
    read = sum(f.rows_read for f in result.files)
    rej = sum(f.rows_rejected for f in result.files)
    return (
        f"[green]✓[/green] {result.source}: {read:,} rows read, {read - rej:,} loaded, "
        f"{rej:,} rejected → {result.observations:,} observations"
    )


def _report_unreadable(all_named: bool) -> int:
    """Print reader modules that fail to import (each counts as a failure) and, for a full run, raw folders
    without a reader (a warning). Returns the number of failures."""
    from etl.loader import unregistered_folders
    from etl.sources import BROKEN

    for module, error in BROKEN.items():
        console.print(f"[red]✗ etl/sources/{module}.py cannot be imported: {error}[/red]")
    if all_named:
        for folder in unregistered_folders():
            console.print(
                f"[yellow]! data/raw/{folder} has no registered reader; add a module in etl/sources[/yellow]"
            )
    return len(BROKEN)


@app.command("sync")
def sync_cmd(
    from_dir: Annotated[
        Path, typer.Option("--from", help="A folder of publisher datasets, one sub-folder each.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be copied.")] = False,
) -> None:
    """Copy new dataset folders (each with its SOURCE.md) into data/raw and report folders without a
    reader."""
    import shutil

    from etl.loader import unregistered_folders

    if not from_dir.is_dir():
        console.print(f"[red]{from_dir} is not a folder[/red]")
        raise typer.Exit(2)
    target = raw_dir()
    copied = 0
    for folder in sorted(p for p in from_dir.iterdir() if p.is_dir()):
        if (target / folder.name).exists():
            continue
        if not (folder / "SOURCE.md").exists():
            console.print(
                f"[yellow]skip {folder.name}: no SOURCE.md (origin and licence must be documented)[/yellow]"
            )
            continue
        console.print(f"{'would copy' if dry_run else 'copy'} {folder.name} -> {target / folder.name}")
        if not dry_run:
            shutil.copytree(folder, target / folder.name)
            copied += 1
    for name in unregistered_folders(target):
        console.print(f"[yellow]data/raw/{name} has no registered reader: add etl/sources/<name>.py[/yellow]")
    console.print(f"{copied} folder(s) copied")


@app.command("status")
def status_cmd(
    all_loads: Annotated[bool, typer.Option("--all", help="Include superseded loads.")] = False,
) -> None:
    """One row per load: source, file, sha256, rows read/loaded/rejected, time."""
    from warehouse.io import read_loads

    loads = read_loads(_engine(), current_only=not all_loads)
    if loads.empty:
        console.print("No loads yet. Run: crisisrisk etl run")
        raise typer.Exit(0)
    table = Table(title="Warehouse loads")
    for col in (
        "load",
        "source",
        "file",
        "sha256",
        "read",
        "loaded",
        "rejected",
        "observations",
        "finished (UTC)",
        "status",
    ):
        table.add_column(
            col, justify="right" if col in ("read", "loaded", "rejected", "observations") else "left"
        )
    for r in loads.itertuples():
        table.add_row(
            str(r.load_id),
            str(r.source),
            str(r.file),
            str(r.sha256)[:12],
            f"{r.rows_read:,}",
            f"{r.rows_loaded:,}",
            f"{r.rows_rejected:,}",
            f"{r.observations:,}",
            str(r.finished_at)[:19],
            str(r.status),
        )
    console.print(table)


@app.command("sources")
def sources_cmd() -> None:
    """Each registered source with publisher, licence and coverage."""
    from etl.loader import unregistered_folders
    from etl.sources import all_sources

    table = Table(title="Registered sources")
    for col in ("source", "publisher", "licence", "coverage", "files in data/raw"):
        table.add_column(col)
    for s in all_sources():
        files = s.paths(raw_dir())
        table.add_row(s.name, s.publisher, s.licence, s.coverage, str(len(files)))
    console.print(table)
    for folder in unregistered_folders():
        console.print(f"[yellow]data/raw/{folder}: no registered reader[/yellow]")


@app.command("rejected")
def rejected_cmd(
    source: Annotated[str, typer.Option("--source", "-s", help="Source name.")],
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
) -> None:
    """Show quarantined rows of a source's current load, with their reasons."""
    from sqlalchemy import func

    from warehouse.schema import rejected_row, source_load

    engine = _engine()
    base = (
        select(
            source_load.c.file,
            rejected_row.c.row_number,
            rejected_row.c.reason_code,
            rejected_row.c.reason,
            rejected_row.c.raw,
        )
        .join(source_load, source_load.c.load_id == rejected_row.c.load_id)
        .where(source_load.c.source == source, source_load.c.status == "loaded")
    )
    if reason:
        base = base.where(rejected_row.c.reason_code == reason)
    with engine.connect() as conn:
        counts = conn.execute(
            select(rejected_row.c.reason_code, func.count())
            .join(source_load, source_load.c.load_id == rejected_row.c.load_id)
            .where(source_load.c.source == source, source_load.c.status == "loaded")
            .group_by(rejected_row.c.reason_code)
        ).all()
        rows = conn.execute(base.order_by(source_load.c.file, rejected_row.c.row_number).limit(limit)).all()
    if not counts:
        console.print(f"No rejected rows for source '{source}'.")
        return
    summary = Table(title=f"Rejected rows of '{source}' by reason")
    summary.add_column("reason")
    summary.add_column("rows", justify="right")
    for code, n in sorted(counts, key=lambda c: -c[1]):
        summary.add_row(code, f"{n:,}")
    console.print(summary)
    table = Table(title=f"First {len(rows)} rejected rows")
    for col in ("file", "row", "reason", "raw"):
        table.add_column(col, overflow="fold")
    for f, rn, _code, why, raw in rows:
        table.add_row(f, str(rn), why, raw[:160])
    console.print(table)


jobs_app = typer.Typer(help="Background jobs of the server: dry runs, loads, retrains.", no_args_is_help=True)


@jobs_app.command("list")
def jobs_list_cmd(
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many recent jobs.")] = 20,
    kind: Annotated[str | None, typer.Option(help="Only retrain, load or validate.")] = None,
) -> None:
    """Recent jobs with owner and heartbeat; jobs of a stopped server are marked failed first."""
    import etl.uploads  # noqa: F401 - registers the repair of a killed load's upload
    from warehouse import jobs

    engine = _engine()
    recovered = jobs.recover_orphans(engine)
    if recovered:
        console.print(
            f"[yellow]{recovered} job(s) of a stopped server marked failed: {jobs.ORPHAN_MESSAGE}[/yellow]"
        )
    rows = jobs.recent_jobs(engine, kind, limit)
    if not rows:
        console.print("No jobs yet.")
        return
    table = Table(title="Jobs")
    for col in (
        "job",
        "kind",
        "status",
        "progress",
        "by",
        "started (UTC)",
        "owner",
        "heartbeat (UTC)",
        "message",
    ):
        table.add_column(col, overflow="fold")
    for j in rows:
        table.add_row(
            str(j["job_id"]),
            j["kind"],
            j["status"]
            + (" (cancel requested)" if j["cancel_requested"] and j["status"] == "running" else ""),
            f"{j['progress']:.0f}%",
            j["requested_by"],
            str(j["started_at"])[:19],
            f"{j['owner_host'] or '?'}:{j['owner_pid'] or '?'}",
            str(j["heartbeat_at"] or "")[:19],
            (j["message"] or "")[:120],
        )
    console.print(table)


@jobs_app.command("cancel")
def jobs_cancel_cmd(
    job_id: Annotated[int, typer.Argument(help="Job id (crisisrisk jobs list).")],
    actor: Annotated[
        str | None, typer.Option(help="Name recorded in the audit log (default: cli:<login>).")
    ] = None,
) -> None:
    """Ask a running job to stop at its next progress point (it changes nothing); recorded in the audit
    log."""
    import getpass

    import etl.uploads  # noqa: F401 - registers the repair of a killed load's upload
    from warehouse import accounts, jobs

    engine = _engine()
    who = actor or f"cli:{getpass.getuser()}"
    try:
        item = jobs.request_cancel(engine, job_id)
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except ValueError as exc:
        accounts.audit(engine, who, "job cancel", "refused", f"job {job_id}", str(exc), "cli")
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    accounts.audit(
        engine,
        who,
        "job cancel",
        "ok",
        f"job {job_id}",
        f"{item['kind']} job {job_id}: cancel requested (status now {item['status']})",
        "cli",
    )
    if item["status"] == "running":
        console.print(
            f"cancel requested for {item['kind']} job {job_id}; it stops at its next progress point"
        )
    else:
        console.print(f"{item['kind']} job {job_id} is now {item['status']}: {item['message']}")
