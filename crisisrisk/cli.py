"""The ``crisisrisk`` program: one entry point to every stage (etl, model, export, serve, up)."""

from __future__ import annotations

import logging
import os

import typer

from etl.cli import app as etl_app

app = typer.Typer(help="crisisrisk: risk of detected trafficking in humanitarian crises.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(etl_app, name="etl")


def _register_optional() -> None:
    """Model and dashboard commands join when their packages provide them."""
    try:
        from models.cli import app as model_app
        from models.cli import export_app
    except ImportError:  # pragma: no cover - during early development
        return
    app.add_typer(model_app, name="model")
    app.add_typer(export_app, name="export")
    try:
        from dashboard.cli import register as register_dashboard
    except ImportError:  # pragma: no cover
        return
    register_dashboard(app)


def main() -> None:
    logging.basicConfig(level=os.environ.get("CRISISRISK_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _register_optional()
    app()


if __name__ == "__main__":
    main()
