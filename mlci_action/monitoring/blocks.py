"""Inference log files as blocks of checked records, read column-wise with pyarrow.

A JSONL file is read a few megabytes at a time (cut at a line end) by pyarrow's JSON reader,
with the record's fields typed from the reference profile; a Parquet file a batch of rows at a
time. A Parquet file is read only in the columns the monitor needs (:class:`Wanted`: the
profile's features, the prediction, the probabilities, the request id and row only to join
labels), categorical text as dictionaries. A block whose every record is well formed stays in
Arrow columns (the fast path). A block
the fast path refuses (a line that is not JSON or not a record, a time without an offset, a
value of another type than the column's) is read again one line at a time, and each bad line is
named by file and line (Parquet: row) and skipped.

A Parquet log's time is a timestamp column (older logs: the RFC 3339 string, still read): its
row groups' min/max statistics let a window skip every row group wholly before its start.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from mlci_action.errors import InputError
from mlci_action.monitoring.window import parse_time

CHUNK = 8 << 20
"""Bytes of a JSONL file parsed at once."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 65_536
"""Rows of a Parquet file read at once."""
REQUIRED = ("id", "time", "features", "prediction")
TEXT = ("id", "model", "version", "image_digest")


@dataclass(frozen=True)
class Wanted:
    """What the monitor reads of a record beyond its time, prediction and model names."""

    features: Sequence[str] = ()
    """The reference profile's features (a log's other features are not read)."""
    categorical: Sequence[str] = ()
    """Those of them read as dictionaries (Parquet)."""
    probabilities: bool = True
    ids: bool = True
    """The request id and row (to join labels)."""
    cutoff: int | None = None
    """The window's start (microseconds since the epoch, UTC): a Parquet row group whose time
    column (a timestamp) has every value before it is not read, by its statistics."""


@dataclass(frozen=True)
class Block:
    """The well-formed records of a stretch of one file, as columns: each a pyarrow Array
    (the fast path) or a numpy object array (records read one by one)."""

    size: int
    times: npt.NDArray[np.int64]
    """Microseconds since the epoch, UTC."""
    columns: Mapping[str, Any]
    """id, row, model, version, image_digest, prediction (those the records have)."""
    features: Mapping[str, Any]
    """Per feature the records have; a feature absent here is missing in every row."""
    probabilities: Mapping[str, Any] | None
    lines: int
    """Records read: the well-formed ones and the malformed."""
    malformed: Sequence[str]
    """``file:line: why`` of each malformed record."""
    outside: int = 0
    """Records of :attr:`lines` not read since they are all before the window (a Parquet row
    group skipped by its statistics)."""


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - a dependency of mlci
        raise InputError(
            "reading the inference log needs pyarrow", hint="pip install pyarrow"
        ) from None
    return pyarrow


def json_schema(numeric: Sequence[str], classes: Sequence[str] | None) -> Any:
    """The record's fields as mlci reads them: numeric features as doubles, the class
    probabilities as doubles; other fields (categorical features, the prediction) inferred."""
    pa = _arrow()
    fields = [
        ("id", pa.string()),
        ("row", pa.int64()),
        ("time", pa.string()),
        ("model", pa.string()),
        ("version", pa.string()),
        ("image_digest", pa.string()),
        ("features", pa.struct([(name, pa.float64()) for name in numeric])),
    ]
    if classes:
        fields.append(("probabilities", pa.struct([(c, pa.float64()) for c in classes])))
    return pa.schema(fields)


def _fast(table: Any, required: Sequence[str] = REQUIRED) -> Block | None:
    """The table as a block, or None when a record in it is not well formed."""
    pa = _arrow()
    import pyarrow.compute as pc

    names = table.column_names
    if any(key not in names or table[key].null_count for key in required):
        return None
    features = table["features"].combine_chunks()
    if not pa.types.is_struct(features.type):
        return None
    time = table["time"].combine_chunks()
    try:
        if pa.types.is_timestamp(time.type) and time.type.tz is None:
            return None
        stamps = pc.cast(time, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    columns = {}
    for key in (*TEXT, "row", "prediction"):
        if key in names:
            column = table[key].combine_chunks()
            kind = column.type
            if pa.types.is_dictionary(kind):
                kind = kind.value_type
            text = pa.types.is_string(kind) or (key != "id" and pa.types.is_null(kind))
            if key in TEXT and not text:
                return None
            columns[key] = column
    probabilities = None
    if "probabilities" in names:
        proba = table["probabilities"].combine_chunks()
        if pa.types.is_struct(proba.type) and proba.type.num_fields:
            flat = proba.flatten()  # a null struct gives null children
            probabilities = {proba.type.field(i).name: flat[i] for i in range(len(flat))}
    return Block(
        size=table.num_rows,
        times=stamps.cast(pa.int64()).to_numpy(zero_copy_only=False),
        columns=columns,
        features={features.type.field(i).name: child for i, child in enumerate(features.flatten())},
        probabilities=probabilities,
        lines=table.num_rows,
        malformed=(),
    )


def _check(record: Any, required: Sequence[str]) -> str | None:
    """Why ``record`` is not a log record (None: it is one)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    absent = [key for key in required if key not in record]
    if absent:
        return f"no {', '.join(absent)}"
    if not isinstance(record["features"], dict):
        return "features is not an object"
    return None


def _objects(values: Sequence[Any]) -> npt.NDArray[Any]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _slow(
    items: Sequence[tuple[str, Any]], lines: int, required: Sequence[str] = REQUIRED
) -> Block:
    """A block of records read one by one: (where, record or an exception)."""
    good: list[dict[str, Any]] = []
    stamps: list[int] = []
    malformed: list[str] = []
    for where, record in items:
        if isinstance(record, json.JSONDecodeError):
            malformed.append(f"{where}: not JSON ({record.msg})")
            continue
        why = _check(record, required)
        if why is None:
            try:
                stamp = parse_time(record["time"])
            except ValueError as exc:
                why = f"time: {exc}"
        if why is not None:
            malformed.append(f"{where}: {why}")
            continue
        good.append(record)
        stamps.append((stamp - EPOCH) // timedelta(microseconds=1))
    features: dict[str, list[Any]] = {}
    for index, record in enumerate(good):
        for key, value in record["features"].items():
            features.setdefault(str(key), [None] * len(good))[index] = value
    probabilities: dict[str, list[Any]] | None = None
    for index, record in enumerate(good):
        found = record.get("probabilities")
        if isinstance(found, dict):
            probabilities = probabilities or {}
            for key, value in found.items():
                probabilities.setdefault(str(key), [None] * len(good))[index] = value
    columns = {
        key: _objects([None if r.get(key) is None else str(r[key]) for r in good]) for key in TEXT
    }
    columns["row"] = _objects([r.get("row") for r in good])
    columns["prediction"] = _objects([r["prediction"] for r in good])
    return Block(
        size=len(good),
        times=np.asarray(stamps, dtype=np.int64),
        columns=columns,
        features={key: _objects(values) for key, values in features.items()},
        probabilities=(
            None
            if probabilities is None
            else {key: _objects(values) for key, values in probabilities.items()}
        ),
        lines=lines,
        malformed=malformed,
    )


def _parse_lines(name: str, chunk: bytes, first_line: int) -> Block:
    items: list[tuple[str, Any]] = []
    for number, raw in enumerate(chunk.split(b"\n"), start=first_line):
        line = raw.decode("utf-8", "replace")
        if not line.strip():
            continue
        try:
            items.append((f"{name}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            items.append((f"{name}:{number}", exc))
    return _slow(items, len(items))


def _chunks(handle: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """(chunk of whole lines, number of its first line)."""
    line = 1
    rest = b""
    while True:
        data = handle.read(CHUNK)
        if not data:
            break
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        chunk, rest = data[: cut + 1], data[cut + 1 :]
        yield chunk, line
        line += chunk.count(b"\n")
    if rest:
        yield rest, line


def jsonl_blocks(name: str, handle: IO[bytes], schema: Any) -> Iterator[Block]:
    pa = _arrow()
    import pyarrow.json as pj

    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    for chunk, first in _chunks(handle):
        block = None
        if chunk.strip():
            try:
                table = pj.read_json(
                    pa.BufferReader(chunk),
                    read_options=pj.ReadOptions(block_size=max(len(chunk), 1 << 16)),
                    parse_options=options,
                )
                block = _fast(table)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                block = None
        yield block if block is not None else _parse_lines(name, chunk, first)


def _parquet_columns(file: Any, wanted: Wanted) -> tuple[list[str], list[str], list[str]]:
    """(columns to read, of them the required ones, columns read as dictionaries) of a
    Parquet log file."""
    pa = _arrow()
    schema = file.schema_arrow
    names = set(schema.names)
    columns = ["time", "prediction", "model", "version", "image_digest"]
    required = ["time", "features", "prediction"]
    if wanted.ids:
        columns += ["id", "row"]
        required.append("id")
    if wanted.probabilities:
        columns.append("probabilities")
    found = [key for key in columns if key in names]
    if "features" in names:
        kind = schema.field("features").type
        have = (
            {kind.field(i).name for i in range(kind.num_fields)}
            if pa.types.is_struct(kind)
            else set()
        )
        inner = [name for name in wanted.features if name in have]
        if inner and not any("." in name for name in inner):
            found += [f"features.{name}" for name in inner]
        else:  # a feature name with a dot cannot be a column path: the whole struct
            found.append("features")
    paths = {file.schema.column(i).path for i in range(len(file.schema))}
    # a nested column read as a dictionary fails on a batch across row groups (pyarrow:
    # "Nested data conversions not implemented for chunked array outputs"): only in one
    text = ["model", "version"]
    if file.metadata.num_row_groups <= 1:
        text += [f"features.{name}" for name in wanted.categorical]
    return found, required, [path for path in text if path in paths]


def _before(metadata: Any, cutoff: int | None) -> list[bool]:
    """Per row group: is every time in it before ``cutoff`` (by the time column's statistics;
    a string time, or a row group without statistics, is read)?"""
    groups = metadata.num_row_groups
    if cutoff is None or not groups:
        return [False] * groups
    first = metadata.row_group(0)
    column = next(
        (j for j in range(first.num_columns) if first.column(j).path_in_schema == "time"), None
    )
    out = []
    for index in range(groups):
        stats = None if column is None else metadata.row_group(index).column(column).statistics
        latest = stats.max if stats is not None and stats.has_min_max else None
        out.append(
            isinstance(latest, datetime)
            and latest.tzinfo is not None
            and (latest - EPOCH) // timedelta(microseconds=1) < cutoff
        )
    return out


def _skipped(rows: int) -> Block:
    return Block(0, np.empty(0, np.int64), {}, {}, None, rows, (), outside=rows)


def _parquet_batches(
    name: str, batches: Iterator[Any], required: Sequence[str], start: int
) -> Iterator[Block]:
    """Blocks of record batches whose first row is row ``start`` of the file."""
    pa = _arrow()
    for batch in batches:
        table = pa.Table.from_batches([batch])
        block = _fast(table, required)
        if block is None:
            rows = table.to_pylist()
            block = _slow(
                [(f"{name}:row {start + i}", record) for i, record in enumerate(rows)],
                len(rows),
                required,
            )
        start += table.num_rows
        yield block


def parquet_blocks(name: str, handle: IO[bytes], wanted: Wanted | None = None) -> Iterator[Block]:
    pa = _arrow()
    import pyarrow.parquet as pq

    wanted = wanted or Wanted()
    try:
        probe = pq.ParquetFile(handle)
        metadata = probe.metadata
        columns, required, dictionaries = _parquet_columns(probe, wanted)
        file = pq.ParquetFile(handle, metadata=metadata, read_dictionary=dictionaries)
        start = 1
        for old, run in groupby(
            range(metadata.num_row_groups), key=_before(metadata, wanted.cutoff).__getitem__
        ):
            groups = list(run)
            rows = sum(metadata.row_group(index).num_rows for index in groups)
            if old:
                yield _skipped(rows)
            else:
                batches = file.iter_batches(batch_size=BATCH, columns=columns, row_groups=groups)
                yield from _parquet_batches(name, batches, required, start)
            start += rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"{name}: not a Parquet file of the inference log ({exc})",
            hint="the log directory holds the serving image's *.jsonl or *.parquet files",
        ) from None
