"""Reading the project's data files into DataFrames, with errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlci_action.errors import InputError

READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path, *, what: str = "data file") -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file; a missing, empty or unparseable file is an InputError."""
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"{path}: {what} has an unsupported extension {path.suffix!r}",
            hint=f"use one of: {', '.join(READERS)}",
        )
    if not path.is_file():
        raise InputError(
            f"{path}: {what} not found", hint="check data.train / data.test in mlci.yaml"
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path}: {what} is empty", hint="it needs a header row and data rows")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(
            f"{path}: {what} cannot be parsed as {kind}: {first}",
            hint="every row needs the same number of fields as the header",
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if frame.empty:
        raise InputError(
            f"{path}: {what} has a header but no data rows",
            hint="export the data again with its rows, or point mlci.yaml at the right file",
        )
    return frame


def split_xy(frame: pd.DataFrame, target: str, path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise InputError(
            f"{path}: target column {target!r} is not in the file (columns: {columns})",
            hint="set data.target in mlci.yaml to one of these columns",
        )
    return frame.drop(columns=[target]), frame[target]
