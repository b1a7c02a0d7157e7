"""The ``crisisrisk`` program: one entry point to every stage (etl, model, export, serve, up)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from etl.cli import app as etl_app
from etl.cli import jobs_app
from warehouse import settings
from warehouse.config import model_dir


def _flags_without_type() -> None:
    """typer 0.29 prints a type after every option in --help, so an on/off flag read ``--debug <bool>`` as if
    it took a value (issue 13 #9). A flag takes none: show no type for it, as click does."""
    from typer.core import TyperOption

    if getattr(TyperOption.display_type_rich, "_flags_without_type", False):
        return
    typed = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx):  # type: ignore[no-untyped-def]
        return None if self.is_flag and self.metavar is None else typed(self, ctx)

    display_type_rich._flags_without_type = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type()

app = typer.Typer(
    help="crisisrisk: risk of detected trafficking in humanitarian crises.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(etl_app, name="etl")
app.add_typer(jobs_app, name="jobs")


def _registry_dir() -> Path:
    return model_dir()


@app.command("backup")
def backup_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Archive to write (.tar.gz).")],
) -> None:
    """Back up every warehouse table and the model registry to one verified archive."""
    from warehouse.backup import BackupError, backup
    from warehouse.db import make_engine, migrate

    engine = make_engine()
    migrate(engine)
    try:
        manifest = backup(engine, out, _registry_dir(), progress=lambda m: typer.echo(m, err=True))
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    rows = sum(t["rows"] for t in manifest["tables"])
    typer.echo(
        f"wrote {out}: {len(manifest['tables'])} tables ({rows:,} rows), {len(manifest['registry'])} "
        f"registry files, schema revision {manifest['schema_revision']}"
    )


@app.command("restore")
def restore_cmd(
    archive: Annotated[Path, typer.Argument(help="Archive written by `crisisrisk backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before replacing the contents.")
    ] = False,
) -> None:
    """Replace the warehouse contents and the model registry with a verified backup archive."""
    from warehouse.backup import BackupError, read_archive, restore
    from warehouse.db import make_engine

    try:
        manifest, _members = read_archive(archive)
    except BackupError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    engine = make_engine()
    target = engine.url.render_as_string(hide_password=True)
    rows = sum(t["rows"] for t in manifest["tables"])
    typer.echo(
        f"{archive.name}: made {manifest['created_at']} by crisisrisk {manifest['software_version']} "
        f"({manifest['source_dialect']}), {rows:,} rows, {len(manifest['registry'])} registry files"
    )
    if not yes and not typer.confirm(f"Replace every table in {target} and the registry {_registry_dir()}?"):
        typer.echo("nothing changed", err=True)
        raise typer.Exit(1)
    try:
        restore(engine, archive, _registry_dir(), progress=lambda m: typer.echo(m, err=True))
    except BackupError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored {archive} into {target}")


_registered = False


def register_commands() -> None:
    """Add the model, export, phases, alerts and dashboard groups (once; a failed import is an error, not a
    silently missing group). Called by ``main`` rather than at import so ``etl`` and ``jobs`` stay importable
    on their own."""
    global _registered
    if _registered:
        return
    from dashboard.alerts_delivery import register_cli as register_alert_delivery  # issue 14: alerts deliver
    from dashboard.cli import register as register_dashboard
    from etl.cli import add_post_run_hook  # issue 14: `etl run` evaluates the alert rules after a load
    from models.cli import app as model_app
    from models.cli import export_app
    from models.phases_cli import alerts_app
    from models.phases_cli import register as register_phases  # issue 14: phases, alerts, export phases
    from models.post_change import etl_run_hook
    from scaleout.cli import app as pipeline_app  # issue 16: crisisrisk pipeline run --engine local|dask

    app.add_typer(model_app, name="model")
    app.add_typer(export_app, name="export")
    app.add_typer(pipeline_app, name="pipeline")
    register_phases(app, export_app)
    add_post_run_hook(etl_run_hook)
    register_dashboard(app)
    register_alert_delivery(alerts_app)
    _registered = True


_register_optional = register_commands  # the name tests used before


def main() -> None:
    logging.basicConfig(
        level=settings.get("CRISISRISK_LOG_LEVEL"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    register_commands()
    app()


if __name__ == "__main__":
    main()
