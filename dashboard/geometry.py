"""Simplified GeoJSON for the map, built from the warehouse's region geometry and served once.

Layers: ``countries`` (level 0, the world) and ``admin1-<ISO3>`` (one country's admin-1 units).
URLs carry a version (a hash of the Natural Earth loads), so the browser may cache them forever:
``/geo/<version>/<layer>.geojson`` answers with ``Cache-Control: immutable``, an ETag, 304 on a match,
and gzip when the client accepts it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading

import numpy as np
import shapely
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import Engine, select

from dashboard.compression import STORED_LEVEL, client_accepts_gzip, compress, mark_gzipped
from warehouse.schema import region, source_load

ROUTE = "/geo"
LAYER_RE = re.compile(r"^(countries|admin1-[A-Z0-9]{3})$")
log = logging.getLogger(__name__)

TOLERANCE = {
    "countries": 0.05,
    "admin1": 0.01,
}  # degrees, per-polygon simplify (only for a non-coverage input)
# Degrees, for shapely.coverage_simplify (Visvalingam-Whyatt on shared edges: the same number removes fewer
# vertices than Douglas-Peucker). Chosen to keep about as many vertices as per-polygon TOLERANCE did: on the
# real
# Natural Earth layers 38,598 vs 40,762 world vertices, 213,902 vs 218,174 admin-1 vertices.
COVERAGE_TOLERANCE = {"countries": 0.1, "admin1": 0.035}
PRECISION = {"countries": 3, "admin1": 3}  # decimals kept (about 100 m)


def geometry_version(engine: Engine) -> str:
    """Short hash of the current Natural Earth loads; changes when the boundaries are reloaded."""
    with engine.connect() as conn:
        shas = [
            r[0]
            for r in conn.execute(
                select(source_load.c.sha256)
                .where(source_load.c.source == "natural_earth", source_load.c.status == "loaded")
                .order_by(source_load.c.file)
            )
        ]
    return hashlib.sha256("".join(shas).encode()).hexdigest()[:12]


def build_geojson(engine: Engine, layer: str) -> dict:
    """FeatureCollection for a layer; feature ``id`` is the region id, ``properties.name`` its name."""
    if layer == "countries":
        stmt = select(region.c.region_id, region.c.name, region.c.geometry_wkb).where(region.c.level == 0)
        kind = "countries"
    else:
        iso3 = layer.split("-", 1)[1]
        stmt = select(region.c.region_id, region.c.name, region.c.geometry_wkb).where(
            region.c.level == 1, region.c.parent_id == iso3
        )
        kind = "admin1"
    with engine.connect() as conn:
        rows = [r for r in conn.execute(stmt.order_by(region.c.region_id)) if r[2]]
    if not rows:
        return {"type": "FeatureCollection", "features": []}
    geoms = shapely.from_wkb([r[2] for r in rows])
    geoms = simplify_coverage(geoms, COVERAGE_TOLERANCE[kind], TOLERANCE[kind])
    geoms = shapely.set_precision(geoms, 10 ** -PRECISION[kind], mode="pointwise")
    features = []
    for (rid, name, _wkb), geom in zip(rows, geoms, strict=True):
        if geom is None or shapely.is_empty(geom):
            continue
        features.append(
            {
                "type": "Feature",
                "id": rid,
                "properties": {"name": name},
                "geometry": _round(json.loads(shapely.to_geojson(geom)), PRECISION[kind]),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def simplify_coverage(geoms: np.ndarray, tolerance: float, fallback_tolerance: float) -> np.ndarray:
    """Simplify polygons that tile an area (a country's admin-1 units, the world's countries) edge by edge.

    ``shapely.coverage_simplify`` simplifies each shared border once, so neighbours keep meeting exactly; a
    per-polygon ``simplify`` moves the two sides of a border apart (Nigeria's admin-1 units: 0.005 deg² of
    overlap and 0.008 deg² of gaps). An input that is not a valid coverage (overlaps, borders that do not
    share
    vertices) falls back to per-polygon simplify(fallback_tolerance), with a warning: coverage_simplify
    assumes one.
    """
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    parts = geoms[present]
    if len(parts) == 0:
        return geoms
    out = geoms.copy()
    if shapely.coverage_is_valid(parts):
        out[present] = shapely.coverage_simplify(parts, tolerance)
    else:
        log.warning(
            "%d polygons are not a valid coverage; simplifying each alone (borders may not meet)", len(parts)
        )
        out[present] = shapely.simplify(parts, fallback_tolerance, preserve_topology=True)
    return out


def _round(geometry: dict, digits: int) -> dict:
    def rnd(coords):
        if coords and isinstance(coords[0], (int, float)):
            return [round(float(c), digits) for c in coords]
        return [rnd(c) for c in coords]

    if geometry.get("type") == "GeometryCollection":
        return {
            "type": "GeometryCollection",
            "geometries": [_round(g, digits) for g in geometry["geometries"]],
        }
    return {"type": geometry["type"], "coordinates": rnd(geometry["coordinates"])}


class GeometryStore:
    """Builds each layer once per geometry version and keeps the bytes (plain and gzip) in memory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._layers: dict[tuple[str, str], tuple[bytes, bytes, str]] = {}
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = geometry_version(self.engine)
        return self._version

    def refresh(self) -> None:
        self._version = None
        self._layers.clear()

    def url(self, layer: str, prefix: str = "") -> str:
        return f"{prefix}{ROUTE}/{self.version()}/{layer}.geojson"

    def get(self, layer: str) -> tuple[bytes, bytes, str]:
        key = (self.version(), layer)
        with self._lock:
            if key not in self._layers:
                body = json.dumps(build_geojson(self.engine, layer), separators=(",", ":")).encode()
                etag = hashlib.sha256(body).hexdigest()[:20]
                self._layers[key] = (body, compress(body, STORED_LEVEL), etag)
            return self._layers[key]


def blueprint(store: GeometryStore) -> Blueprint:
    bp = Blueprint("geometry", __name__)

    @bp.route(f"{ROUTE}/<version>/<layer>.geojson")
    def layer_geojson(version: str, layer: str):
        if not LAYER_RE.match(layer):
            abort(404)
        body, gz, etag = store.get(layer)
        immutable = version == store.version()
        headers = {
            "ETag": f'"{etag}"',
            "Vary": "Accept-Encoding",
            "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
        }
        if request.if_none_match and request.if_none_match.contains(etag):
            return Response(status=304, headers=headers)
        if client_accepts_gzip() and not current_app.config.get("GEO_NO_GZIP"):
            return mark_gzipped(Response(gz, mimetype="application/geo+json", headers=headers))
        return Response(body, mimetype="application/geo+json", headers=headers)

    return bp
