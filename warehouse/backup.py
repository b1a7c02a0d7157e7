"""Backups of the warehouse and the model registry: one portable archive, verified on restore.

The archive is a ``.tar.gz`` holding

- ``manifest.json``: format, created_at, software version, schema (Alembic) revision, the source database
  dialect, and for every member its sha256; for every table its row count and a digest of its contents;
- ``tables/NN_<table>.parquet``: every warehouse table, in foreign-key dependency order, with portable
  column types (JSON as text, timestamps in UTC), so an archive made on SQLite restores on PostgreSQL and
  the other way round;
- ``registry/...``: the model registry folder (artefacts are copied as bytes; nothing is unpickled).

``restore`` checks the archive before it touches anything: every member listed with a matching sha256, no
unlisted member, no link or path escaping the archive, and the same schema revision as this software's
migrations. It then replaces the contents of every table in one transaction and checks each table's
row count and content digest before committing, then swaps the registry folder in.

The manifest itself is not signed: it detects damage and edits of members, not a forger who rewrites the
manifest too. Keep archives where only operators can write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, Boolean, Date, DateTime, Engine, Float, Integer, Table, delete, select, text

from warehouse import __version__
from warehouse.db import migrate
from warehouse.io import bulk_insert_frame
from warehouse.schema import metadata

log = logging.getLogger(__name__)
FORMAT = "crisisrisk-backup/1"
MANIFEST = "manifest.json"
CHUNK = 20_000
Progress = Callable[[str], None]


class BackupError(RuntimeError):
    """An archive cannot be written or restored; the message says why. Nothing was changed."""


# --- portable column types --------------------------------------------------------------------------------
def _arrow_type(column) -> pa.DataType:
    t = column.type
    if isinstance(t, JSON):
        return pa.string()
    if isinstance(t, Boolean):
        return pa.bool_()
    if isinstance(t, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(t, Date):
        return pa.date32()
    if isinstance(t, Integer):
        return pa.int64()
    if isinstance(t, Float):
        return pa.float64()
    return pa.string()


def _to_portable(column, value: Any) -> Any:
    if value is None:
        return None
    t = column.type
    if isinstance(t, JSON):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(t, DateTime):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(t, Date) and isinstance(value, dt.datetime):
        return value.date()
    if isinstance(t, Boolean):
        return bool(value)
    return value


def _from_portable(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, JSON):
        return json.loads(value)
    return value


def _order_by(table: Table) -> list:
    """Rows in a stable order; rows of a self-referencing table (regions) after the rows they point to."""
    order = []
    for fk in table.foreign_keys:
        if fk.column.table is table:
            order.append(fk.parent.is_not(None))
    pk = list(table.primary_key.columns)
    return order + (pk or list(table.c))


def _read_table(conn, table: Table) -> dict[str, list]:
    cols = list(table.c)
    data: dict[str, list] = {c.name: [] for c in cols}
    result = conn.execute(select(*cols).order_by(*_order_by(table))).yield_per(CHUNK)
    for row in result:
        for c, v in zip(cols, row, strict=True):
            data[c.name].append(_to_portable(c, v))
    return data


def _digest(table: Table, data: dict[str, list]) -> str:
    """sha256 of a table's contents in portable form (identical on SQLite and PostgreSQL)."""
    h = hashlib.sha256()
    names = [c.name for c in table.c]
    h.update(json.dumps(names).encode())
    n = len(data[names[0]]) if names else 0
    for i in range(n):
        h.update(json.dumps([_canon(data[k][i]) for k in names], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def _canon(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def content_digest(engine: Engine, table_name: str) -> tuple[int, str]:
    """(row count, content digest) of one table; what the manifest records and restore checks."""
    table = metadata.tables[table_name]
    with engine.connect() as conn:
        data = _read_table(conn, table)
    return len(next(iter(data.values()), [])), _digest(table, data)


def schema_revision(conn) -> str:
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    if row is None:
        raise BackupError("the warehouse has no schema revision (run migrations first)")
    return str(row[0])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


# --- backup -----------------------------------------------------------------------------------------------
def backup(
    engine: Engine, out_path: Path | str, registry_dir: Path | str | None, progress: Progress | None = None
) -> dict:
    """Write every warehouse table and the model registry to ``out_path`` (.tar.gz); returns the manifest.

    All tables are read in one transaction (a consistent snapshot on PostgreSQL and SQLite WAL).
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    members: dict[str, bytes] = {}
    tables = []
    with engine.connect() as conn, conn.begin():
        revision = schema_revision(conn)
        for i, table in enumerate(metadata.sorted_tables):
            if progress:
                progress(f"reading {table.name}")
            columns = _read_table(conn, table)
            schema = pa.schema([pa.field(c.name, _arrow_type(c)) for c in table.c])
            arrow = pa.Table.from_pydict(columns, schema=schema)
            buf = io.BytesIO()
            pq.write_table(arrow, buf, compression="zstd")
            member = f"tables/{i:02d}_{table.name}.parquet"
            members[member] = buf.getvalue()
            tables.append(
                {
                    "name": table.name,
                    "member": member,
                    "rows": arrow.num_rows,
                    "content_sha256": _digest(table, columns),
                }
            )
    registry = []
    if registry_dir is not None and Path(registry_dir).is_dir():
        root = Path(registry_dir)
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(".") or "/." in rel:  # staging folders of an interrupted write
                continue
            members[f"registry/{rel}"] = path.read_bytes()
            registry.append(f"registry/{rel}")
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "software_version": __version__,
        "schema_revision": revision,
        "source_dialect": engine.dialect.name,
        "tables": tables,
        "registry": registry,
        "members": {name: {"sha256": _sha256(data), "size": len(data)} for name, data in members.items()},
    }
    tmp = out_path.with_name(out_path.name + ".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode(), now.timestamp())
        for name, data in members.items():
            _add(tar, name, data, now.timestamp())
    tmp.replace(out_path)
    return manifest


# --- restore ----------------------------------------------------------------------------------------------
def read_archive(archive: Path | str) -> tuple[dict, dict[str, bytes]]:
    """Open and verify an archive: returns (manifest, members). Raises :class:`BackupError` if tampered."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"{archive}: no such backup file")
    members = _read_members(archive)
    if MANIFEST not in members:
        raise BackupError(f"{archive.name}: no {MANIFEST}; not a crisisrisk backup")
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except ValueError as exc:
        raise BackupError(f"{archive.name}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"{archive.name}: unknown backup format {found!r}; expected {FORMAT!r}")
    _check_members(archive.name, manifest.get("members") or {}, members)
    return manifest, members


def _read_members(archive: Path) -> dict[str, bytes]:
    """Every member's bytes; a link, an absolute or '..' path, or a repeated name refuses the archive."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar.getmembers():
                name = info.name
                pure = PurePosixPath(name)
                if not info.isfile() or pure.is_absolute() or ".." in pure.parts:
                    raise BackupError(
                        f"{archive.name}: refusing member '{name}' (not a plain file inside "
                        "the archive); the archive was tampered with or is not a crisisrisk "
                        "backup"
                    )
                if name in members:
                    raise BackupError(
                        f"{archive.name}: member '{name}' appears twice; the archive was tampered with"
                    )
                fh = tar.extractfile(info)
                members[name] = fh.read() if fh else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive.name}: not a readable .tar.gz backup ({exc})") from None
    return members


def _check_members(archive_name: str, listed: dict, members: dict[str, bytes]) -> None:
    """The members are exactly the manifest's, each with the manifest's sha256."""
    unlisted = sorted(set(members) - set(listed))
    missing = sorted(set(listed) - set(members))
    if unlisted:
        raise BackupError(
            f"{archive_name}: member '{unlisted[0]}' is not in the manifest; "
            "the archive was tampered with, refusing to restore"
        )
    if missing:
        raise BackupError(
            f"{archive_name}: member '{missing[0]}' listed in the manifest is missing; "
            "the archive is incomplete, refusing to restore"
        )
    for name, meta in listed.items():
        if _sha256(members[name]) != meta.get("sha256"):
            raise BackupError(
                f"{archive_name}: checksum mismatch for '{name}' (sha256 differs from the "
                "manifest); the archive was tampered with or damaged, refusing to restore"
            )


def restore(
    engine: Engine,
    archive: Path | str,
    registry_dir: Path | str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Replace the warehouse contents (and the registry folder) with an archive's; returns its manifest.

    Everything is verified first; the tables are replaced in one transaction, so a failure leaves the
    warehouse as it was.
    """
    manifest, members = read_archive(archive)
    name = Path(archive).name
    migrate(engine)
    with engine.connect() as conn:
        current = schema_revision(conn)
    if manifest.get("schema_revision") != current:
        raise BackupError(
            f"{name}: schema revision {manifest.get('schema_revision')!r} differs from this "
            f"warehouse's {current!r}; restore with the crisisrisk version that made it "
            f"({manifest.get('software_version')}) or migrate the archive first"
        )
    by_name = {t["name"]: t for t in manifest.get("tables", [])}
    frames = _archived_tables(name, by_name, members)
    staged = _stage_registry(members, manifest, registry_dir)
    try:
        with engine.begin() as conn:
            _replace_tables(conn, frames, progress)
            _verify_restored(conn, name, by_name)
    except BaseException:
        if staged:
            shutil.rmtree(staged, ignore_errors=True)
        raise
    if staged and registry_dir is not None:
        _swap_registry(staged, Path(registry_dir))
    return manifest


def _archived_tables(name: str, by_name: dict[str, dict], members: dict[str, bytes]) -> dict[str, pa.Table]:
    """Every table of this schema read from the archive, with the schema's columns and the manifest's rows."""
    unknown = sorted(set(by_name) - set(metadata.tables))
    if unknown:
        raise BackupError(f"{name}: table '{unknown[0]}' is not part of this warehouse schema")
    frames = {}
    for table in metadata.sorted_tables:
        entry = by_name.get(table.name)
        if entry is None:
            raise BackupError(f"{name}: table '{table.name}' is missing from the archive")
        arrow = pq.read_table(io.BytesIO(members[entry["member"]]))
        expected = [c.name for c in table.c]
        if arrow.column_names != expected:
            raise BackupError(
                f"{name}: table '{table.name}' has columns {arrow.column_names}, expected {expected}"
            )
        if arrow.num_rows != entry["rows"]:
            raise BackupError(
                f"{name}: table '{table.name}' has {arrow.num_rows} rows, manifest says {entry['rows']}"
            )
        frames[table.name] = arrow
    return frames


def _replace_tables(conn, frames: dict[str, pa.Table], progress: Progress | None) -> None:
    """Inside the restore's transaction: empty every table (children first), insert the archive's rows."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
    for table in reversed(metadata.sorted_tables):
        conn.execute(delete(table))
    for table in metadata.sorted_tables:
        arrow = frames[table.name]
        if progress:
            progress(f"restoring {table.name} ({arrow.num_rows:,} rows)")
        _insert(conn, table, arrow)
    if conn.dialect.name == "postgresql":
        _reset_sequences(conn)


def _verify_restored(conn, name: str, by_name: dict[str, dict]) -> None:
    """Each restored table's rows and content digest equal the manifest's, or the transaction rolls back."""
    for table in metadata.sorted_tables:
        data = _read_table(conn, table)
        got = (len(data[table.c[0].name]), _digest(table, data))
        want = (by_name[table.name]["rows"], by_name[table.name]["content_sha256"])
        if got != want:
            raise BackupError(
                f"{name}: table '{table.name}' does not match the manifest after restore "
                f"({got[0]} rows, digest {got[1][:12]}; expected {want[0]}, {want[1][:12]}); "
                "rolled back"
            )


def _insert(conn, table: Table, arrow: pa.Table) -> None:
    if arrow.num_rows == 0:
        return
    cols = list(table.c)
    plain = not any(isinstance(c.type, JSON | DateTime) for c in cols)
    for batch in arrow.to_batches(max_chunksize=CHUNK):
        if plain:  # the loader's fast bound executemany (no per-row dicts)
            bulk_insert_frame(conn, table, batch.to_pandas(date_as_object=True, integer_object_nulls=True))
        else:
            data = batch.to_pydict()
            rows = [{c.name: _from_portable(c, data[c.name][i]) for c in cols} for i in range(batch.num_rows)]
            conn.execute(table.insert(), rows)


def _reset_sequences(conn) -> None:
    """After explicit ids were inserted, move PostgreSQL's serial sequences past them."""
    quote = conn.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer):
            continue
        seq = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        ).scalar()
        if seq:  # identifiers come from the schema definition and are quoted; the sequence name is bound
            sql = (
                f"SELECT setval(CAST(:s AS regclass), COALESCE((SELECT MAX({quote.quote(pk[0].name)}) "  # noqa: S608
                f"FROM {quote.format_table(table)}), 0) + 1, false)"
            )
            conn.execute(text(sql), {"s": seq})


def _stage_registry(
    members: dict[str, bytes], manifest: dict, registry_dir: Path | str | None
) -> Path | None:
    if registry_dir is None:
        return None
    target = Path(registry_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    for member in manifest.get("registry", []):
        rel = PurePosixPath(member).relative_to("registry")
        path = staged.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(members[member])
    return staged


def _swap_registry(staged: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.replaced-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}")
        target.rename(old)
    staged.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


__all__ = ["BackupError", "backup", "content_digest", "read_archive", "restore", "schema_revision"]
