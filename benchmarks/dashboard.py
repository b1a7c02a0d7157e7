"""Dashboard benchmark: first render of the map page, and the server time and bytes of a period change.

    .venv/bin/python benchmarks/dashboard.py [--data-dir DIR | --database-url URL]
        [--browser | --browser-only] [--runs 3] [--json out.json]

Server-side numbers use Flask's test client (no network): the requests a browser makes for the map page
(index, layout, dependencies, the page router's callback, whose answer carries the first map view, and the
geometry), cold (fresh app, empty caches), after the start-up warm-up (``dashboard.pages.map.warm``) and
warm. A period change is the callback a browser sends when the year slider moves; its answer is a ``Patch`` of
the values. Bytes are reported raw and gzip-compressed.

``--browser`` loads the map page in headless Chromium (fresh profile, cache cleared: cold; the same URL
again: warm) and reads the CDP performance log: bytes on the wire (``encodedDataLength``, headers included)
and the time from navigation start until the map has drawn its layer (MapLibre ``loaded()`` after the
geometry arrived, polled from a script added to every document). The baselines are measured in the same
run: a blank Dash page served the same way (its renderer and component bundles, no figure) and the full
``plotly.min.js`` as Dash ships it. It then moves the year slider once (Dash ``set_props``) and counts the
callback requests and their bytes. Every answer carries a ``Server-Timing`` header (added around the app
by the benchmark's server), so each cold load is split into server, network and browser seconds (the
browser's: scripts, Plotly and MapLibre drawing). One unmeasured load first fills the server's query
caches. Times depend on the machine's load (printed); the goals (issues 13 and 16: < 1.5 MB, < 1.5 s cold)
are read here, never asserted in a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import ids  # noqa: E402

MAP_OUTPUTS = [(ids.MAP_GRAPH, "figure"), (ids.MAP_NOTE, "children"), (ids.MAP_RISERS, "children")]


def map_payload(year: int, metric: str, country: str, changed: list[str]) -> dict:
    """The JSON dash-renderer posts for the map callback (also used by benchmarks/map_patch.py)."""
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


# The request the page router (Dash pages) makes for "/": its answer is the map page's layout, which carries
# the first view's figure, note and side lists (the map callbacks make no request when the page opens).
ROUTER_PAYLOAD = {
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/"},
        {"id": "_pages_location", "property": "search", "value": ""},
    ],
    "changedPropIds": ["_pages_location.pathname", "_pages_location.search"],
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
        _post(client, ROUTER_PAYLOAD, gzip=True)  # the page with its first map view (issue 16)
        assert client.get(ctx.geometry.url(layer), headers={"Accept-Encoding": "gzip"}).status_code == 200
        return time.perf_counter() - t

    out["first_render_cold_s"] = round(first_render(), 3)
    # the same on a second fresh app whose start-up warm-up (dashboard.pages.map.warm) ran first
    from dashboard.pages import map as map_page

    warmed = create_app(engine, {"public_read": True})
    t0 = time.perf_counter()
    map_page.warm(warmed.server)
    out["warm_up_s"] = round(time.perf_counter() - t0, 3)
    warm_client = warmed.server.test_client()
    t0 = time.perf_counter()
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        assert warm_client.get(path).status_code == 200
    _post(warm_client, ROUTER_PAYLOAD, gzip=True)
    assert warm_client.get(ctx.geometry.url(layer), headers={"Accept-Encoding": "gzip"}).status_code == 200
    out["first_render_after_warm_up_s"] = round(time.perf_counter() - t0, 3)
    out["first_render_warm_s"] = round(statistics.median(first_render() for _ in range(5)), 4)
    _, full_raw, full_gz = _post(client, map_payload(years[-1], "risk_score", scope, []), gzip=True)
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
        t, r, g = _post(client, map_payload(year, "risk_score", scope, changed), gzip=True)
        cold.append(t)
        raws.append(r)
        gzs.append(g)
        warm.append(
            statistics.median(
                _post(client, map_payload(year, "risk_score", scope, changed), True)[0] for _ in range(3)
            )
        )
    fig_patch = figure_only_bytes(client, map_payload(years[-1], "risk_score", scope, changed))
    fig_full = figure_only_bytes(client, map_payload(years[-1], "risk_score", scope, []))
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


# Polled from the first script of every document (CDP Page.addScriptToEvaluateOnNewDocument): the moment,
# on the page's own clock (ms since navigation start), when the map has drawn its layer, or the blank
# baseline page its one element. "Drawn" is MapLibre's loaded() (style, sources and tiles done) after the
# geometry answer arrived, with at least one trace plotted.
LARGEST_SHOWN = 30  # requests listed per load, largest first
READY_SCRIPT = """
(function () {
  function mapDrawn() {
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    if (!gd || !gd._fullLayout || !gd._fullLayout.map || !gd._fullLayout.map._subplot) return false;
    const m = gd._fullLayout.map._subplot.map;
    return !!(m && m.loaded() && gd.data && gd.data.length >= 1
              && performance.getEntriesByType('resource').some(e => e.name.includes('.geojson')));
  }
  function poll() {
    const gd = document.querySelector('#MAP_ID .js-plotly-plot');
    if (window.__figureAt === undefined && gd && gd.data && gd.data.length >= 1) {
      window.__figureAt = performance.now();  // the figure was handed to Plotly
    }
    const fl = gd && gd._fullLayout;
    if (window.__mapLoadedAt === undefined && fl && fl.map && fl.map._subplot && fl.map._subplot.map
        && fl.map._subplot.map.isStyleLoaded()) {
      window.__mapLoadedAt = performance.now();  // MapLibre made its map; the shapes' sources come next
    }
    if (window.__readyAt === undefined && (document.getElementById('bench-blank') || mapDrawn())) {
      window.__readyAt = performance.now();
    }
    if (window.__readyAt === undefined) requestAnimationFrame(poll);
  }
  requestAnimationFrame(poll);
})();
"""


# Where the time went, on the page's clock: the HTML parsed, the last script and the layout answered, the
# last callback answered, the geometry answered, the Plotly bundle executed (its resource's end).
MILESTONES_JS = """
const res = performance.getEntriesByType('resource');
const end = (f) => Math.max(0, ...res.filter(f).map(e => e.responseEnd));
const nav = performance.getEntriesByType('navigation')[0];
return {
  dom_content_loaded: nav ? nav.domContentLoadedEventEnd : 0,
  scripts_loaded: end(e => e.initiatorType === 'script'),
  plotly_loaded: end(e => e.name.includes('plotly')),
  layout_answered: end(e => e.name.includes('_dash-layout')),
  callbacks_answered: end(e => e.name.includes('_dash-update-component')
                                && e.startTime < (window.__figureAt || Infinity)),
  geometry_answered: end(e => e.name.includes('.geojson')),
  figure_to_plotly: window.__figureAt || 0,
  maplibre_style_loaded: window.__mapLoadedAt || 0,
};
"""

# The requests the first render waited on (the page, layout, dependencies, the callbacks made before the
# figure reached Plotly, the geometry): [start, end, server ms] on the page's clock. The server's time comes
# from the Server-Timing header that _serve adds to every answer.
CHAIN_JS = """
const figureAt = window.__figureAt || window.__readyAt || Infinity;
const nav = performance.getEntriesByType('navigation')[0];
const st = (e) => (e.serverTiming || []).reduce((a, s) => a + s.duration, 0);
const out = [[nav.requestStart, nav.responseEnd, st(nav), 'page']];
for (const e of performance.getEntriesByType('resource')) {
  const dash = ['_dash-layout', '_dash-dependencies', '_dash-update-component'].some(k => e.name.includes(k));
  if ((dash && e.startTime < figureAt) || e.name.includes('.geojson')) {
    out.push([e.requestStart || e.startTime, e.responseEnd, st(e), e.name.split('/').pop().split('?')[0]]);
  }
}
return out;
"""


def time_split(chain: list, ready_ms: float) -> dict:
    """Seconds of the first render spent waiting on the server, on the network and in the browser.

    The chain's requests are merged where they overlap in time; within each merged stretch the longest
    Server-Timing counts as server time (parallel requests are served in parallel), the rest of the stretch
    as network (transfer, queueing); everything else until the map is drawn is the browser's (parsing and
    running scripts, Plotly and MapLibre drawing, waiting for a core)."""
    stretches: list[list[float]] = []
    for start, stop, server, _name in sorted(chain):
        if stretches and start <= stretches[-1][1]:
            stretches[-1][1] = max(stretches[-1][1], stop)
            stretches[-1][2] = max(stretches[-1][2], server)
        else:
            stretches.append([start, stop, server])
    waiting = sum(stop - start for start, stop, _ in stretches)
    server = sum(min(srv, stop - start) for start, stop, srv in stretches)
    return {
        "server_s": round(server / 1000, 3),
        "network_s": round((waiting - server) / 1000, 3),
        "browser_s": round((ready_ms - waiting) / 1000, 3),
        "server_per_request_ms": [[name, round(srv, 1)] for _s, _e, srv, name in sorted(chain)],
    }


def _chrome(profile: Path):
    """Headless Chromium with a fresh profile (an empty disk cache) and the CDP performance log on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1440,900",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": READY_SCRIPT.replace("MAP_ID", ids.MAP_GRAPH)}
    )
    return driver


def _network(driver, entries: list | None = None) -> list[dict]:
    """The requests logged since the last call (or in ``entries``): url, bytes on the wire (headers
    included), decoded body bytes, encoding, Cache-Control, and whether the answer came from the cache."""
    reqs: dict[str, dict] = {}
    for entry in driver.get_log("performance") if entries is None else entries:
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            reqs.setdefault(rid, {"url": params["request"]["url"], "wire": 0, "body": 0, "cached": False})
        elif rid in reqs and method == "Network.responseReceived":
            resp = params["response"]
            headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
            reqs[rid].update(
                status=resp.get("status"),
                encoding=headers.get("content-encoding", ""),
                cache_control=headers.get("cache-control", ""),
                cached=bool(resp.get("fromDiskCache") or resp.get("fromMemoryCache")),
            )
        elif rid in reqs and method == "Network.dataReceived":
            reqs[rid]["body"] += params.get("dataLength", 0)
        elif rid in reqs and method == "Network.loadingFinished":
            reqs[rid]["wire"] = int(params.get("encodedDataLength", 0))
        elif rid in reqs and method == "Network.requestServedFromCache":
            reqs[rid]["cached"] = True
    return [r for r in reqs.values() if r["url"].startswith("http")]


def _load(driver, url: str, timeout_s: float = 90.0) -> dict:
    """Open ``url`` and wait until the page reports its first render; bytes and time of that load."""
    driver.get_log("performance")  # drain what came before
    driver.get(url)
    t0 = time.perf_counter()
    while driver.execute_script("return window.__readyAt === undefined"):
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError(f"{url} did not render in {timeout_s:.0f} s")
        time.sleep(0.05)
    ready_ms = driver.execute_script("return window.__readyAt")
    milestones = driver.execute_script(MILESTONES_JS)
    chain = driver.execute_script(CHAIN_JS)
    time.sleep(0.5)  # let late requests (source maps are not fetched; fonts, favicon) finish and be logged
    reqs = _network(driver)
    return {
        "first_render_s": round(ready_ms / 1000, 3),
        "milestones_s": {k: round(v / 1000, 3) for k, v in milestones.items() if v},
        "split": time_split(chain, ready_ms),
        "requests": len(reqs),
        "from_cache": sum(r["cached"] for r in reqs),
        "transferred_bytes": sum(r["wire"] for r in reqs),
        "decoded_bytes": sum(r["body"] for r in reqs),
        "largest": sorted(
            (
                {
                    "path": r["url"].split("/", 3)[-1][:90],
                    "wire": r["wire"],
                    "body": r["body"],
                    "encoding": r.get("encoding", ""),
                    "cache_control": r.get("cache_control", ""),
                }
                for r in reqs
            ),
            key=lambda r: -r["wire"],
        )[:LARGEST_SHOWN],
        "plotly_bundles": sorted(
            {r["url"].split("?")[0].rsplit("/", 1)[-1] for r in reqs if "plotly" in r["url"]}
        ),
        "hosts": sorted({r["url"].split("/")[2] for r in reqs}),
    }


def _period_change(driver, year: int) -> dict:
    """Move the year slider as a user would (Dash's set_props fires the same callbacks) and count the
    requests it makes and their bytes on the wire."""
    driver.get_log("performance")
    driver.execute_script(
        "window.dash_clientside.set_props(arguments[0], {value: arguments[1]});", ids.MAP_YEAR, year
    )
    entries: list = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 60:  # until every callback answer has finished and 1 s passed
        time.sleep(1.0)
        new = driver.get_log("performance")
        entries += new
        reqs = [r for r in _network(driver, entries) if "_dash-update-component" in r["url"]]
        if reqs and not new and all(r["wire"] for r in reqs):
            break
    return {
        "year": year,
        "callback_requests": len(reqs),
        "transferred_bytes": [r["wire"] for r in reqs],
        "decoded_bytes": [r["body"] for r in reqs],
    }


def server_timed(wsgi_app):
    """WSGI middleware: a ``Server-Timing: app;dur=<ms>`` header on every answer (the app's own time, from
    the request reaching it to its whole body made), so the browser's Resource Timing can split server
    time from the network's."""

    def app(environ, start_response):
        t0 = time.perf_counter()
        started: list = []

        def capture(status, headers, exc_info=None):
            started[:] = [status, headers, exc_info]
            return lambda _data: None

        iterable = wsgi_app(environ, capture)
        try:
            body = b"".join(iterable)
        finally:
            getattr(iterable, "close", lambda: None)()
        status, headers, exc_info = started
        dur = (time.perf_counter() - t0) * 1000
        start_response(status, [*headers, ("Server-Timing", f"app;dur={dur:.1f}")], exc_info)
        return [body]

    return app


def _serve(flask_app, threads: int = 4):
    from waitress.server import create_server

    server = create_server(server_timed(flask_app.wsgi_app), host="127.0.0.1", port=0, threads=threads)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def blank_dash_app():
    """The baseline: a Dash page with one element, served the same way (its renderer, React and the
    component bundles, no figure)."""
    from dash import Dash, html

    blank = Dash("bench_blank", serve_locally=True)
    blank.layout = html.Div("blank", id="bench-blank")
    return blank


def served_as_before(app):
    """The same app served as before issue 13 item 7, the baseline measured in the same run: Dash's own
    script list (dcc.Graph then fetches the full plotly.min.js), asset URLs by file time, and no
    compression or Cache-Control of static files (JSON answers stay gzipped, as they were)."""
    import types

    from dash import Dash

    from dashboard import auth, static_assets

    app.server.after_request_funcs[None].remove(static_assets.static_headers)
    app._generate_scripts_html = types.MethodType(Dash._generate_scripts_html, app)  # noqa: SLF001
    app._collect_and_register_resources = types.MethodType(  # noqa: SLF001
        Dash._collect_and_register_resources,
        app,  # noqa: SLF001
    )

    @auth.requires("public")
    def full_plotly():
        return app.backend.serve_component_suites(app, "plotly", "package_data/plotly.min.js")

    app.server.view_functions["static_assets.full_plotly"] = full_plotly
    return app


def browser(engine, runs: int = 1) -> dict:
    """Cold (fresh profile, cache cleared) and warm (the same URL again) loads of the map page, of the same
    app served as before, and of a blank Dash page, interleaved run by run so that the machine's load
    weighs on each alike; then one period change on the warm map page."""
    import tempfile

    from dashboard.app import create_app

    blank = blank_dash_app()
    app = create_app(engine, {"public_read": True})
    before = served_as_before(create_app(engine, {"public_read": True}))
    years = app.server.extensions["crisisrisk"].queries.years(0)
    servers = {"map": _serve(app.server), "before": _serve(before.server), "blank": _serve(blank.server)}
    out: dict = {"runs": runs, "load_average_at_start": [round(x, 1) for x in os.getloadavg()]}
    try:
        for name in ("map", "before"):  # not counted: fills each server's query caches, as any earlier
            with tempfile.TemporaryDirectory(prefix="bench-chrome-") as profile:  # visitor would have
                driver = _chrome(Path(profile))
                try:
                    _load(driver, servers[name][1] + "/")
                finally:
                    driver.quit()
        for run in range(runs):
            for name, (_, base) in servers.items():
                with tempfile.TemporaryDirectory(prefix="bench-chrome-") as profile:
                    driver = _chrome(Path(profile))
                    try:
                        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
                        cold = _load(driver, base + "/")
                        warm = _load(driver, base + "/")
                        change = _period_change(driver, years[-2]) if name == "map" and run == 0 else None
                    finally:
                        driver.quit()
                out.setdefault(name, {"cold": [], "warm": []})
                out[name]["cold"].append(cold)
                out[name]["warm"].append(warm)
                if change:
                    out["period_change"] = change
    finally:
        for server, _ in servers.values():
            server.close()
    out["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    return out


def _median(loads: list[dict], key: str) -> float:
    return statistics.median(load[key] for load in loads)


def browser_summary(result: dict) -> list[str]:
    """Figures and ratios against the baselines of the same run: a blank Dash page, and the full
    plotly.min.js as Dash ships it (uncompressed)."""
    import plotly

    full_bundle = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").stat().st_size
    lines = []
    for phase in ("cold", "warm"):
        m, b = result["map"][phase], result["blank"][phase]
        mb, bb = _median(m, "transferred_bytes"), _median(b, "transferred_bytes")
        mt, bt = _median(m, "first_render_s"), _median(b, "first_render_s")
        lines.append(
            f"{phase} cache: map page {mb / 1e6:.2f} MB transferred ({_median(m, 'requests'):.0f} requests), "
            f"first map render {mt:.2f} s | blank Dash page {bb / 1e6:.2f} MB, {bt:.2f} s | "
            f"ratio map/blank: bytes {mb / max(bb, 1):.2f}x, time {mt / max(bt, 1e-3):.2f}x"
        )
    if "before" in result:
        for phase in ("cold", "warm"):
            m, b = result["map"][phase], result["before"][phase]
            mb, bb = _median(m, "transferred_bytes"), _median(b, "transferred_bytes")
            mt, bt = _median(m, "first_render_s"), _median(b, "first_render_s")
            lines.append(
                f"{phase} cache: the same app served as before: {bb / 1e6:.2f} MB, {bt:.2f} s | "
                f"ratio now/before: bytes {mb / max(bb, 1):.3f}x, time {mt / max(bt, 1e-3):.2f}x"
            )
    cold = _median(result["map"]["cold"], "transferred_bytes")
    lines.append(
        f"cold map page bytes / full plotly.min.js uncompressed ({full_bundle / 1e6:.2f} MB) = "
        f"{cold / full_bundle:.2f}x; Plotly bundles fetched: {result['map']['cold'][0]['plotly_bundles']}"
    )
    pc = result.get("period_change")
    if pc:
        lines.append(
            f"period change to {pc['year']}: {pc['callback_requests']} callback requests, "
            f"{sum(pc['transferred_bytes'])} bytes on the wire {pc['transferred_bytes']} "
            f"(decoded {pc['decoded_bytes']}); vs the cold page: {sum(pc['transferred_bytes']) / cold:.4f}x"
        )
    slowest = max(result["map"]["cold"], key=lambda load: load["first_render_s"])
    fastest = min(result["map"]["cold"], key=lambda load: load["first_render_s"])
    for label, load in (("fastest", fastest), ("slowest", slowest)):
        marks = ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(load["milestones_s"].items(), key=lambda kv: kv[1])
        )
        lines.append(
            f"cold map page, {label} run, s from navigation: {marks}, drawn {load['first_render_s']:.2f}"
        )
    for name in ("map", "before"):
        if name not in result:
            continue
        cold = result[name]["cold"]
        split = {
            k: statistics.median(load["split"][k] for load in cold)
            for k in cold[0]["split"]
            if k[-2:] == "_s"
        }
        render = [
            load["first_render_s"] - load["milestones_s"].get("figure_to_plotly", load["first_render_s"])
            for load in cold
        ]
        lines.append(
            f"{name} page, cold, where the time went (medians): server {split['server_s']:.2f} s, network "
            f"{split['network_s']:.2f} s, browser {split['browser_s']:.2f} s, of which figure handed to "
            f"Plotly -> map drawn {statistics.median(render):.2f} s; server ms per request (first run): "
            f"{cold[0]['split']['server_per_request_ms']}"
        )
    lines.append(f"hosts contacted: {result['map']['cold'][0]['hosts']}")
    lines.append(
        f"{result['runs']} run(s) per page, medians; load average {result['load_average_at_start']} "
        "at start, "
        f"{result.get('load_average_at_end')} at end "
        f"on {os.cpu_count()} CPUs (times scale with it; compare the ratios)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=None, help="CRISISRISK_DATA_DIR for this run")
    parser.add_argument("--scope", default="__world__", help="__world__ or an ISO3 (admin-1 view)")
    parser.add_argument(
        "--browser", action="store_true", help="also load the map page in headless Chromium (cold, warm)"
    )
    parser.add_argument("--browser-only", action="store_true", help="only the headless Chromium part")
    parser.add_argument("--runs", type=int, default=3, help="browser loads of each page (medians printed)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CRISISRISK_DATA_DIR"] = str(args.data_dir)
    from warehouse.db import make_engine

    engine = make_engine(args.database_url)
    result = {} if args.browser_only else {"server": server_side(engine, args.scope)}
    if args.browser or args.browser_only:
        result["browser"] = browser(engine, args.runs)
    text = json.dumps(result, indent=2)
    print(text)
    if "browser" in result:
        print("\n".join(browser_summary(result["browser"])))
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
