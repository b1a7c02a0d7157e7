"""``crisisrisk serve`` and ``crisisrisk up`` (registered on the main program by ``register``)."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Annotated

import typer
from rich.console import Console

log = logging.getLogger(__name__)
console = Console(width=None if sys.stdout.isatty() else 200)
DEFAULT_HOST = os.environ.get("CRISISRISK_HOST", "127.0.0.1")
DEFAULT_PORT = int(os.environ.get("CRISISRISK_PORT", "8050"))
HostOpt = Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for all).")]
PortOpt = Annotated[int, typer.Option("--port", help="TCP port.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Dash development server with hot reload (not for production).")]
ThreadsOpt = Annotated[int, typer.Option("--threads", help="Worker threads of the production server.")]


def _serve(host: str, port: int, debug: bool, threads: int = 8) -> None:
    from dashboard.app import create_app
    from etl.db import make_engine

    started = time.perf_counter()
    app = create_app(make_engine())
    ctx = app.server.extensions["crisisrisk"]
    run = ctx.queries.run_id
    console.print(f"[green]✓[/green] app ready in {time.perf_counter() - started:.1f} s; deployed model: "
                  f"{run or '[yellow]none (pages say how to train one)[/yellow]'}")
    console.print(f"Serving on [bold]http://{host}:{port}/[/bold]  (API: http://{host}:{port}/api/v1/openapi.json)")
    if debug:
        console.print("[yellow]Dash development server (--debug): do not use in production.[/yellow]")
        app.run(host=host, port=port, debug=True)
        return
    from waitress import serve

    serve(app.server, host=host, port=port, threads=threads, ident="crisisrisk")


def serve_cmd(host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, debug: DebugOpt = False,
              threads: ThreadsOpt = 8) -> None:
    """Serve the dashboard and the JSON API (waitress; the Dash dev server only with --debug)."""
    _serve(host, port, debug, threads)


def up_cmd(host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, debug: DebugOpt = False,
           threads: ThreadsOpt = 8) -> None:
    """Build what is missing, then serve: ETL if the warehouse has no loads, training if no model is deployed."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from sqlalchemy import func, select

    from etl.db import make_engine, migrate
    from etl.schema import model_run, source_load

    engine = make_engine()
    console.print(f"Warehouse: {engine.url.render_as_string(hide_password=True)}")
    migrate(engine)
    with engine.connect() as conn:
        loads = conn.execute(select(func.count()).select_from(source_load)
                             .where(source_load.c.status == "loaded")).scalar_one()
    if loads == 0:
        from etl.loader import run
        from etl.sources import all_sources

        sources = all_sources()
        console.print(f"[bold]1/3 ETL[/bold]: the warehouse has no loads; loading {len(sources)} sources from data/raw")
        failed = []
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("ETL", total=len(sources))

            def step(msg: str) -> None:
                progress.update(task, description=msg[:70])

            def done(result) -> None:
                progress.advance(task)
                mark = "[red]✗[/red]" if result.status == "failed" else "[green]✓[/green]"
                progress.console.print(f"{mark} {result.source}: {result.status}"
                                       + (f" ({result.error})" if result.error else f", {result.observations:,} obs."))
                if result.status == "failed":
                    failed.append(result.source)

            run(engine, progress=step, on_result=done)
        if failed:
            console.print(f"[yellow]{len(failed)} source(s) failed: {', '.join(failed)}; continuing with the rest.[/yellow]")
    else:
        console.print(f"[bold]1/3 ETL[/bold]: {loads} current loads in the warehouse; skipped "
                      "(run `crisisrisk etl run` to refresh)")
    with engine.connect() as conn:
        deployed = conn.execute(select(model_run.c.run_id).where(model_run.c.status == "deployed")).scalar()
    if deployed is None:
        console.print("[bold]2/3 model[/bold]: no deployed model; training one (backtests included, takes minutes)")
        from models.pipeline import train_run

        with console.status("training…") as status:
            def progress_cb(msg, *args, **kwargs) -> None:
                status.update(f"training: {str(msg)[:90]}")
                console.print(f"  · {msg}")

            import inspect

            if "progress" in inspect.signature(train_run).parameters:
                run_id = train_run(engine, deploy=True, progress=progress_cb)
            else:
                run_id = train_run(engine, deploy=True)
        console.print(f"[green]✓[/green] deployed model {run_id}")
    else:
        console.print(f"[bold]2/3 model[/bold]: deployed model {deployed}; skipped (`crisisrisk model train` retrains)")
    engine.dispose()
    console.print("[bold]3/3 serve[/bold]")
    _serve(host, port, debug, threads)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``up`` to the ``crisisrisk`` program."""
    app.command("serve")(serve_cmd)
    app.command("up")(up_cmd)
