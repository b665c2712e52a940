"""The distinct values of one column of a CSV or TSV file, read in bytes.

The entry checks want the target's labels before anything trains; reading a million-row file
through the csv module costs seconds of Python per row. Files without quote characters (and
with ``\\n`` or ``\\r\\n`` line ends) are split in bytes, a chunk at a time; any other file is
read by the csv module, with the same answer.
"""

from __future__ import annotations

import csv
from operator import methodcaller
from pathlib import Path

_CHUNK = 1 << 24


def column_values(path: Path, name: str, delimiter: str = ",", chunk: int = _CHUNK) -> set[str]:
    """The values (as text) of column ``name`` in every row long enough to hold it, as the
    csv module reads them; the header (line 1) must name the column."""
    found = _split_bytes(path, name, delimiter, chunk)
    return found if found is not None else _read_csv(path, name, delimiter)


def _read_csv(path: Path, name: str, delimiter: str) -> set[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        index = next(reader, []).index(name)
        return {row[index] for row in reader if len(row) > index}


def _split_bytes(path: Path, name: str, delimiter: str, size: int) -> set[str] | None:
    """None when the bytes alone cannot tell the fields apart (quotes, lone ``\\r``, not
    UTF-8): then the csv module reads the file."""
    sep = delimiter.encode()
    raw: set[bytes] = set()
    with path.open("rb") as handle:
        first = handle.readline()
        if b'"' in first or b"\r" in first.rstrip(b"\r\n"):
            return None
        header = first.rstrip(b"\r\n").decode("utf-8", errors="replace").split(delimiter)
        index = header.index(name)
        width = len(header)
        split = methodcaller("split", sep)
        # when every row has the header's width, split off no more than the field needs
        from_right = index >= width // 2
        cut = width - index if from_right else index + 1
        part = methodcaller("rsplit", sep, cut) if from_right else methodcaller("split", sep, cut)
        pick = -cut if from_right else index
        tail = b""
        while True:
            chunk = handle.read(size)
            text = tail + chunk
            whole = text[:-1] if chunk and text.endswith(b"\r") else text  # "\r|\n" cut
            if b'"' in chunk or whole.count(b"\r") != whole.count(b"\r\n"):
                return None
            lines = text.split(b"\n")
            tail = lines.pop() if chunk else b""
            rows = [line for line in lines if line]
            if text.count(sep) - tail.count(sep) == len(rows) * (width - 1):
                raw.update(fields[pick] for fields in map(part, rows))
            else:  # rows of other widths: each split in full
                raw.update(fields[index] for fields in map(split, rows) if len(fields) > index)
            if not chunk:
                break
    try:
        # a "\r\n" line end leaves its "\r" on the last field: csv reads it as the line's end
        return {value.decode("utf-8").removesuffix("\r") for value in raw}
    except UnicodeDecodeError:
        return None
