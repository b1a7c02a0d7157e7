"""Global Data Lab SHDI 5.0: sub-national population and HDI, 1990-2019 -> Natural Earth admin-1 × year.

GDL regions are admin-1 units in most countries but groups of provinces in some (Afghanistan 8,
Yemen 8, Ukraine 5), so they are related to Natural Earth admin-1 units by **area overlap**: the GDL
polygons (``gdl_regions_2022_simplified.topojson``, read by GDAL) are intersected with the Natural Earth
admin-1 polygons of the same country in an equal-area projection (EPSG:6933), in one vectorised pass.

- ``structural.population_admin1_gdl`` (persons; GDL publishes thousands, × 1000 here): the population of
  a Natural Earth unit is the sum over GDL regions of ``pop × overlap area / GDL region area``. This
  **assumes population is spread evenly within each GDL region** (areal weighting): a Natural Earth unit
  holding a GDL region's capital gets too little, a desert unit too much.
- ``structural.hdi_admin1`` (0-1): the mean of the overlapping GDL regions' SHDI weighted by overlap area.

Datapoints come from the published DDF files (``ddf--datapoints--<pop|shdi>--by--subnat--year.csv.gz``).
The region list (``ddf--entities--level--subnat.csv``) and the polygons are read as lookups from the same
folder: a datapoint of a region missing from either is rejected (``unknown_region``/``no_geometry``), one
whose polygon overlaps no Natural Earth unit of its country is ``no_overlap``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl.contract import (
    FILE,
    REJECT,
    ContractError,
    parse_number,
    parse_year,
    read_text_table,
    reject,
    reject_duplicates,
    require_columns,
)
from etl.countries import CODE_ALIASES, resolve_code
from etl.frame_cache import cache_key, load_frame, save_frame
from etl.sources import register
from etl.sources.base import IndicatorDef, Source, year_start

log = logging.getLogger(__name__)

ENTITIES_FILE = "ddf--entities--level--subnat.csv"
POLYGONS_GLOB = "gdl_regions*.topojson"
EQUAL_AREA_CRS = "EPSG:6933"
# source-local code aliases (to move to etl.countries.CODE_ALIASES): GDL codes Kosovo 'XKO'
LOCAL_CODE_ALIASES = {"XKO": "XKX"}
FIRST_YEAR = 2000
OVERLAY_FORMAT = 1  # bump when overlap_weights computes something else from the same inputs
OVERLAY_CACHE = "gdl_overlay.parquet"
OVERLAY_COLUMNS = {"gdlcode": "O", "region_id": "O", "overlap_km2": "f", "share_of_gdl": "f"}
_DATAPOINTS = re.compile(r"ddf--datapoints--(\w+)--by--subnat--year")
CONCEPTS = {"pop": "structural.population_admin1_gdl", "shdi": "structural.hdi_admin1"}
INDICATORS = (
    IndicatorDef(
        "structural.population_admin1_gdl",
        "structural",
        "persons",
        "neutral",
        "Population of the Natural Earth admin-1 unit from Global Data Lab SHDI 5.0 regions (thousands x "
        "1000), areal-weighted: GDL region population x overlap area / region area, summed",
    ),
    IndicatorDef(
        "structural.hdi_admin1",
        "structural",
        "index 0-1",
        "lower_is_riskier",
        "Sub-national Human Development Index (Global Data Lab SHDI 5.0), mean of the overlapping GDL "
        "regions weighted by overlap area with the Natural Earth admin-1 unit",
    ),
)


@register
class GdlSubnational(Source):
    name = "gdl_subnational"
    title = "Global Data Lab Subnational Human Development Database (SHDI 5.0): population and HDI"
    publisher = "Global Data Lab, Radboud University (DDF conversion by Gapminder open-numbers)"
    licence = "CC BY 4.0 (DDF repository); cite Smits & Permanyer (2019)"
    coverage = "1,768 regions in ~160 countries, 1990-2019"
    folder = "gdl_subnational"
    file_patterns = (
        "ddf--datapoints--pop--by--subnat--year.csv*",
        "ddf--datapoints--shdi--by--subnat--year.csv*",
    )
    level = "admin1"
    indicators = INDICATORS
    lookup_patterns = (ENTITIES_FILE, POLYGONS_GLOB)

    def parse(self, path: Path) -> pd.DataFrame:
        path = Path(path)
        m = _DATAPOINTS.search(path.name)
        if not m or m.group(1) not in CONCEPTS:
            raise ContractError(
                path,
                f"not a GDL datapoints file of {sorted(CONCEPTS)} "
                "(ddf--datapoints--<concept>--by--subnat--year.csv)",
            )
        concept = m.group(1)
        frame = read_text_table(path)
        require_columns(frame, ["subnat", "year", concept], path)
        frame["_concept"] = concept
        frame["_subnat"] = frame["subnat"].astype(str).str.strip().str.lower()
        frame["_year"] = parse_year(frame, "year", minimum=1950, maximum=2100)
        frame["_value"] = parse_number(
            frame,
            concept,
            allow_blank=False,
            minimum=0,
            maximum=1 if concept == "shdi" else None,
            thousands=False,
        )
        reject_duplicates(frame, ["_subnat", "_year"], "region-year")
        # The model window starts in 2008 and admin-1 shares move slowly; the 1990s add a third of the rows.
        reject(
            frame,
            frame["_year"] < FIRST_YEAR,
            "out_of_scope",
            f"year before {FIRST_YEAR}: outside the model and dashboard window",
        )
        return frame

    # --- mapping --------------------------------------------------------------------------------------
    def to_observations(self, parsed: pd.DataFrame, ctx) -> pd.DataFrame:
        started = time.perf_counter()
        base = Path(ctx.raw_dir) / self.folder
        entities = self._entities(base)
        parsed["_gdlcode"] = parsed["_subnat"].map(entities)
        reject(
            parsed,
            parsed["_gdlcode"].isna(),
            "unknown_region",
            "column 'subnat': '" + parsed["subnat"].astype(str) + f"' is not in {ENTITIES_FILE}",
        )
        weights = self.cached_overlap_weights(base, ctx)
        has_geom = parsed["_gdlcode"].isin(weights.attrs["gdl_with_geometry"])
        reject(
            parsed,
            ~has_geom,
            "no_geometry",
            "GDL region '" + parsed["_gdlcode"].astype(str) + "' has no polygon in the GDL TopoJSON",
        )
        reject(
            parsed,
            ~parsed["_gdlcode"].isin(weights["gdlcode"]),
            "no_overlap",
            "GDL region '"
            + parsed["_gdlcode"].astype(str)
            + "' overlaps no Natural Earth admin-1 unit of its country",
        )
        ok = parsed.loc[parsed[REJECT].isna(), ["_gdlcode", "_year", "_value", "_concept", FILE]]
        pairs = ok.merge(weights, left_on="_gdlcode", right_on="gdlcode", how="inner")
        pop = pairs[pairs["_concept"] == "pop"]
        pop = (
            pop.assign(v=pop["_value"] * 1000.0 * pop["share_of_gdl"])
            .groupby(["region_id", "_year"], as_index=False)
            .agg(value=("v", "sum"), **{FILE: (FILE, "first")})
        )
        hdi = pairs[pairs["_concept"] == "shdi"]
        hdi = (
            hdi.assign(v=hdi["_value"] * hdi["overlap_km2"])
            .groupby(["region_id", "_year"], as_index=False)
            .agg(num=("v", "sum"), den=("overlap_km2", "sum"), **{FILE: (FILE, "first")})
        )
        hdi["value"] = hdi["num"] / hdi["den"]
        parts = []
        for frame, code in ((pop, CONCEPTS["pop"]), (hdi[hdi["den"] > 0], CONCEPTS["shdi"])):
            parts.append(
                pd.DataFrame(
                    {
                        "region_id": frame["region_id"].to_numpy(),
                        "period_start": year_start(frame["_year"]).to_numpy(),
                        "period_type": "year",
                        "indicator": code,
                        "value": frame["value"].astype(float).to_numpy(),
                        "censored": False,
                        FILE: frame[FILE].to_numpy(),
                    }
                )
            )
        log.info(
            "GDL: mapped %d datapoints to %d observations in %.1f s",
            len(ok),
            sum(len(p) for p in parts),
            time.perf_counter() - started,
        )
        return pd.concat(parts, ignore_index=True)

    @staticmethod
    def _entities(base: Path) -> pd.Series:
        path = base / ENTITIES_FILE
        frame = read_text_table(path)
        require_columns(frame, ["subnat", "gdlcode"], path)
        return frame.set_index(frame["subnat"].str.strip().str.lower())["gdlcode"].str.strip()

    def cached_overlap_weights(self, base: Path, ctx) -> pd.DataFrame:
        """:meth:`overlap_weights`, from the data dir's cache while the GDL polygons, the Natural Earth
        admin-1 units and the libraries that compute the overlay are those it was computed from.

        Why: the overlay is half of this source's load (1.4 s of 2.7 s measured) and its inputs change far
        less often than the datapoint files (a new GDL data release keeps its polygons).
        """
        polygons = self._polygons_path(base)
        key = cache_key(
            [
                f"gdl-overlay:{OVERLAY_FORMAT}:{EQUAL_AREA_CRS}:{sorted(LOCAL_CODE_ALIASES.items())}",
                repr(sorted(CODE_ALIASES.items(), key=str)),  # resolve_code's own aliases
                polygons.read_bytes(),
                ctx.admin_index.identity(),
                *_overlay_library_versions(),
            ]
        )
        path = ctx.cache_dir / OVERLAY_CACHE
        cached = load_frame(path, key, OVERLAY_COLUMNS)
        if cached is not None:
            weights, extra = cached
            weights.attrs["gdl_with_geometry"] = frozenset(extra.get("gdl_with_geometry", []))
            log.info("GDL overlay: %d overlaps read from %s", len(weights), path)
            return weights
        weights = self.overlap_weights(self._polygons(base), ctx)
        save_frame(path, key, weights, {"gdl_with_geometry": sorted(weights.attrs["gdl_with_geometry"])})
        return weights

    @staticmethod
    def _polygons_path(base: Path) -> Path:
        found = sorted(base.glob(POLYGONS_GLOB))
        if not found:
            raise ContractError(base / "gdl_regions_*.topojson", "GDL region polygons not found")
        return found[-1]

    @classmethod
    def _polygons(cls, base: Path) -> gpd.GeoDataFrame:
        path = cls._polygons_path(base)
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:  # noqa: BLE001 - GDAL raises several types for unreadable files
            raise ContractError(path, f"not a readable TopoJSON ({type(exc).__name__}: {exc})") from None
        for col in ("gdlcode", "iso_code"):
            if col not in gdf.columns:
                raise ContractError(path, f"polygons lack the property '{col}'", column=col)
        if gdf.crs is None:
            gdf = gdf.set_crs(4326)
        return gdf

    @staticmethod
    def overlap_weights(gdl: gpd.GeoDataFrame, ctx) -> pd.DataFrame:
        """gdlcode, region_id, overlap_km2, share_of_gdl for every same-country GDL x Natural Earth
        overlap."""
        geoms = gdl.geometry.to_numpy()
        gdl = gdl[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)].copy()
        # some polygons have an empty iso_code (Cuba): the GDL code starts with the ISO3 code
        code = gdl["iso_code"].fillna("").astype(str).str.strip()
        code = code.where(code != "", gdl["gdlcode"].astype(str).str.slice(0, 3))
        gdl["iso3"] = code.map(lambda c: LOCAL_CODE_ALIASES.get(c) or resolve_code(c).iso3)
        gdl = (
            gdl.dissolve(by="gdlcode", as_index=False, aggfunc="first")
            if gdl["gdlcode"].duplicated().any()
            else gdl
        )
        g_geom = shapely.make_valid(gdl.to_crs(EQUAL_AREA_CRS).geometry.to_numpy())
        index = ctx.admin_index
        ne = np.asarray(index.geometries)
        keep = ~(shapely.is_missing(ne) | shapely.is_empty(ne))
        n_geom = shapely.make_valid(gpd.GeoSeries(ne[keep], crs=4326).to_crs(EQUAL_AREA_CRS).to_numpy())
        n_ids, n_iso = index.region_ids[keep], index.iso3[keep]
        tree = shapely.STRtree(n_geom)
        gi, ni = tree.query(g_geom, predicate="intersects")
        same = gdl["iso3"].to_numpy()[gi] == n_iso[ni]
        gi, ni = gi[same], ni[same]
        inter = pairwise_overlap_km2(g_geom[gi], n_geom[ni])
        g_area = shapely.area(g_geom) / 1e6
        out = pd.DataFrame(
            {
                "gdlcode": gdl["gdlcode"].to_numpy()[gi],
                "region_id": n_ids[ni],
                "overlap_km2": inter,
                "share_of_gdl": inter / g_area[gi],
            }
        )
        out = out[out["overlap_km2"] > 0].reset_index(drop=True)
        out.attrs["gdl_with_geometry"] = frozenset(gdl["gdlcode"])
        missing = sorted(set(gdl["gdlcode"]) - set(out["gdlcode"]))
        log.info(
            "GDL overlay: %d GDL polygons x %d Natural Earth units -> %d overlaps; %d GDL regions overlap "
            "nothing in their country (%s)",
            len(gdl),
            len(n_ids),
            len(out),
            len(missing),
            missing[:10],
        )
        return out


def _overlay_library_versions() -> list[str]:
    """The versions of what computes the overlay (GEOS, PROJ, the country-code tables): part of its key."""
    import pyproj

    try:
        hdx = importlib.metadata.version("hdx-python-country")
    except importlib.metadata.PackageNotFoundError:
        hdx = "none"
    return [
        shapely.__version__,
        shapely.geos_version_string,
        pyproj.__version__,
        pyproj.proj_version_str,
        hdx,
    ]


def pairwise_overlap_km2(a: np.ndarray, b: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Area (km², equal-area metres in) of ``a[i] ∩ b[i]`` for every i, in chunks over a few threads.

    Why threads: the overlay is half of this source's mapping time, and GEOS runs it without Python's lock,
    so during a full ETL (where the previous source's write is mostly idle on this core) a second core cuts
    it nearly in half. The result is the same as one call, element for element.
    """
    threads = threads or min(4, os.cpu_count() or 1)
    if threads <= 1 or len(a) < 2000:
        return shapely.area(shapely.intersection(a, b)) / 1e6
    chunks = np.array_split(np.arange(len(a)), threads * 4)  # small chunks even out the polygons' sizes
    with ThreadPoolExecutor(threads, thread_name_prefix="gdl-overlay") as pool:
        parts = list(pool.map(lambda ix: shapely.area(shapely.intersection(a[ix], b[ix])), chunks))
    return np.concatenate(parts) / 1e6


__all__ = ["GdlSubnational", "pairwise_overlap_km2"]
