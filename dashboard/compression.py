"""Gzip for HTTP answers, once: whether the client takes gzip, and how a compressed answer is marked.

Used by the JSON answers of dashboard.app (compressed on the way out), the GeoJSON layers of
dashboard.geometry (compressed once per geometry version and kept) and the static files and page HTML of
dashboard.static_assets (compressed once per content and kept).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict

from flask import Response, request

JSON_LEVEL = 5  # answers compressed per request: fast
STORED_LEVEL = 6  # bytes compressed once and kept (geometry layers): smaller


def client_accepts_gzip() -> bool:
    """Whether the current request's Accept-Encoding takes gzip (``gzip;q=0`` refuses it)."""
    return request.accept_encodings.quality("gzip") > 0


def compress(data: bytes, level: int = JSON_LEVEL) -> bytes:
    return gzip.compress(data, level)


def mark_gzipped(response: Response) -> Response:
    """Headers of a gzip body: its encoding, and Vary so caches keep plain and gzip apart."""
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")  # added: the language's Vary (Cookie, Accept-Language) stays
    return response


GZIP_PATHS = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies", "/api/")
GZIP_MIN_BYTES = 1024
_GZIP_CACHE: OrderedDict[bytes, bytes] = OrderedDict()
_GZIP_LOCK = threading.Lock()


def gzip_json(response: Response) -> Response:
    """Compress JSON answers (callbacks, layout, API) for clients that accept gzip.

    Field connections are slow; a period change or the donor table compresses 4-8x. Static files are
    compressed by ``gzip_static`` (dashboard.static_assets).
    """
    if (
        response.status_code != 200
        or response.direct_passthrough
        or "Content-Encoding" in response.headers
        or response.mimetype != "application/json"
        or not request.path.startswith(GZIP_PATHS)
        or not client_accepts_gzip()
    ):
        return response
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    key = hashlib.blake2b(data, digest_size=16).digest()  # repeated answers are compressed once
    with _GZIP_LOCK:
        packed = _GZIP_CACHE.get(key)
    if packed is None:
        packed = compress(data, JSON_LEVEL)
        with _GZIP_LOCK:
            _GZIP_CACHE[key] = packed
            while len(_GZIP_CACHE) > 64:
                _GZIP_CACHE.popitem(last=False)
    response.set_data(packed)
    response.headers["X-Uncompressed-Length"] = str(len(data))
    return mark_gzipped(response)


STATIC_LEVEL = 9  # scripts and stylesheets are compressed once per content and kept: smallest
STATIC_CACHE_BYTES = 32 * 1024 * 1024  # compressed static bodies kept (Dash's and the Plotly bundle: ~2 MB)
COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)
_STATIC_CACHE: OrderedDict[bytes, bytes] = OrderedDict()
_STATIC_LOCK = threading.Lock()


def gzip_bytes(data: bytes) -> bytes:
    """gzip of a static body, compressed once per content (blake2b of the bytes) and kept, LRU-bounded."""
    key = hashlib.blake2b(data, digest_size=16).digest()
    with _STATIC_LOCK:
        packed = _STATIC_CACHE.get(key)
        if packed is not None:
            _STATIC_CACHE.move_to_end(key)
            return packed
    packed = compress(data, STATIC_LEVEL)
    with _STATIC_LOCK:
        _STATIC_CACHE[key] = packed
        while sum(len(v) for v in _STATIC_CACHE.values()) > STATIC_CACHE_BYTES and len(_STATIC_CACHE) > 1:
            _STATIC_CACHE.popitem(last=False)
    return packed


def gzip_static(response: Response) -> Response:
    """Compress a static answer (script, stylesheet, page HTML) for clients that accept gzip.

    Dash and Flask send these uncompressed; the full Plotly bundle alone was 4.8 MB on the wire. The
    ETag becomes weak (the gzip body is the same resource, as nginx marks it), so revalidation still
    answers 304; byte ranges are not offered over the compressed body.
    """
    if (
        response.status_code != 200
        or "Content-Encoding" in response.headers
        or not (response.mimetype or "").startswith(COMPRESSIBLE)
        or not client_accepts_gzip()
    ):
        return response
    response.direct_passthrough = False  # a file answer (send_file) is read into memory once
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip_bytes(data))
    response.headers.pop("Accept-Ranges", None)
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)
    response.headers["X-Uncompressed-Length"] = str(len(data))
    return mark_gzipped(response)
