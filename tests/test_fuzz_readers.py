"""Property-based fuzzing of every registered reader on mutated cuts of its real files.

Each example takes one real cut of a source (``tests/fixtures/<source>/``; Natural Earth: a few features of
the real GeoJSON in ``data/raw/natural_earth``) and mutates it: dropped, renamed and shuffled
columns, blank and duplicated lines, nasty cell values (random bytes and text, huge numbers, negative
counts, years and dates out of range, infinities), truncation, mixed encodings and raw byte damage.

The property, for every source:

- ``source.parse(path)`` raises :class:`~etl.contract.ContractError` naming the file, or returns a frame;
- ``source.to_observations(parsed, ctx)`` raises nothing but ``ContractError`` either;
- every row is accounted for (rows read = accepted + rejected with a reason code) and the observations
  pass the loader's own checks (``etl.loader.validate``: values present, unique keys, known indicators),
  with finite values.

Anything else is a reader bug. The quick profile (``QUICK`` examples per reader, derandomised so CI is
stable) runs with the normal suite; the long profile (``LONG`` examples per reader, random) is opt-in::

    .venv/bin/python -m pytest -m fuzz_long tests/test_fuzz_readers.py
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from etl.context import MappingContext
from etl.contract import FILE, REJECT, REJECT_DETAIL, ROW, ContractError
from etl.loader import validate
from etl.sources import all_sources
from tests.conftest import FIXTURES, RAW_DIR

QUICK = 15
LONG = 1000
NE_DIR = RAW_DIR / "natural_earth"
MAX_DATA_ROWS = 40  # cuts are trimmed so that an example takes milliseconds
SOURCES = [s.name for s in all_sources()]


def fixture_files(name: str) -> list[Path]:
    """The real cut(s) a source is fuzzed with."""
    if name == "natural_earth":
        return sorted(NE_DIR.glob("*.geojson"))
    return sorted(
        p
        for p in (FIXTURES / name).iterdir()
        if p.is_file()
        and p.suffix != ".py"
        and "topojson" not in p.name
        and not p.name.startswith("ddf--entities")
    )


def test_every_source_has_a_fixture_cut():
    for name in SOURCES:
        assert fixture_files(name), f"no fixture cut to fuzz for source '{name}'"


# --- loading a cut as a grid of cells ---------------------------------------------------------------------
def _plain_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


@cache
def _csv_grid(path: Path) -> tuple[tuple[str, ...], ...]:
    rows = list(csv.reader(io.StringIO(_plain_bytes(path).decode("utf-8-sig"))))
    return tuple(tuple(r) for r in rows[: MAX_DATA_ROWS + 1])


@cache
def _xlsx_sheets(path: Path) -> tuple[tuple[str, tuple[tuple, ...]], ...]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheets = []
    for ws in wb.worksheets:
        rows = [
            tuple(r) for _, r in zip(range(MAX_DATA_ROWS + 6), ws.iter_rows(values_only=True), strict=False)
        ]
        sheets.append((ws.title, tuple(rows)))
    wb.close()
    return tuple(sheets)


@cache
def _geojson_cut(path: Path) -> str:
    """A few real features (mixed countries) of the Natural Earth file, as text."""
    data = json.loads(path.read_text(encoding="utf-8"))
    feats = data["features"]
    step = max(1, len(feats) // 6)
    data["features"] = feats[::step][:6]
    return json.dumps(data)


# --- mutations --------------------------------------------------------------------------------------------
NASTY = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "-5",
            "-999999",
            "0",
            "1e308",
            "1e999",
            "-1e999",
            "inf",
            "-inf",
            "Infinity",
            "NaN",
            "nan",
            "9" * 30,
            "-" + "9" * 25,
            "1,000,000,000,000,000",
            "0x1F",
            "1_000",
            "12.5.3",
            "..",
            "N/A",
            "NA",
            "-",
            "\u2014",
            "0000",
            "1",
            "1800",
            "1899",
            "2101",
            "99999",
            "-2020",
            "2020.5",
            "1e4",
            "1969-13-45",
            "0000-00-00",
            "9999-12-31",
            "2024-02-30",
            "31/12/2024",
            "NULL",
            "None",
            "true",
            "\u00c4\u00d6\u00dc",
            "\u65e5\u672c",
            "\u200b",
            "=1+2",
            '"',
            "a,b",
            "x\ny",
            "\ufffd",
            "   42   ",
            "1 234",
            "1\u00a0234",
        ]
    ),
    st.integers(min_value=-(10**22), max_value=10**22).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)
IDX = st.integers(min_value=0, max_value=10_000)
OPS = st.one_of(
    st.tuples(st.just("drop_col"), IDX),
    st.tuples(
        st.just("rename_col"),
        IDX,
        IDX,
        st.one_of(st.text(max_size=10), st.sampled_from(["", "_row", "_reject"])),
    ),
    st.tuples(st.just("shuffle_cols"), st.integers(0, 2**31)),
    st.tuples(st.just("set_cell"), IDX, IDX, NASTY),
    st.tuples(st.just("set_column"), IDX, NASTY),
    st.tuples(st.just("negate_column"), IDX),
    st.tuples(st.just("huge_column"), IDX),
    st.tuples(st.just("blank_line"), IDX),
    st.tuples(st.just("dup_row"), IDX),
    st.tuples(st.just("keep_rows"), st.integers(0, MAX_DATA_ROWS)),
    st.tuples(st.just("shuffle_rows"), st.integers(0, 2**31)),
    st.tuples(st.just("ragged_row"), IDX, st.integers(-3, 3)),
)
BYTE_OPS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("crlf")),
    st.tuples(st.just("bom")),
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252", "latin-1", "utf-16", "mixed"])


@dataclass(frozen=True)
class Mutation:
    file: int
    ops: tuple
    encoding: str
    byte_ops: tuple
    damage_gzip: bool


MUTATIONS = st.builds(
    Mutation,
    file=st.integers(0, 100),
    ops=st.lists(OPS, max_size=5).map(tuple),
    encoding=ENCODINGS,
    byte_ops=st.lists(BYTE_OPS, max_size=2).map(tuple),
    damage_gzip=st.sampled_from([False, False, False, False, True]),
)


# Each grid op takes the rows (header first) and its op tuple and returns the new rows; an op the grid is too
# small for leaves it as it is.
def _width(rows: list[list]) -> int:
    return max((len(r) for r in rows), default=0)


def _grid_drop_col(rows: list[list], op: tuple) -> list[list]:
    if not _width(rows):
        return rows
    i = op[1] % _width(rows)
    return [r[:i] + r[i + 1 :] for r in rows]


def _grid_rename_col(rows: list[list], op: tuple) -> list[list]:
    if rows and _width(rows):
        r = rows[op[1] % min(len(rows), 3)]  # the header is among the first rows
        if r:
            r[op[2] % len(r)] = op[3]
    return rows


def _grid_shuffle_cols(rows: list[list], op: tuple) -> list[list]:
    if not _width(rows):
        return rows
    perm = list(range(_width(rows)))
    random.Random(op[1]).shuffle(perm)
    return [[r[j] if j < len(r) else "" for j in perm] for r in rows]


def _grid_set_cell(rows: list[list], op: tuple) -> list[list]:
    if len(rows) > 1:
        r = rows[1 + op[1] % (len(rows) - 1)]
        if r:
            r[op[2] % len(r)] = op[3]
    return rows


COLUMN_REWRITES: dict[str, Callable[[object, tuple], object]] = {
    "set_column": lambda value, op: op[2],
    "negate_column": lambda value, op: "-" + str(value) if value not in (None, "") else "-1",
    "huge_column": lambda value, op: (
        str(value) + "000000000000000000000" if value not in (None, "") else "1" + "0" * 30
    ),
}


def _grid_rewrite_column(rows: list[list], op: tuple) -> list[list]:
    if len(rows) > 1 and _width(rows):
        j = op[1] % _width(rows)
        for r in rows[1:]:
            if j < len(r):
                r[j] = COLUMN_REWRITES[op[0]](r[j], op)
    return rows


def _grid_blank_line(rows: list[list], op: tuple) -> list[list]:
    rows.insert(1 + op[1] % max(len(rows), 1), [])
    return rows


def _grid_dup_row(rows: list[list], op: tuple) -> list[list]:
    if len(rows) > 1:
        rows.append(list(rows[1 + op[1] % (len(rows) - 1)]))
    return rows


def _grid_shuffle_rows(rows: list[list], op: tuple) -> list[list]:
    if len(rows) <= 2:
        return rows
    body = rows[1:]
    random.Random(op[1]).shuffle(body)
    return rows[:1] + body


def _grid_ragged_row(rows: list[list], op: tuple) -> list[list]:
    if len(rows) > 1:
        r = rows[1 + op[1] % (len(rows) - 1)]
        if op[2] > 0:
            r.extend(["extra"] * op[2])
        elif op[2] < 0:
            del r[op[2] :]
    return rows


GRID_OPS: dict[str, Callable[[list[list], tuple], list[list]]] = {
    "drop_col": _grid_drop_col,
    "rename_col": _grid_rename_col,
    "shuffle_cols": _grid_shuffle_cols,
    "set_cell": _grid_set_cell,
    "set_column": _grid_rewrite_column,
    "negate_column": _grid_rewrite_column,
    "huge_column": _grid_rewrite_column,
    "blank_line": _grid_blank_line,
    "dup_row": _grid_dup_row,
    "keep_rows": lambda rows, op: rows[: 1 + op[1]],
    "shuffle_rows": _grid_shuffle_rows,
    "ragged_row": _grid_ragged_row,
}


def mutate_grid(rows: list[list], ops: tuple) -> list[list]:
    """Apply the ops in order to a copy of the rows (header first)."""
    rows = [list(r) for r in rows]
    for op in ops:
        rows = GRID_OPS[op[0]](rows, op)
    return rows


def encode(text: str, encoding: str) -> bytes:
    if encoding == "mixed":  # every other line in cp1252, the rest UTF-8 (a file pasted together)
        return b"".join(
            line.encode("cp1252" if i % 2 else "utf-8", errors="replace")
            for i, line in enumerate(text.splitlines(keepends=True))
        )
    return text.encode(encoding, errors="replace")


def damage_bytes(data: bytes, byte_ops: tuple) -> bytes:
    for op in byte_ops:
        if op[0] == "truncate":
            data = data[: int(len(data) * op[1])]
        elif op[0] == "insert":
            at = int(len(data) * op[1])
            data = data[:at] + op[2] + data[at:]
        elif op[0] == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op[0] == "bom":
            data = b"\xef\xbb\xbf" + data
    return data


def write_mutated(src: Path, m: Mutation, folder: Path) -> Path:
    """Write the mutated cut under its real file name (readers read editions and levels from names)."""
    name = src.name
    target = folder / name
    if name.endswith(".xlsx"):
        _write_xlsx(src, m, target)
        if m.byte_ops:
            target.write_bytes(damage_bytes(target.read_bytes(), m.byte_ops))
        return target
    if name.endswith(".geojson"):
        text = _mutate_geojson(_geojson_cut(src), m.ops)
    else:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(mutate_grid(list(_csv_grid(src)), m.ops))
        text = out.getvalue()
    data = damage_bytes(encode(text, m.encoding), m.byte_ops)
    if name.endswith(".gz"):
        data = gzip.compress(data)
        if m.damage_gzip:
            data = data[: len(data) // 2]
    target.write_bytes(data)
    return target


def _write_xlsx(src: Path, m: Mutation, target: Path) -> None:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in _xlsx_sheets(src):
        ws = wb.create_sheet(title)
        for row in mutate_grid([["" if v is None else v for v in r] for r in rows], m.ops):
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    wb.save(target)


# Each GeoJSON op takes the features, the sorted property keys and its op tuple; it changes the features.
def _geo_drop_col(feats: list[dict], keys: list[str], op: tuple) -> None:
    if keys:
        key = keys[op[1] % len(keys)]
        for f in feats:
            f["properties"].pop(key, None)


def _geo_rename_col(feats: list[dict], keys: list[str], op: tuple) -> None:
    if keys:
        old = keys[op[1] % len(keys)]
        for f in feats:
            if old in f["properties"]:
                f["properties"][op[3]] = f["properties"].pop(old)


def _geo_set(feats: list[dict], keys: list[str], op: tuple) -> None:
    if keys and feats:
        key = keys[op[1] % len(keys)]
        targets = feats if op[0] == "set_column" else [feats[op[2] % len(feats)]]
        for f in targets:
            f["properties"][key] = op[-1]


def _geo_geometry(geometry: dict | None) -> Callable[[list[dict], list[str], tuple], None]:
    """An op that replaces one feature's geometry (None, an absurd point, a degenerate polygon)."""

    def replace(feats: list[dict], keys: list[str], op: tuple) -> None:
        if feats:
            feats[op[1] % len(feats)]["geometry"] = json.loads(json.dumps(geometry))

    return replace


def _geo_dup_row(feats: list[dict], keys: list[str], op: tuple) -> None:
    if feats:
        feats.append(json.loads(json.dumps(feats[op[1] % len(feats)])))


def _geo_keep_rows(feats: list[dict], keys: list[str], op: tuple) -> None:
    del feats[op[1] :]


def _geo_shuffle_rows(feats: list[dict], keys: list[str], op: tuple) -> None:
    random.Random(op[1]).shuffle(feats)


GEOJSON_OPS: dict[str, Callable[[list[dict], list[str], tuple], None]] = {
    "drop_col": _geo_drop_col,
    "rename_col": _geo_rename_col,
    "set_cell": _geo_set,
    "set_column": _geo_set,
    "negate_column": _geo_geometry(None),
    "huge_column": _geo_geometry({"type": "Point", "coordinates": [1e308, -1e308]}),
    "ragged_row": _geo_geometry({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),
    "dup_row": _geo_dup_row,
    "keep_rows": _geo_keep_rows,
    "shuffle_rows": _geo_shuffle_rows,
}


def _mutate_geojson(text: str, ops: tuple) -> str:
    """The grid ops read as GeoJSON ops (columns are properties, rows features); the others do nothing."""
    data = json.loads(text)
    feats = data["features"]
    for op in ops:
        change = GEOJSON_OPS.get(op[0])
        if change:
            change(feats, sorted({k for f in feats for k in f.get("properties") or {}}), op)
    return json.dumps(data, allow_nan=True)


# --- the property -----------------------------------------------------------------------------------------
def check_reader(name: str, m: Mutation, ctx: MappingContext) -> None:
    source = next(s for s in all_sources() if s.name == name)
    files = fixture_files(name)
    src = files[m.file % len(files)]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_mutated(src, m, Path(tmp))
        try:
            parsed = source.parse(path)
        except ContractError as exc:
            assert path.name in str(exc), f"ContractError does not name the file: {exc}"
            return
        assert isinstance(parsed, pd.DataFrame)
        assert ROW in parsed.columns and REJECT in parsed.columns, "parse must return _row and _reject"
        parsed[FILE] = path.name
        read = len(parsed)
        try:
            obs = source.to_observations(parsed, ctx)
        except ContractError:
            return
    assert len(parsed) == read, "to_observations changed the number of rows read"
    rejected = parsed[REJECT].notna()
    codes = parsed.loc[rejected, REJECT]
    assert codes.map(lambda c: isinstance(c, str) and c != "").all(), "a rejected row has no reason code"
    assert int((~rejected).sum()) + int(rejected.sum()) == read
    assert parsed[ROW].notna().all(), "a row has no line number"
    checked = validate(source, parsed, obs)  # values present, unique keys, known indicators
    assert parsed.loc[rejected, REJECT_DETAIL].notna().all()
    if len(checked):
        assert np.isfinite(checked["value"].astype(float)).all(), "an observation value is not finite"
        assert checked["region_id"].notna().all() and checked["period_start"].notna().all()
        assert not checked.isna().any().any(), "an observation has a missing cell"
        assert set(checked[FILE]) <= {path.name}
    if not (~rejected).any():
        assert len(checked) == 0, "observations from a file whose rows were all rejected"


@pytest.fixture(scope="module")
def fuzz_ctx(regions_engine) -> MappingContext:
    """One mapping context for the module (its lookups are cached); the real regions, crosswalk and
    lookups."""
    return MappingContext(raw_dir=RAW_DIR, engine=regions_engine)


def run_profile(name: str, ctx: MappingContext, examples: int, derandomize: bool) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(MUTATIONS)
    def fuzz(m: Mutation) -> None:
        note(f"source={name!r} mutation={m!r}")
        check_reader(name, m, ctx)

    fuzz()


@pytest.mark.parametrize("name", SOURCES)
def test_reader_survives_mutated_cuts(name, fuzz_ctx):
    run_profile(name, fuzz_ctx, QUICK, derandomize=True)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("name", SOURCES)
def test_reader_survives_mutated_cuts_long(name, fuzz_ctx):
    run_profile(name, fuzz_ctx, LONG, derandomize=False)


def test_unmutated_cuts_pass(fuzz_ctx):
    """Sanity: the property holds on every untouched cut (so failures come from the mutations)."""
    for name in SOURCES:
        for i in range(len(fixture_files(name))):
            check_reader(name, Mutation(i, (), "utf-8", (), False), fuzz_ctx)


# Bugs the fuzzer found, kept as regression examples (each raised something other than ContractError).
REGRESSIONS = [
    # a header cell named '_row' collided with the line-number column (read_text_table): ValueError
    ("wgi", Mutation(0, (("rename_col", 0, 0, "_row"),), "utf-8", (), False)),
    # ... and in the INFORM worksheet reader
    (
        "inform_risk",
        Mutation(
            100,
            (("shuffle_cols", 1), ("set_cell", 482, 512, ""), ("rename_col", 508, 247, "_row")),
            "mixed",
            (),
            False,
        ),
    ),
    # a year of 1e21 (rejected) could not be cast to Int64 in parse_year: TypeError
    (
        "democracy",
        Mutation(
            80,
            (("huge_column", 2021), ("shuffle_rows", 740), ("dup_row", 9999)),
            "latin-1",
            (("crlf",),),
            False,
        ),
    ),
    # every row rejected: an empty groupby-agg on Arrow strings in the DTM API reader: ArrowInvalid
    (
        "iom_dtm_api",
        Mutation(
            91,
            (("negate_column", 7691), ("negate_column", 428), ("set_column", 4282, "inf")),
            "cp1252",
            (("bom",), ("truncate", 0.5624500163899239)),
            False,
        ),
    ),
]


@pytest.mark.parametrize(("name", "mutation"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_fuzzer_regressions(name, mutation, fuzz_ctx):
    check_reader(name, mutation, fuzz_ctx)
