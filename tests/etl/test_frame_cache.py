"""etl.frame_cache: the atomic replace under the data dir's cache (Parquet tables, the spatial grid)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from etl import frame_cache
from etl.frame_cache import load_frame, replace_atomically, save_frame

COLUMNS = {"region_id": "O", "weight": "f"}


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _leftover(path, pid: int, age_s: float):
    tmp = path.parent / f".{path.name}.{pid}.abc123.tmp"
    tmp.write_bytes(b"half a file")
    old = time.time() - age_s
    os.utime(tmp, (old, old))
    return tmp


def test_a_saved_table_is_readable_by_others_and_read_back(tmp_path):
    path = tmp_path / "cache" / "t.parquet"
    frame = pd.DataFrame({"region_id": ["AFG.1_1", "AFG.2_1"], "weight": [0.25, 0.75]})
    save_frame(path, "key-1", frame, {"n": 2})
    assert path.stat().st_mode & 0o777 == 0o644  # mkstemp's 0600 would hide it from the serving user
    got, extra = load_frame(path, "key-1", COLUMNS)
    pd.testing.assert_frame_equal(got, frame)
    assert extra == {"n": 2}
    assert load_frame(path, "key-2", COLUMNS) is None
    assert sorted(p.name for p in path.parent.iterdir()) == ["t.parquet"]  # no temporary file left


def test_a_failed_write_leaves_neither_a_temporary_file_nor_a_changed_target(tmp_path):
    path = tmp_path / "grid.npz"
    path.write_bytes(b"the previous grid")

    def fails(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(path, fails)
    assert path.read_bytes() == b"the previous grid"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.npz"]


def test_a_killed_writers_temporary_file_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "gdl_overlay.parquet"
    dead = _leftover(path, _dead_pid(), age_s=2 * frame_cache.STALE_AFTER_S)
    fresh_dead = _leftover(path, _dead_pid(), age_s=1)  # too new: could be a slow clock on a shared dir
    running = _leftover(path, os.getppid(), age_s=2 * frame_cache.STALE_AFTER_S)  # a live process's
    other = tmp_path / ".other.parquet.1.x.tmp"  # another cache file's: not this save's business
    other.write_bytes(b"")
    replace_atomically(path, lambda tmp: open(tmp, "wb").close())
    assert path.exists()
    assert not dead.exists()
    assert fresh_dead.exists() and running.exists() and other.exists()
