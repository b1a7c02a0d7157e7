"""`etl run` prepares the next source while the previous one is written (etl.loader._run_locked).

Real shipped files: Natural Earth regions, then four small country-level sources. Each test checks one
promise of the overlap: the same warehouse as loading one source after another, the overlap itself, progress
only from the caller's thread, a cancel that stops everything after it, and a broken source that stops
nothing.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from sqlalchemy import select

import etl.loader as loader
from etl.loader import load_source, run
from etl.sources import get_source
from tests.conftest import RAW_DIR, _fresh_url, drop_database
from warehouse.db import make_engine, migrate
from warehouse.jobs import JobCancelled
from warehouse.schema import observation, rejected_row, source_load

COUNTRY_SOURCES = ["fsi_2023", "gsi_2023", "ucdp_brd", "us_tip_tiers"]


@pytest.fixture
def warehouse(tmp_path):
    """A fresh warehouse holding the real regions (each test writes its own loads)."""
    urls = []

    def make(name: str):
        url = _fresh_url(tmp_path, name)
        urls.append(url)
        eng = make_engine(url)
        migrate(eng)
        assert load_source(eng, get_source("natural_earth"), RAW_DIR).status == "loaded"
        return eng

    yield make
    for url in urls:
        drop_database(url)


def _contents(engine) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with engine.connect() as conn:
        obs = pd.DataFrame(
            conn.execute(
                select(
                    observation.c.region_id,
                    observation.c.period_start,
                    observation.c.indicator,
                    observation.c.source,
                    observation.c.value,
                    observation.c.censored,
                )
            ).all()
        )
        rejected = pd.DataFrame(
            conn.execute(
                select(rejected_row.c.row_number, rejected_row.c.reason_code, rejected_row.c.raw)
            ).all()
        )
        loads = pd.DataFrame(
            conn.execute(
                select(
                    source_load.c.source,
                    source_load.c.file,
                    source_load.c.rows_read,
                    source_load.c.rows_loaded,
                    source_load.c.rows_rejected,
                    source_load.c.observations,
                ).where(source_load.c.status == "loaded")
            ).all()
        )
    return tuple(f.sort_values(list(f.columns)).reset_index(drop=True) for f in (obs, rejected, loads))


def test_a_pipelined_run_writes_what_one_source_after_another_writes(warehouse):
    together, one_by_one = warehouse("together"), warehouse("one_by_one")
    results = run(together, names=COUNTRY_SOURCES, raw_dir=RAW_DIR)
    assert [r.status for r in results] == ["loaded"] * len(COUNTRY_SOURCES)
    for name in COUNTRY_SOURCES:
        assert load_source(one_by_one, get_source(name), RAW_DIR).status == "loaded"
    for a, b in zip(_contents(together), _contents(one_by_one), strict=True):
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)
    together.dispose()
    one_by_one.dispose()


def test_the_next_source_is_prepared_in_another_thread_while_the_previous_is_written(warehouse, monkeypatch):
    engine = warehouse("overlap")
    events: list[tuple[str, str, float, int]] = []
    real_prepare, real_write = loader.prepare_load, loader.write_load

    def prepare(engine_, source, *args, **kwargs):
        events.append(("prepare", source.name, time.perf_counter(), threading.get_ident()))
        return real_prepare(engine_, source, *args, **kwargs)

    def write(engine_, load, *args, **kwargs):
        started = time.perf_counter()
        time.sleep(0.5)  # a slow write: the next source's preparation must start inside it
        result = real_write(engine_, load, *args, **kwargs)
        events.append(("write", load.source.name, started, time.perf_counter()))
        return result

    monkeypatch.setattr(loader, "prepare_load", prepare)
    monkeypatch.setattr(loader, "write_load", write)
    names = sorted(COUNTRY_SOURCES)
    results = run(engine, names=names, raw_dir=RAW_DIR)
    assert [r.status for r in results] == ["loaded"] * len(names)
    prepared = {name: (at, ident) for kind, name, at, ident in events if kind == "prepare"}
    written = {name: (start, end) for kind, name, start, end in events if kind == "write"}
    assert all(ident != threading.get_ident() for _at, ident in prepared.values())
    for previous, following in zip(names, names[1:], strict=False):
        # the following source is prepared before the previous one's write ends (up to LOOKAHEAD ahead)
        assert prepared[following][0] <= written[previous][1], (previous, following)
    # writes keep the order, one at a time
    ends = [written[n] for n in names]
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:], strict=False))
    engine.dispose()


def test_the_thread_ahead_runs_at_most_lookahead_sources_ahead_of_the_write(warehouse, monkeypatch):
    engine = warehouse("depth")
    monkeypatch.setattr(loader, "LOOKAHEAD", 2)
    names = sorted(COUNTRY_SOURCES)
    started: list[str] = []
    real_prepare, real_write = loader.prepare_load, loader.write_load
    seen_at_write: dict[str, list[str]] = {}

    def prepare(engine_, source, *args, **kwargs):
        started.append(source.name)
        return real_prepare(engine_, source, *args, **kwargs)

    def write(engine_, load, *args, **kwargs):
        # a slow write: wait until the thread ahead has started what it may (or 10 s), then a little more,
        # so that one running too far ahead would be seen
        may_start = min(len(names), names.index(load.source.name) + 3)
        deadline = time.perf_counter() + 10
        while len(started) < may_start and time.perf_counter() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        seen_at_write[load.source.name] = list(started)
        return real_write(engine_, load, *args, **kwargs)

    monkeypatch.setattr(loader, "prepare_load", prepare)
    monkeypatch.setattr(loader, "write_load", write)
    results = run(engine, names=names, raw_dir=RAW_DIR)
    assert [r.status for r in results] == ["loaded"] * len(names)
    for i, name in enumerate(names):
        # while source i is written, sources up to i + 2 have been started, and none beyond
        assert seen_at_write[name] == names[: min(len(names), i + 3)], name
    engine.dispose()


def test_progress_is_only_called_from_the_callers_thread(warehouse):
    engine = warehouse("progress")
    calls: list[tuple[int, str]] = []
    results = run(
        engine,
        names=COUNTRY_SOURCES,
        raw_dir=RAW_DIR,
        progress=lambda m: calls.append((threading.get_ident(), m)),
    )
    assert [r.status for r in results] == ["loaded"] * len(COUNTRY_SOURCES)
    assert {ident for ident, _ in calls} == {threading.get_ident()}
    messages = [m for _, m in calls]
    for name in COUNTRY_SOURCES:  # every source's own messages, parsing before writing
        parsing = next(i for i, m in enumerate(messages) if m.startswith(f"{name}: parsing"))
        writing = next(i for i, m in enumerate(messages) if m.startswith(f"{name}: writing"))
        assert parsing < writing
    engine.dispose()


def test_a_cancel_stops_the_run_and_nothing_after_it_is_written(warehouse):
    engine = warehouse("cancel")
    names = sorted(COUNTRY_SOURCES)

    def progress(message: str) -> None:
        if message.startswith(f"{names[1]}: writing"):
            raise JobCancelled("cancelled by a test")

    with pytest.raises(JobCancelled):
        run(engine, names=names, raw_dir=RAW_DIR, progress=progress)
    with engine.connect() as conn:
        loaded = {
            r[0] for r in conn.execute(select(source_load.c.source).where(source_load.c.status == "loaded"))
        }
    assert loaded == {"natural_earth", names[0]}
    assert not [t for t in threading.enumerate() if t.name.startswith("etl-prepare")]
    engine.dispose()


def test_a_source_that_breaks_while_prepared_stops_no_other(warehouse, monkeypatch):
    engine = warehouse("broken")
    names = sorted(COUNTRY_SOURCES)
    broken = get_source(names[1])

    def parse(path):
        raise RuntimeError("a reader bug")

    monkeypatch.setattr(broken, "parse", parse)
    results = {r.source: r for r in run(engine, names=names, raw_dir=RAW_DIR)}
    assert results[names[1]].status == "failed"
    assert "RuntimeError: a reader bug (nothing was written)" in results[names[1]].error
    assert all(results[n].status == "loaded" for n in names if n != names[1])
    engine.dispose()


def test_nothing_after_a_regions_source_is_prepared_before_it_is_written():
    # positions 0..4: two country sources, Natural Earth (regions), two more; from 0 with depth 3: only 1
    sources = [get_source(n) for n in ("fsi_2023", "gsi_2023", "natural_earth", "ucdp_brd", "us_tip_tiers")]
    assert loader._following(sources, 0, 3) == [1]
    assert loader._following(sources, 2, 3) == [3, 4]
    assert loader._following(sources, 3, 3) == [4]
