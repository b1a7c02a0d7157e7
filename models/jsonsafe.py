"""One rule for what a run's metadata and stored tables may hold: plain JSON values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(obj: Any) -> Any:
    """Nested dicts and lists with numpy scalars -> Python values; NaN and infinities -> None.

    JSON has no NaN, and PostgreSQL's JSON columns refuse it, so every writer of metadata goes through here.
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic) or (isinstance(obj, np.ndarray) and obj.ndim == 0):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def finite_float(value: Any) -> float | None:
    """A number as a float for a stored column, or None when it is missing, not a number, or not finite."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
