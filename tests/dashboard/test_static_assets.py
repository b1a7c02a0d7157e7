"""A light first load (issue 13 item 7, dashboard.static_assets): every script and stylesheet of a page is
named by a fingerprint, answers gzip with a year-long immutable Cache-Control, the HTML is no-cache, and
the pages load the vendored partial Plotly bundle instead of Dash's full plotly.min.js.

The load's bytes and time are measured by benchmarks/dashboard.py, never asserted here."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
from pathlib import Path

import pytest
from dash.fingerprint import check_fingerprint

from dashboard import ids, static_assets
from tests.dashboard.conftest import requested_urls

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "dashboard" / "static" / "vendor" / "plotly"
GZIP = {"Accept-Encoding": "gzip, deflate"}


def page_urls(client, path: str = "/") -> list[str]:
    html = client.get(path).get_data(as_text=True)
    return re.findall(r'<(?:script|link)[^>]*?(?:src|href)="([^"]+)"', html)


def test_page_html_is_revalidated_and_names_every_file_by_a_fingerprint(client, dash_app):
    resp = client.get("/")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-cache"
    urls = page_urls(client)
    assert any(u.startswith("/assets/style.css?v=") for u in urls), urls
    for url in urls:
        path, _, query = url.partition("?")
        if path.startswith("/_dash-component-suites/"):
            assert check_fingerprint(path.rsplit("/", 1)[-1])[1], url  # version + file time in the name
        elif path.startswith("/assets/"):
            file = ROOT / "dashboard" / path.lstrip("/")
            assert query == "v=" + hashlib.blake2b(file.read_bytes(), digest_size=8).hexdigest(), url
        elif path.startswith("/_static/"):
            digest, name = path.split("/", 3)[2:]
            file = ROOT / "dashboard" / "static" / name
            assert digest == hashlib.blake2b(file.read_bytes(), digest_size=8).hexdigest(), url
        elif path.startswith("/geo/"):  # the world map's preloaded geometry, named by geometry version
            assert path == dash_app.server.extensions["crisisrisk"].geometry.url("countries"), url
        else:
            assert path == "/_favicon.ico" and query.startswith("v="), url


def test_the_partial_plotly_bundle_is_loaded_first_and_the_full_one_never_named(client):
    scripts = [u for u in page_urls(client) if ".js" in u]
    assert scripts[0].endswith("/vendor/plotly/plotly-crisisrisk.min.js"), scripts[:3]
    assert not any("plotly.min.js" in u for u in scripts)
    # a plain script runs in document order: window.Plotly exists before dcc.Graph's code can look for it
    assert any("dash_core_components." in u for u in scripts[1:])


def test_every_static_file_answers_gzip_with_an_immutable_cache_control(client):
    checked = 0
    for url in page_urls(client):
        plain = client.get(url)
        packed = client.get(url, headers=GZIP)
        assert plain.status_code == packed.status_code == 200, url
        assert packed.headers["Cache-Control"] == plain.headers["Cache-Control"], url
        expected = "public, max-age=86400" if url.startswith("/_favicon") else static_assets.IMMUTABLE
        assert packed.headers["Cache-Control"] == expected, url
        if len(plain.data) < 1024:  # too small to gain: sent as is
            assert "Content-Encoding" not in packed.headers, url
            continue
        assert packed.headers["Content-Encoding"] == "gzip", url
        assert "Accept-Encoding" in packed.headers["Vary"], url
        assert gzip.decompress(packed.data) == plain.data, url
        assert "Content-Encoding" not in plain.headers, url  # a client without gzip gets plain bytes
        checked += 1
    assert checked >= 10  # the Plotly bundle, Dash's renderer, React, dcc, html, dash_table, assets


def test_page_html_is_gzipped_after_the_security_headers_read_it(client):
    plain, packed = client.get("/"), client.get("/", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data).startswith(b"<!DOCTYPE html>")
    # the CSP lists the hashes of the inline scripts: computed from the plain HTML in both answers
    assert packed.headers["Content-Security-Policy"] == plain.headers["Content-Security-Policy"]
    assert "'sha256-" in plain.headers["Content-Security-Policy"]


def test_dash_full_plotly_url_redirects_to_the_partial_bundle(client):
    resp = client.get(static_assets.DASH_PLOTLY_PATH)
    assert resp.status_code == 302
    assert resp.headers["Location"] == static_assets.hashed_url(static_assets.PLOTLY_BUNDLE)
    bundle = client.get(resp.headers["Location"]).data
    assert bundle == static_assets.PLOTLY_BUNDLE.read_bytes()


def test_hashed_route_refuses_an_old_hash_and_paths_outside_the_folder(client):
    current = static_assets.hashed_url(static_assets.PLOTLY_BUNDLE)
    assert client.get(current).status_code == 200
    old = re.sub(r"/_static/[0-9a-f]+/", "/_static/0123456789abcdef/", current)
    assert client.get(old).status_code == 404  # never other bytes under an immutable URL
    digest = current.split("/")[2]
    assert client.get(f"/_static/{digest}/../app.py").status_code == 404


def test_an_asset_asked_without_its_current_hash_is_revalidated(client):
    assert client.get("/assets/style.css").headers["Cache-Control"] == "no-cache"
    assert client.get("/assets/style.css?v=0123456789abcdef").headers["Cache-Control"] == "no-cache"


def test_a_gzipped_file_without_fingerprint_revalidates_to_304(client):
    url = "/_dash-component-suites/dash/dcc/async-graph.js"  # dcc.Graph's chunk: webpack names it, no hash
    first = client.get(url, headers=GZIP)
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Cache-Control"] == "no-cache" and first.headers["ETag"].startswith('W/"')
    again = client.get(url, headers={**GZIP, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def bundle_traces() -> list[str]:
    entry = (VENDOR / "bundle-src" / "entry.js").read_text()
    registered = re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry)
    return ["scatter", *(name for name in registered if name != "core")]  # scatter is in plotly's core


def test_the_bundle_holds_every_trace_type_the_dashboard_draws():
    """A figure with a trace type not in the bundle draws nothing: add it to bundle-src/entry.js and
    rebuild (dashboard/static/vendor/plotly/README.md)."""
    used = set()
    for file in (ROOT / "dashboard").rglob("*.py"):
        used |= {name.lower() for name in re.findall(r"\bgo\.([A-Z]\w+)\(", file.read_text())}
    used -= {"figure"}
    assert {"bar", "scatter", "choroplethmap"} <= used  # the scan finds the pages' figures
    assert used <= set(bundle_traces()), f"not in the Plotly bundle: {sorted(used - set(bundle_traces()))}"
    bundle = static_assets.PLOTLY_BUNDLE.read_text()
    for trace in bundle_traces():
        assert f'name:"{trace}"' in bundle, trace  # each registered module is in the built file


def test_bundle_matches_plotly_py_version_and_carries_its_licences():
    from plotly.offline import get_plotlyjs_version

    banner = static_assets.PLOTLY_BUNDLE.read_text()[:300]
    assert f"plotly.js v{get_plotlyjs_version()}, partial bundle" in banner
    lock = json.loads((VENDOR / "bundle-src" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/plotly.js"]["version"] == get_plotlyjs_version()
    assert "MIT License" in (VENDOR / "LICENSE").read_text()
    third = (VENDOR / "THIRD_PARTY_LICENSES.txt").read_text()
    assert f"plotly.js {get_plotlyjs_version()} (MIT)" in third and "maplibre-gl" in third


@pytest.mark.browser
def test_map_page_uses_the_partial_bundle_and_compressed_cached_files(dash_duo, dash_app):
    dash_duo.start_server(dash_app)
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element(f"#{ids.MAP_GRAPH} .js-plotly-plot", timeout=40)
    ready = f"""
        const gd = document.querySelector('#{ids.MAP_GRAPH} .js-plotly-plot');
        const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot.map;
        return !!(m && m.loaded() && gd.data.length >= 1);
    """
    end = time.time() + 40
    while not driver.execute_script(ready):
        assert time.time() < end, "the map did not draw"
        time.sleep(0.1)
    time.sleep(0.5)
    responses = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.responseReceived":
            resp = msg["params"]["response"]
            responses[resp["url"]] = {k.lower(): v for k, v in resp["headers"].items()}
    urls = list(responses) + requested_urls(driver)
    assert any("plotly-crisisrisk.min.js" in u for u in urls)
    assert not any("plotly.min.js" in u for u in urls), [u for u in urls if "plotly" in u]
    assert driver.execute_script("return window.Plotly.version") == _plotly_version()
    scripts = {u: h for u, h in responses.items() if u.split("?")[0].endswith((".js", ".css"))}
    assert len(scripts) >= 10
    for url, headers in scripts.items():
        if int(headers.get("x-uncompressed-length", headers.get("content-length", "0"))) >= 1024:
            assert headers.get("content-encoding") == "gzip", url
        assert headers.get("cache-control") in (static_assets.IMMUTABLE, "no-cache"), url
    errors = [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"]
    assert not errors, errors


def _plotly_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def test_world_map_html_preloads_its_geometry_and_other_views_do_not(client, dash_app):
    """The world layer is asked for while the scripts load (dcc.Graph would ask after the figure came)."""
    url = dash_app.server.extensions["crisisrisk"].geometry.url("countries")
    preload = f'<link rel="preload" href="{url}" as="fetch" crossorigin="anonymous">'
    assert preload in client.get("/").get_data(as_text=True)
    assert client.get(url).status_code == 200  # the preloaded URL answers
    assert 'rel="preload"' not in client.get("/?country=NGA").get_data(as_text=True)  # admin-1 view
    assert 'rel="preload"' not in client.get("/model").get_data(as_text=True)
