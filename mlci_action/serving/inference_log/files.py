"""The file sink: rotated JSON Lines or Parquet files in a directory or an fsspec URL.

``<dir>/inference-<UTC yyyymmddTHHMMSS>-<pid>-<seq>.jsonl`` (or ``.parquet``), written as
``*.tmp`` and renamed when closed, so a reader only ever sees whole files. A file is closed
once it is over the size limit or the age limit (checked on every write and once a second
while idle). Each server process writes its own files (the pid in the name).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from mlci_action.serving.inference_log import jsonl
from mlci_action.serving.inference_log.batch import Batch


class _Local:
    def __init__(self, root: str) -> None:
        self.root = root.removeprefix("file://")

    def join(self, name: str) -> str:
        return os.path.join(self.root, name)

    def makedirs(self) -> None:
        os.makedirs(self.root, exist_ok=True)

    def open(self, path: str) -> IO[bytes]:
        return open(path, "wb")

    def rename(self, source: str, target: str) -> None:
        os.replace(source, target)


class _Fsspec:
    def __init__(self, url: str) -> None:
        from fsspec.core import url_to_fs

        self.fs, self.root = url_to_fs(url)

    def join(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def makedirs(self) -> None:
        self.fs.makedirs(self.root, exist_ok=True)

    def open(self, path: str) -> IO[bytes]:
        return self.fs.open(path, "wb")

    def rename(self, source: str, target: str) -> None:
        self.fs.mv(source, target)


def storage_for(path: str) -> _Local | _Fsspec:
    if "://" in path and not path.startswith("file://"):
        return _Fsspec(path)
    return _Local(path)


ROW_GROUP_ROWS = 65_536
"""Parquet rows gathered before a row group is written. A file is invisible until it is closed
and renamed, so gathering costs no freshness; it keeps a reader's blocks (and the row-group
statistics ``mlci monitor --since`` skips by) large instead of one per writer wake-up."""


class RotatingFiles:
    """``write(records)`` appends to the open file (opening one if needed); raises OSError
    (or the filesystem's error) when it cannot: the writer counts it and goes on."""

    name = "files"

    def __init__(
        self,
        path: str,
        fmt: str,
        *,
        rotate_bytes: int,
        rotate_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage_for(path)
        self.format = fmt
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.clock = clock
        self.seq = 0
        self._file: IO[bytes] | None = None
        self._path = ""
        self._opened = 0.0
        self._size = 0
        self._parquet: Any = None
        self._pending: list[Any] = []  # Parquet tables not yet written as a row group
        self._pending_rows = 0

    def write(self, batch: Batch, image_digest: str) -> None:
        if not batch.rows:
            return
        if self._file is None:
            self._open()
        assert self._file is not None
        if self.format == "parquet":
            from mlci_action.serving.inference_log.parquet import table_of, writer_for

            table = table_of(batch, image_digest)
            if self._parquet is None:
                self._parquet = writer_for(self._file, table.schema)
            self._pending.append(table)
            self._pending_rows += table.num_rows
            self._size += table.nbytes
            if self._pending_rows >= ROW_GROUP_ROWS:
                self._write_row_group()
        else:
            data = jsonl.encode(batch, image_digest)
            self._file.write(data)
            self._file.flush()
            self._size += len(data)
        if self._size >= self.rotate_bytes:
            self.close()

    def tick(self) -> None:
        """Close the open file if it is past its age."""
        if self._file is not None and self.clock() - self._opened >= self.rotate_seconds:
            self.close()

    def close(self) -> None:
        """Finish the open file: close it and rename ``*.tmp`` to its final name."""
        if self._file is None:
            return
        file, path, parquet = self._file, self._path, self._parquet
        try:
            if parquet is not None:
                self._write_row_group()
                parquet.close()
        finally:
            self._file, self._parquet = None, None
            self._pending, self._pending_rows = [], 0
            file.close()
        self.storage.rename(path + ".tmp", path)

    def _write_row_group(self) -> None:
        if not self._pending:
            return
        import pyarrow as pa

        tables, self._pending, self._pending_rows = self._pending, [], 0
        self._parquet.write_table(pa.concat_tables(tables), row_group_size=ROW_GROUP_ROWS * 2)

    def _open(self) -> None:
        self.storage.makedirs()
        now = self.clock()
        self.seq += 1
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
        name = f"inference-{stamp}-{os.getpid()}-{self.seq}.{self.format}"
        self._path = self.storage.join(name)
        self._file = self.storage.open(self._path + ".tmp")
        self._opened, self._size = now, 0
