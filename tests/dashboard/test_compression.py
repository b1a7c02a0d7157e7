"""Gzip for HTTP answers (dashboard.compression): one rule for JSON answers and the stored geometry layers."""

from __future__ import annotations

import gzip
import json

import pytest
from flask import Flask, Response

from dashboard import compression

BIG = {"rows": [{"region_id": f"R{i}", "value": i} for i in range(400)]}  # > GZIP_MIN_BYTES


@pytest.fixture
def json_client():
    app = Flask(__name__)
    app.after_request(compression.gzip_json)

    @app.route("/api/v1/big")
    def big() -> Response:
        return Response(json.dumps(BIG), mimetype="application/json")

    @app.route("/static/big.json")
    def static_big() -> Response:
        return Response(json.dumps(BIG), mimetype="application/json")

    return app.test_client()


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("deflate", False),
        (None, False),
    ],
)
def test_json_answers_follow_accept_encoding(json_client, accept, gzipped):
    resp = json_client.get("/api/v1/big", headers={"Accept-Encoding": accept} if accept else {})
    assert (resp.headers.get("Content-Encoding") == "gzip") is gzipped
    body = gzip.decompress(resp.data) if gzipped else resp.data
    assert json.loads(body) == BIG
    if gzipped:
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert int(resp.headers["X-Uncompressed-Length"]) == len(body) > len(resp.data)


def test_paths_outside_the_json_routes_are_left_alone(json_client):
    resp = json_client.get("/static/big.json", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in resp.headers and json.loads(resp.data) == BIG


def test_geometry_layers_use_the_same_rule(client, dash_app):
    url = dash_app.server.extensions["crisisrisk"].geometry.url("countries")
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    taken = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in refused.headers
    assert taken.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in taken.headers["Vary"]
    assert gzip.decompress(taken.data) == refused.data
