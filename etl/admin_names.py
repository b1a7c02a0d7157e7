"""Match publishers' admin-1 names to Natural Earth admin-1 units within one country.

Publishers (DTM, OCHA COD, ...) name admin-1 units in their own spelling ("Salah al-Din", "Ninewa",
"East Darfur", "N'Djamena"); the warehouse keys admin-1 units by Natural Earth ``adm1_code``. Matching
is done per country, in this order, and every result says how it was made (``method``):

1. ``override``: an explicit, reviewed entry of :data:`OVERRIDES` (Natural Earth data errors, e.g. two
   Afghan units both labelled "Parwan" of which one is Panjshir);
2. ``exact``: the normalised name equals the normalised name of the warehouse region (Natural Earth
   ``name_en``);
3. ``alternative``: it equals a normalised Natural Earth ``name``, ``name_en`` or ``name_alt`` entry
   (read from the shipped Natural Earth file when available) of exactly one unit;
4. ``fuzzy``: :func:`difflib.get_close_matches` above :data:`FUZZY_CUTOFF`, among the units not
   already taken by an exact match in the same batch, and only if the compass words (north, west,
   ...) agree, so "West Darfur" never becomes "East Darfur".

Normalising lower-cases, strips accents and punctuation, turns "northern" into "north" (etc.) and drops
generic words ('state', 'province', 'governorate', 'region', articles such as 'al'/'de').
A name whose normalised form fits two units equally is ``ambiguous``; the caller rejects it.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

FUZZY_CUTOFF = 0.8
GENERIC_WORDS = frozenset(
    {
        "state",
        "states",
        "province",
        "provincia",
        "governorate",
        "gouvernorat",
        "region",
        "prefecture",
        "department",
        "departement",
        "district",
        "division",
        "municipality",
        "county",
        "oblast",
        "ville",
        "city",
        "of",
        "the",
        "de",
        "du",
        "des",
        "la",
        "le",
        "l",
        "d",
        "al",
        "el",
        "as",
        "an",
        "at",
        "ad",
        "ash",
        "ar",
    }
)
COMPASS = {
    "northern": "north",
    "southern": "south",
    "eastern": "east",
    "western": "west",
    "central": "central",
    "north": "north",
    "south": "south",
    "east": "east",
    "west": "west",
    "nord": "north",
    "sud": "south",
    "est": "east",
    "ouest": "west",
    "upper": "upper",
    "lower": "lower",
    "centre": "central",
    "center": "central",
}
_COMPASS_VALUES = frozenset(COMPASS.values())

# (ISO3, normalised name) -> Natural Earth adm1_code. Natural Earth 10m labels Panjshir "Parwan" and
# Daykundi "Uruzgan" (checked by position: AFG-1769 lies at 69.9E 35.5N = Panjshir, AFG-1753 at 66.4E
# 33.7N = Daykundi); without these entries both names would be ambiguous.
OVERRIDES: dict[tuple[str, str], str] = {
    ("AFG", "parwan"): "AFG-1772",
    ("AFG", "panjsher"): "AFG-1769",
    ("AFG", "panjshir"): "AFG-1769",
    ("AFG", "uruzgan"): "AFG-1752",
    ("AFG", "urozgan"): "AFG-1752",
    ("AFG", "daykundi"): "AFG-1753",
    ("AFG", "daikundi"): "AFG-1753",
    ("IRQ", "missan"): "IRQ-3226",
    # Chad split Ennedi into Ennedi Est and Ennedi Ouest in 2012; Natural Earth keeps one 'Ennedi' unit,
    # so both map to it (callers sum them)
    ("TCD", "ennedi east"): "TCD-5579",
    ("TCD", "ennedi west"): "TCD-5579",  # Maysan (DTM spelling; difflib ratio 0.67 is below the cutoff)
}

NE_ADMIN1_GLOB = "ne_10m_admin_1_states_provinces*.geojson"  # in the natural_earth folder


def normalise(name: object) -> str:
    """Lower-case, accent-free, punctuation-free name without generic words ('' for blanks)."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    return _normalise_text(str(name))


@lru_cache(maxsize=200_000)
def _normalise_text(name: str) -> str:
    """Memoised: the same few thousand unit names are normalised by every matcher and every source."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    words = [COMPASS.get(w, w) for w in text.split() if w not in GENERIC_WORDS]
    return " ".join(words)


def _compass(norm: str) -> frozenset[str]:
    return frozenset(w for w in norm.split() if w in _COMPASS_VALUES)


@dataclass(frozen=True)
class Admin1Match:
    region_id: str | None
    method: str | None  # override | exact | alternative | fuzzy | ambiguous | None
    matched_name: str | None = None
    score: float | None = None


_ALTERNATIVES: dict[str, pd.DataFrame] = {}  # by file path; a few at most (tests use several raw dirs)
_ALTERNATIVES_LOCK = threading.Lock()


def _alternative_names_cached(path: str) -> pd.DataFrame:
    cached = _ALTERNATIVES.get(path)
    if cached is not None:
        return cached
    import pyogrio

    frame = pyogrio.read_dataframe(
        path, columns=["adm1_code", "name", "name_en", "name_alt"], read_geometry=False
    )
    return _remember_alternatives(path, alternative_names(frame))


def _remember_alternatives(path: str, names: pd.DataFrame) -> pd.DataFrame:
    with _ALTERNATIVES_LOCK:
        if len(_ALTERNATIVES) >= 4 and path not in _ALTERNATIVES:
            _ALTERNATIVES.pop(next(iter(_ALTERNATIVES)))
        _ALTERNATIVES[path] = names
    return names


def alternative_names(frame: pd.DataFrame) -> pd.DataFrame:
    """(region_id, name) for every ``name``, ``name_en`` and ``name_alt`` entry of Natural Earth admin-1
    attributes."""
    rows = []
    for code, nm, en, alt in zip(
        frame["adm1_code"], frame["name"], frame["name_en"], frame["name_alt"], strict=True
    ):
        for part in [nm, en, *(str(alt).split("|") if isinstance(alt, str) else [])]:
            if isinstance(part, str) and part.strip():
                rows.append((code, part.strip()))
    return pd.DataFrame(rows, columns=["region_id", "name"])


def remember_alternative_names(path: Path, frame: pd.DataFrame) -> None:
    """Keep the alternative names of an admin-1 file the Natural Earth reader has just read, so the
    matchers of the same run do not read the file again (the profile showed the second read)."""
    if {"adm1_code", "name", "name_en", "name_alt"} <= set(frame.columns):
        _remember_alternatives(str(path), alternative_names(frame))


def ne_alternative_names(raw_dir: Path | None) -> pd.DataFrame:
    """Natural Earth ``name``, ``name_en`` and ``name_alt`` entries (region_id, name); empty if the file is
    absent."""
    if raw_dir is None:
        return pd.DataFrame(columns=["region_id", "name"])
    from etl.sources.folders import resolve  # an old raw layout (natural_earth_admin) still works

    found = sorted((Path(raw_dir) / resolve(Path(raw_dir), "natural_earth")).glob(NE_ADMIN1_GLOB))
    if not found:
        log.warning("no Natural Earth admin-1 file under %s; matching on primary names only", raw_dir)
        return pd.DataFrame(columns=["region_id", "name"])
    return _alternative_names_cached(str(found[0]))


class Admin1Matcher:
    """Admin-1 name matching within a country against the warehouse's level-1 regions."""

    def __init__(
        self,
        regions: pd.DataFrame,
        alternatives: pd.DataFrame | None = None,
        cutoff: float = FUZZY_CUTOFF,
        overrides: dict[tuple[str, str], str] | None = None,
    ):
        adm1 = regions[regions["level"] == 1][["region_id", "iso3", "name"]].copy()
        adm1["norm"] = adm1["name"].map(normalise)
        self.adm1 = adm1
        self.iso3_of = dict(zip(adm1["region_id"], adm1["iso3"], strict=True))
        self.name_of = dict(zip(adm1["region_id"], adm1["name"], strict=True))
        alt = alternatives if alternatives is not None else pd.DataFrame(columns=["region_id", "name"])
        alt = alt[alt["region_id"].isin(self.iso3_of)].copy()
        alt["iso3"] = alt["region_id"].map(self.iso3_of)
        alt["norm"] = alt["name"].map(normalise)
        self.alt = alt
        self.cutoff = cutoff
        self.overrides = OVERRIDES if overrides is None else overrides

    @classmethod
    def from_context(cls, ctx) -> Admin1Matcher:
        """Build from a :class:`~etl.context.MappingContext` (regions plus Natural Earth alternative
        names), once per context: the sources of one ETL run share it (its regions do not change)."""
        regions = ctx.regions
        cached = getattr(ctx, "_admin1_matcher", None)
        if cached is not None and cached[0] is regions:
            return cached[1]
        matcher = cls(regions, ne_alternative_names(getattr(ctx, "raw_dir", None)))
        with contextlib.suppress(AttributeError):  # a context without a __dict__ is simply not memoised
            ctx._admin1_matcher = (regions, matcher)
        return matcher

    def match_names(self, iso3: str, names: list[str]) -> dict[str, Admin1Match]:
        """Match a batch of names of one country; exact matches claim units before fuzzy matching runs."""
        units = self.adm1[self.adm1["iso3"] == iso3]
        alts = self.alt[self.alt["iso3"] == iso3]
        by_norm = units.groupby("norm")["region_id"].agg(list).to_dict()
        alt_by_norm = alts.groupby("norm")["region_id"].agg(lambda s: sorted(set(s))).to_dict()
        out: dict[str, Admin1Match] = {}
        claimed: set[str] = set()
        pending: list[tuple[str, str]] = []
        for name in dict.fromkeys(names):
            norm = normalise(name)
            if not norm:
                out[name] = Admin1Match(None, None)
                continue
            if (iso3, norm) in self.overrides and self.overrides[(iso3, norm)] in self.iso3_of:
                rid = self.overrides[(iso3, norm)]
                out[name] = Admin1Match(rid, "override", self.name_of[rid], 1.0)
            elif norm in by_norm and len(by_norm[norm]) == 1:
                rid = by_norm[norm][0]
                out[name] = Admin1Match(rid, "exact", self.name_of[rid], 1.0)
            elif norm in by_norm:
                out[name] = Admin1Match(None, "ambiguous", " | ".join(by_norm[norm]))
                continue
            elif norm in alt_by_norm and len(alt_by_norm[norm]) == 1:
                rid = alt_by_norm[norm][0]
                out[name] = Admin1Match(rid, "alternative", self.name_of[rid], 1.0)
            else:
                pending.append((name, norm))
                continue
            claimed.add(rid)
        free = units[~units["region_id"].isin(claimed)]
        choices = pd.concat(
            [free[["region_id", "norm"]], alts[~alts["region_id"].isin(claimed)][["region_id", "norm"]]]
        )
        choices = choices[choices["norm"] != ""].drop_duplicates()
        for name, norm in pending:
            scores = self._fuzzy_scores(norm, choices)
            if not scores:
                out[name] = Admin1Match(None, None)
                continue
            best = max(score for _, score in scores)
            top = sorted({rid for rid, score in scores if score == best})
            if len(top) > 1:
                out[name] = Admin1Match(None, "ambiguous", " | ".join(top), best)
            else:
                out[name] = Admin1Match(top[0], "fuzzy", self.name_of[top[0]], round(float(best), 3))
        return out

    def _fuzzy_scores(self, norm: str, choices: pd.DataFrame) -> list[tuple[str, float]]:
        """(region_id, ratio) of the candidates with the same compass words scoring at least the cutoff.

        The ratio is ``SequenceMatcher(None, norm, candidate).ratio()``; the cheap upper bounds
        ``real_quick_ratio`` and ``quick_ratio`` skip candidates that cannot reach the cutoff, as
        :func:`difflib.get_close_matches` does, so the result is the same as scoring every candidate.
        """
        compass = _compass(norm)
        matcher = difflib.SequenceMatcher(None, norm, "")
        found = []
        for rid, cand in zip(choices["region_id"], choices["norm"], strict=True):
            if _compass(cand) != compass:
                continue
            matcher.set_seq2(cand)
            if matcher.real_quick_ratio() < self.cutoff or matcher.quick_ratio() < self.cutoff:
                continue
            score = matcher.ratio()
            if score >= self.cutoff:
                found.append((rid, score))
        return found

    def match_frame(self, iso3: pd.Series, names: pd.Series) -> pd.DataFrame:
        """Vectorised over rows: region_id, method, matched_name, score, aligned to ``names``."""
        keys = pd.DataFrame({"iso3": iso3.astype(object), "name": names.astype(object)}, index=names.index)
        results: dict[tuple[str, str], Admin1Match] = {}
        for code, grp in keys.dropna().groupby("iso3"):
            for name, m in self.match_names(str(code), grp["name"].astype(str).unique().tolist()).items():
                results[(str(code), name)] = m
        empty = Admin1Match(None, None)
        matches = [
            results.get((c, str(n)), empty) if pd.notna(c) and pd.notna(n) else empty
            for c, n in zip(keys["iso3"], keys["name"], strict=True)
        ]
        return pd.DataFrame(
            {
                "region_id": [m.region_id for m in matches],
                "method": [m.method for m in matches],
                "matched_name": [m.matched_name for m in matches],
                "score": [m.score for m in matches],
            },
            index=names.index,
        )


def reject_reason(names: pd.Series, iso3: pd.Series, result: pd.DataFrame, column: str) -> pd.Series:
    """Readable reason for unmatched/ambiguous rows, naming the publisher's name and country."""
    base = "column '" + column + "': admin-1 name '" + names.astype(str) + "' (" + iso3.astype(str) + ")"
    amb = result["method"] == "ambiguous"
    return base.where(
        ~amb, base + " fits several Natural Earth units: " + result["matched_name"].astype(str)
    ).where(amb, base + " has no Natural Earth admin-1 unit with that name")


__all__ = [
    "FUZZY_CUTOFF",
    "OVERRIDES",
    "Admin1Match",
    "Admin1Matcher",
    "ne_alternative_names",
    "normalise",
    "reject_reason",
]
