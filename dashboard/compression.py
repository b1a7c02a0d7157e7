"""Gzip for HTTP answers, once: whether the client takes gzip, and how a compressed answer is marked.

Used by the JSON answers of dashboard.app (compressed on the way out) and the GeoJSON layers of
dashboard.geometry (compressed once per geometry version and kept).
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
    response.headers["Vary"] = "Accept-Encoding"
    return response


GZIP_PATHS = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies", "/api/")
GZIP_MIN_BYTES = 1024
_GZIP_CACHE: OrderedDict[bytes, bytes] = OrderedDict()
_GZIP_LOCK = threading.Lock()


def gzip_json(response: Response) -> Response:
    """Compress JSON answers (callbacks, layout, API) for clients that accept gzip.

    Field connections are slow; a period change or the donor table compresses 4-8x. Static bundles are
    left alone (the browser caches them; Dash fingerprints their URLs).
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
