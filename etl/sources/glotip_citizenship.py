"""GLOTIP 'by citizenship' categories -> ISO3, by exact names and a reviewed alias table only.

The ``Category`` of a 'by citizenship' row is free text typed by national correspondents: country names in
several languages, demonyms ("Nigerians"), misspellings, mojibake, regions and "Other ...". A fuzzy matcher
turns "Costa d'Avorio" (Italian for Côte d'Ivoire) into Costa Rica and "Caribbean (Trinidad and Tobago,
Barbados, etc)" into Barbados, so no fuzzy matching is done here. A category resolves only when it is

1. a nationals label (the detecting country's own citizens),
2. in the alias table below (every entry reviewed against the distinct categories of the 2023 and 2025
   releases, with the detecting countries that use it), or
3. an exact name known to hdx-python-country (its exact lookup, which includes official names in several
   languages, e.g. 'Alemania', 'Roumanie') or to the general alias table of :mod:`etl.countries`.

Everything else is rejected: regions and "Other ..." as ``aggregate``, the rest as ``unknown_country``.
This module holds data and one pure function; it registers no source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from etl.countries import ALIASES as COUNTRY_ALIASES
from etl.countries import _country_api, known_iso3

log = logging.getLogger(__name__)

# The detecting country's own citizens. 'Ciudadanos de su pa\ufffds' is "Ciudadanos de su país" (citizens of
# your country) with the accented letter lost in the publisher's file.
NATIONALS = frozenset({"nationals", "own country", "ciudadanos de su pa\ufffds", "ciudadanos de su país"})

# Misspellings, demonyms and other-language names seen in the files (lower-case, whitespace collapsed).
CITIZENSHIP_ALIASES: dict[str, str] = {
    "abania": "ALB",
    "albanian": "ALB",
    "albanians": "ALB",
    "afganistan": "AFG",
    "afghani": "AFG",
    "algerians": "DZA",
    "american": "USA",
    "estados unidos": "USA",
    "angolan": "AGO",
    "angolans": "AGO",
    "argentinian": "ARG",
    "argentino": "ARG",
    "armenians": "ARM",
    "australian": "AUS",
    "australians": "AUS",
    "austrians": "AUT",
    "azerbaijani": "AZE",
    "b & h": "BIH",
    "bosnia": "BIH",
    "bosnia erzegovina": "BIH",
    "bosnia and herzegowina": "BIH",
    "bosnian": "BIH",
    "beliceña": "BLZ",
    "belice\ufffda": "BLZ",
    "belizean": "BLZ",
    "belizeean": "BLZ",
    "bielorrusia": "BLR",
    "byelorussian": "BLR",
    "brasilera": "BRA",
    "brasilero": "BRA",
    "brazilian": "BRA",
    "brésilien": "BRA",
    "bangladeshi": "BGD",
    "belga": "BEL",
    "benin rep": "BEN",
    "beninoise": "BEN",
    "bhuatnese": "BTN",
    "bhutanese": "BTN",
    "boliviana": "BOL",
    "bolivians": "BOL",
    "botzwana": "BWA",
    "british": "GBR",
    "bulgarian": "BGR",
    "burkinabe": "BFA",
    "burmese": "MMR",
    "myanmar nation": "MMR",
    "burundean": "BDI",
    "camerun": "CMR",
    "cameroonian": "CMR",
    "cambodian": "KHM",
    "canadians": "CAN",
    "chadian": "TCD",
    "chilean": "CHL",
    "china, hong kong sar": "HKG",
    "china, taiwan province of china": "TWN",
    "taiwan": "TWN",
    "taiwanese": "TWN",
    "chines": "CHN",
    "chinese": "CHN",
    "chino": "CHN",
    "cina popolare": "CHN",
    "colombian": "COL",
    "colombiana": "COL",
    "colombiano": "COL",
    "columbia": "COL",  # Denmark 2018; no country is called Columbia
    "comorian islands": "COM",
    "congolese (drc)": "COD",
    "rdc": "COD",
    "corea del sur": "KOR",
    "south korean": "KOR",
    "costa d'avorio": "CIV",  # Italian for Côte d'Ivoire (a fuzzy matcher says Costa Rica)
    "cote d'ivoire": "CIV",
    "cã´te d'ivoire": "CIV",
    "c\ufffdte d\ufffdivoire": "CIV",
    "ivory coast": "CIV",
    "croazia": "HRV",
    "cuban": "CUB",
    "cubana": "CUB",
    "cubano": "CUB",
    "cubans": "CUB",
    "cypriot": "CYP",
    "czech": "CZE",
    "czech rep": "CZE",
    "czeck republic": "CZE",
    "república checa": "CZE",
    "république tchèque": "CZE",
    # Spanish 'dominicana' is the Dominican Republic's demonym (Dominica's is 'dominiquesa')
    "dominicana": "DOM",
    "dominican rebublic": "DOM",
    "dominican rep": "DOM",
    "r.dominicana": "DOM",
    "rep. dominicana": "DOM",
    "republica dominicana": "DOM",
    "rep\ufffdblica dominicana": "DOM",
    "danish": "DNK",
    "djiboutean": "DJI",
    "dutch": "NLD",
    "nederland": "NLD",
    "netherlands (own country)": "NLD",
    "ecuadorean": "ECU",
    "ecuatoriana": "ECU",
    "egitto": "EGY",
    "egyptian": "EGY",
    "emirati (uae)": "ARE",
    "erithera": "ERI",
    "eritrean": "ERI",
    "estonians": "EST",
    "ethiopian": "ETH",
    "ethopia": "ETH",
    "etiopia": "ETH",
    "fijian": "FJI",
    "filipino": "PHL",
    "filippine": "PHL",
    "filippino": "PHL",
    "philippine": "PHL",
    "phillipines": "PHL",
    "finns": "FIN",
    "french": "FRA",
    "francais": "FRA",
    "guatemalteca": "GTM",
    "guatemalean": "GTM",
    "guineana": "GIN",
    "guinee": "GIN",
    "guinea conakry": "GIN",
    "guinean": "GIN",
    "gambian": "GMB",
    "gana": "GHA",
    "ghanaian": "GHA",
    "ghanean": "GHA",
    "georgian": "GEO",
    "german": "DEU",
    "germans": "DEU",
    "greek": "GRC",
    "guayanean": "GUY",
    "hondureña": "HND",
    "hondure\ufffda": "HND",
    "hodruanian": "HND",
    "honduranian": "HND",
    "hondureans": "HND",
    "haitian": "HTI",
    "haitiana": "HTI",
    "haitiano": "HTI",
    "haitians": "HTI",
    "hungaria": "HUN",
    "hungarian": "HUN",
    "hungarians": "HUN",
    "indian": "IND",
    "indien": "IND",
    "indonesian": "IDN",
    "iranian": "IRN",
    "israelian": "ISR",
    "italian": "ITA",
    "italien": "ITA",
    "jamaican": "JAM",
    "jamaicans": "JAM",
    "japanese": "JPN",
    "jordanian": "JOR",
    "kazahstan": "KAZ",
    "kazakhistan": "KAZ",
    "kazaki": "KAZ",
    "keniano": "KEN",
    "kenyan": "KEN",
    "kosovar": "XKX",
    "kosovo (under unsc res. 1244)": "XKX",
    "kosovo under unscr 1244": "XKX",
    "kyrgysi": "KGZ",
    "laos": "LAO",
    "laotian": "LAO",
    "latvian": "LVA",
    "lebanese": "LBN",
    "libanon": "LBN",
    "liberian": "LBR",
    "libyan": "LBY",
    "lybia": "LBY",
    "lybians": "LBY",
    "lithuanian": "LTU",
    "luxembourgeois": "LUX",
    "mexicana": "MEX",
    "mexican": "MEX",
    "moldavia": "MDA",
    "moldavian": "MDA",
    "moldovan": "MDA",
    "moldovian": "MDA",
    "république de moldavie": "MDA",
    "macedonian": "MKD",
    "the former yugoslav republic of macedonia": "MKD",
    "malaysian": "MYS",
    "malian": "MLI",
    "maltese": "MLT",
    "marocco": "MAR",
    "moroccan": "MAR",
    "mauritanian": "MRT",
    "mongolian": "MNG",
    "nicaraguense": "NIC",
    "nicaraguarean": "NIC",
    "nigeriana": "NGA",
    "nigerian": "NGA",
    "nigerians": "NGA",
    "nepalese": "NPL",
    "new zealander": "NZL",
    "north korean": "PRK",
    "norvegian": "NOR",
    "omani": "OMN",
    "palestinian authority": "PSE",
    "pakistani": "PAK",
    "panam\ufffd": "PAN",
    "paraguaya": "PRY",
    "paraguayian": "PRY",
    "paraguayo": "PRY",
    "peruana": "PER",
    "peruano": "PER",
    "peruvian": "PER",
    "poles": "POL",
    "polish": "POL",
    "portuguese": "PRT",
    "portugais": "PRT",
    "qatari": "QAT",
    "rmi": "MHL",  # Republic of the Marshall Islands, reported by the Marshall Islands itself
    "rumanía": "ROU",
    "romanian": "ROU",
    "roumain": "ROU",
    "rusia": "RUS",
    "russian": "RUS",
    "rwandean": "RWA",
    "salvadoreña": "SLV",
    "salvadore\ufffda": "SLV",
    "salvadorean": "SLV",
    "salvadore\ufffdas": "SLV",
    "saudi": "SAU",
    "senegalese": "SEN",
    "serbian": "SRB",
    "serbians": "SRB",
    "sierra leonean": "SLE",
    "singaporean": "SGP",
    "slovak": "SVK",
    "slovaks": "SVK",
    "slovenian": "SVN",
    "solomon isands": "SLB",
    "solomon islanders": "SLB",
    "somali": "SOM",
    "south african": "ZAF",
    "sudafrica": "ZAF",
    "spanish": "ESP",
    "sri lankan": "LKA",
    "st vincent": "VCT",
    "sudanese": "SDN",
    "surinam": "SUR",
    "swedesh": "SWE",
    "syrian": "SYR",
    "tanzanians": "TZA",
    "tanzanianans": "TZA",
    "tazanians": "TZA",
    "tanzanian": "TZA",
    "tailandesa": "THA",
    "thai": "THA",
    "tajiki": "TJK",
    "the ukraine": "UKR",
    "ukraineans": "UKR",
    "ukrainian": "UKR",
    "ukranian": "UKR",
    "ukrainien": "UKR",
    "togolese": "TGO",
    "tunisa": "TUN",
    "turkish": "TUR",
    "tã¼rkiye": "TUR",
    "t\ufffdrkiye": "TUR",
    "turkmeni": "TKM",
    "ugandan": "UGA",
    "ugandean": "UGA",
    "uruguayan": "URY",
    "uzbecki": "UZB",
    "venezolana": "VEN",
    "venezolano": "VEN",
    "venezuelan": "VEN",
    "venezuelans": "VEN",
    "vietnam": "VNM",
    "vietnamese": "VNM",
    "vietnamita": "VNM",
    "yemeni": "YEM",
    "zambian": "ZMB",
    "zimbabwean": "ZWE",
}

# Groups of countries: never one country.
AGGREGATE_CATEGORIES = frozenset(
    {
        "africa",
        "africa and middle east",
        "africa others",
        "amercias",
        "americas",
        "asia",
        "europe others",
        "eu-28 others",
        "european economic area",
        "other asia",
        "other central america and car",
        "other central america and caribbean",
        "other countries (dominica, panama, french guiana, brazil, etc.)",
        "other europe",
        "caribbean (trinidad and tobago, barbados, etc)",
        "m49 region: africa",
        "m49 region: americas",
        "m49 region: asia",
        "otros",
        "(especifique otras nacionalidades)",
        "foreigners",
        "personnes de nationalit\ufffd \ufffdtrang\ufffdre",
        "total",
        # former states whose citizens are now of several countries
        "former yugoslavia",
        "former czechoslovakia",
        "the former netherlands antilles",
    }
)

# Seen in the files and deliberately not resolved (why, per entry).
NOT_A_COUNTRY: dict[str, str] = {
    "unknown": "citizenship unknown",
    "desconocida": "citizenship unknown",
    "desconocido": "citizenship unknown",
    "no determinada": "citizenship not determined",
    "no determinadas": "citizenship not determined",
    "no determinado": "citizenship not determined",
    "sin determinar": "citizenship not determined",
    "no registra": "citizenship not recorded",
    "no information": "citizenship unknown",
    "without": "no citizenship given",
    "stateless": "stateless: no citizenship",
    "disputed": "disputed citizenship",
    "rohingya": "an ethnic group, not a citizenship",
    "nationality": "ambiguous label 'Nationality' (USA 2017-2018): not known to be nationals",
    "nigerin": "ambiguous: Nigerian (NGA) or Nigerien (NER)",
    "pero": "ambiguous typo (Ecuador 2017): not a country name",
}


@dataclass(frozen=True)
class Citizenship:
    """How one category resolved: an ISO3 code (or nationals), or a reject reason."""

    iso3: str | None
    nationals: bool = False
    reason_code: str | None = None
    reason: str | None = None


def normalise(category: str) -> str:
    return " ".join(str(category).split()).lower()


@lru_cache(maxsize=4096)
def resolve_category(category: str) -> Citizenship:
    """Resolve one citizenship category; nationals have ``iso3=None, nationals=True`` (the detecting
    country)."""
    raw = " ".join(str(category).split())
    key = raw.lower()
    if not key:
        return Citizenship(None, reason_code="unknown_country", reason="citizenship category is empty")
    if key in NATIONALS:
        return Citizenship(None, nationals=True)
    if key in AGGREGATE_CATEGORIES:
        return Citizenship(
            None,
            reason_code="aggregate",
            reason=f"citizenship '{raw}' is a group of countries or a total, not one country",
        )
    if key in NOT_A_COUNTRY:
        return Citizenship(
            None, reason_code="unknown_country", reason=f"citizenship '{raw}': {NOT_A_COUNTRY[key]}"
        )
    iso3 = CITIZENSHIP_ALIASES.get(key)
    if iso3 is None and key in COUNTRY_ALIASES:
        iso3 = COUNTRY_ALIASES[key]
    if iso3 is None and not any(ch.isdigit() for ch in key):
        iso3 = _country_api().get_iso3_country_code(raw, use_live=False)  # exact names only, never fuzzy
    if iso3 is None or iso3 not in known_iso3():
        return Citizenship(
            None,
            reason_code="unknown_country",
            reason=f"citizenship '{raw}' is not an exact country name or a listed alias",
        )
    return Citizenship(iso3)


__all__ = [
    "AGGREGATE_CATEGORIES",
    "CITIZENSHIP_ALIASES",
    "NATIONALS",
    "NOT_A_COUNTRY",
    "Citizenship",
    "normalise",
    "resolve_category",
]
