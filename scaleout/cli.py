"""``crisisrisk pipeline run``: the event -> admin-1 x month -> panel -> XGBoost -> SHAP pipeline (issue 16).

Dask is imported only for ``--engine dask`` so the rest of the CLI works without the ``[scale]`` extra.
Outputs go
to the terminal and, with ``--out``, to Parquet files in a folder the user names; nothing enters the
warehouse.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd

    from etl.context import MappingContext
    from scaleout.pipeline import ModelSettings, PipelineResult

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Event-level pipeline on one machine or a Dask cluster (issue 16).", no_args_is_help=True
)


@app.callback()
def pipeline_group() -> None:
    """Event-level pipeline on one machine or a Dask cluster (a group, so ``run`` is named as in the docs)."""


ENGINES = ("local", "dask")
DEVICES = ("cpu", "cuda")


def gpu_available() -> tuple[bool, str]:
    """Whether XGBoost really trains on a CUDA device here, and why not.

    A CUDA build without a GPU falls back to the CPU with only a warning, so a one-tree training is run and
    the
    device it ended on is read back from the booster's configuration.
    """
    import json
    import warnings

    import numpy as np
    import xgboost as xgb

    if not xgb.build_info().get("USE_CUDA"):
        return False, "this XGBoost build has no CUDA support"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = xgb.DMatrix(np.zeros((2, 1)), label=np.zeros(2))
            booster = xgb.train({"device": "cuda", "tree_method": "hist"}, d, num_boost_round=1)
    except xgb.core.XGBoostError as exc:
        return False, str(exc).splitlines()[0][:200]
    device = json.loads(booster.save_config())["learner"]["generic_param"].get("device", "cpu")
    if not str(device).startswith("cuda"):
        return False, "XGBoost found no CUDA GPU on this machine"
    return True, ""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command("run")
def run_cmd(
    engine_name: Annotated[
        str, typer.Option("--engine", help="local (pandas, one process) or dask.")
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Address of a running Dask scheduler (tcp://host:8786); default: a LocalCluster.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Workers of the LocalCluster.")] = 2,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Boosting rounds (trees).")] = 300,
    split_month: Annotated[
        str, typer.Option("--split-month", help="First test month (YYYY-MM-01).")
    ] = "2019-01-01",
    device: Annotated[str, typer.Option("--device", help="cpu, or cuda where a GPU is present.")] = "cpu",
    compare: Annotated[
        bool,
        typer.Option(
            "--compare", help="Also run the local engine and print the largest difference per output."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for aggregate/predictions/shap Parquet.")
    ] = None,
) -> None:
    """Run the pipeline on the UCDP GED events of the raw folder and the warehouse's admin-1 polygons."""
    if engine_name not in ENGINES:
        raise _fail(f"--engine must be one of {', '.join(ENGINES)}, not '{engine_name}'")
    if device not in DEVICES:
        raise _fail(f"--device must be one of {', '.join(DEVICES)}, not '{device}'")
    if device == "cuda":
        ok, why = gpu_available()
        if not ok:
            raise _fail(f"--device cuda: no usable CUDA GPU here ({why}); run without --device cuda", 3)
    from etl.context import MappingContext
    from scaleout.pipeline import ModelSettings, differences, read_events, run_local
    from warehouse.config import raw_dir
    from warehouse.db import make_engine

    ctx = MappingContext(raw_dir=raw_dir(), engine=make_engine())
    settings = ModelSettings(rounds=rounds, device=device)
    try:
        t0 = time.perf_counter()
        events, rejected = read_events(raw_dir(), ctx)
        ctx.admin_index  # noqa: B018 - fails here, with the reason, when the warehouse has no regions
    except (FileNotFoundError, RuntimeError) as exc:
        raise _fail(f"cannot read the inputs: {exc}") from None
    typer.echo(
        f"read {len(events):,} GED events ({rejected:,} rows rejected by the ETL's checks) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    if engine_name == "local":
        result = run_local(events, ctx, settings, split_month)
    else:
        result = _run_dask(events, ctx, settings, split_month, scheduler, workers)
    _report(result)
    if compare and engine_name != "local":
        diffs = differences(run_local(events, ctx, settings, split_month), result)
        typer.echo("largest |dask - local|: " + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("aggregate", "predictions", "shap"):
            getattr(result, name).to_parquet(out / f"{name}.parquet", index=False)
        typer.echo(f"wrote aggregate, predictions and shap Parquet files to {out}")


def _run_dask(
    events: pd.DataFrame,
    ctx: MappingContext,
    settings: ModelSettings,
    split_month: str,
    scheduler: str | None,
    workers: int,
) -> PipelineResult:
    try:
        from scaleout.dask_engine import dask_client, run_dask
    except ImportError as exc:
        raise _fail(
            f"--engine dask needs the [scale] extra (pip install 'crisisrisk[scale]'): {exc}"
        ) from None
    # after the import: distributed sets its loggers' levels when imported; a cluster's start and stop are not
    # news
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("distributed")]:
        logging.getLogger(name).setLevel(logging.ERROR if "shuffle" in name else logging.WARNING)
    try:
        with dask_client(scheduler, workers) as client:
            typer.echo(
                f"dask: {len(client.scheduler_info()['workers'])} workers at "
                f"{scheduler or 'a LocalCluster started here'}"
            )
            return run_dask(client, events, ctx, settings, split_month)
    except (OSError, TimeoutError) as exc:
        raise _fail(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None


def _report(result: PipelineResult) -> None:
    m = result.metrics
    typer.echo(
        f"engine {result.engine}: {len(result.aggregate):,} admin-1 x month cells with events, "
        f"{result.unplaced:,} events outside their country beyond the tolerance; panel {len(result.panel):,} "
        f"rows; test {int(m['test_rows']):,} rows: RMSE log1p(events) model {m['rmse_model']:.4f}, "
        f"persistence baseline {m['rmse_persistence']:.4f}"
    )
    typer.echo("seconds: " + ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in result.timings.items()))
