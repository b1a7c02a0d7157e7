"""Analyst uploads: check a new publisher file, dry-run it, and load it only after confirmation.

Checks run before anything is written: a size limit, the file type (name pattern of the source and the
file's magic bytes), decompression limits (gzip and zip bombs), no Excel macros or formulas, no spreadsheet
formula injection in text cells, then the source's own column contract and a dry-run parse and mapping. The
report says how many rows would load and how many would be rejected, and why.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gzip
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, update

from etl.context import MappingContext
from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import sha256_file  # the one file hash of loads and uploads
from etl.sources import get_source
from warehouse import settings
from warehouse.config import data_dir, raw_dir
from warehouse.csvsafe import FORMULA_START  # the one formula-injection rule (exports neutralise it)
from warehouse.faults import fault_point
from warehouse.io import inserted_id
from warehouse.jobs import on_orphan
from warehouse.schema import upload

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = int(settings.get("CRISISRISK_MAX_UPLOAD_MB") * 1024 * 1024)
MAX_EXPANDED_BYTES = int(settings.get("CRISISRISK_MAX_EXPANDED_MB") * 1024 * 1024)
MAX_COMPRESSION_RATIO = 200
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ ()-]{0,199}$")
# ``f`` (formula) in transitional and strict SpreadsheetML, and un-namespaced
FORMULA_TAGS = frozenset(
    {
        "f",
        "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}f",
        "{http://purl.oclc.org/ooxml/spreadsheetml/main}f",
    }
)
NUMBER = re.compile(r"^[+-]?(\d[\d,]*)(\.\d+)?([eE][+-]?\d+)?$")


class UploadRefused(ValueError):
    """The file is refused before any parsing; ``code`` says why (too_large, wrong_type, zip_bomb, ...)."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass
class UploadReport:
    """What a load of this file would do; nothing has been written yet."""

    source: str
    filename: str
    size_bytes: int
    sha256: str
    ok: bool
    error_code: str | None = None
    error: str | None = None
    rows_read: int = 0
    rows_would_load: int = 0
    rows_would_reject: int = 0
    observations: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    # the upload against the file(s) it replaces (``compare_with_current``); {} when it replaces nothing
    comparison: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_name(source, filename: str) -> str:
    name = filename.strip()
    if "/" in name or "\\" in name or not SAFE_NAME.match(name) or ".." in name:
        raise UploadRefused(
            "bad_name", f"file name '{filename}' is not allowed; use letters, digits and . _ - ( )"
        )
    if not any(fnmatch.fnmatch(name, pat) for pat in source.file_patterns):
        raise UploadRefused(
            "wrong_type",
            f"'{name}' does not look like a {source.name} file; expected a name like "
            f"{' or '.join(source.file_patterns)}",
        )
    return name


def _check_bytes(name: str, data: bytes) -> None:
    """Magic bytes, decompression bombs, macros and formulas."""
    lower = name.lower()
    if lower.endswith(".gz"):
        _check_gzip(name, data)
    elif lower.endswith((".xlsx", ".xlsm", ".xls")):
        _check_xlsx(name, data)
    elif lower.endswith((".csv", ".txt")):
        _check_text_chunk(name, data[: 1 << 20])
    elif lower.endswith((".geojson", ".json")) and data.lstrip()[:1] not in (b"{", b"["):
        raise UploadRefused("wrong_type", f"'{name}' is not JSON")


def _too_expanded(expanded: int, compressed: int) -> bool:
    """Over the absolute limit, or over the compression-ratio limit (with 1 MiB of slack)."""
    return expanded > MAX_EXPANDED_BYTES or expanded > MAX_COMPRESSION_RATIO * max(compressed, 1) + (1 << 20)


def _check_gzip(name: str, data: bytes) -> None:
    """Gzip magic, streamed decompression stopped at the bomb limits, text check of the first MiB."""
    if not data.startswith(b"\x1f\x8b"):
        raise UploadRefused("wrong_type", f"'{name}' is not gzip-compressed although its name ends in .gz")
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
                if _too_expanded(total, len(data)):
                    raise UploadRefused(
                        "zip_bomb",
                        f"'{name}' expands to more than "
                        f"{min(MAX_EXPANDED_BYTES, MAX_COMPRESSION_RATIO * len(data)):,} bytes; "
                        "refused",
                    )
                if total <= (1 << 20):
                    _check_text_chunk(name, chunk)
    except (OSError, EOFError) as exc:
        raise UploadRefused("wrong_type", f"'{name}' is not a valid gzip file ({exc})") from None


def _check_xlsx(name: str, data: bytes) -> None:
    """An .xlsx zip container that is no bomb and holds no macros and no formulas."""
    if name.lower().endswith((".xlsm", ".xls")):
        raise UploadRefused(
            "macros", f"'{name}': macro-enabled or legacy Excel files are refused; save as .xlsx"
        )
    if not data.startswith(b"PK\x03\x04"):
        raise UploadRefused("wrong_type", f"'{name}' is not an .xlsx workbook (zip container expected)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            expanded = sum(i.file_size for i in infos)
            if _too_expanded(expanded, len(data)):
                raise UploadRefused(
                    "zip_bomb", f"'{name}' expands to {expanded:,} bytes; refused as a zip bomb"
                )
            _check_no_macros(name, zf, [i.filename.lower() for i in infos])
            for info in infos:
                if _is_sheet_part(info.filename) and _has_formula(zf, info):
                    raise UploadRefused(
                        "formula",
                        f"'{name}' sheet {Path(info.filename).stem} contains formulas; upload values only",
                    )
    except zipfile.BadZipFile as exc:
        raise UploadRefused("wrong_type", f"'{name}' is not a valid .xlsx workbook ({exc})") from None


def _check_no_macros(name: str, zf: zipfile.ZipFile, names: list[str]) -> None:
    """VBA projects, a macro-enabled content type, or Excel 4.0 macro sheets refuse the workbook."""
    if any("vbaproject" in n or n.endswith(".bin") and "vba" in n for n in names):
        raise UploadRefused("macros", f"'{name}' contains VBA macros; refused")
    content_types = (
        zf.read("[Content_Types].xml").decode("utf-8", "replace") if "[content_types].xml" in names else ""
    )
    if "macroEnabled" in content_types:
        raise UploadRefused("macros", f"'{name}' is a macro-enabled workbook; refused")
    if any(n.startswith("xl/macrosheets/") for n in names):
        raise UploadRefused("macros", f"'{name}' contains Excel 4.0 macro sheets; refused")


def _is_sheet_part(part: str) -> bool:
    """Worksheet XML parts, wherever the workbook puts them (xl/worksheets/, dialog sheets, odd casing)."""
    lower = part.lower()
    return lower.endswith(".xml") and lower.startswith(
        ("xl/worksheets/", "xl/dialogsheets/", "xl/chartsheets/")
    )


def _has_formula(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """True if the sheet has any ``f`` element of SpreadsheetML, whatever its attributes or prefix.

    The XML is parsed (streamed), not searched for bytes: ``<f t="shared" ref=..>``, ``<x:f>`` and ``<f/>``
    are all formulas. A part that is not well-formed XML is refused; no reader could trust it.
    """
    try:
        with zf.open(info) as fh:
            for _event, element in ElementTree.iterparse(fh, events=("start",)):
                if element.tag in FORMULA_TAGS:
                    return True
                element.clear()
    except ElementTree.ParseError as exc:
        raise UploadRefused(
            "wrong_type", f"sheet {Path(info.filename).stem} is not well-formed XML ({exc})"
        ) from None
    return False


def _check_text_chunk(name: str, chunk: bytes) -> None:
    if b"\x00" in chunk:
        raise UploadRefused("wrong_type", f"'{name}' contains binary data (NUL bytes); expected a text CSV")


def _formula_cells(frame: pd.DataFrame) -> tuple[int, str, str] | None:
    """First text cell that a spreadsheet would run as a formula (=cmd|..., +..., @...)."""
    for column in frame.columns:
        if str(column).startswith("_"):
            continue
        text = frame[column].astype(str)
        suspicious = (
            text.str.match(FORMULA_START) & ~text.str.strip().str.match(NUMBER) & (text.str.strip() != "-")
        )
        if suspicious.any():
            pos = int(np.argmax(suspicious.to_numpy()))  # the first suspicious row
            line = int(frame[ROW].to_numpy()[pos]) if ROW in frame.columns else pos + 2
            return line, str(column), str(text.iloc[pos])[:40]
    return None


def precheck(source, filename: str, data: bytes) -> str:
    """The instant checks (size, emptiness, file name), done in the request; returns the clean name."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            "too_large", f"file is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,} bytes"
        )
    if not data:
        raise UploadRefused("empty", "file is empty")
    return _check_name(source, filename)


def validate(
    source_name: str,
    filename: str,
    data: bytes,
    ctx: MappingContext,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[UploadReport, Path | None]:
    """Check and dry-run an uploaded file; returns the report and the staged copy (None if refused).

    ``progress(percent, message)`` is called between the steps; it may raise (a cancelled job), and then the
    staged copy is removed like that of a refused file.
    """
    step = progress or (lambda _pct, _msg: None)
    source = get_source(source_name)
    report = UploadReport(
        source_name, Path(filename).name, len(data), hashlib.sha256(data).hexdigest(), ok=False
    )
    staging: Path | None = None
    try:
        name = precheck(source, filename, data)
        report.filename = name
        step(5, f"checking {name}: type, size, macros and formulas")
        _check_bytes(name, data)
        step(10, f"parsing {name} ({len(data):,} bytes)")
        staging = Path(tempfile.mkdtemp(prefix="upload-", dir=_staging_root()))
        path = staging / name
        path.write_bytes(data)
        try:
            parsed = source.parse(path)
        except ContractError as exc:
            raise UploadRefused("contract", str(exc)) from None
        found = _formula_cells(parsed)
        if found:
            row, column, value = found
            raise UploadRefused(
                "formula_injection",
                f"{name}, row {row}, column '{column}': text '{value}' would run "
                "as a spreadsheet formula; refused",
            )
        parsed[FILE] = name
        step(55, f"mapping {len(parsed):,} rows of {name} to regions")
        obs = source.to_observations(parsed, ctx)
        step(90, f"{len(parsed):,} rows checked; writing the report")
    except UploadRefused as exc:
        report.error_code, report.error = exc.code, str(exc)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # a refused file leaves nothing behind
        return report, None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # nor does a broken or cancelled dry run
        raise
    rejected = parsed[parsed[REJECT].notna()]
    report.ok = True
    report.rows_read = len(parsed)
    report.rows_would_reject = len(rejected)
    report.rows_would_load = len(parsed) - len(rejected)
    report.observations = len(obs)
    report.reasons = dict(Counter(rejected[REJECT].astype(str)).most_common())
    report.examples = [
        {"row": int(r), "reason": str(c), "detail": str(d)}
        for r, c, d in zip(
            rejected[ROW].head(20), rejected[REJECT].head(20), rejected[REJECT_DETAIL].head(20), strict=True
        )
    ]
    report.indicators = sorted(obs["indicator"].unique().tolist()) if len(obs) else []
    if len(obs):
        years = pd.to_datetime(obs["period_start"]).dt.year
        report.years = [int(years.min()), int(years.max())]
    replaced = _replaced(source, name)
    report.replaces = [p.name for p in replaced]
    if replaced:
        step(92, f"comparing {name} with the loaded {', '.join(report.replaces)}")
        report.comparison = compare_with_current(source, replaced, report.sha256, parsed, obs, ctx)
    return report, path


KEY = ["region_id", "period_start", "period_type", "indicator"]
EXAMPLES = 8


def _observation_frame(obs: pd.DataFrame) -> pd.DataFrame:
    frame = obs[KEY + ["value"]].copy()
    frame["year"] = pd.to_datetime(frame["period_start"]).dt.year.astype(int)
    return frame.drop_duplicates(KEY, keep="last").set_index(KEY)


def _examples(frame: pd.DataFrame) -> list[dict[str, Any]]:
    head = frame.head(EXAMPLES)
    years, values = head["year"].to_numpy(dtype=int), head["value"].to_numpy(dtype=float)
    return [
        {"region_id": str(k[0]), "indicator": str(k[3]), "year": int(y), "value": float(v)}
        for k, y, v in zip(head.index, years, values, strict=True)
    ]


def _top_changes(top: pd.DataFrame) -> list[dict[str, Any]]:
    columns = {c: top[c].to_numpy(dtype=float) for c in ("value_current", "value", "change")}
    return [
        {
            "region_id": str(k[0]),
            "indicator": str(k[3]),
            "year": int(y),
            "current": float(columns["value_current"][i]),
            "upload": float(columns["value"][i]),
            "change": float(columns["change"][i]),
        }
        for i, (k, y) in enumerate(zip(top.index, top["year"].to_numpy(dtype=int), strict=True))
    ]


def compare_with_current(
    source, current: list[Path], sha256: str, parsed: pd.DataFrame, obs: pd.DataFrame, ctx: MappingContext
) -> dict[str, Any]:
    """The upload against the loaded file(s) it replaces (issue 13 #8): byte-identical (same sha256), or the
    rows, years and values that change, with examples, so the analyst sees what a load would change.

    The current files are parsed and mapped as the upload was; a current file that no longer parses is
    reported as such, not hidden (the comparison is then by rows only)."""
    out: dict[str, Any] = {"against": [p.name for p in current]}
    hashes = {p.name: sha256_file(p) for p in current}
    same = [n for n, h in hashes.items() if h == sha256]
    if same:
        return {**out, "identical": True, "sha256": sha256, "identical_to": same[0]}
    out["identical"] = False
    try:
        frames = []
        for path in current:
            one = source.parse(path)
            one[FILE] = path.name
            frames.append(one)
        old_parsed = pd.concat(frames, ignore_index=True)
        old_obs = source.to_observations(old_parsed, ctx)
    except Exception as exc:  # noqa: BLE001 - the comparison is advice; the dry run itself has passed
        log.warning("upload comparison: the current %s files could not be read: %s", source.name, exc)
        return {**out, "error": f"the current file could not be read for the comparison ({exc})"[:300]}
    rows_old, rows_new = len(old_parsed), len(parsed)
    old, new = _observation_frame(old_obs), _observation_frame(obs)
    added = new.loc[new.index.difference(old.index)]
    removed = old.loc[old.index.difference(new.index)]
    both = new.join(old[["value"]].rename(columns={"value": "value_current"}), how="inner")
    both["change"] = both["value"] - both["value_current"]
    changed = both[~np.isclose(both["value"], both["value_current"], rtol=1e-9, atol=0.0, equal_nan=True)]
    changed = changed.reindex(changed["change"].abs().sort_values(ascending=False).index)
    years_old, years_new = set(old["year"]), set(new["year"])
    return {
        **out,
        "rows_current": rows_old,
        "rows_upload": rows_new,
        "rows_added": max(rows_new - rows_old, 0),
        "rows_removed": max(rows_old - rows_new, 0),
        "observations_current": len(old),
        "observations_upload": len(new),
        "observations_added": len(added),
        "observations_removed": len(removed),
        "values_changed": len(changed),
        "years_added": sorted(int(y) for y in years_new - years_old),
        "years_removed": sorted(int(y) for y in years_old - years_new),
        "added_examples": _examples(added),
        "removed_examples": _examples(removed),
        "top_changes": _top_changes(changed.head(EXAMPLES)),
    }


def _staging_root() -> Path:
    root = data_dir() / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _replaced(source, name: str) -> list[Path]:
    """Current files that the upload supersedes: those matching the same name pattern.

    For a source of releases (GLOTIP) a new file is one more release, so only a file of the same name goes.
    """
    from etl.sources.folders import resolve

    folder = raw_dir() / resolve(raw_dir(), source.folder)
    if source.keeps_releases:
        return sorted(f for sub in source.folders(raw_dir()) for f in [raw_dir() / sub / name] if f.is_file())
    patterns = [p for p in source.file_patterns if fnmatch.fnmatch(name, p)]
    return sorted({f for p in patterns for f in folder.glob(p) if f.is_file()})


def record(engine: Engine, actor: str, report: UploadReport, staged: Path | None) -> int:
    """Record a finished dry run (validated or refused) as a new upload."""
    with engine.begin() as conn:
        return inserted_id(
            conn.execute(
                upload.insert().values(
                    at=dt.datetime.now(dt.UTC),
                    actor=actor,
                    source=report.source,
                    filename=report.filename,
                    size_bytes=report.size_bytes,
                    sha256=report.sha256,
                    status="validated" if report.ok else "refused",
                    report_json=report.to_dict(),
                    staged_path=str(staged) if staged else None,
                )
            )
        )


def record_pending(engine: Engine, actor: str, source: str, filename: str, data: bytes) -> int:
    """Record an upload whose dry run is about to run in the background (status 'validating')."""
    with engine.begin() as conn:
        return inserted_id(
            conn.execute(
                upload.insert().values(
                    at=dt.datetime.now(dt.UTC),
                    actor=actor,
                    source=source[:60],
                    filename=Path(filename).name[:300] or "?",
                    size_bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    status="validating",
                )
            )
        )


def set_status(engine: Engine, upload_id: int, status: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(upload).where(upload.c.upload_id == upload_id).values(status=status, **values))


def link_job(engine: Engine, upload_id: int, job_id: int) -> None:
    """Remember the upload's latest job (its dry run, then its load); the status is the job's business."""
    with engine.begin() as conn:
        conn.execute(update(upload).where(upload.c.upload_id == upload_id).values(job_id=job_id))


def complete(engine: Engine, upload_id: int, report: UploadReport, staged: Path | None) -> None:
    """Store the dry run's report on a pending upload: validated (waiting to be loaded) or refused."""
    set_status(
        engine,
        upload_id,
        "validated" if report.ok else "refused",
        filename=report.filename[:300],
        report_json=report.to_dict(),
        staged_path=str(staged) if staged else None,
    )


def get_upload(engine: Engine, upload_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(upload).where(upload.c.upload_id == upload_id)).mappings().first()
    return dict(row) if row else None


def recent_uploads(engine: Engine, limit: int = 30) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in (
                conn.execute(select(upload).order_by(upload.c.upload_id.desc()).limit(limit)).mappings().all()
            )
        ]


def apply(engine: Engine, upload_id: int, progress=None, who: str | None = None) -> Any:
    """Load a validated upload in place of the source's file(s), as the warehouse's only ETL writer.

    The staged copy is loaded where it is; data/raw changes only after the warehouse commit succeeded, so a
    failed, cancelled or killed load leaves data/raw and the warehouse as they were (issue 9 #1). A process
    killed between the commit and the file move is repaired by :func:`repair_after_crash`.
    """
    from etl.loader import load_source
    from warehouse.jobs import JobCancelled
    from warehouse.writer_lock import etl_writer

    item = get_upload(engine, upload_id)
    if item is None or item["status"] != "validated" or not item["staged_path"]:
        raise UploadRefused(
            "not_validated", f"upload {upload_id} is not a validated upload waiting to be loaded"
        )
    staged = Path(item["staged_path"])
    if not staged.exists() or sha256_file(staged) != item["sha256"]:
        raise UploadRefused("changed", f"upload {upload_id}: the staged file is missing or changed")
    source = get_source(item["source"])
    step = (lambda msg: progress(msg)) if progress else None
    with etl_writer(engine, who or f"upload {upload_id} load", on_wait=step):
        old = _replaced(source, staged.name)
        paths = [p for p in source.paths(raw_dir()) if p not in old] + [staged]
        set_status(engine, upload_id, "loading")
        try:
            result = load_source(engine, source, raw_dir(), force=True, progress=progress, paths=paths)
            if result.status != "loaded":
                raise RuntimeError(result.error or "load failed")
        except JobCancelled:
            set_status(engine, upload_id, "validated")  # nothing was written; it may be loaded later
            raise
        except BaseException:
            set_status(engine, upload_id, "failed")
            raise
        fault_point("uploads.apply.after_commit")
        _swap_into_raw(upload_id, source, staged)
        set_status(engine, upload_id, "loaded")
    return result


def _backup_dir(upload_id: int) -> Path:
    return data_dir() / "uploads" / f"superseded-{upload_id}"


def _swap_into_raw(upload_id: int, source, staged: Path) -> None:
    """After the commit: move the superseded files aside and put the upload in data/raw (idempotent)."""
    from etl.sources.folders import resolve

    folder = raw_dir() / resolve(raw_dir(), source.folder)  # the folder the source reads, old name or new
    backup = _backup_dir(upload_id)
    backup.mkdir(parents=True, exist_ok=True)
    target = folder / staged.name
    for f in _replaced(source, staged.name):
        if f == target and target.exists() and sha256_file(target) == sha256_file(staged):
            continue  # already the uploaded file (a repeated repair)
        shutil.move(str(f), backup / f.name)
    tmp = folder / f".{staged.name}.part"
    shutil.copy2(staged, tmp)
    os.replace(tmp, target)  # atomic: data/raw never holds half a file


def repair_after_crash(engine: Engine, job_row: dict[str, Any]) -> None:
    """A job of a dead server: settle its upload so data/raw and the warehouse agree.

    A dry run's upload becomes 'failed'. A load's upload becomes 'loaded' if the warehouse committed it (the
    file move is then finished) or 'failed' if not (data/raw is untouched: files move only after the commit).
    """
    from etl.loader import current_key
    from warehouse.jobs import ORPHAN_MESSAGE
    from warehouse.schema import source_load

    upload_id = job_row.get("upload_id")
    item = get_upload(engine, upload_id) if upload_id else None
    if upload_id is None or item is None:
        return
    if job_row["kind"] == "validate" and item["status"] == "validating":
        set_status(
            engine,
            upload_id,
            "failed",
            report_json={"ok": False, "error_code": "interrupted", "error": ORPHAN_MESSAGE},
        )
        return
    if job_row["kind"] != "load" or item["status"] != "loading":
        return
    source = get_source(item["source"])
    with engine.connect() as conn:  # did the warehouse commit this very file before the server stopped?
        committed = (
            conn.execute(
                select(source_load.c.load_id).where(
                    source_load.c.current_key == current_key(
                        source.name, f"{source.folder}/{item['filename']}"
                    ),
                    source_load.c.sha256 == item["sha256"],
                )
            ).first()
            is not None
        )
    staged = Path(item["staged_path"]) if item["staged_path"] else None
    if committed and staged is not None and staged.exists():
        _swap_into_raw(upload_id, source, staged)
        set_status(engine, upload_id, "loaded")
        log.warning(
            "upload %s: the warehouse had committed it before the server stopped; data/raw now holds it",
            upload_id,
        )
    else:
        set_status(engine, upload_id, "failed")
        log.warning(
            "upload %s: load interrupted (%s); warehouse and data/raw keep the previous data",
            upload_id,
            ORPHAN_MESSAGE,
        )


on_orphan(repair_after_crash)
