"""Country names and codes -> ISO3, offline, with explicit aliases and aggregate detection.

hdx-python-country is used with ``use_live=False`` so it never touches the network. Historical and
disputed entities that it does not know are handled by an explicit alias table, so every decision
is reviewable. Anything unresolved is reported, never guessed silently.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

# Entities hdx-python-country does not resolve (or resolves ambiguously), mapped explicitly.
# ``None`` means: a known entity with no present-day region, rejected as ``historical_entity``.
ALIASES: dict[str, str | None] = {
    "yemen (north yemen)": "YEM",
    "north yemen": "YEM",
    "south yemen": "YEM",
    "yemen people's republic": "YEM",
    "yemen (south yemen)": "YEM",
    "russia (soviet union)": "RUS",
    "soviet union": "RUS",
    "ussr": "RUS",
    "serbia (yugoslavia)": "SRB",
    "yugoslavia": "SRB",
    "serbia and montenegro": "SRB",
    "kosovo": "XKX",
    "kosovo (under unscr 1244)": "XKX",
    "kosovo (in accordance with un security council resolution 1244 (1999))": "XKX",
    "kosovo (in accordance with unsc 1244/1999)": "XKX",
    "kosovo*": "XKX",
    "abkhazia": "GEO",
    "south ossetia": "GEO",
    "transnistria": "MDA",
    "northern cyprus": "CYP",
    "somaliland": "SOM",
    "western sahara": "ESH",
    "palestine": "PSE",
    "state of palestine": "PSE",
    "palestinian territories": "PSE",
    "west bank and gaza": "PSE",
    "cambodia (kampuchea)": "KHM",
    "myanmar (burma)": "MMR",
    "burma": "MMR",
    "zimbabwe (rhodesia)": "ZWE",
    "madagascar (malagasy)": "MDG",
    "bosnia-herzegovina": "BIH",
    "dr congo (zaire)": "COD",
    "congo, dem. rep.": "COD",
    "democratic republic of congo": "COD",
    "congo, rep.": "COG",
    "republic of congo": "COG",
    "micronesia (country)": "FSM",
    "turkey": "TUR",
    "turkiye": "TUR",
    "türkiye": "TUR",
    "czechia": "CZE",
    "eswatini": "SWZ",
    "swaziland": "SWZ",
    "cabo verde": "CPV",
    "timor": "TLS",
    "east timor": "TLS",
    "netherlands antilles": None,
    "czechoslovakia": None,
    "east germany": None,
    "german democratic republic": None,
    "west germany": "DEU",
    "south vietnam": None,
    "north vietnam": "VNM",
    "vietnam (north vietnam)": "VNM",
    "hyderabad": None,
    "tibet": None,
    "zanzibar": None,
    "mozambiaue": "MOZ",
    "netherlands antilles (former)": None,
    "former ussr": None,
    "former yugoslavia": None,
    "western offshoots": None,
}

# Codes that are not ISO3 in some publishers' tables (World Bank/WGI, Natural Earth, UNHCR).
CODE_ALIASES: dict[str, str | None] = {
    "KSV": "XKX",
    "KOS": "XKX",
    "XKX": "XKX",
    "ZAR": "COD",
    "ROM": "ROU",
    "TMP": "TLS",
    "ADO": "AND",
    "WBG": "PSE",
    "SDS": "SSD",
    "SOL": "SOM",
    "CYN": "CYP",
    "SAH": "ESH",
    "ESB": "CYP",
    "WSB": "CYP",
    "USG": "CUB",
    "KAS": "IND",
    "KAB": "KAZ",
    "IOA": "AUS",
    "CSI": "AUS",
    "CLP": "FRA",
    "PGA": None,
    "ANT": None,
    "XKO": "XKX",
    "PSX": "PSE",
    "ALD": "ALA",
    "ATC": "AUS",
}

# World Bank and other aggregate codes: reported as ``aggregate``, never as unknown countries.
AGGREGATE_CODES = frozenset(
    [
        "AFE",
        "AFW",
        "ARB",
        "CEB",
        "CSS",
        "EAP",
        "EAR",
        "EAS",
        "ECA",
        "ECS",
        "EMU",
        "EUU",
        "FCS",
        "HIC",
        "HPC",
        "IBD",
        "IBT",
        "IDA",
        "IDB",
        "IDX",
        "INX",
        "LAC",
        "LCN",
        "LDC",
        "LIC",
        "LMC",
        "LMY",
        "LTE",
        "MEA",
        "MIC",
        "MNA",
        "NAC",
        "OED",
        "OSS",
        "PRE",
        "PSS",
        "PST",
        "SAS",
        "SSA",
        "SSF",
        "SST",
        "TEA",
        "TEC",
        "TLA",
        "TMN",
        "TSA",
        "TSS",
        "UMC",
        "WLD",
        "OWID_WRL",
    ]
)
_AGGREGATE_PATTERNS = re.compile(
    r"^(world|total|global)$|income|\bworld\b|\(wb\)|\(un\)|\(wpp\)|\(owid\)|\bregion\b|excluding|ida |ibrd|"
    r"oecd|euro area|european union|small states|dividend|fragile|heavily indebted|least developed|"
    r"^(africa|asia|europe|oceania|americas|north america|south america|latin america|arab world|"
    r"sub-saharan|sub-sahara|south and south-east asia|channel islands|middle east|east asia|south"
    r" asia|central asia|western asia|pacific island|"
    r"post-demographic|pre-demographic|early-demographic|late-demographic)|"
    r"^(northern africa|eastern africa|western africa|middle africa|southern africa|caribbean|"
    r"central america|central europe.*|eastern europe.*|western europe|southern europe|northern europe|"
    r"asia and the pacific|arab states|europe and central asia|south-eastern asia|eastern asia|"
    r"melanesia|polynesia|australia and new zealand)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Resolution:
    """The outcome for one entity: an ISO3 code, or a reject reason code and text."""

    iso3: str | None
    reason_code: str | None = None
    reason: str | None = None


_COUNTRY_LOCK = threading.Lock()
_country_class = None


def _country_api():
    """hdx's ``Country`` with its tables built exactly once, under a lock.

    ``Country.countriesdata`` builds class-level tables lazily and is not thread-safe: two server threads
    resolving at once (20 concurrent uploads after a restart) saw half-built tables, failing with
    "'list' object has no attribute 'add'" or, worse, resolving fewer names (cached by lru_cache).
    """
    global _country_class
    if _country_class is not None:
        return _country_class
    with _COUNTRY_LOCK:
        if _country_class is None:
            from hdx.location.country import Country

            Country.countriesdata(use_live=False)
            _country_class = Country
    return _country_class


@lru_cache(maxsize=1)
def _known_iso3() -> frozenset[str]:
    country = _country_api()
    codes = set(country.countriesdata(use_live=False)["countries"].keys())
    codes.add("XKX")
    return frozenset(codes)


def known_iso3() -> frozenset[str]:
    """Every ISO3 code the resolver can produce (hdx-python-country's list plus Kosovo)."""
    return _known_iso3()


def is_aggregate(name: str | None = None, code: str | None = None) -> bool:
    """True for rows such as 'World', regions and income groups."""
    if code and code.strip().upper() in AGGREGATE_CODES:
        return True
    if name:
        return bool(_AGGREGATE_PATTERNS.search(name.strip()))
    return False


@lru_cache(maxsize=20000)
def resolve_name(name: str) -> Resolution:
    """Resolve a country name: alias table, then exact, then aggregate check, then fuzzy match."""
    clean = " ".join(str(name).split())
    if not clean:
        return Resolution(None, "missing_country", "country name is empty")
    key = clean.lower()
    if key in ALIASES:
        iso3 = ALIASES[key]
        if iso3 is None:
            return Resolution(
                None, "historical_entity", f"'{clean}' is a historical entity with no present-day region"
            )
        return Resolution(iso3)
    country = _country_api()
    iso3 = country.get_iso3_country_code(clean, use_live=False)
    if iso3:
        return Resolution(iso3)
    if is_aggregate(name=clean):
        return Resolution(
            None, "aggregate", f"'{clean}' is an aggregate (region, income group or world), not a country"
        )
    iso3, _exact = country.get_iso3_country_code_fuzzy(clean, use_live=False)
    if iso3:
        return Resolution(iso3)
    return Resolution(None, "unknown_country", f"country '{clean}' could not be matched to an ISO3 code")


@lru_cache(maxsize=5000)
def resolve_code(code: str, name: str | None = None) -> Resolution:
    """Resolve a publisher's three-letter code (ISO3 or a known non-ISO variant)."""
    clean = str(code).strip().upper()
    if not clean:
        return resolve_name(name) if name else Resolution(None, "missing_country", "country code is empty")
    if clean in AGGREGATE_CODES:
        return Resolution(
            None, "aggregate", f"code '{clean}' is an aggregate (region, income group or world)"
        )
    if clean in CODE_ALIASES:
        iso3 = CODE_ALIASES[clean]
        if iso3 is None:
            return Resolution(None, "unknown_country", f"code '{clean}' has no country region")
        return Resolution(iso3)
    if clean in _known_iso3():
        return Resolution(clean)
    if name:
        by_name = resolve_name(name)
        if by_name.iso3 or by_name.reason_code in ("aggregate", "historical_entity"):
            return by_name
        return Resolution(
            None,
            "unknown_country",
            f"code '{clean}' is not a known ISO3 code and name '{name}' could not be matched",
        )
    return Resolution(None, "unknown_country", f"code '{clean}' is not a known ISO3 code")


def resolve_names(names: pd.Series) -> pd.DataFrame:
    """Vectorised :func:`resolve_name`; returns columns iso3, reason_code, reason aligned to ``names``."""
    uniques = {n: resolve_name("" if pd.isna(n) else str(n)) for n in names.dropna().unique()}
    res = names.map(lambda n: uniques.get(n, Resolution(None, "missing_country", "country name is empty")))
    return pd.DataFrame(
        {
            "iso3": res.map(lambda r: r.iso3),
            "reason_code": res.map(lambda r: r.reason_code),
            "reason": res.map(lambda r: r.reason),
        },
        index=names.index,
    )


def resolve_codes(codes: pd.Series, names: pd.Series | None = None) -> pd.DataFrame:
    """Vectorised :func:`resolve_code`, falling back to the name where the code is unknown.

    Each distinct (code, name) pair is resolved once, then mapped back to the rows.
    """
    pairs = pd.DataFrame(
        {
            "code": codes.fillna("").astype(str).to_numpy(),
            "name": names.astype(object).where(names.notna(), None).to_numpy() if names is not None else None,
        },
        index=codes.index,
    )
    unique = pairs.drop_duplicates()
    resolved = [
        resolve_code(c, None if n is None or (isinstance(n, float) and pd.isna(n)) else str(n))
        for c, n in zip(unique["code"], unique["name"], strict=True)
    ]
    table = unique.assign(
        **{
            field: pd.Series([getattr(r, field) for r in resolved], index=unique.index, dtype=object)
            for field in ("iso3", "reason_code", "reason")
        }
    )
    merged = pairs.reset_index(drop=True).merge(table, on=["code", "name"], how="left")
    merged.index = codes.index
    return merged[["iso3", "reason_code", "reason"]]


class Crosswalk:
    """Gleditsch–Ward, Correlates-of-War and UNHCR codes -> ISO3, from the shipped countrycode table."""

    def __init__(self, path: Path):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        self.path = path
        self._maps: dict[str, dict[str, str]] = {}
        for scheme, column in (
            ("gw", "gwn"),
            ("cow", "cown"),
            ("unhcr", "unhcr"),
            ("wb", "wb"),
            ("iso2", "iso2c"),
        ):
            sub = frame[(frame[column] != "") & (frame["iso3c"] != "")]
            self._maps[scheme] = dict(zip(sub[column].str.strip(), sub["iso3c"].str.strip(), strict=True))
        # Kosovo has no iso3c in countrycode; GW 347 / COW 347 is Kosovo.
        for scheme in ("gw", "cow"):
            self._maps[scheme].setdefault("347", "XKX")
        # GW codes of states whose successor is the present-day region (UCDP convention).
        self._maps["gw"].update(
            {
                "260": "DEU",
                "265": "DEU",
                "345": "SRB",
                "365": "RUS",
                "678": "YEM",
                "680": "YEM",
                "816": "VNM",
                "817": "VNM",
                "315": "CZE",
                "751": "IND",  # Hyderabad 1947-48
                "55": "GRD",
            }
        )  # Grenada, missing from the GW list

    def to_iso3(self, scheme: str, code: object) -> str | None:
        if code is None or (isinstance(code, float) and pd.isna(code)):
            return None
        text = str(code).strip()
        if text.endswith(".0"):
            text = text[:-2]
        return self._maps[scheme].get(text)

    def items(self, scheme: str) -> dict[str, str]:
        return dict(self._maps[scheme])
