"""A data file as the checks see it: its frame, the name to show, and its row locations.

Failure examples point into the file the user edits: a CSV or TSV row is named by the line it
starts on (the header is line 1, so with one line per row data row ``i`` is line ``i + 2``);
a Parquet row by its number counted from 1 (``row 13``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from mlci_action.worker.frames import READERS, read_table

_CHUNK = 1 << 24
_NEWLINE, _QUOTE, _RETURN = 10, 34, 13


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    """Indexed by position: label ``i`` is the ``i``-th data row of the file."""
    path: Path
    name: str
    """The file as the user knows it: its path in mlci.yaml."""

    @classmethod
    def read(cls, path: Path, name: str, *, what: str) -> Table:
        frame = read_table(path, what=what)
        index = frame.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
            frame = frame.reset_index(drop=True)  # a Parquet file's stored index
        return cls(frame, path, name)

    @property
    def is_text(self) -> bool:
        return READERS.get(self.path.suffix.lower()) in ("csv", "tsv")

    @cached_property
    def row_hashes(self) -> np.ndarray:
        """One 64-bit hash per row, of every column: equal rows hash equal."""
        return pd.util.hash_pandas_object(self.frame, index=False).to_numpy()

    @cached_property
    def lines(self) -> np.ndarray | None:
        """The line each data row starts on, or None when the rows cannot be told apart by line
        (not a text file, or one whose records pandas split differently)."""
        if not self.is_text:
            return None
        return record_lines(self.path, len(self.frame))

    @property
    def unit(self) -> str:
        """What a row's number counts: ``line`` of a text file, else ``row``."""
        return "row" if self.lines is None else "line"

    def numbers(self, positions: object) -> list[int]:
        """The line (or row number, from 1) of each position."""
        at = np.asarray(positions, dtype=np.int64)
        lines = self.lines
        return [int(n) for n in (at + 1 if lines is None else lines[at])]

    def where(self, positions: object) -> list[str]:
        """``line 14`` (CSV/TSV) or ``row 13`` (Parquet, or a text file whose lines do not
        map to its rows) for each position."""
        return [f"{self.unit} {n}" for n in self.numbers(positions)]

    def where_all(self, positions: np.ndarray, total: int | None = None) -> str:
        """``lines 2, 9, 40`` (and how many more, when ``total`` counts more)."""
        numbers = ", ".join(map(str, self.numbers(positions)))
        more = total - len(positions) if total is not None else 0
        plural = "s" if len(positions) > 1 or more else ""
        return f"{self.unit}{plural} {numbers}" + (f" and {more} more" if more > 0 else "")


def record_lines(path: Path, rows: int) -> np.ndarray | None:
    """The first line of each of the ``rows`` data rows of a CSV/TSV file, or None.

    One line per row is the common case and costs one pass counting newlines. Otherwise the
    records are found as pandas reads them: newlines outside double quotes end a record, and
    empty lines are skipped. A file that does not come out at ``rows`` records is not guessed at.
    """
    newlines, last = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    lines = newlines + (1 if last not in (b"", b"\n") else 0)
    if lines == rows + 1:
        return np.arange(2, rows + 2, dtype=np.int64)
    return _scan(path, rows)


def _scan(path: Path, rows: int) -> np.ndarray | None:
    data = np.fromfile(path, dtype=np.uint8)
    newline = np.flatnonzero(data == _NEWLINE)
    quote = data == _QUOTE
    if quote.any():
        inside = np.logical_xor.accumulate(quote)
        separators = newline[~inside[newline]]
    else:
        separators = newline
    del quote
    starts = np.concatenate(([0], separators + 1))
    ends = np.concatenate((separators, [len(data)]))
    length = ends - starts
    tail = data[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else np.array([])
    blank = (length == 0) | ((length == 1) & (tail == _RETURN))
    records = starts[~blank]
    if len(records) != rows + 1:  # the header, then one record per row
        return None
    return np.searchsorted(newline, records[1:]) + 1
