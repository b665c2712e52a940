"""The run cache: content-addressed models and run results under the cache directory.

Layout, one folder per entry::

    models/<side key>/   model.skops             one trained model per code+data+params+environment
    runs/<run key>/      results.json, models/…, predictions.csv, logs/…, smoke-cases.json
    tmp/                 entries being written, and evicted ones on their way out

Integrity: each entry holds ``manifest.json``, the sha256 and size of every file in it. An
entry is used only when every file matches; reading copies the files into the run's own work
directory and hashes the copies, so what the run uses is exactly what was verified. A mismatch,
a missing file or an unreadable manifest evicts the entry, with a warning, and the caller
recomputes.

Atomicity: an entry is built in ``tmp/`` (the same filesystem), its files fsynced, then renamed
into place in one step, so readers never see half an entry and a killed run leaves only a
folder in ``tmp/``, removed once it is older than an hour. When another process stored the
same key first, its entry is kept if it is valid (and holds every file the new one has).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

from pydantic import Field, ValidationError

from mlci_action import __version__
from mlci_action.hashing import value_digest
from mlci_action.record import (
    DataReport,
    EnvironmentInfo,
    Evaluation,
    GateResult,
    ModelTestsReport,
    Record,
    StageResult,
)

MANIFEST = "manifest.json"
RESULTS = "results.json"
MODEL = "model.skops"
TMP_MAX_AGE = 3600.0
"""Seconds after which a folder in ``tmp/`` belongs to a run that died: it is removed."""
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
_CHUNK = 1 << 20

Warn = Callable[[str], None]


def default_cache_dir() -> Path:
    if explicit := os.environ.get("MLCI_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlci"


def _temp_name(dest: Path) -> Path:
    """A sibling of ``dest`` no other thread or process picks: pid and random."""
    return dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not every filesystem lets a directory be opened)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def _replacing(dest: Path) -> Iterator[Path]:
    """A temporary file next to ``dest``; renamed onto it when the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(dest.parent)


def atomic_copy(src: Path, dest: Path) -> None:
    with _replacing(dest) as tmp:
        _copy_hashing(src, tmp)


def atomic_write(dest: Path, text: str) -> None:
    with _replacing(dest) as tmp, tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


class FileDigest(Record):
    sha256: str
    size: int


class Manifest(Record):
    """``manifest.json`` of an entry: every file in it, by its path inside the entry."""

    files: dict[str, FileDigest]


class CachedRun(Record):
    """What a run key covers: a run's results without its identity (which commit, when, what
    was deployed). A run that reuses them names its own sources and makes its own image."""

    computed_at: str
    stages: dict[str, StageResult]
    """The reused stages' results, as the run that computed them found them."""
    evaluation: Evaluation | None = None
    data: DataReport | None = None
    model_tests: ModelTestsReport | None = None
    gates: list[GateResult] = Field(default_factory=list)
    environment: EnvironmentInfo | None = None
    baseline_environment: EnvironmentInfo | None = None
    params: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    trained: dict[str, bool] = Field(default_factory=dict)
    baseline_error: str | None = None


def _copy_hashing(src: Path, dest: Path) -> FileDigest:
    """Copy ``src`` to ``dest`` (fsynced) and return the digest of the bytes written."""
    digest, size = hashlib.sha256(), 0
    with src.open("rb") as reader, dest.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return FileDigest(sha256=digest.hexdigest(), size=size)


def _file_digest(path: Path) -> FileDigest:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileDigest(sha256=digest.hexdigest(), size=size)


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a cache key: {key!r}")
    return key


def _check_name(name: str) -> str:
    """A file's path inside an entry: relative, no ``..``, not the manifest."""
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
        or name == MANIFEST
    ):
        raise ValueError(f"not a file name inside a cache entry: {name!r}")
    return name


class _Corrupt(Exception):
    """An entry that does not match its manifest (the message says how)."""


class RunCache:
    """The cache under ``root``. ``warn`` hears about entries found corrupt and evicted."""

    def __init__(self, root: Path, warn: Warn | None = None) -> None:
        self.root = root
        self.warn: Warn = warn if warn is not None else logging.getLogger("mlci").warning

    @staticmethod
    def run_key(
        candidate_key: str, baseline_key: str | None, executor: str, inputs: object = None
    ) -> str:
        """Everything a run's results depend on, nothing about which commit or when:
        ``inputs`` holds what the side keys do not (the effective settings, say)."""
        return value_digest([candidate_key, baseline_key, executor, inputs, __version__])

    # ------------------------------------------------------------------ models

    def model(self, side_key: str) -> Path | None:
        """The cached model of ``side_key``, verified where it lies; None if absent or bad."""
        with self._entry(self._folder("models", side_key), None, (MODEL,)) as found:
            if found is not None:
                return found / MODEL
        return None

    def fetch_model(self, side_key: str, into: Path) -> Path | None:
        """The cached model of ``side_key``, copied into the folder ``into`` and verified
        there (``into/model.skops``); None if absent or bad."""
        with self._entry(self._folder("models", side_key), into, (MODEL,)) as found:
            if found is not None:
                return into / MODEL
        return None

    def store_model(self, side_key: str, model: Path) -> Path | None:
        """Store ``model``; the cached copy's path, or None when it could not be written."""
        folder = self._put(self._folder("models", side_key), {MODEL: model})
        return folder / MODEL if folder is not None else None

    # -------------------------------------------------------------------- runs

    def run(
        self, run_key: str, into: Path | None = None, require: Collection[str] = ()
    ) -> CachedRun | None:
        """The results cached under ``run_key``, their files copied into ``into`` (all or
        none, each verified as copied; None: verified in place). None when absent, bad, or
        lacking one of the ``require``d files."""
        with self._entry(self._folder("runs", run_key), into, (RESULTS, *require)) as found:
            if found is not None:
                try:
                    return CachedRun.model_validate_json((found / RESULTS).read_bytes())
                except ValidationError as exc:
                    raise _Corrupt(f"{RESULTS} is not valid ({exc.error_count()} errors)") from None
        return None

    def store_run(self, run_key: str, results: CachedRun, files: dict[str, Path]) -> None:
        """Store ``results`` with ``files`` (their paths inside the entry -> where they are
        now). An entry already there is kept if it is valid and has every one of the files."""
        entry: dict[str, Path | str] = {**files, RESULTS: results.model_dump_json(indent=2)}
        self._put(self._folder("runs", run_key), entry)

    # ---------------------------------------------------------------- entries

    def _folder(self, kind: str, key: str) -> Path:
        return self.root / kind / _check_key(key)

    @contextmanager
    def _entry(
        self, folder: Path, into: Path | None, require: Collection[str]
    ) -> Iterator[Path | None]:
        """The entry at ``folder`` once every file matches its manifest: the folder itself,
        or with ``into`` a staging folder in it holding verified copies, which move to their
        places in ``into`` when the block ends well. None: no entry, or one without a
        ``require``d file. A bad entry (or the block raising :class:`_Corrupt`) is evicted."""
        try:
            inode = folder.stat().st_ino
        except OSError:
            yield None  # no entry: a plain miss
            return
        staging = into / f".cache-{_unique()}" if into is not None else None
        manifest: Manifest | None = None
        try:
            manifest = self._verify(folder, staging, require)
        except _Corrupt as exc:
            self._evict(folder, inode, str(exc))
        except OSError as exc:  # not the entry's fault (the work directory, say): a miss
            self.warn(f"cache: cannot read {folder}: {exc}")
        if manifest is None:
            _unstage(staging, into, keep=False)
            yield None
            return
        keep = False
        try:
            yield staging or folder
            keep = True
        except _Corrupt as exc:
            self._evict(folder, inode, str(exc))
        finally:
            _unstage(staging, into, keep=keep)

    def _manifest(self, folder: Path) -> Manifest:
        try:
            manifest = Manifest.model_validate_json((folder / MANIFEST).read_bytes())
        except FileNotFoundError:
            raise _Corrupt(f"no {MANIFEST}") from None
        except (OSError, ValidationError) as exc:
            raise _Corrupt(f"{MANIFEST} is not readable ({type(exc).__name__})") from None
        try:
            for name in manifest.files:
                _check_name(name)
        except ValueError as exc:
            raise _Corrupt(str(exc)) from None
        return manifest

    def _verify(
        self, folder: Path, staging: Path | None, require: Collection[str]
    ) -> Manifest | None:
        """The manifest, every file checked against it (and copied to ``staging``)."""
        manifest = self._manifest(folder)
        if any(name not in manifest.files for name in require):
            return None  # valid, but made by a run that did not need these: a miss
        if staging is not None:
            staging.mkdir(parents=True)
        for name, expected in manifest.files.items():
            source = folder / name
            try:
                if staging is None:
                    found = _file_digest(source)
                else:
                    target = staging / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    found = _copy_hashing(source, target)
            except (FileNotFoundError, IsADirectoryError) as exc:
                if exc.filename is not None and Path(exc.filename) == source:
                    raise _Corrupt(f"{name} is missing") from None
                raise
            if found != expected:
                raise _Corrupt(
                    f"{name} has {found.size} bytes, sha256 {found.sha256[:12]}…; "
                    f"its manifest says {expected.size} bytes, {expected.sha256[:12]}…"
                )
        return manifest

    def _put(self, folder: Path, files: dict[str, Path | str]) -> Path | None:
        """Write the entry at ``folder`` atomically; the entry in place at the end (this one,
        or a valid one another process stored first), or None when it could not be written."""
        tmp_root = self.root / "tmp"
        temp = tmp_root / f"{folder.parent.name}-{folder.name[:16]}-{_unique()}"
        try:
            _clean_tmp(tmp_root)
            temp.mkdir(parents=True)
            entries: dict[str, FileDigest] = {}
            for name, source in files.items():
                target = temp / _check_name(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(source, str):
                    entries[name] = _write_synced(target, source.encode("utf-8"))
                else:
                    entries[name] = _copy_hashing(source, target)
            manifest = Manifest(files=entries)
            _write_synced(temp / MANIFEST, manifest.model_dump_json(indent=2).encode("utf-8"))
            for sub in sorted(p for p in temp.rglob("*") if p.is_dir()):
                _fsync_dir(sub)
            _fsync_dir(temp)
            return self._commit(temp, folder, manifest)
        except OSError as exc:
            self.warn(f"cache: cannot store {folder}: {exc}")
            return None
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def _commit(self, temp: Path, folder: Path, manifest: Manifest) -> Path:
        """Rename ``temp`` to ``folder``. Another process may have put an entry there first:
        kept if valid and complete, else moved aside and replaced (readers see the old entry,
        then none, then the new: never a partial one)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                os.rename(temp, folder)
            except OSError:
                if not folder.exists():
                    continue  # evicted between the two calls: try again
            else:
                _fsync_dir(folder.parent)
                return folder
            try:
                inode = folder.stat().st_ino
                existing = self._verify(folder, None, ())
            except FileNotFoundError:
                continue  # evicted meanwhile
            except _Corrupt as exc:
                self._evict(folder, inode, str(exc))
                continue
            if existing is not None and set(manifest.files) <= set(existing.files):
                return folder
            self._evict(folder, inode, None)  # valid, but lacks files this one has: replace
        raise OSError(f"{folder} keeps changing under concurrent writers")

    def _evict(self, folder: Path, inode: int | None, why: str | None) -> None:
        """Move ``folder`` out of the way and delete it. With ``inode``: only if the entry
        is still the one that was found bad (another process may have replaced it)."""
        try:
            if inode is not None and folder.stat().st_ino != inode:
                return
            trash = self.root / "tmp" / f"evicted-{folder.name[:16]}-{_unique()}"
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder, trash)
        except OSError:
            return  # already gone
        if why is not None:
            self.warn(
                f"cache: {folder.parent.name}/{folder.name[:12]} is damaged ({why}): "
                "evicted, recomputing"
            )
        shutil.rmtree(trash, ignore_errors=True)


def _unique() -> str:
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def _write_synced(path: Path, data: bytes) -> FileDigest:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return FileDigest(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _unstage(staging: Path | None, into: Path | None, *, keep: bool) -> None:
    """Move the verified copies from ``staging`` to their places in ``into``, or drop them."""
    if staging is None or into is None:
        return
    try:
        if keep and staging.is_dir():
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    target = into / path.relative_to(staging)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _clean_tmp(tmp_root: Path) -> None:
    """Remove what runs that died left in ``tmp/`` (anything older than TMP_MAX_AGE)."""
    if not tmp_root.is_dir():
        return
    cutoff = time.time() - TMP_MAX_AGE
    for path in tmp_root.iterdir():
        with suppress(OSError):
            if path.lstat().st_mtime < cutoff:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
