"""Load test: bounded concurrent traffic on loopback to the JSON API and the dashboard pages.

    .venv/bin/python benchmarks/load.py [--clients 50] [--duration 60] [--baseline 10] [--threads 8]
                                        [--url http://127.0.0.1:8050] [--json out.json]

Without ``--url`` it starts ``crisisrisk serve`` itself on 127.0.0.1 (a free port, read-only pages public,
the configured warehouse: ``CRISISRISK_DATABASE_URL`` or ``data/crisisrisk.sqlite``) and stops it at the
end. With ``--url`` it uses an already running server, which must be on a loopback address: anything else
is refused, so this never sends load over a network.

Each client is a thread with one keep-alive connection (``http.client``, standard library only) that asks,
in a seeded random mix, for ``/api/v1/health``, ``/api/v1/predictions?level=0&year=Y``, ``/api/v1/regions``,
``/api/v1/explanations?region=R&year=Y``, the pages ``/``, ``/priorities`` and ``/region/<id>``, and the Dash
layout and dependency JSON, with ``Accept-Encoding: gzip`` as a browser sends. It first measures a
single-client baseline for ``--baseline`` seconds, then ``--clients`` clients for ``--duration`` seconds,
and reports requests per second, p50 and p95 latency and errors per endpoint and overall, and the ratios
to the baseline. Exit status 1 when the goal (p95 < ``--goal-ms``, no errors) is missed.

``--during promote`` (issue 9 #12): while the clients run, a promoter thread deploys another run through
``POST /api/v1/models/{run}/promote`` (and later promotes the original back), and the report gives p50, p95
and max latency of the requests that started in the ``--window`` seconds after each promote was sent, beside
the whole phase. It needs an analyst bearer token (``--token`` or ``CRISISRISK_BENCH_TOKEN``); when this
script starts the server itself it makes a temporary analyst token in that warehouse and revokes it at the
end. The run to promote is ``--promote-run`` or the newest non-deployed run whose artefacts exist.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Accept-Encoding": "gzip", "Connection": "keep-alive"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def wait_healthy(host: str, port: int, proc: subprocess.Popen | None, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise SystemExit(f"the server exited with status {proc.returncode} before it was ready\n{err}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            status, _ = get(conn, "/api/v1/health")
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"no healthy answer from http://{host}:{port}/api/v1/health within {timeout:.0f} s")


def discover(host: str, port: int) -> dict:
    """Years and region ids to ask for, from the API itself."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/v1/health")
    health = json.loads(conn.getresponse().read())
    years = health.get("years") or []
    if not years:
        raise SystemExit("the server has no predictions (deploy a model: crisisrisk model train)")
    year = max(years)
    conn.request("GET", f"/api/v1/predictions?level=0&year={year}")
    rows = json.loads(conn.getresponse().read())["data"]
    conn.close()
    countries = [r["region_id"] for r in rows]
    top = [r["region_id"] for r in sorted(rows, key=lambda r: r["rank"] or 10**9)[:40]]
    return {"years": years[-5:], "countries": countries, "top": top or countries}


def endpoint_mix(info: dict) -> list[tuple[str, int, callable]]:
    """(name, weight, path factory): mostly API and callbacks, as a dashboard session generates them."""
    years, countries, top = info["years"], info["countries"], info["top"]
    return [
        ("api health", 1, lambda r: "/api/v1/health"),
        ("api predictions", 3, lambda r: f"/api/v1/predictions?level=0&year={r.choice(years)}"),
        ("api regions", 2, lambda r: "/api/v1/regions"),
        (
            "api explanations",
            3,
            lambda r: f"/api/v1/explanations?region={r.choice(top)}&year={r.choice(years)}",
        ),
        ("page /", 1, lambda r: "/"),
        ("page /priorities", 1, lambda r: "/priorities"),
        ("page /region/<id>", 1, lambda r: f"/region/{r.choice(countries)}"),
        ("dash layout", 1, lambda r: "/_dash-layout"),
        ("dash dependencies", 1, lambda r: "/_dash-dependencies"),
    ]


def run_phase(
    host: str,
    port: int,
    clients: int,
    duration: float,
    mix,
    seed: int,
    timeline: list[tuple[float, float, bool]] | None = None,
    during: callable = None,
) -> dict:
    """``clients`` threads for ``duration`` seconds; returns per-endpoint latencies and errors.

    ``timeline`` collects (start, seconds, ok) of every request; ``during(began)`` runs in a thread beside
    the clients (the promoter)."""
    names = [m[0] for m in mix]
    weights = [m[1] for m in mix]
    factories = {m[0]: m[2] for m in mix}
    lat: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        rnd = random.Random(seed * 1000 + i)
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: dict[str, list[float]] = defaultdict(list)
        bad: dict[str, list[str]] = defaultdict(list)
        stamps: list[tuple[float, float, bool]] = []
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            name = rnd.choices(names, weights)[0]
            path = factories[name](rnd)
            t0 = time.perf_counter()
            try:
                status, body = get(conn, path)
                ok = status == 200 and len(body) > 0
                why = f"{status} {path}"
            except (OSError, http.client.HTTPException) as exc:
                ok, why = False, f"{type(exc).__name__}: {exc} ({path})"
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            elapsed = time.perf_counter() - t0
            mine[name].append(elapsed)
            stamps.append((t0, elapsed, ok))
            if not ok:
                bad[name].append(why)
        conn.close()
        with lock:
            for k, v in mine.items():
                lat[k].extend(v)
            for k, v in bad.items():
                errors[k].extend(v)
            if timeline is not None:
                timeline.extend(stamps)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    stop_at[0] = began + duration
    start_gate.wait()
    side = threading.Thread(target=during, args=(began,), daemon=True) if during else None
    if side:
        side.start()
    for t in threads:
        t.join(duration + 60)
    if side:
        side.join(120)
    wall = time.perf_counter() - began
    return summarise(lat, errors, wall)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(lat: dict[str, list[float]], errors: dict[str, list[str]], wall: float) -> dict:
    rows = {}
    every: list[float] = []
    for name, values in sorted(lat.items()):
        every.extend(values)
        rows[name] = {
            "requests": len(values),
            "rps": len(values) / wall,
            "p50_ms": _pct(values, 50) * 1000,
            "p95_ms": _pct(values, 95) * 1000,
            "errors": len(errors.get(name, [])),
            "error_examples": sorted(set(errors.get(name, [])))[:3],
        }
    n_err = sum(len(v) for v in errors.values())
    rows["overall"] = {
        "requests": len(every),
        "rps": len(every) / wall,
        "p50_ms": _pct(every, 50) * 1000,
        "p95_ms": _pct(every, 95) * 1000,
        "errors": n_err,
        "error_examples": [],
    }
    return {"wall_s": wall, "endpoints": rows}


def print_table(title: str, result: dict) -> None:
    print(f"\n{title} ({result['wall_s']:.1f} s)")
    print(f"{'endpoint':<22}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
    for name, r in result["endpoints"].items():
        if name == "overall":
            print("-" * 66)
        print(
            f"{name:<22}{r['requests']:>9}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['errors']:>8}"
        )
        for example in r["error_examples"]:
            print(f"    e.g. {example}")


def post(host: str, port: int, path: str, token: str, timeout: float = 120) -> tuple[int, dict, float]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request("POST", path, headers={"Authorization": f"Bearer {token}", "Content-Length": "0"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {"raw": body[:200].decode(errors="replace")}
    return resp.status, data, time.perf_counter() - t0


def promotable_run(host: str, port: int, token: str, wanted: str | None) -> tuple[str, str]:
    """(deployed run, run to promote): ``wanted`` or the newest other run (the server refuses a run whose
    artefacts are missing, which the promoter reports as an error)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/api/v1/models", headers={"Authorization": f"Bearer {token}"})
    runs = json.loads(conn.getresponse().read())["data"]
    conn.close()
    deployed = next((r["run_id"] for r in runs if r["status"] == "deployed"), None)
    others = [r for r in runs if r["status"] != "deployed"]
    other = wanted or (max(others, key=lambda r: str(r.get("created_at")))["run_id"] if others else None)
    if not deployed or not other:
        raise SystemExit("--during promote needs a deployed run and another run to promote (train one first)")
    return deployed, other


def promote_window(timeline: list[tuple[float, float, bool]], sent: list[float], window: float) -> dict:
    """Latency of the requests that started within ``window`` s after each promote was sent."""
    picked = [(e, ok) for t0, e, ok in timeline if any(s <= t0 < s + window for s in sent)]
    values = [e for e, _ in picked]
    return {
        "requests": len(values),
        "errors": sum(1 for _, ok in picked if not ok),
        "p50_ms": _pct(values, 50) * 1000,
        "p95_ms": _pct(values, 95) * 1000,
        "max_ms": (max(values) * 1000) if values else float("nan"),
    }


def temporary_token(database_url: str | None) -> tuple[str, str]:
    """An analyst token in the started server's warehouse, for the promoter (revoked at the end)."""
    sys.path.insert(0, str(ROOT))
    from warehouse import accounts
    from warehouse.db import make_engine, migrate

    engine = make_engine(database_url)
    migrate(engine)
    name = "load-benchmark"
    if accounts.user_role(engine, name) is None:
        accounts.add_user(engine, name, "analyst", secrets.token_urlsafe(24))
    token_name = f"promote-{secrets.token_hex(4)}"
    return accounts.create_token(engine, name, token_name), token_name


def _parser() -> argparse.ArgumentParser:
    from warehouse import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server on a loopback address (default: start one)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of concurrent load")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of single-client baseline")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads of the started server")
    parser.add_argument(
        "--database-url", help="warehouse of the started server (default: the configured one)"
    )
    parser.add_argument("--goal-ms", type=float, default=300.0, help="p95 goal under load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--during", choices=["promote"], help="promote another run while the clients run")
    parser.add_argument(
        "--token",
        default=settings.get("CRISISRISK_BENCH_TOKEN"),
        help="analyst bearer token for --during promote",
    )
    parser.add_argument("--promote-run", help="run to promote (default: the newest non-deployed run)")
    parser.add_argument(
        "--window", type=float, default=10.0, help="seconds after a promote that are reported"
    )
    return parser


def _server(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[str, int, subprocess.Popen | None]:
    """The loopback server to load: ``--url`` (refused unless http:// on loopback) or one started here."""
    from warehouse import settings

    if args.url:
        parsed = urlparse(args.url)
        host, port = parsed.hostname or "", parsed.port or 80
        if parsed.scheme != "http" or not is_loopback(host):
            parser.error(
                f"refusing {args.url!r}: load is only sent to http:// on a loopback address "
                "(127.0.0.1, ::1, localhost)"
            )
        return host, port, None
    host, port = "127.0.0.1", free_port()
    env = {
        **os.environ,
        "CRISISRISK_PUBLIC_READ": "true",
        "CRISISRISK_LOG_LEVEL": "ERROR",
        "CRISISRISK_SECRET_KEY": settings.get("CRISISRISK_SECRET_KEY") or secrets.token_urlsafe(48),
    }
    if args.database_url:
        env["CRISISRISK_DATABASE_URL"] = args.database_url
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crisisrisk.cli",
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--threads",
            str(args.threads),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    print(f"started crisisrisk serve on http://{host}:{port} ({args.threads} waitress threads)")
    return host, port, proc


class _PromoteDuring:
    """``--during promote``: promote another run at 25% of the phase and the original back at 65%."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.token_name: str | None = None  # a temporary token made here, revoked at the end
        self.sent: list[float] = []
        self.answers: list[dict] = []
        self.duration = 0.0
        self.runs: tuple[str, str] = ("", "")
        self.token = ""

    def prepare(self, parser: argparse.ArgumentParser, args: argparse.Namespace, started_here: bool) -> None:
        self.token = args.token
        if not self.token:
            if not started_here:
                parser.error("--during promote against --url needs --token (an analyst bearer token)")
            self.token, self.token_name = temporary_token(args.database_url)
        self.runs = promotable_run(self.host, self.port, self.token, args.promote_run)
        self.duration = args.duration

    def __call__(self, began: float) -> None:
        original, other = self.runs
        for at, run in ((0.25, other), (0.65, original)):  # promote, then put the original back
            time.sleep(max(0.0, began + at * self.duration - time.perf_counter()))
            self.sent.append(time.perf_counter())
            status, body, took = post(self.host, self.port, f"/api/v1/models/{run}/promote", self.token)
            self.answers.append(
                {
                    "run": run,
                    "status": status,
                    "ack_ms": took * 1000,
                    "message": body.get("message") or body.get("error"),
                }
            )
            print(f"promote {run}: HTTP {status} acknowledged after {took * 1000:.0f} ms")

    def report(self, timeline: list[tuple[float, float, bool]], window: float) -> dict:
        """Latency of the requests started within ``window`` s after each promote, beside the phase's."""
        report = {
            "promotes": self.answers,
            "window_s": window,
            "after_promote": promote_window(timeline, self.sent, window),
            "whole_phase_max_ms": max((e for _, e, _ in timeline), default=0) * 1000,
        }
        w = report["after_promote"]
        print(
            f"\nrequests started within {window:.0f} s after a promote: {w['requests']}, p50 "
            f"{w['p50_ms']:.0f} ms, p95 {w['p95_ms']:.0f} ms, max {w['max_ms']:.0f} ms, "
            f"{w['errors']} errors; whole phase max {report['whole_phase_max_ms']:.0f} ms"
        )
        return report


def _stop(args: argparse.Namespace, token_name: str | None, proc: subprocess.Popen | None) -> None:
    """Revoke the temporary token and stop the server this script started."""
    if token_name:
        from warehouse import accounts
        from warehouse.db import make_engine

        accounts.revoke_token(make_engine(args.database_url), token_name)
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _goal(args: argparse.Namespace, base: dict, load: dict, promote_report: dict | None) -> bool:
    """Print the ratios to the baseline and whether the goal was met; write --json."""
    b, lo = base["endpoints"]["overall"], load["endpoints"]["overall"]
    ratios = {
        "rps": lo["rps"] / b["rps"] if b["rps"] else float("nan"),
        "p50": lo["p50_ms"] / b["p50_ms"] if b["p50_ms"] else float("nan"),
        "p95": lo["p95_ms"] / b["p95_ms"] if b["p95_ms"] else float("nan"),
    }
    print(
        f"\nratio to the single-client baseline: throughput x{ratios['rps']:.1f}, "
        f"p50 x{ratios['p50']:.1f}, p95 x{ratios['p95']:.1f}"
    )
    met = lo["p95_ms"] < args.goal_ms and lo["errors"] == 0
    if promote_report is not None:
        w = promote_report["after_promote"]
        met = (
            met
            and w["p95_ms"] < args.goal_ms
            and w["errors"] == 0
            and all(a["status"] == 200 for a in promote_report["promotes"])
        )
    print(
        f"goal (p95 < {args.goal_ms:.0f} ms, 0 errors): {'met' if met else 'MISSED'} "
        f"(p95 {lo['p95_ms']:.0f} ms, {lo['errors']} errors, {lo['rps']:.0f} req/s)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "clients": args.clients,
                    "duration_s": args.duration,
                    "baseline": base,
                    "load": load,
                    "ratios": ratios,
                    "goal_met": met,
                    "during_promote": promote_report,
                },
                indent=2,
                default=str,
            )
        )
    return met


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    parser = _parser()
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 500) or not (0 < args.duration <= 3600):
        parser.error("--clients must be 1-500 and --duration at most 3600 s (bounded load)")
    host, port, proc = _server(parser, args)
    during = _PromoteDuring(host, port) if args.during == "promote" else None
    promote_report: dict | None = None
    try:
        wait_healthy(host, port, proc)
        info = discover(host, port)
        mix = endpoint_mix(info)
        run_phase(host, port, 2, 3.0, mix, args.seed + 99)  # warm the caches (not reported)
        base = run_phase(host, port, 1, args.baseline, mix, args.seed)
        print_table("single-client baseline", base)
        timeline: list[tuple[float, float, bool]] = []
        if during:
            during.prepare(parser, args, started_here=proc is not None)
        load = run_phase(host, port, args.clients, args.duration, mix, args.seed + 1, timeline, during)
        print_table(f"{args.clients} concurrent clients" + (" through two promotes" if during else ""), load)
        if during:
            promote_report = during.report(timeline, args.window)
    finally:
        _stop(args, during.token_name if during else None, proc)
    met = _goal(args, base, load, promote_report)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
