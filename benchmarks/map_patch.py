"""Bytes of a map period change against the full map (issue 16 item 3: goal at most 1% raw).

    .venv/bin/python benchmarks/map_patch.py [--database-url URL] [--scope __world__|ISO3] [--metric M]
                                             [--json out.json]

Through Flask's test client (no network), as a browser asks: the full map callback (the figure with its
note and side list) plus the geometry layers it loads (countries; in an admin-1 view the country's units and
the countries again for the grey neighbours), against the answer to a year change (a ``Patch`` of z and
each shape's opacity; the hover details are fetched on hover and never part of it). Raw and gzip bytes of
the whole responses; the figure alone too. Each year of the slider is changed to once; medians reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dashboard import map_payload as payload  # noqa: E402
from dashboard import ids  # noqa: E402


def post(client, body: dict) -> tuple[int, int, dict]:
    """(raw bytes, gzip bytes, figure) of one callback answer; raw from the app's uncompressed length."""
    resp = client.post("/_dash-update-component", json=body, headers={"Accept-Encoding": "gzip"})
    if resp.status_code != 200:
        raise SystemExit(f"callback answered {resp.status_code}: {resp.data[:300]!r}")
    raw = int(resp.headers.get("X-Uncompressed-Length", len(resp.data)))
    plain = client.post("/_dash-update-component", json=body)
    return raw, len(resp.data), plain.get_json()["response"][ids.MAP_GRAPH]["figure"]


def measure(engine, scope: str = "__world__", metric: str = "risk_score") -> dict:
    from dashboard.app import create_app
    from dashboard.pages import map as map_page

    app = create_app(engine, {"public_read": True})
    ctx = app.server.extensions["crisisrisk"]
    client = app.server.test_client()
    with app.server.test_request_context("/"):
        years = map_page.map_years(ctx.queries.watchlist_years(), ctx.queries.years(0))
    if len(years) < 2:
        raise SystemExit("need a deployed model with at least two years")
    layers = ["countries"] if scope == "__world__" else [f"admin1-{scope}", "countries"]
    geo_raw = sum(len(ctx.geometry.get(layer)[0]) for layer in layers)
    geo_gz = sum(len(ctx.geometry.get(layer)[1]) for layer in layers)
    full_raw, full_gz, full_fig = post(client, payload(years[-1], metric, scope, []))
    changed = [f"{ids.MAP_YEAR}.value"]
    raws, gzs, figs = [], [], []
    for year in years:
        raw, gz, fig = post(client, payload(year, metric, scope, changed))
        if fig.get("__dash_patch_update") != "__dash_patch_update":
            raise SystemExit(f"a year change to {year} sent a whole figure, not a Patch")
        raws.append(raw)
        gzs.append(gz)
        figs.append(len(json.dumps(fig, separators=(",", ":"))))
    ops = sorted({".".join(str(p) for p in op["location"]) for op in fig["operations"]})
    full_fig_raw = len(json.dumps(full_fig, separators=(",", ":")))
    raw_med, gz_med, fig_med = statistics.median(raws), statistics.median(gzs), statistics.median(figs)
    return {
        "scope": scope,
        "metric": metric,
        "years": [years[0], years[-1]],
        "patch_locations": ops,
        "full_response_bytes": {"raw": full_raw, "gzip": full_gz},
        "geometry_bytes": {"layers": layers, "raw": geo_raw, "gzip": geo_gz},
        "period_change_response_bytes": {"raw_median": int(raw_med), "gzip_median": int(gz_med)},
        "figure_only_bytes": {"full_raw": full_fig_raw, "patch_raw_median": int(fig_med)},
        "ratio_period_change_vs_full_with_geometry": {
            "raw": round(raw_med / (full_raw + geo_raw), 4),
            "gzip": round(gz_med / (full_gz + geo_gz), 4),
            "figure_only_raw": round(fig_med / (full_fig_raw + geo_raw), 4),
        },
        "ratio_period_change_vs_full_response_without_geometry": {
            "raw": round(raw_med / full_raw, 4),
            "gzip": round(gz_med / full_gz, 4),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scope", default="__world__", help="__world__ or an ISO3 (admin-1 view)")
    parser.add_argument("--metric", default="risk_score", help="watch, risk_score, estimate or change")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from warehouse.db import make_engine

    result = measure(make_engine(args.database_url), args.scope, args.metric)
    text = json.dumps(result, indent=2)
    print(text)
    ratio = result["ratio_period_change_vs_full_with_geometry"]
    print(f"period change / full map with geometry: {ratio['raw']:.2%} raw, {ratio['gzip']:.2%} gzip")
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
