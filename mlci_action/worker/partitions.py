"""A data set in partitions: ``data.train`` / ``data.test`` as one file, a directory or glob of
Parquet files, or a URL (``file://``, ``s3://``, ``gs://``: pyarrow's filesystems).

The partitions come in **file order** (their paths, sorted): the order in which per-partition
results are merged (:mod:`mlci_action.worker.checks.merge`), so a merge gives the same counts
and the same first examples whichever worker finished first.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from mlci_action.errors import InputError
from mlci_action.globs import split_glob

if TYPE_CHECKING:
    import pandas as pd

PARQUET = (".parquet", ".pq")


@dataclass(frozen=True)
class Partition:
    name: str
    """The partition as the user knows it: the setting's value, then the file below it
    (``data/train/part-0001.parquet``), or the file itself."""
    uri: str
    """Where to read it: a local path, or a URL with its scheme."""


def _kept(below: str, pattern: str) -> bool:
    """A file ``below`` the root is a partition: not hidden or partial (Spark's _SUCCESS),
    and matching the glob, or a Parquet file where there is no glob."""
    if any(p.startswith((".", "_")) for p in below.split("/")):
        return False
    return fnmatch.fnmatchcase(below, pattern) if pattern else below.lower().endswith(PARQUET)


def _local(spec: str, project: Path, setting: str) -> list[Partition]:
    """:func:`partitions` of a path in the project without pyarrow (the action image has
    none: it lists files, and the project's environment reads them)."""
    root, pattern = split_glob((project / spec).as_posix())
    prefix = spec[: len(spec) - len(pattern)].rstrip("/") if pattern else spec.rstrip("/")
    top = Path(root)
    if top.is_file() and not pattern:
        return [Partition(spec, top.as_posix())]
    if not top.is_dir():
        raise InputError(
            f"{setting}: {spec!r} not found",
            hint="name a data file, a directory of Parquet files, or a glob such as "
            "data/train/*.parquet",
        )
    found = [
        Partition(f"{prefix}/{below}", item.as_posix())
        for item in top.rglob("*")
        if item.is_file() and _kept(below := item.relative_to(top).as_posix(), pattern)
    ]
    if not found:
        raise InputError(
            f"{setting}: {spec!r} holds no Parquet files",
            hint="a directory's .parquet files (in its subdirectories too) are its partitions",
        )
    return sorted(found, key=lambda part: part.name)


def partitions(spec: str, project: Path, *, setting: str) -> list[Partition]:
    """The files ``spec`` names, in file order; an InputError naming ``setting`` when none."""
    scheme = "://" in spec
    try:
        from pyarrow import fs
    except ImportError:
        if scheme:
            raise InputError(
                f"{setting}: {spec!r} is a URL, and pyarrow, which reads URLs, is not installed "
                "where mlci runs (the action image does not carry it)",
                hint="sync the data into the checkout in a step before mlci and name the "
                "folder, or run `mlci run` where pyarrow is installed",
            ) from None
        return _local(spec, project, setting)
    try:
        filesystem, path = (
            fs.FileSystem.from_uri(spec)
            if scheme
            else (fs.LocalFileSystem(), (project / spec).as_posix())
        )
    except (ValueError, OSError) as exc:  # an unknown scheme, a filesystem pyarrow lacks
        raise InputError(
            f"{setting}: cannot open {spec!r}: {exc}",
            hint="use a path in the project, or a file://, s3:// or gs:// URL",
        ) from None
    root, pattern = split_glob(path)
    prefix = spec[: len(spec) - len(pattern)].rstrip("/") if pattern else spec.rstrip("/")
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.File and not pattern:
        return [Partition(spec, spec if scheme else path)]
    if info.type != fs.FileType.Directory:
        raise InputError(
            f"{setting}: {spec!r} not found",
            hint="name a data file, a directory of Parquet files, or a glob such as "
            "data/train/*.parquet",
        )
    found = []
    for item in filesystem.get_file_info(fs.FileSelector(root, recursive=True)):
        below = PurePosixPath(item.path).relative_to(PurePosixPath(root).as_posix()).as_posix()
        if item.type != fs.FileType.File or not _kept(below, pattern):
            continue
        uri = f"{spec.split('://', 1)[0]}://{item.path}" if scheme else item.path
        found.append(Partition(f"{prefix}/{below}", uri))
    if not found:
        raise InputError(
            f"{setting}: {spec!r} holds no Parquet files",
            hint="a directory's .parquet files (in its subdirectories too) are its partitions",
        )
    return sorted(found, key=lambda part: part.name)


def read_partition(part: Partition) -> pd.DataFrame:
    """One partition's rows (pyarrow reads local paths and URLs alike), indexed from 0; a
    single CSV/TSV file (the other data set partitioned) as the worker reads any data file."""
    import pyarrow.parquet as pq

    if "://" not in part.uri and not part.uri.lower().endswith(PARQUET):
        from mlci_action.worker.frames import read_table

        return read_table(part.uri, what=part.name).reset_index(drop=True)

    try:
        return pq.read_table(part.uri).to_pandas().reset_index(drop=True)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{part.name}: cannot be read as Parquet: {exc}",
            hint="every file of a partitioned data set must be a Parquet file",
        ) from None
