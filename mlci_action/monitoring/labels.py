"""Ground-truth labels for `mlci monitor --labels`: a CSV, JSONL or Parquet file (a path or an
fsspec URL) with the request ``id``, optionally the ``row`` within the request (default 0), and
the project's target column; joined to the live rows by (id, row).

A bad record is named by its place in the file: ``line N`` of a CSV (the header is line 1) or
a JSONL file, ``row N`` of a Parquet file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

from mlci_action.errors import InputError
from mlci_action.monitoring.live import Kept

HINT = "it needs the request id as 'id', optionally 'row', and the target {target!r}"


def _open(path: str) -> IO[bytes]:
    if "://" in path:
        import fsspec

        try:
            return fsspec.open(path, "rb").open()
        except (ValueError, ImportError) as exc:
            raise InputError(f"{path}: cannot open this URL ({exc})") from None
    return open(path, "rb")


def _jsonl(path: str, handle: IO[bytes]) -> tuple[pd.DataFrame, list[int]]:
    """The records and each one's line number; the first line that is not a JSON object
    is an error."""
    records: list[Any] = []
    lines: list[int] = []
    for number, raw in enumerate(handle, start=1):
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}: line {number}: not JSON ({exc.msg})",
                hint="a labels file in JSON Lines has one JSON object per line",
            ) from None
        if not isinstance(record, dict):
            raise InputError(f"{path}: line {number}: not a JSON object")
        records.append(record)
        lines.append(number)
    return pd.DataFrame.from_records(records), lines


def _frame(path: str, suffix: str) -> tuple[pd.DataFrame, Callable[[int], str]]:
    """The file as a frame, and the place of its i-th record ("line N" or "row N")."""
    with _open(path) as handle:
        if suffix == ".csv":
            frame = pd.read_csv(handle, dtype={"id": str})
            return frame, lambda i: f"line {i + 2}"  # the header is line 1
        if suffix in (".jsonl", ".ndjson"):
            frame, lines = _jsonl(path, handle)
            return frame, lambda i: f"line {lines[i]}"
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(handle), lambda i: f"row {i + 1}"
    raise InputError(
        f"{path}: labels file has an unsupported extension {suffix!r}",
        hint="use a .csv, .jsonl or .parquet file with columns id, row and the target",
    )


def read_labels(path: str, target: str) -> pd.DataFrame:
    """Ground truth, indexed by (id, row), with one column, ``label``; a later record of the
    same (id, row) wins."""
    suffix = Path(path.split("?")[0]).suffix.lower()
    try:
        frame, place = _frame(path, suffix)
    except FileNotFoundError:
        raise InputError(f"{path}: labels file not found") from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: labels file cannot be read: {first}") from None
    absent = [column for column in ("id", target) if column not in frame.columns]
    if absent:
        raise InputError(
            f"{path}: labels file has no column {', '.join(map(repr, absent))} "
            f"(columns: {', '.join(map(str, frame.columns[:20]))})",
            hint=HINT.format(target=target),
        )
    ids = frame["id"]
    if ids.isna().any():
        at = int(ids.isna().to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: {place(at)}: id is empty", hint="each label names its request id"
        )
    rows = frame["row"] if "row" in frame.columns else pd.Series(0, index=frame.index)
    numbers = pd.to_numeric(rows, errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round())
    if bad.any():
        at = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: {place(at)}: row {rows.iloc[at]!r} is not a whole number",
            hint="row is the index of the row within its request (0 for one-row requests)",
        )
    index = pd.MultiIndex.from_arrays([ids.astype(str), numbers.astype(int)], names=["id", "row"])
    labels = pd.DataFrame({"label": frame[target].to_numpy()}, index=index)
    return labels[~labels.index.duplicated(keep="last")]


def join_labels(kept: Kept, labels: pd.DataFrame) -> pd.Series:
    """Each live row's label (NaN where there is none), in log order."""
    index = pd.MultiIndex.from_arrays([kept.ids, kept.rows], names=["id", "row"])
    return labels["label"].reindex(index).reset_index(drop=True)
