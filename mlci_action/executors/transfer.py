"""Files into and out of a sandbox container through the Docker API: streamed, each content once.

Archives are written to a temporary file on disk and streamed from it, so mlci's memory does not
grow with the project's data. A large file (:data:`BLOB_MIN_BYTES` or more) goes in once per
content and run: its bytes land at ``blobs/<blake2b digest>`` of the container's volume, and every path
that holds that content is a hard link to it. The candidate's and the baseline's checkouts of
the same data therefore cost one copy. (One inode: writing such a file in place through one path
changes it at the others. Both sides already share the container, so this gives their code no
reach it had not.)
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import docker.errors

from mlci_action.errors import StageFailure
from mlci_action.hashing import file_digest

SKIP = frozenset({".git", ".mlci", "__pycache__", ".venv", ".pytest_cache"})
"""Folders never copied in: VCS data, mlci's own run folders, caches, virtual environments."""
BLOB_MIN_BYTES = 2**20
"""Files this large or larger are copied once per content."""
MAX_OUTPUT_BYTES = 8 * 2**30
"""The largest file a task may hand back (a model, predictions)."""
BLOBS = "blobs"


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """The container's user (root, without capabilities) owns what goes in, whoever owns it
    here (on a runner: the runner's user), so the project's code can write where it runs."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def walk(path: Path) -> Iterator[Path]:
    """``path`` and, for a directory, everything under it but the :data:`SKIP` folders, parents
    before children. Symbolic links are listed, never followed."""
    yield path
    if path.is_dir() and not path.is_symlink():
        for item in sorted(path.rglob("*")):
            if not any(part in SKIP for part in item.relative_to(path).parts):
                yield item


class Transfer:
    """The files of one container: what is in it, and the bytes sent so far."""

    def __init__(self, container: Any, root: str) -> None:
        self._container = container
        self._root = PurePosixPath(root)
        self._blobs: set[str] = set()
        self._digests: dict[Path, tuple[tuple[int, int, int], str]] = {}
        self.sent_bytes = 0
        """Bytes of archives sent into the container (tests and benchmarks read it)."""

    def _digest(self, path: Path, stat: Any) -> str:
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        known = self._digests.get(path)
        if known is None or known[0] != signature:
            known = (signature, file_digest(path))
            self._digests[path] = known
        return known[1]

    def _write(self, archive: tarfile.TarFile, item: Path, name: str) -> None:
        info = _owned_by_root(archive.gettarinfo(str(item), arcname=name))
        if not info.isfile() or info.size < BLOB_MIN_BYTES:
            if info.isfile():
                with item.open("rb") as handle:
                    archive.addfile(info, handle)
            elif info.isdir() or info.issym():
                archive.addfile(info)
            return
        blob = f"{BLOBS}/{self._digest(item, item.stat())}"
        if blob not in self._blobs:
            content = _owned_by_root(archive.gettarinfo(str(item), arcname=blob))
            with item.open("rb") as handle:
                archive.addfile(content, handle)
            self._blobs.add(blob)
        link = tarfile.TarInfo(name)
        link.type, link.linkname, link.mode, link.mtime = tarfile.LNKTYPE, blob, info.mode, 0
        archive.addfile(_owned_by_root(link))

    def put(self, items: Iterable[tuple[Path, str]]) -> None:
        """Each host path (a file, or a directory as :func:`walk` lists it) at its path relative
        to the container's root folder, in one archive streamed from disk."""
        with tempfile.TemporaryFile(prefix="mlci-put-") as spool:
            with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for path, inside in items:
                    for item in walk(path):
                        rel = item.relative_to(path).as_posix()
                        self._write(archive, item, inside if rel == "." else f"{inside}/{rel}")
            size = spool.tell()
            spool.seek(0)
            try:
                ok = self._container.put_archive(str(self._root), spool)
            except docker.errors.DockerException as exc:
                raise StageFailure(f"could not copy files into the container: {exc}") from None
            if not ok:
                raise StageFailure("could not copy files into the container")
            self.sent_bytes += size

    def get(self, inside: str, target: Path) -> bool:
        """The single regular file at ``inside`` written to ``target`` (atomically); False when
        there is none. Anything else (a link, a device, a directory, extra members, more than
        :data:`MAX_OUTPUT_BYTES`) is refused."""
        try:
            stream, _ = self._container.get_archive(inside)
        except docker.errors.NotFound:
            return False
        name = PurePosixPath(inside).name
        with tempfile.TemporaryFile(prefix="mlci-get-") as spool:
            for chunk in stream:
                spool.write(chunk)
                if spool.tell() > MAX_OUTPUT_BYTES + 2**20:
                    raise StageFailure(
                        f"{name}: the task's output is larger than {MAX_OUTPUT_BYTES} bytes"
                    )
            spool.seek(0)
            with tarfile.open(fileobj=spool) as archive:
                members = archive.getmembers()
                if len(members) != 1 or not members[0].isfile() or members[0].name != name:
                    kinds = ", ".join(
                        f"{m.name} ({'file' if m.isfile() else 'not a file'})" for m in members
                    )
                    raise StageFailure(
                        f"{name}: the task's output is not one regular file: {kinds}"
                    )
                handle = archive.extractfile(members[0])
                assert handle is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
                with partial.open("wb") as out:
                    shutil.copyfileobj(handle, out, 2**20)
                partial.replace(target)
        return True

    def read(self, inside: str) -> bytes | None:
        """A small file of the container (a result, a log) as bytes; None when there is none."""
        with tempfile.TemporaryDirectory(prefix="mlci-read-") as tmp:
            target = Path(tmp) / "file"
            return target.read_bytes() if self.get(inside, target) else None
