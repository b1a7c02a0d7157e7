"""Evaluation of the alert rules after a load, promote, rollback or train made on the command line (issue 14).

Why: the server evaluates the rules after its own loads and promotes (dashboard.alerts_delivery.after_change,
in
a background thread); a load or a promote made with ``crisisrisk etl run`` or ``crisisrisk model promote``
changes
the same data, so it must raise the same alerts. Here it runs in the foreground (the command is the job) and
reports how many new alerts wait for review. It is idempotent (models.alerts.evaluate) and honours
``CRISISRISK_ALERTS_AUTO=false``. Delivery is not needed: new alerts are pending until an analyst confirms
them.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, func, select

from warehouse import settings

log = logging.getLogger(__name__)


def auto_enabled() -> bool:
    """False when CRISISRISK_ALERTS_AUTO is 0/false/no/off (the same switch as the server's background
    run)."""
    return bool(settings.get("CRISISRISK_ALERTS_AUTO"))


def evaluate_after_change(engine: Engine, trigger: str, actor: str = "cli") -> dict[str, Any] | None:
    """Recompute the phase curves, evaluate every enabled rule and backtest them; None when switched off.

    Returns the evaluation result with ``n_pending`` (every alert waiting for review, new or older).
    """
    from models import alerts, phases_store
    from warehouse.schema import alert

    if not auto_enabled():
        log.info("alerts: evaluation after %s is off (CRISISRISK_ALERTS_AUTO)", trigger)
        return None
    try:
        phases_store.compute_and_store(engine)
    except Exception:  # noqa: BLE001 - the curves are context; the alerts must still be evaluated
        log.exception("phases: recomputation after %s failed", trigger)
    inputs = alerts.Inputs.from_warehouse(engine)
    result = alerts.evaluate(engine, trigger, actor, inputs=inputs)
    try:
        alerts.store_backtest(engine, result["evaluation_id"], alerts.backtest_all(engine, inputs))
    except Exception:  # noqa: BLE001 - the backtest is shown beside the rules; its failure is logged
        log.exception("alerts: backtest after %s failed", trigger)
    with engine.connect() as conn:
        result["n_pending"] = int(
            conn.execute(select(func.count()).select_from(alert).where(alert.c.status == "pending")).scalar()
            or 0
        )
    return result


def report_line(result: dict[str, Any] | None) -> str:
    """One line for the terminal: new alerts pending review, or why nothing was evaluated."""
    if result is None:
        return (
            "alerts: not evaluated (CRISISRISK_ALERTS_AUTO is off); run `crisisrisk alerts evaluate` to raise"
            " the alerts of the new data"
        )
    return (
        f"alerts: {result['n_new']} new alert(s) pending review ({result['n_pending']} pending in all); "
        "review with `crisisrisk alerts list --status pending`"
    )


def run_and_report(engine: Engine, trigger: str, echo) -> dict[str, Any] | None:
    """evaluate_after_change, printing its line with ``echo``; a failure is one clear line, never a traceback
    (the load or promote before it is already committed and stays)."""
    try:
        result = evaluate_after_change(engine, trigger)
    except Exception as exc:  # noqa: BLE001 - reported to the user; the evaluation row says 'failed'
        log.exception("alerts: evaluation after %s failed", trigger)
        echo(
            f"alerts: evaluation after {trigger} failed ({type(exc).__name__}: {exc}); the {trigger} itself"
            " is kept; run `crisisrisk alerts evaluate` to retry"
        )
        return None
    echo(report_line(result))
    return result


def etl_run_hook(engine: Engine, echo) -> None:
    """The hook crisisrisk/cli.py registers in etl.cli.POST_RUN_HOOKS (etl must not import models)."""
    run_and_report(engine, "load", echo)
