"""Load sources into the warehouse: parse, map, validate, then write one source in one transaction.

Guarantees (DESIGN §3):
- rows read = rows loaded + rows rejected, for every file, checked before anything is written;
- a source's observations are replaced atomically, so readers never see half a load;
- an unchanged file (same sha256) is skipped unless ``force`` is set, so reruns are idempotent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, delete, select, update

from etl import __version__
from etl.context import MappingContext
from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError
from etl.sources import all_sources, get_source
from etl.sources.base import OBSERVATION_COLUMNS, Source
from warehouse.config import raw_dir as default_raw_dir
from warehouse.faults import fault_point
from warehouse.io import bulk_insert_frame as bulk_insert
from warehouse.io import inserted_id, upsert
from warehouse.schema import indicator, observation, rejected_row, source_load

log = logging.getLogger(__name__)
RAW_TEXT_LIMIT = 2000
Progress = Callable[[str], None]


@dataclass
class FileResult:
    file: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    observations: int


@dataclass
class LoadResult:
    source: str
    status: str  # loaded | unchanged | failed
    files: list[FileResult] = field(default_factory=list)
    observations: int = 0
    error: str | None = None


class LoadError(RuntimeError):
    """A source's own code broke the contract (a bug, not bad input); nothing was written."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _current_hashes(engine: Engine, source: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(source_load.c.file, source_load.c.sha256).where(
                source_load.c.source == source, source_load.c.status == "loaded"
            )
        ).all()
    return {f.rsplit("/", 1)[-1]: s for f, s in rows}


def current_key(source: str, file: str) -> str:
    """The unique key of a file's current load: two current loads of one file cannot coexist."""
    return f"{source}|{file}"[:400]


def prepare(
    source: Source, paths: list[Path], ctx: MappingContext, progress: Progress | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse every file and map to regions; pure apart from reading files and regions."""
    frames = []
    for path in paths:
        if progress:
            progress(f"{source.name}: parsing {path.name}")
        frame = source.parse(path)
        if ROW not in frame.columns or REJECT not in frame.columns:
            raise LoadError(f"{source.name}.parse did not return '{ROW}' and '{REJECT}' columns")
        frame[FILE] = path.name
        frames.append(frame)
    parsed = (
        pd.concat(frames, ignore_index=True, sort=False)
        if len(frames) > 1
        else frames[0].reset_index(drop=True)
    )
    if progress:
        progress(f"{source.name}: mapping {len(parsed):,} rows to regions")
    obs = source.to_observations(parsed, ctx)
    return parsed, obs


def validate(source: Source, parsed: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """Check the source kept its promises; raises :class:`LoadError` on a bug."""
    missing = [c for c in OBSERVATION_COLUMNS if c not in obs.columns]
    if missing:
        raise LoadError(f"{source.name}: observations lack columns {missing}")
    obs = obs[OBSERVATION_COLUMNS].copy()
    obs["censored"] = obs["censored"].fillna(False).astype(bool)
    if obs["value"].isna().any():
        raise LoadError(f"{source.name}: {int(obs['value'].isna().sum())} observations have no value")
    infinite = ~np.isfinite(obs["value"].astype(float))
    if (
        infinite.any()
    ):  # a reader must quarantine 'inf'/'1e309' as invalid_number (the warehouse refuses them)
        raise LoadError(
            f"{source.name}: {int(infinite.sum())} observations are not finite, e.g. "
            f"{obs[infinite].head(2)[['region_id', 'indicator', 'value']].to_dict('records')}"
        )
    unknown = set(obs["indicator"].unique()) - source.indicator_codes()
    if unknown:
        raise LoadError(f"{source.name}: indicators {sorted(unknown)} are not in its catalogue")
    key = ["region_id", "period_start", "period_type", "indicator"]
    dup = obs.duplicated(subset=key, keep=False)
    if dup.any():
        raise LoadError(
            f"{source.name}: {int(dup.sum())} observations share a key, e.g. "
            f"{obs[dup].head(2)[key].to_dict('records')}"
        )
    bad_reject = parsed[REJECT].notna() & parsed[REJECT_DETAIL].isna()
    if bad_reject.any():
        parsed.loc[bad_reject, REJECT_DETAIL] = parsed.loc[bad_reject, REJECT]
    return obs


def load_source(
    engine: Engine,
    source: Source,
    raw_dir: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    ctx: MappingContext | None = None,
    paths: list[Path] | None = None,
) -> LoadResult:
    """Load one source (all its files) in one transaction, or skip it when nothing changed.

    ``paths`` replaces the files found in ``raw_dir`` (an upload is loaded from its staged copy and moved into
    data/raw only after the commit). The caller holds the ETL writer lock
    (:func:`warehouse.writer_lock.etl_writer`);
    the unique ``current_key`` makes a second concurrent writer fail instead of duplicating current loads.
    """
    prepared = prepare_load(engine, source, raw_dir, force, progress, ctx, paths)
    if isinstance(prepared, LoadResult):
        return prepared
    return write_load(engine, prepared, progress)


@dataclass
class PreparedLoad:
    """A source parsed, mapped and validated, ready to be written in one transaction (:func:`write_load`)."""

    source: Source
    parsed: pd.DataFrame
    obs: pd.DataFrame
    results: list[FileResult]
    where: dict[str, str]
    started: dt.datetime
    ctx: MappingContext


def prepare_load(
    engine: Engine,
    source: Source,
    raw_dir: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    ctx: MappingContext | None = None,
    paths: list[Path] | None = None,
) -> PreparedLoad | LoadResult:
    """Everything of a load before its transaction: hash, parse, map, validate. Writes nothing.

    Returns the final :class:`LoadResult` when there is nothing to write (unchanged files, bad input).
    It only reads files and the warehouse's regions, so :func:`run` prepares the next source while the
    previous one is written.
    """
    raw_dir = raw_dir or default_raw_dir()
    paths = sorted(paths, key=lambda p: p.name) if paths is not None else source.paths(raw_dir)
    problem = _paths_problem(source, paths, raw_dir)
    if problem:
        return LoadResult(source.name, "failed", error=problem)
    hashes = {p.name: sha256_file(p) for p in paths}
    # a file outside raw_dir (an upload's staged copy) is recorded where it goes once loaded: the source's
    # folder
    where = {
        p.name: (
            p.relative_to(raw_dir).as_posix() if p.is_relative_to(raw_dir) else f"{source.folder}/{p.name}"
        )
        for p in paths
    }
    # lookups the mapping step reads are hashed too (a changed region list reloads the source) and recorded as
    # loads of 0 rows, so the provenance names every file the output depends on
    lookups = [p for p in source.lookup_paths(raw_dir) if p.name not in hashes]
    hashes.update({p.name: sha256_file(p) for p in lookups})
    where.update({p.name: p.relative_to(raw_dir).as_posix() for p in lookups})
    if not force and _current_hashes(engine, source.name) == hashes:
        return LoadResult(source.name, "unchanged")
    ctx = ctx or MappingContext(raw_dir=raw_dir, engine=engine)
    started = dt.datetime.now(dt.UTC)
    try:
        parsed, obs = prepare(source, paths, ctx, progress)
    except ContractError as exc:
        return LoadResult(source.name, "failed", error=str(exc))
    obs = validate(source, parsed, obs)
    results = _file_results(paths, hashes, parsed, obs)
    results += [FileResult(p.name, hashes[p.name], 0, 0, 0, 0) for p in lookups]
    return PreparedLoad(source, parsed, obs, results, where, started, ctx)


def write_load(engine: Engine, load: PreparedLoad, progress: Progress | None = None) -> LoadResult:
    """Write a prepared load in one transaction: supersede the old loads, insert observations and rejects."""
    source, parsed, obs = load.source, load.parsed, load.obs
    if progress:
        progress(f"{source.name}: writing {len(obs):,} observations")
    with engine.begin() as conn:
        load_ids = _replace_loads(conn, source, load.results, load.where, load.started)
        upsert(
            conn,
            indicator,
            [
                {
                    "code": i.code,
                    "family": i.family,
                    "unit": i.unit,
                    "direction": i.direction,
                    "description": i.description,
                    "source": source.name,
                }
                for i in source.indicators
            ],
            ["code"],
        )
        source.write_extra(conn, parsed, load_ids, load.ctx)
        _insert_observations(conn, source, obs, load_ids)
        _insert_rejected(conn, parsed, load_ids)
        fault_point("etl.load.before_commit")
    return LoadResult(source.name, "loaded", load.results, len(obs))


def _paths_problem(source: Source, paths: list[Path], raw_dir: Path) -> str | None:
    """Why these files cannot be loaded as the source (none, or two with one name), or None."""
    if not paths:
        return f"no files matching {list(source.file_patterns)} in {raw_dir / source.folder}"
    if len({p.name for p in paths}) < len(paths):
        names = sorted(p.name for p in paths)
        twice = next(n for n in names if names.count(n) > 1)
        return (
            f"two files named {twice} in {source.folders(raw_dir)}: "
            "file names must be unique within a source (rename one)"
        )
    return None


def _file_results(
    paths: list[Path], hashes: dict[str, str], parsed: pd.DataFrame, obs: pd.DataFrame
) -> list[FileResult]:
    """Per file: rows read = rows loaded + rows rejected, and the observations it gave."""
    # counted once per file with value_counts (a boolean selection of the whole frame per file showed in the
    # profile on the many-file sources)
    read = parsed[FILE].value_counts()
    rejected = parsed.loc[parsed[REJECT].notna(), FILE].value_counts()
    observations = obs[FILE].value_counts()
    results: list[FileResult] = []
    for path in paths:
        n_read = int(read.get(path.name, 0))
        n_rejected = int(rejected.get(path.name, 0))
        results.append(
            FileResult(
                path.name,
                hashes[path.name],
                n_read,
                n_read - n_rejected,
                n_rejected,
                int(observations.get(path.name, 0)),
            )
        )
    return results


def _replace_loads(
    conn: Connection, source: Source, results: list[FileResult], where: dict[str, str], started: dt.datetime
) -> dict[str, int]:
    """Supersede the source's current loads (their observations and rejected rows go); record the new ones."""
    finished = dt.datetime.now(dt.UTC)
    previous = [
        r[0]
        for r in conn.execute(
            select(source_load.c.load_id).where(
                source_load.c.source == source.name, source_load.c.status == "loaded"
            )
        )
    ]
    if previous:
        conn.execute(
            update(source_load)
            .where(source_load.c.load_id.in_(previous))
            .values(status="superseded", current_key=None)
        )
        conn.execute(delete(rejected_row).where(rejected_row.c.load_id.in_(previous)))
    conn.execute(delete(observation).where(observation.c.source == source.name))
    load_ids: dict[str, int] = {}
    for res in results:
        load_ids[res.file] = inserted_id(
            conn.execute(
                source_load.insert().values(
                    source=source.name,
                    file=where[res.file],
                    sha256=res.sha256,
                    rows_read=res.rows_read,
                    rows_loaded=res.rows_loaded,
                    rows_rejected=res.rows_rejected,
                    observations=res.observations,
                    started_at=started,
                    finished_at=finished,
                    status="loaded",
                    software_version=__version__,
                    current_key=current_key(source.name, where[res.file]),
                )
            )
        )
    return load_ids


def _insert_observations(
    conn: Connection, source: Source, obs: pd.DataFrame, load_ids: dict[str, int]
) -> None:
    if len(obs):
        # per indicator in the unique key's order: each insert lands beside the previous one in both indexes
        # instead of at a random page (WGI's 62k rows, into the full warehouse: 0.7 s of CPU instead of 2.1 s;
        # the sources already written this way are unchanged)
        obs = obs.sort_values(["indicator", "region_id", "period_type", "period_start"], kind="stable")
        bulk_insert(
            conn,
            observation,
            pd.DataFrame(
                {
                    "region_id": obs["region_id"].astype(str),
                    "period_start": obs["period_start"],
                    "period_type": obs["period_type"],
                    "indicator": obs["indicator"],
                    "source": source.name,
                    "value": obs["value"].astype(float),
                    "censored": obs["censored"].astype(bool),
                    "load_id": obs[FILE].map(load_ids).astype(int),
                }
            ),
        )


def _insert_rejected(conn: Connection, parsed: pd.DataFrame, load_ids: dict[str, int]) -> None:
    """Quarantined rows with their reason and raw cells (as JSON, cut at RAW_TEXT_LIMIT characters)."""
    rejected = parsed[REJECT].notna()
    if not rejected.any():
        return
    raw_cols = [c for c in parsed.columns if not str(c).startswith("_")]
    bad = parsed.loc[rejected, [*raw_cols, FILE, ROW, REJECT, REJECT_DETAIL]]
    raw_json = raw_records(bad[raw_cols]) if raw_cols else ["{}"] * len(bad)
    bulk_insert(
        conn,
        rejected_row,
        pd.DataFrame(
            {
                "load_id": bad[FILE].map(load_ids).astype(int).to_numpy(),
                "row_number": bad[ROW].astype(int).to_numpy(),
                "reason_code": bad[REJECT].astype(str).to_numpy(),
                "reason": bad[REJECT_DETAIL].astype(str).to_numpy(),
                "raw": [r if len(r) <= RAW_TEXT_LIMIT else r[: RAW_TEXT_LIMIT - 3] + "..." for r in raw_json],
            }
        ),
    )


_CONTROL = re.compile(r"[\x00-\x1f]")


def raw_records(frame: pd.DataFrame) -> list[str]:
    """Each row as one JSON object of its cells, exactly as ``to_json(orient="records")`` writes it.

    Text columns (what the readers give) are escaped and joined column-wise with Arrow, twice as fast
    than pandas' row-wise writer (the profile showed it for the large quarantines: GLOTIP, DTM). Anything
    else (numbers, objects, control characters, which JSON escapes) goes through ``to_json``; its lines are
    split on "\\n" only, since a cell may hold U+2028 or U+0085, which ``str.splitlines`` would also split.
    """
    fast = _text_records(frame)
    if fast is not None:
        return fast
    text = frame.to_json(orient="records", lines=True, force_ascii=False, default_handler=str)
    return text.removesuffix("\n").split("\n")


def _json_text(value: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """JSON string bodies as pandas' ujson writes them (force_ascii off): backslash, quote, slash escaped."""
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), ("/", "\\/")):
        value = pc.replace_substring(value, char, escaped)
    return value


def _text_records(frame: pd.DataFrame) -> list[str] | None:
    """:func:`raw_records` for a frame of text columns without control characters, else None."""
    if not all(isinstance(d, pd.StringDtype) for d in frame.dtypes):
        return None
    names = [str(c) for c in frame.columns]
    if any(_CONTROL.search(n) for n in names):
        return None

    def text(value: str) -> pa.Scalar:
        return pa.scalar(value, pa.large_string())

    parts = []
    for name, column in zip(names, frame.columns, strict=True):
        cells = pa.array(frame[column].array).cast(pa.large_string())
        if pc.any(pc.match_substring_regex(cells, _CONTROL.pattern)).as_py():
            return None
        key = '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("/", "\\/") + '":'
        quoted = pc.binary_join_element_wise(text(key + '"'), _json_text(cells), text('"'), text(""))
        parts.append(pc.fill_null(quoted, text(key + "null")))
    rows = pc.binary_join_element_wise(*parts, text(","))
    rows = pc.binary_join_element_wise(text("{"), rows, text("}"), text(""))
    return [str(r) for r in rows.to_pylist()]


def run(
    engine: Engine,
    names: Iterable[str] | None = None,
    force: bool = False,
    raw_dir: Path | None = None,
    progress: Progress | None = None,
    on_result: Callable[[LoadResult], None] | None = None,
    wait_s: float | None = None,
    who: str = "crisisrisk etl run",
    lookahead: bool = True,
) -> list[LoadResult]:
    """Load the named sources (or all) in dependency order, as the warehouse's only ETL writer.

    Waits up to ``wait_s`` seconds for another writer (raises :class:`warehouse.writer_lock.EtlBusy` after).
    ``lookahead=False`` prepares each source only after the previous one is written (benchmarks.etl compares).
    """
    from warehouse.writer_lock import etl_writer

    with etl_writer(engine, who, wait_s, on_wait=progress):
        return _run_locked(engine, names, force, raw_dir, progress, on_result, lookahead)


def _run_locked(
    engine: Engine,
    names: Iterable[str] | None,
    force: bool,
    raw_dir: Path | None,
    progress: Progress | None,
    on_result: Callable[[LoadResult], None] | None,
    lookahead: bool = True,
) -> list[LoadResult]:
    """Load in order; a second thread parses and maps up to ``LOOKAHEAD`` sources ahead of the one written.

    Why: a write is mostly the database's own work (SQLite's B-tree inserts and commit, PostgreSQL's COPY),
    which runs without Python's lock, so a second thread parsing the following sources uses the other core.
    More than one ahead because preparation and write times differ by source: one ahead left the writer
    idle while a large source (GDL, GED) was prepared after a small write, and the preparing thread idle while
    a large write ran (README, Benchmarks: ETL). Each load is still one transaction, written by
    this thread in the same order as before; a regions source (its mapping context is rebuilt after it) is a
    barrier: nothing after it is prepared until it is written. Progress messages of the thread ahead are
    relayed by this thread, so a ``progress`` callable is only ever called from the caller's thread, and a
    cancel raised there stops the thread ahead at its next message and drops the sources queued behind it.
    """
    from warehouse.jobs import JobCancelled

    raw_dir = raw_dir or default_raw_dir()
    sources = [get_source(n) for n in names] if names else all_sources()
    sources.sort(key=lambda s: (s.order, s.name))
    ctx = MappingContext(raw_dir=raw_dir, engine=engine)
    relay = _ProgressRelay(progress)
    ahead_ok = lookahead and _shares_one_database(engine) and len(sources) > 1
    results = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-prepare") as pool:

        def submit(source: Source) -> Future:
            return pool.submit(prepare_load, engine, source, raw_dir, force, relay.record, ctx)

        ahead: dict[int, Future] = {}  # by position in ``sources``: submitted, not yet written
        if ahead_ok:  # hdx country tables (1.6 s to import and build) while the first source reads files
            pool.submit(_warm_country_names)
        try:
            for i, source in enumerate(sources):
                try:
                    if source.level == "regions":
                        result = load_source(engine, source, raw_dir, force, relay.emit)
                        ctx = MappingContext(raw_dir=raw_dir, engine=engine)  # regions may have changed
                    else:
                        future = ahead.pop(i, None) or submit(source)
                        if ahead_ok:
                            for j in _following(sources, i, LOOKAHEAD):
                                ahead[j] = ahead.get(j) or submit(sources[j])
                        prepared = relay.wait(future)
                        result = (
                            prepared
                            if isinstance(prepared, LoadResult)
                            else write_load(engine, prepared, relay.emit)
                        )
                except JobCancelled:
                    raise
                except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
                    log.exception("source %s failed", source.name)
                    result = LoadResult(
                        source.name, "failed", error=f"{type(exc).__name__}: {exc} (nothing was written)"
                    )
                results.append(result)
                relay.flush()
                if on_result:
                    on_result(result)
        except BaseException:
            relay.cancel()  # the thread ahead stops at its next progress message; its result is dropped
            for queued in ahead.values():
                queued.cancel()  # not started yet: never runs
            raise
    return results


LOOKAHEAD = 3  # sources prepared ahead of the one written (their frames are held until written)


def _following(sources: list[Source], i: int, depth: int) -> list[int]:
    """Positions of the next ``depth`` sources after ``i``, stopping before a regions source (a barrier)."""
    out: list[int] = []
    for j in range(i + 1, min(len(sources), i + 1 + depth)):
        if sources[j].level == "regions":
            break
        out.append(j)
    return out


def _warm_country_names() -> None:
    """Build the country-name resolver tables (etl.countries builds them once, under a lock)."""
    from etl.countries import known_iso3

    known_iso3()


def _shares_one_database(engine: Engine) -> bool:
    """False for an in-memory SQLite database, where each thread's connection would be a different one."""
    return not (engine.dialect.name == "sqlite" and (engine.url.database or ":memory:") == ":memory:")


class _ProgressRelay:
    """Progress of the preparing thread, queued and passed on by the caller's thread (``_run_locked``)."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._cancelled = threading.Event()

    def record(self, message: str) -> None:
        """The preparing thread's progress: queued; raises JobCancelled once the run has stopped."""
        from warehouse.jobs import JobCancelled

        if self._cancelled.is_set():
            raise JobCancelled("the ETL run stopped")
        self._queue.put(message)

    def emit(self, message: str) -> None:
        """The caller's thread's own progress, after anything queued before it."""
        self.flush()
        if self._progress:
            self._progress(message)

    def flush(self) -> None:
        while True:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                return
            if self._progress:
                self._progress(message)

    def wait(self, future: Future):
        """The future's result, relaying its progress while it runs (a cancel raised here stops the wait)."""
        while True:
            try:
                result = future.result(timeout=0.1)
            except FutureTimeout:
                self.flush()
                continue
            self.flush()
            return result

    def cancel(self) -> None:
        self._cancelled.set()


def unregistered_folders(raw_dir: Path | None = None) -> list[str]:
    """Folders under data/raw that no registered source reads (new publisher data without a reader)."""
    raw_dir = raw_dir or default_raw_dir()
    known = {f for s in all_sources() for f in s.folders(raw_dir)}
    return (
        sorted(p.name for p in raw_dir.iterdir() if p.is_dir() and p.name not in known)
        if raw_dir.exists()
        else []
    )
