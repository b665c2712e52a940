"""Content hashes: the keys of the environment cache and the run cache.

Files are hashed with SHA-256 (hashlib's, which uses the CPU's SHA instructions where it has
them: about twice BLAKE2b's speed here, benchmarks/README.md). Within a run
(:func:`remembered`), a file's digest is computed once and remembered by its identity and
stat signature (device, inode, size, mtime, ctime): the side key, the tree key and the run
key all name the data files, and a second pass over a gigabyte of CSV costs seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from mlci_action import git

_SKIP_DIRS = {
    ".git",
    ".mlci",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    "node_modules",
}
Signature = tuple[int, int, int, int, int]


class _Memo:
    """Digests of the files hashed in the runs now in progress (none outside a run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._known: dict[tuple[int, int], tuple[Signature, str]] = {}

    def enter(self) -> None:
        with self._lock:
            self._depth += 1

    def leave(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._known.clear()

    def digest(self, path: Path, compute: Any) -> str:
        if self._depth == 0:
            return str(compute(path))
        before = _signature(path)
        key = before[:2]
        with self._lock:
            known = self._known.get(key)
        if known is not None and known[0] == before:
            return known[1]
        value = str(compute(path))
        if _signature(path) == before:  # unchanged while it was read: the digest is its own
            with self._lock:
                self._known[key] = (before, value)
        return value


def _signature(path: Path) -> Signature:
    stat = os.stat(path)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


_MEMO = _Memo()


@contextlib.contextmanager
def remembered() -> Iterator[None]:
    """Within this block (a run), each file's content is hashed once: a file whose signature
    has not changed since it was hashed keeps its digest. Nested blocks share one memo, which
    is forgotten when the outermost ends."""
    _MEMO.enter()
    try:
        yield
    finally:
        _MEMO.leave()


def _read_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_digest(path: Path) -> str:
    """The SHA-256 of the file's bytes (hex); computed once per content within a run."""
    return _MEMO.digest(path, _read_digest)


def value_digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _git_files(root: Path) -> list[str] | None:
    return git.listed_files(root)


def _walk_files(root: Path) -> Iterable[str]:
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts):
            continue
        if path.is_file():
            yield rel.as_posix()


def tree_digest(root: Path, skip: Collection[str] = ()) -> str:
    """Hash of every file in ``root`` that git would track (or every file, outside git),
    but those named in ``skip`` (paths relative to ``root``)."""
    names = _git_files(root)
    files = sorted(
        name
        for name in (names if names is not None else _walk_files(root))
        if not any(part in _SKIP_DIRS for part in Path(name).parts) and name not in skip
    )
    digest = hashlib.blake2b(digest_size=20)
    for name in files:
        path = root / name
        if not path.is_file():  # deleted in the work tree but still in the index
            continue
        digest.update(name.encode() + b"\0" + file_digest(path).encode() + b"\n")
    return digest.hexdigest()
