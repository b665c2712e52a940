"""Content hashes: the keys of the environment cache and the run cache."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
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
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
