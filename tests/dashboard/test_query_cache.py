"""Issue 9 #12: after a promote the query cache is cold; each answer must be computed once, not once per
client.

Single flight: many threads asking for the same entry at once run its computation exactly once and all get
its result. Warm-up: ``Queries.warm`` fills the entries the pages open with, so the first clients hit them.
"""

from __future__ import annotations

import threading
import time

from dashboard.queries import Queries


def test_concurrent_misses_compute_an_entry_once(engine):
    queries = Queries(engine, ttl_s=60)
    calls: list[int] = []
    barrier = threading.Barrier(24)
    results: list[object] = []

    def slow():
        calls.append(1)
        time.sleep(0.3)  # a cold query that takes a while, as the predictions of a new run do
        return object()

    def client():
        barrier.wait()
        results.append(queries._cached("cold", (2024,), slow))  # noqa: SLF001

    threads = [threading.Thread(target=client) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1 and len(results) == 24
    assert len({id(r) for r in results}) == 1  # every client got the one computed value
    assert queries.waits >= 1


def test_a_failed_computation_is_retried_by_a_waiting_client(engine):
    queries = Queries(engine, ttl_s=60)
    attempts: list[int] = []
    started = threading.Event()

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            started.set()
            time.sleep(0.2)
            raise RuntimeError("database busy")
        return "value"

    errors: list[Exception] = []

    def first():
        try:
            queries._cached("flaky", (), flaky)  # noqa: SLF001
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    started.wait(5)
    assert queries._cached("flaky", (), flaky) == "value"  # noqa: SLF001 - waited, then computed it itself
    t.join(5)
    assert len(errors) == 1 and len(attempts) == 2


def test_warm_fills_what_the_pages_open_with(dash_engine):
    queries = Queries(dash_engine, ttl_s=60)
    assert queries.warm() >= 9
    misses = queries.misses
    year = max(queries.years(0))
    queries.level_predictions(0)
    queries.map_values(0, year)
    queries.priorities(year, 0)
    queries.regions(0)
    assert queries.misses == misses  # all served from the warmed cache
