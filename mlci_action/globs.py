"""Where a glob's files are: the folder above its first glob character.

Shared by the entry checks (a glob's folder must lie inside the project), the partition
listing and the executors that copy a glob's files to where the project's code runs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

GLOB_CHARACTERS = frozenset("*?[")


def split_glob(path: str) -> tuple[str, str]:
    """The folder above the first glob character (``.`` when the path starts with one), and
    the pattern below it; a path without one: itself and ``""``."""
    parts = PurePosixPath(path).parts
    for at, part in enumerate(parts):
        if GLOB_CHARACTERS & set(part):
            return str(PurePosixPath(*parts[:at])) if at else ".", str(PurePosixPath(*parts[at:]))
    return path, ""


def glob_folder(path: Path) -> Path:
    """The folder above a glob's first glob character (``data/test`` of
    ``data/test/*.parquet``): where its files are; any other path as it is."""
    root, pattern = split_glob(path.as_posix())
    return Path(root) if pattern else path
