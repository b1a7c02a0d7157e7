"""Risk-band colours (issue 13 item 5): one sequential scale, darker = riskier, that stays ordered and
distinguishable for people with deuteranopia or protanopia, and where "high" is never a green.

Colour-vision deficiency is simulated with the Machado, Oliveira & Fernandes (2009) matrices at severity 1.0
("A physiologically-based model for simulation of color vision deficiency", IEEE TVCG 15(6)), applied to
linear RGB; lightness and colour difference are CIE L*a*b* (D65) and CIE76 delta E.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dashboard.figures import BAND_COLOURS, BAND_ORDER, BAND_TEXT_COLOURS, SEQUENTIAL_COLORSCALE

MACHADO_2009 = {
    "normal": np.eye(3),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
}
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
D65 = np.array([0.95047, 1.0, 1.08883])
MIN_LIGHTNESS_STEP = 8.0  # L* between neighbouring bands: a clear step darker
MIN_DELTA_E = 15.0  # neighbouring bands told apart at a glance
STYLE_CSS = Path(__file__).resolve().parents[2] / "dashboard" / "assets" / "style.css"
OLD_VIRIDIS_BANDS = ["#3b528b", "#21918c", "#5ec962", "#fde725"]  # before issue 13: lime green "high"


def linear_rgb(hex_colour: str) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    xyz = SRGB_TO_XYZ @ np.clip(linear, 0.0, 1.0) / D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen(hex_colour: str, vision: str) -> np.ndarray:
    """L*a*b* of a colour as seen with ``vision`` (Machado 2009 simulation)."""
    return lab(MACHADO_2009[vision] @ linear_rgb(hex_colour))


def ordered_and_distinct(colours: list[str], vision: str) -> list[str]:
    """Problems (empty: none): each band darker than the one before by a clear step, and far enough apart."""
    labs = [seen(c, vision) for c in colours]
    problems = []
    pairs = list(zip(colours, labs, strict=True))
    for (a, ca), (b, cb) in zip(pairs, pairs[1:], strict=False):
        if ca[0] - cb[0] < MIN_LIGHTNESS_STEP:
            problems.append(f"{vision}: {b} (L* {cb[0]:.1f}) not darker than {a} (L* {ca[0]:.1f}) by 8")
        if np.linalg.norm(ca - cb) < MIN_DELTA_E:
            problems.append(f"{vision}: {a} and {b} only {np.linalg.norm(ca - cb):.1f} apart")
    return problems


@pytest.mark.parametrize("vision", list(MACHADO_2009))
def test_bands_stay_ordered_and_distinct(vision):
    assert ordered_and_distinct([BAND_COLOURS[b] for b in BAND_ORDER], vision) == []


@pytest.mark.parametrize("vision", ["deuteranopia", "protanopia"])
def test_the_check_catches_the_old_viridis_bands(vision):
    """The old bands got lighter towards "very high" (yellow): the same check refuses them."""
    assert ordered_and_distinct(OLD_VIRIDIS_BANDS, vision)


def test_high_bands_are_not_green():
    """A green "high" reads as safe: the two upper bands are reds (red channel well above green)."""
    for band in ("high", "very high"):
        r, g, _b = (int(BAND_COLOURS[band][i : i + 2], 16) for i in (1, 3, 5))
        assert r > 2 * g, band


def test_band_text_is_readable_on_its_band():
    """Text drawn on a band colour (priorities table) keeps a WCAG contrast of at least 4.5:1."""

    def luminance(hex_colour: str) -> float:
        return float(np.array([0.2126, 0.7152, 0.0722]) @ linear_rgb(hex_colour))

    for band in BAND_ORDER:
        lum = sorted([luminance(BAND_COLOURS[band]), luminance(BAND_TEXT_COLOURS[band])])
        assert (lum[1] + 0.05) / (lum[0] + 0.05) >= 4.5, band


def test_css_variables_equal_the_python_colours():
    """style.css repeats the bands as --band-* variables for the cards; they must not drift apart."""
    css = STYLE_CSS.read_text()
    for band in BAND_ORDER:
        found = re.search(rf"--band-{band.replace(' ', '-')}:\s*(#[0-9a-fA-F]{{6}})", css)
        assert found and found.group(1).lower() == BAND_COLOURS[band], band


def test_sequential_scale_runs_through_the_bands_light_to_dark():
    stops = [colour for _pos, colour in SEQUENTIAL_COLORSCALE]
    assert stops[1:] == [BAND_COLOURS[b] for b in BAND_ORDER]
    assert [pos for pos, _c in SEQUENTIAL_COLORSCALE] == sorted(pos for pos, _c in SEQUENTIAL_COLORSCALE)
    for vision in MACHADO_2009:
        assert ordered_and_distinct(stops, vision) == [], vision
