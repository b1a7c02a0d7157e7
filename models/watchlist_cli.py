"""Watch-list commands (issue 11): ``crisisrisk model predict-dyads`` and the ``rise`` export target.

Kept apart from models/cli.py so the watch list adds one registration line there, not a block of code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from models.fields import RISE, RISE_EXPORT, hxl_row

log = logging.getLogger(__name__)
console = Console()

RISE_HXL = hxl_row(RISE, RISE_EXPORT)  # the one field table's tags


def predict_dyads_cmd(
    pairs: Annotated[Path, typer.Option("--pairs", help="CSV with detecting_iso3, citizenship_iso3, year.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    run: Annotated[str | None, typer.Option("--run", help="Run id (default: the deployed run).")] = None,
) -> None:
    """Expected detected victims of each citizenship in each detecting country, with an 80% interval."""
    from models.pairs import PairInputError, predict_dyads
    from models.registry import RegistryError
    from warehouse.db import make_engine, migrate

    engine = make_engine()
    migrate(engine)
    try:
        n = predict_dyads(engine, pairs, out, run_id=run)
    except (PairInputError, RegistryError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"wrote {n:,} pair predictions to {out}")


def rise_export(engine, year_from: int, year_to: int, run_id: str | None = None):  # noqa: ANN001, ANN201
    """The `--target rise` exporter: (frame, HXL row). Columns are
    models.watchlist_store.RISE_EXPORT_COLUMNS."""
    from models.watchlist_store import rise_export_frame

    return rise_export_frame(engine, year_from, year_to, run_id=run_id), RISE_HXL


def export_rise_cmd(
    engine, level: str, year_from: int, year_to: int, out: Path, hxl: bool  # noqa: ANN001
) -> None:
    """`crisisrisk export predictions --target rise`: the watch list, one row per country and score year."""
    from models.export import write_csv

    if level != "country":
        console.print(
            "[red]--target rise exists at --level country only (the watch list ranks populations)[/red]"
        )
        raise typer.Exit(2)
    frame, hxl_row = rise_export(engine, year_from, year_to)
    if frame.empty:
        console.print(
            "[red]no watch-list scores in that range for the deployed run; train a run with "
            "`crisisrisk model train`[/red]"
        )
        raise typer.Exit(1)
    n = write_csv(frame, out, hxl_row if hxl else None)
    console.print(f"wrote {n:,} watch-list rows ({frame['iso3'].nunique():,} countries) to {out}")


def register(app: typer.Typer) -> None:
    """Add the watch-list commands to ``crisisrisk model``."""
    app.command("predict-dyads")(predict_dyads_cmd)
