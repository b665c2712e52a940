"""``data.train`` / ``data.test`` on the runner: one file, or a data set in partitions.

A setting that names a directory, a glob (``data/train/*.parquet``) or a URL (``file://``,
``s3://``, ``gs://``) is a partitioned data set: its Parquet files, in file order
(:func:`mlci_action.worker.partitions.partitions`). The user's training code gets the setting
as written (``MLCI_TRAIN_PATH`` is the directory, glob or URL); ``pandas.read_parquet`` reads a
directory or a URL whole.

Its content key (:func:`data_digest`): local files by content (blake2b of every file, in file
order; a directory, a glob and a ``file://`` URL of the same files key alike), remote files by what their filesystem lists for them without reading them: size and
modification time, in file order (pyarrow's ``FileInfo``; object stores give the object's last-modified
time, not its ETag, so a rewrite of an object with equal size within the store's time
resolution keeps the key).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlci_action.errors import InputError
from mlci_action.globs import GLOB_CHARACTERS
from mlci_action.hashing import file_digest
from mlci_action.worker.partitions import Partition, partitions


def is_url(spec: str) -> bool:
    return "://" in spec


def is_partitioned(project: Path, spec: str) -> bool:
    """A directory, a glob or a URL: read as Parquet partitions, not as one file."""
    return is_url(spec) or bool(GLOB_CHARACTERS & set(spec)) or (project / spec).is_dir()


def listed(project: Path, spec: str, where: str) -> list[Partition]:
    """The partitions, or an InputError naming ``where`` (``mlci.yaml:LINE: data.train``)."""
    return partitions(spec, project, setting=where)


def data_digest(project: Path, spec: str) -> str | None:
    """The content key of one data setting (None: no such file; preflight says so)."""
    if not is_partitioned(project, spec):
        path = project / spec
        return file_digest(path) if path.is_file() else None
    try:
        parts = partitions(spec, project, setting=spec)
    except InputError:
        return None
    digest = hashlib.blake2b(digest_size=20)
    remote = [part for part in parts if is_url(part.uri) and not part.uri.startswith("file://")]
    sizes = _remote_infos([part.uri for part in remote]) if remote else {}
    for part in parts:
        if part.uri in sizes:
            what = sizes[part.uri]
        else:
            local = part.uri.removeprefix("file://")
            what = file_digest(Path(local))
        digest.update(f"{what}\n".encode())  # in file order; the same files by path or URL
    return digest.hexdigest()


def _remote_infos(uris: list[str]) -> dict[str, str]:
    """``size:mtime_ns`` of each remote file, as its filesystem lists it."""
    from pyarrow import fs

    found: dict[str, str] = {}
    for uri in uris:
        filesystem, path = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(path)
        found[uri] = f"{info.size}:{info.mtime_ns}"
    return found


def check_partitioned(project: Path, spec: str, where: str, target: str) -> list[Partition]:
    """The data set lists at least one Parquet file and its first file has the target column
    (read from the Parquet footer, not the rows; without pyarrow where mlci runs, as in the
    action image, the data tests check it in the project's environment)."""
    parts = listed(project, spec, where)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return parts
    first = parts[0]
    try:
        names = pq.read_schema(first.uri).names
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{first.name}: cannot be read as Parquet ({where}): {exc}",
            hint="every file of a partitioned data set must be a Parquet file",
        ) from None
    if target not in names:
        raise InputError(
            f"{first.name}: target column {target!r} is not among its {len(names)} columns",
            hint=f"set data.target to the target column's name, or fix {where}",
        )
    return parts
