"""The inference log for a window: the live rows `mlci monitor` judges, and their labels.

The log is a directory (or an fsspec URL) of ``*.jsonl`` and ``*.parquet`` files, one record
per row of a request (the monitoring contract). A line that is not such a record is skipped
and counted, and the first few are named by file and line; the monitor never stops on one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlci_action.errors import InputError
from mlci_action.monitoring.record import LogCounts
from mlci_action.monitoring.window import parse_time

EXAMPLES = 5
SUFFIXES = (".jsonl", ".parquet")
REQUIRED = ("id", "time", "features", "prediction")


@dataclass(frozen=True)
class LiveRows:
    """The window's rows, in log order: one entry per logged row."""

    ids: list[str]
    rows: list[int]
    times: list[datetime]
    features: pd.DataFrame
    predictions: list[Any]
    probabilities: pd.DataFrame | None
    """One column per class (as the log names them); None when no record had any."""
    models: list[str]
    counts: LogCounts


@dataclass
class _Reader:
    cutoff: datetime | None
    records: list[dict[str, Any]]
    times: list[datetime]
    lines: int = 0
    malformed: int = 0
    outside: int = 0
    examples: list[str] | None = None

    def bad(self, where: str, why: str) -> None:
        self.malformed += 1
        if self.examples is None:
            self.examples = []
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"{where}: {why}")

    def add(self, where: str, record: Any) -> None:
        self.lines += 1
        if not isinstance(record, dict):
            self.bad(where, "not a JSON object")
            return
        absent = [key for key in REQUIRED if key not in record]
        if absent:
            self.bad(where, f"no {', '.join(absent)}")
            return
        if not isinstance(record["features"], dict):
            self.bad(where, "features is not an object")
            return
        try:
            when = parse_time(record["time"])
        except ValueError as exc:
            self.bad(where, f"time: {exc}")
            return
        if self.cutoff is not None and when < self.cutoff:
            self.outside += 1
            return
        self.records.append(record)
        self.times.append(when)


def _is_url(source: str) -> bool:
    return "://" in source


def _filesystem(source: str) -> Any:
    try:
        import fsspec
    except ImportError:
        raise InputError(
            f"{source}: reading the inference log from a URL needs fsspec",
            hint="pip install fsspec (and the filesystem's package, e.g. s3fs or gcsfs)",
        ) from None
    fs, _, paths = fsspec.get_fs_token_paths(source)
    return fs, paths[0]


def log_files(sources: Sequence[str], cutoff: datetime | None) -> list[tuple[str, Any]]:
    """(name, opener) of every log file of ``sources`` (directories are searched one level
    deep for *.jsonl and *.parquet). Local files last written before ``cutoff`` hold no record
    of the window and are left out."""
    found: list[tuple[str, Any]] = []
    for source in sources:
        if _is_url(source):
            fs, root = _filesystem(source)
            if not fs.exists(root):
                raise InputError(f"{source}: the inference log does not exist")
            names = [root] if fs.isfile(root) else sorted(fs.ls(root, detail=False))
            found += [(n, fs) for n in names if str(n).endswith(SUFFIXES)]
            continue
        path = Path(source)
        if not path.exists():
            raise InputError(
                f"{source}: the inference log does not exist",
                hint="give the log directory (monitoring.log in mlci.yaml, or --log)",
            )
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        for file in files:
            if not file.name.endswith(SUFFIXES):
                continue
            if cutoff is not None and file.stat().st_mtime < cutoff.timestamp():
                continue
            found.append((str(file), None))
    return found


def _jsonl_lines(name: str, fs: Any) -> Iterator[str]:
    handle = fs.open(name, "rb") if fs is not None else open(name, "rb")  # noqa: SIM115
    with handle:
        for raw in handle:
            yield raw.decode("utf-8", "replace")


def _parquet_records(name: str, fs: Any) -> Iterable[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            f"{name}: reading Parquet logs needs pyarrow", hint="pip install pyarrow"
        ) from None
    handle = fs.open(name, "rb") if fs is not None else open(name, "rb")  # noqa: SIM115
    with handle:
        table = pq.read_table(handle)
    return table.to_pylist()


def read_log(
    sources: Sequence[str], *, since: timedelta | None = None, now: datetime | None = None
) -> LiveRows:
    """The rows of the window ``[now - since, ...)`` (every row without ``since``)."""
    now = now or datetime.now(UTC)
    cutoff = now - since if since is not None else None
    reader = _Reader(cutoff=cutoff, records=[], times=[])
    files = log_files(sources, cutoff)
    for name, fs in files:
        if name.endswith(".parquet"):
            for number, record in enumerate(_parquet_records(name, fs), start=1):
                reader.add(f"{name}:row {number}", record)
            continue
        for number, line in enumerate(_jsonl_lines(name, fs), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                reader.lines += 1
                reader.bad(f"{name}:{number}", f"not JSON ({exc.msg})")
                continue
            reader.add(f"{name}:{number}", record)
    return _rows(reader, len(files))


def _rows(reader: _Reader, files: int) -> LiveRows:
    records = reader.records
    probabilities = [r.get("probabilities") for r in records]
    has_proba = any(isinstance(p, dict) for p in probabilities)
    models = sorted(
        {
            " ".join(str(r.get(k) or "") for k in ("model", "version", "image_digest")).strip()
            for r in records
        }
        - {""}
    )
    return LiveRows(
        ids=[str(r["id"]) for r in records],
        rows=[_row(r.get("row")) for r in records],
        times=reader.times,
        features=pd.DataFrame.from_records([r["features"] for r in records]),
        predictions=[r["prediction"] for r in records],
        probabilities=(
            pd.DataFrame.from_records([p if isinstance(p, dict) else {} for p in probabilities])
            if has_proba
            else None
        ),
        models=models,
        counts=LogCounts(
            files=files,
            lines=reader.lines,
            malformed=reader.malformed,
            malformed_examples=reader.examples or [],
            outside_window=reader.outside,
            rows=len(records),
        ),
    )


def _row(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def read_labels(path: str, target: str) -> pd.DataFrame:
    """Ground truth: columns ``id``, ``row`` (default 0) and the target; CSV, JSONL or
    Parquet. Returns a frame indexed by (id, row) with one column, ``label``."""
    suffix = Path(path.split("?")[0]).suffix.lower()
    opener: Any = path
    try:
        if suffix == ".csv":
            frame = pd.read_csv(opener, dtype={"id": str})
        elif suffix in (".jsonl", ".ndjson"):
            frame = pd.read_json(opener, lines=True, dtype={"id": str})
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(opener)
        else:
            raise InputError(
                f"{path}: labels file has an unsupported extension {suffix!r}",
                hint="use a .csv, .jsonl or .parquet file with columns id, row and the target",
            )
    except FileNotFoundError:
        raise InputError(f"{path}: labels file not found") from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: labels file cannot be read: {first}") from None
    absent = [column for column in ("id", target) if column not in frame.columns]
    if absent:
        raise InputError(
            f"{path}: labels file has no column {', '.join(map(repr, absent))} "
            f"(columns: {', '.join(map(str, frame.columns[:20]))})",
            hint=f"it needs the request id as 'id', optionally 'row', and the target {target!r}",
        )
    rows = frame["row"] if "row" in frame.columns else pd.Series(0, index=frame.index)
    bad = pd.to_numeric(rows, errors="coerce").isna()
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise InputError(
            f"{path}: line {line}: row is not a whole number",
            hint="row is the index of the row within its request (0 for one-row requests)",
        )
    index = pd.MultiIndex.from_arrays(
        [frame["id"].astype(str), pd.to_numeric(rows).astype(int)], names=["id", "row"]
    )
    labels = pd.DataFrame({"label": frame[target].to_numpy()}, index=index)
    return labels[~labels.index.duplicated(keep="last")]


def join_labels(live: LiveRows, labels: pd.DataFrame) -> pd.Series:
    """Each live row's label (NaN where there is none), in log order."""
    index = pd.MultiIndex.from_arrays([live.ids, live.rows], names=["id", "row"])
    return labels["label"].reindex(index).reset_index(drop=True)
