"""A derived table kept in the data dir's cache folder, reused while its inputs are unchanged.

Why: some mapping steps compute the same table on every load from inputs that rarely change (GDL's polygons
overlaid on the Natural Earth admin-1 units: 1.4 s of a 2.7 s load, recomputed whenever a GDL data file is
new or a run is forced). The table is stored as Parquet (typed columns, no pickle) with a key in the file's
metadata: the sha256 of everything the table depends on. A file whose key differs, or that cannot be read
as the expected columns, is ignored (logged) and the table is computed again and saved over it. The save
writes a temporary file and renames it, so a reader never sees half a file (``replace_atomically``, also
used by the spatial grid). A temporary file left by a killed writer (its process gone) is removed by the
next save of the same file, so kills do not pile up partial caches in the data dir.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.jobs import pid_alive

log = logging.getLogger(__name__)
STALE_AFTER_S = 60  # a dead writer's temporary file is removed once it is this old (clock skew, shared dirs)
KEY_FIELD = b"crisisrisk.cache_key"
EXTRA_FIELD = b"crisisrisk.extra"


def cache_key(parts: Iterable[str | bytes]) -> str:
    """sha256 over the parts, each length-prefixed (so that ("ab", "c") and ("a", "bc") differ)."""
    digest = hashlib.sha256()
    for part in parts:
        blob = part.encode() if isinstance(part, str) else bytes(part)
        digest.update(len(blob).to_bytes(8, "little"))
        digest.update(blob)
    return digest.hexdigest()


def load_frame(path: Path, key: str, columns: dict[str, str]) -> tuple[pd.DataFrame, dict] | None:
    """The cached table and its extra metadata when ``path`` holds one for ``key`` with these columns.

    ``columns`` maps each expected column to its pandas dtype kind ("O" text, "f" float); anything else
    (no file, another key, other columns, an unreadable file) gives None.
    """
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        if meta.get(KEY_FIELD, b"").decode() != key:
            log.info("cache %s is for other inputs: computing again", path)
            return None
        frame = table.to_pandas()
        extra = json.loads(meta.get(EXTRA_FIELD, b"{}"))
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("cache %s unreadable (%s): computing again", path, exc)
        return None
    if list(frame.columns) != list(columns) or any(_kind(frame[c]) != kind for c, kind in columns.items()):
        log.warning("cache %s has other columns %s: computing again", path, dict(frame.dtypes))
        return None
    return frame, extra


def save_frame(path: Path, key: str, frame: pd.DataFrame, extra: dict | None = None) -> None:
    """Write the table with its key (a failure to write is logged: the cache is only an optimisation)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        plain = frame.copy(deep=False)
        plain.attrs = {}  # pandas' attrs go as ``extra`` (Arrow would try to serialise them, and warn)
        table = pa.Table.from_pandas(plain, preserve_index=False)
        table = table.replace_schema_metadata(
            {KEY_FIELD: key.encode(), EXTRA_FIELD: json.dumps(extra or {}).encode()}
        )
        replace_atomically(path, lambda tmp: pq.write_table(table, tmp))
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("cache %s not written: %s", path, exc)


def replace_atomically(path: Path, write: Callable[[str], object]) -> None:
    """``write(tmp)`` a temporary file beside ``path``, then rename it over ``path`` (readable by all: the
    data dir is shared like the warehouse). The temporary file is removed on any failure; those of killed
    writers are removed first (``_remove_stale``). Errors propagate: the caller decides what a failed
    write means."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale(path: Path) -> None:
    """Remove the temporary files of ``path`` whose writer process no longer exists (a SIGKILL between
    the create and the rename leaves one behind; the grid's is 25 MB)."""
    prefix = _temp_prefix(path)
    for leftover in path.parent.glob(f"{prefix}*.tmp"):
        pid = leftover.name[len(prefix) :].split(".", 1)[0]
        with suppress(OSError):  # gone already, or not ours to remove
            old = time.time() - leftover.stat().st_mtime > STALE_AFTER_S
            if pid.isdigit() and old and not pid_alive(int(pid)):
                leftover.unlink()
                log.info("removed %s, left by a writer that no longer runs", leftover)


def _kind(column: pd.Series) -> str:
    if pd.api.types.is_float_dtype(column):
        return "f"
    if pd.api.types.is_string_dtype(column) or column.dtype == object:
        return "O"
    return column.dtype.kind
