"""Static chart images of the PDF brief, drawn offline with matplotlib (no browser, no network).

The images carry only numbers (years, values): every word of a chart (title, legend) is written by the PDF
builder, so it is translated and, in Arabic, shaped and set right to left by the PDF's text engine. Each image
is drawn at the exact size of its slot on the page (millimetres), so nothing is squashed or stretched.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the server and the CLI render to memory

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import pandas as pd  # noqa: E402

log = logging.getLogger(__name__)

MM_PER_INCH = 25.4
DPI = 220  # sharp in print at the slot sizes used (about 90 x 50 mm)
INK = "#1f2933"
GRID = "#d9dee3"
# Colour-blind-safe pair (Okabe-Ito): blue for the estimate, vermilion for observed labels.
ESTIMATE = "#0072b2"
OBSERVED = "#d55e00"
SELECTED = "#6b7280"
# Line style per basis: checked years solid, nowcasts dashed, projections dotted (and a lighter band).
BASIS_STYLE = {"checked": "-", "nowcast": "--", "projection": ":"}
BASIS_BAND_ALPHA = {"checked": 0.28, "nowcast": 0.2, "projection": 0.12}


def font_dir() -> Path:
    """matplotlib's own DejaVu fonts: installed with the package, with Latin and Arabic glyphs."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _basis_of(frame: pd.DataFrame) -> pd.Series:
    return frame["basis"].where(frame["basis"].isin(list(BASIS_STYLE)), "checked")


def trend_png(trend: pd.DataFrame, selected_year: int, width_mm: float, height_mm: float) -> bytes:
    """The estimate per year with its 80% band, observed labels as diamonds, the selected year marked.

    ``trend`` has columns year, estimate, lower, upper, label (observed, may be NaN) and basis. Consecutive
    years are joined with the style of the later year's basis, so the line changes where the basis changes.
    """
    frame = trend.sort_values("year").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH), dpi=DPI)
    try:
        _draw_trend(ax, frame, selected_year)
        fig.tight_layout(pad=0.3)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()
    finally:
        plt.close(fig)


def _draw_trend(ax, frame: pd.DataFrame, selected_year: int) -> None:
    years = frame["year"].astype(int).tolist()
    basis = _basis_of(frame).tolist()
    for i in range(len(years)):
        lo, hi = max(i - 1, 0), i
        seg = frame.iloc[lo : hi + 1]
        ax.fill_between(
            seg["year"],
            seg["lower"],
            seg["upper"],
            color=ESTIMATE,
            alpha=BASIS_BAND_ALPHA[basis[i]],
            linewidth=0,
        )
        if hi > lo:
            ax.plot(seg["year"], seg["estimate"], BASIS_STYLE[basis[i]], color=ESTIMATE, linewidth=1.4)
    ax.plot(frame["year"], frame["estimate"], "o", color=ESTIMATE, markersize=2.2)
    observed = frame[frame["label"].notna()]
    if len(observed):
        ax.plot(observed["year"], observed["label"], "D", color=OBSERVED, markersize=3.2, zorder=5)
    if selected_year in years:
        ax.axvline(selected_year, color=SELECTED, linewidth=0.8, linestyle=(0, (2, 2)), zorder=1)
    top = float(pd.concat([frame["upper"], frame["label"]]).max())
    ax.set_ylim(0, top * 1.08 if top > 0 else 1)
    ax.set_xlim(min(years) - 0.4, max(years) + 0.4)
    step = max(1, math.ceil(len(years) / 8))
    ticks = [y for y in years if (y - years[0]) % step == 0]
    if selected_year in years and selected_year not in ticks:
        ticks = sorted(
            {*ticks, selected_year} - {t for t in ticks if abs(t - selected_year) < step / 2 + 0.5}
        )
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.tick_params(labelsize=6.5, colors=INK, length=2, pad=1.5)
    ax.grid(axis="y", color=GRID, linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
