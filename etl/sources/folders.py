"""Folder names under data/raw (issue 13 #8): each folder is named after the id of the source that reads it
(``unhcr_population``, not ``unhcr_refugees``). A folder that several sources read keeps one shared name
(``covariates_country_year``: democracy, maddison, wb_gdp, wb_population, wgi).

The folders were renamed on 2026-12-02. A raw folder laid out before then (a copy in a data dir, a volume)
still loads: ``resolve`` falls back to the old name when the new one is absent. Warehouse rows keep the path
they were loaded from (``source_load.file``, e.g. ``unhcr_refugees/population.csv.gz``); the loader compares
files by name, so an old row still counts as the current load of the same file.
"""

from __future__ import annotations

from pathlib import Path

# new folder name (a source id) -> the name it had before
LEGACY_FOLDERS: dict[str, str] = {
    "country_codes": "country_code_crosswalk",
    "ctdc_detected_victims": "ctdc_owid_detected_victims",
    "emdat": "emdat_owid_disasters",
    "fsi_2023": "fund_for_peace_fsi_2023",
    "gdl_subnational": "gdl_subnational_hdi_population",
    "gsi_2023": "walkfree_gsi_2023",
    "inform_risk": "inform_risk_index",
    "iom_dtm_api": "iom_dtm_api_admin",  # also read by iom_dtm_snapshot
    "natural_earth": "natural_earth_admin",
    "oc_index": "gitoc_organized_crime_index",
    "ocha_cod_population": "ocha_cod_population_admin",
    "ucdp_ged": "ucdp_ged_events",
    "unhcr_population": "unhcr_refugees",  # also read by unhcr_idmc
    "us_tip_tiers": "us_tip_tiers_kelley",  # also read by cho_3p_index
}
CURRENT_FOLDER = {old: new for new, old in LEGACY_FOLDERS.items()}


def resolve(raw_dir: Path, folder: str) -> str:
    """The folder to read under ``raw_dir``: ``folder``, or its old name if only that one exists there."""
    old = LEGACY_FOLDERS.get(folder)
    if old and not (raw_dir / folder).exists() and (raw_dir / old).exists():
        return old
    return folder


def current_path(stored: str) -> str:
    """A ``folder/file`` path recorded before the rename, as it reads now (``unhcr_refugees/x`` ->
    ``unhcr_population/x``); other paths unchanged."""
    folder, sep, rest = stored.partition("/")
    return CURRENT_FOLDER.get(folder, folder) + sep + rest if sep else stored
