"""Dashboard benchmark: first render of the map page, and the server time and bytes of a period change.

    .venv/bin/python benchmarks/dashboard.py [--database-url URL] [--browser] [--json out.json]

Server-side numbers use Flask's test client (no network): the requests a browser makes for the map page
(index, layout, dependencies, the map callback, the geometry), cold (fresh app, empty caches) and warm.
A period change is the callback a browser sends when the year slider moves; its answer is a ``Patch`` of
the values. Bytes are reported raw and gzip-compressed (the app gzips JSON for clients that accept it,
and serves the geometry pre-compressed). ``--browser`` also times the first render in headless Chromium
(until the map library reports the layer drawn) and lists every host the page contacted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import ids  # noqa: E402

MAP_OUTPUTS = [(ids.MAP_GRAPH, "figure"), (ids.MAP_NOTE, "children"), (ids.MAP_RISERS, "children")]


def _payload(year: int, metric: str, country: str, changed: list[str]) -> dict:
    return {
        "output": "..{}..".format("...".join(f"{i}.{p}" for i, p in MAP_OUTPUTS)),
        "outputs": [{"id": i, "property": p} for i, p in MAP_OUTPUTS],
        "inputs": [
            {"id": ids.MAP_YEAR, "property": "value", "value": year},
            {"id": ids.MAP_METRIC, "property": "value", "value": metric},
            {"id": ids.MAP_COUNTRY, "property": "value", "value": country},
        ],
        "changedPropIds": changed,
        "state": [],
    }


def _post(client, payload: dict, gzip: bool) -> tuple[float, int, int]:
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    t0 = time.perf_counter()
    resp = client.post("/_dash-update-component", json=payload, headers=headers)
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 200, resp.data[:300]
    raw = int(resp.headers.get("X-Uncompressed-Length", len(resp.data)))
    return elapsed, raw, len(resp.data)


def figure_only_bytes(client, payload: dict) -> int:
    resp = client.post("/_dash-update-component", json=payload)
    body = resp.get_json()["response"][ids.MAP_GRAPH]["figure"]
    return len(json.dumps(body, separators=(",", ":")))


def server_side(engine, scope: str = "__world__") -> dict:
    from dashboard.app import create_app

    out: dict = {"scope": scope}
    t0 = time.perf_counter()
    app = create_app(engine, {"public_read": True})
    out["create_app_s"] = round(time.perf_counter() - t0, 3)
    ctx = app.server.extensions["crisisrisk"]
    client = app.server.test_client()
    years = ctx.queries.years(0)
    if len(years) < 2:
        raise SystemExit("need a deployed model with at least two predicted years")
    layer = "countries" if scope == "__world__" else f"admin1-{scope}"

    def first_render() -> float:
        t = time.perf_counter()
        for path in ("/", "/_dash-layout", "/_dash-dependencies"):
            assert client.get(path).status_code == 200
        _post(client, _payload(years[-1], "risk_score", scope, []), gzip=True)
        assert client.get(ctx.geometry.url(layer), headers={"Accept-Encoding": "gzip"}).status_code == 200
        return time.perf_counter() - t

    out["first_render_cold_s"] = round(first_render(), 3)
    out["first_render_warm_s"] = round(statistics.median(first_render() for _ in range(5)), 4)
    _, full_raw, full_gz = _post(client, _payload(years[-1], "risk_score", scope, []), gzip=True)
    geo_raw, geo_gz, _ = ctx.geometry.get(layer)
    out["full_figure_response_bytes"] = {"raw": full_raw, "gzip": full_gz}
    out["geometry_bytes"] = {"raw": len(geo_raw), "gzip": len(geo_gz)}

    changed = [f"{ids.MAP_YEAR}.value"]
    cold, warm, raws, gzs = [], [], [], []
    for year in years:  # each year once cold (query + cache fill), then warm
        ctx.queries.clear()
        ctx.queries.map_values(
            0 if scope == "__world__" else 1, years[-1], None if scope == "__world__" else scope
        )
        t, r, g = _post(client, _payload(year, "risk_score", scope, changed), gzip=True)
        cold.append(t)
        raws.append(r)
        gzs.append(g)
        warm.append(
            statistics.median(
                _post(client, _payload(year, "risk_score", scope, changed), True)[0] for _ in range(3)
            )
        )
    fig_patch = figure_only_bytes(client, _payload(years[-1], "risk_score", scope, changed))
    fig_full = figure_only_bytes(client, _payload(years[-1], "risk_score", scope, []))
    out["years"] = [years[0], years[-1]]
    out["period_change_server_s"] = {
        "cold_median": round(statistics.median(cold), 4),
        "cold_max": round(max(cold), 4),
        "warm_median": round(statistics.median(warm), 4),
    }
    out["period_change_bytes"] = {
        "raw_median": int(statistics.median(raws)),
        "gzip_median": int(statistics.median(gzs)),
        "figure_patch_only_raw": fig_patch,
    }
    full_total_raw = full_raw + len(geo_raw)
    full_total_gz = full_gz + len(geo_gz)
    out["ratio_period_change_vs_full_figure_with_geometry"] = {
        "raw": round(statistics.median(raws) / full_total_raw, 4),
        "gzip": round(statistics.median(gzs) / full_total_gz, 4),
        "figure_patch_only_raw": round(fig_patch / (fig_full + len(geo_raw)), 4),
    }
    out["figure_only_bytes"] = {"full_raw": fig_full, "patch_raw": fig_patch}
    return out


def browser(engine, port: int = 8799) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from waitress.server import create_server

    from dashboard.app import create_app

    app = create_app(engine, {"public_read": True})
    server = create_server(app.server, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-unsafe-swiftshader",
        "--use-angle=swiftshader",
        "--window-size=1400,1000",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=opts)
    ready_js = """
        const gd = document.querySelector('#MAP_ID .js-plotly-plot');
        if (!gd || !gd._fullLayout || !gd._fullLayout.map || !gd._fullLayout.map._subplot) return false;
        const m = gd._fullLayout.map._subplot.map;
        return !!(m && m.loaded() && gd.data && gd.data.length === 2
                  && performance.getEntriesByType('resource').some(e => e.name.includes('.geojson')));
    """.replace("MAP_ID", ids.MAP_GRAPH)
    out = {}
    try:
        for label in ("cold_browser_cache", "warm_browser_cache"):
            t0 = time.perf_counter()
            driver.get(f"http://127.0.0.1:{port}/")
            while not driver.execute_script(ready_js):
                if time.perf_counter() - t0 > 60:
                    raise TimeoutError("map did not render in 60 s")
                time.sleep(0.05)
            out[f"first_render_{label}_s"] = round(time.perf_counter() - t0, 3)
        hosts = set()
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                url = msg["params"]["request"]["url"]
                hosts.add(url.split("/")[2] if "://" in url else url.split(":")[0])
        out["hosts_contacted"] = sorted(hosts)
    finally:
        driver.quit()
        server.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scope", default="__world__", help="__world__ or an ISO3 (admin-1 view)")
    parser.add_argument(
        "--browser", action="store_true", help="also time the first render in headless Chromium"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from warehouse.db import make_engine

    engine = make_engine(args.database_url)
    result = {"server": server_side(engine, args.scope)}
    if args.browser:
        result["browser"] = browser(engine)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
