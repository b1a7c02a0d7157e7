"""Static files for a light first load: one partial Plotly bundle, content-hashed URLs, caching and gzip.

A field laptop on a slow link pays for every byte of the first visit, and for every revalidation after it.
So every script and stylesheet is sent gzip-compressed (``dashboard.compression``), at a URL that changes
when its content changes, with ``Cache-Control: public, max-age=31536000, immutable``: a later visit asks
for nothing it already has. The HTML itself is ``no-cache``: it names the current URLs.

- Dash's component bundles already carry a fingerprint (package version and file time) in their path.
- Files of ``dashboard/assets`` get ``?v=<content hash>`` instead of Dash's ``?m=<file time>``
  (``HashedDash``); a request whose ``v`` is not the file's current hash is ``no-cache``.
- The vendored Plotly partial bundle (``static/vendor/plotly``, traces the pages draw) is served at
  ``/_static/<content hash>/...`` and loaded before Dash's scripts, so ``dcc.Graph`` finds ``window.Plotly``
  and never fetches Dash's full ``plotly.min.js`` (4.8 MB); that URL redirects to the partial bundle.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from dash import Dash
from dash.fingerprint import check_fingerprint
from flask import Blueprint, Flask, Response, abort, redirect, request, send_file

from dashboard import auth
from dashboard.compression import gzip_static

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_ASSETS_DIR = Path(__file__).resolve().parent / "assets"  # the app's assets_folder
PLOTLY_BUNDLE = STATIC_DIR / "vendor" / "plotly" / "plotly-crisisrisk.min.js"
HASHED_ROUTE = "/_static"
DASH_PLOTLY_PATH = "/_dash-component-suites/plotly/package_data/plotly.min.js"  # dcc.Graph's fallback
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
FAVICON = "public, max-age=86400"  # Dash's favicon URL carries Dash's version, not the file's hash
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", f"{HASHED_ROUTE}/", "/_favicon.ico")

_HASHES: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def content_hash(path: Path) -> str:
    """A short hash of the file's bytes, memoised per (path, mtime, size): the URL fingerprint."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _HASH_LOCK:
        known = _HASHES.get(key)
    if known is None:
        known = hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
        with _HASH_LOCK:
            _HASHES[key] = known
    return known


def hashed_url(path: Path, prefix: str = "/") -> str:
    """The immutable URL of a file under ``dashboard/static``."""
    name = path.relative_to(STATIC_DIR).as_posix()
    return f"{prefix.rstrip('/')}{HASHED_ROUTE}/{content_hash(path)}/{name}"


class HashedDash(Dash):
    """Dash whose pages load the partial Plotly bundle first and name assets by content hash."""

    def _generate_scripts_html(self) -> str:
        bundle = hashed_url(PLOTLY_BUNDLE, self.config.requests_pathname_prefix)
        return f'<script src="{bundle}"></script>\n' + super()._generate_scripts_html()

    def interpolate_index(self, **kwargs) -> str:
        kwargs["css"] = self._map_geometry_preload() + kwargs.get("css", "")
        return super().interpolate_index(**kwargs)

    def _map_geometry_preload(self) -> str:
        """On the world map, a preload of its geometry: fetched while the scripts load and run, where
        dcc.Graph would ask for it only once the map's figure has arrived (after layout and callback)."""
        ctx = self.server.extensions.get("crisisrisk")
        prefix = self.config.requests_pathname_prefix
        if ctx is None or request.path != prefix or request.args.get("country"):
            return ""
        url = ctx.geometry.url("countries", prefix.rstrip("/"))
        return f'<link rel="preload" href="{url}" as="fetch" crossorigin="anonymous">\n'

    def _collect_and_register_resources(self, resources, include_async=True, url_attr="src"):
        srcs = super()._collect_and_register_resources(resources, include_async, url_attr)
        return [self._content_hashed(src, url_attr) for src in srcs]

    def _content_hashed(self, src, url_attr: str):
        """``assets/x.css?m=<mtime>`` -> ``assets/x.css?v=<hash>`` (a dict keeps its other attributes)."""
        url = src.get(url_attr) if isinstance(src, dict) else src
        prefix = self.get_asset_url("")
        if not isinstance(url, str) or not url.startswith(prefix) or "?m=" not in url:
            return src
        name = url[len(prefix) :].split("?", 1)[0]
        file = Path(self.config.assets_folder) / name
        if not file.is_file():
            return src
        new = f"{prefix}{name}?v={content_hash(file)}"
        return {**src, url_attr: new} if isinstance(src, dict) else new


def _asset_is_current() -> bool:
    """Whether an /assets/ request names the file's current content hash (``?v=``)."""
    version = request.args.get("v")
    if not version:
        return False
    file = (STATIC_ASSETS_DIR / request.path[len("/assets/") :]).resolve()
    if not file.is_relative_to(STATIC_ASSETS_DIR) or not file.is_file():
        return False
    return version == content_hash(file)


def cache_control_for(path: str) -> str | None:
    """The Cache-Control of a static answer at ``path``, None when the path is not a static file."""
    if path.startswith("/_dash-component-suites/"):
        return IMMUTABLE if check_fingerprint(path.rsplit("/", 1)[-1])[1] else REVALIDATE
    if path.startswith("/assets/"):
        return IMMUTABLE if _asset_is_current() else REVALIDATE
    if path.startswith(f"{HASHED_ROUTE}/"):
        return IMMUTABLE
    if path == "/_favicon.ico":
        return FAVICON
    return None


def static_headers(response: Response) -> Response:
    """after_request: Cache-Control for static files and the HTML, and gzip for both."""
    if request.method not in ("GET", "HEAD"):
        return response
    policy = cache_control_for(request.path)
    if policy is None and response.mimetype == "text/html":
        policy = REVALIDATE  # the page names the current hashed URLs: always ask
    if policy is None:
        return response
    if response.status_code in (200, 304):
        response.headers["Cache-Control"] = policy
    if request.method == "GET":
        response = gzip_static(response)
        if response.status_code == 200 and request.if_none_match:
            response.make_conditional(request)  # Dash's own 304 check compares the strong ETag only
    return response


def blueprint() -> Blueprint:
    """``/_static/<hash>/<file>``: files of ``dashboard/static`` at their content hash, and the redirect of
    Dash's full Plotly URL to the partial bundle."""
    bp = Blueprint("static_assets", __name__)

    @bp.route(f"{HASHED_ROUTE}/<digest>/<path:name>")
    @auth.requires("public")
    def hashed_file(digest: str, name: str):
        file = (STATIC_DIR / name).resolve()
        if not file.is_relative_to(STATIC_DIR) or not file.is_file() or content_hash(file) != digest:
            abort(404)  # an old hash: never answer it with other bytes under 'immutable'
        return send_file(file, conditional=True, max_age=31536000)

    @bp.route(DASH_PLOTLY_PATH)
    @auth.requires("public")
    def full_plotly():
        return redirect(hashed_url(PLOTLY_BUNDLE, request.script_root + "/"), code=302)

    return bp


def _warm_gzip() -> None:
    """Compress the Plotly bundle once in the background, so the first visitor does not wait ~1 s for it."""
    from dashboard.compression import gzip_bytes

    try:
        gzip_bytes(PLOTLY_BUNDLE.read_bytes())
    except OSError:
        log.exception("could not read the Plotly bundle %s", PLOTLY_BUNDLE)


def install(server: Flask) -> None:
    """Serve the hashed files and set caching and compression of static answers on ``server``."""
    if not PLOTLY_BUNDLE.is_file():
        raise FileNotFoundError(f"the vendored Plotly bundle is missing: {PLOTLY_BUNDLE}")
    server.register_blueprint(blueprint())
    server.after_request(static_headers)
    threading.Thread(target=_warm_gzip, name="gzip-plotly", daemon=True).start()
