"""The inference log for a window: the tallies of live rows `mlci monitor` judges.

The log is a directory (or an fsspec URL) of ``*.jsonl`` and ``*.parquet`` files, one record
per row of a request (the monitoring contract). Files are read block by block
(:mod:`.blocks`) and each block is folded into running tallies (:mod:`.tally`), so memory stays
bounded however long the window; only a run with labels keeps each row's id, prediction and
probabilities, to join them. A line that is not a record is skipped and counted, and the first
few are named by file and line; the monitor never stops on one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlci_action.errors import InputError
from mlci_action.monitoring.blocks import (
    Block,
    Wanted,
    json_schema,
    jsonl_blocks,
    parquet_blocks,
)
from mlci_action.monitoring.drift import tally_for, tally_values
from mlci_action.monitoring.profile import CategoricalProfile, NumericProfile, Profile
from mlci_action.monitoring.record import LogCounts
from mlci_action.monitoring.tally import ConfidenceTally, NumericTally, Tally

EXAMPLES = 5
THREADS = min(4, os.cpu_count() or 1)
"""Threads tallying a block's features."""
SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class Kept:
    """Each live row's request id, row, prediction and class probabilities (one column per
    reference class; None without any), in log order: for joining ground-truth labels."""

    ids: list[str]
    rows: list[int]
    predictions: list[Any]
    probabilities: npt.NDArray[np.float64] | None


@dataclass(frozen=True)
class LiveRows:
    """The window, tallied: per reference feature, the prediction, each class probability."""

    counts: LogCounts
    features: dict[str, Tally]
    prediction: Tally
    probabilities: dict[str, NumericTally] | None
    confidence: ConfidenceTally
    first: datetime | None
    last: datetime | None
    models: list[str]
    kept: Kept | None = None


def _is_url(source: str) -> bool:
    return "://" in source


def _filesystem(source: str) -> Any:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - a dependency of mlci
        raise InputError(
            f"{source}: reading the inference log from a URL needs fsspec",
            hint="pip install fsspec (and the filesystem's package, e.g. s3fs or gcsfs)",
        ) from None
    try:
        fs, _, paths = fsspec.get_fs_token_paths(source)
    except (ValueError, ImportError) as exc:
        raise InputError(
            f"{source}: cannot open this URL ({exc})",
            hint="install the filesystem's fsspec package (e.g. s3fs, gcsfs), or fix the URL",
        ) from None
    return fs, paths[0]


def log_files(sources: Sequence[str], cutoff: datetime | None) -> list[tuple[str, Any]]:
    """(name, filesystem or None) of every log file of ``sources`` (directories are searched
    one level deep for *.jsonl and *.parquet). Local files last written before ``cutoff`` hold
    no record of the window and are left out."""
    found: list[tuple[str, Any]] = []
    for source in sources:
        if _is_url(source):
            fs, root = _filesystem(source)
            if not fs.exists(root):
                raise InputError(f"{source}: the inference log does not exist")
            names = [root] if fs.isfile(root) else sorted(fs.ls(root, detail=False))
            found += [(str(n), fs) for n in names if str(n).endswith(SUFFIXES)]
            continue
        path = Path(source)
        if not path.exists():
            raise InputError(
                f"{source}: the inference log does not exist",
                hint="give the log directory (monitoring.log in mlci.yaml, or --log)",
            )
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        for file in files:
            if not file.name.endswith(SUFFIXES):
                continue
            if cutoff is not None and file.stat().st_mtime < cutoff.timestamp():
                continue
            found.append((str(file), None))
    return found


def _is_arrow(values: Any) -> bool:
    return not isinstance(values, np.ndarray)


def _floats(values: Any) -> npt.NDArray[np.float64]:
    if _is_arrow(values):
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = values.type
        if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind):
            return np.asarray(
                pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float
            )
        values = np.asarray(values.to_pylist(), dtype=object)
    import pandas as pd

    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)


def _add(tally: Tally, values: Any) -> None:
    if isinstance(tally, NumericTally):
        tally.add(_floats(values))
        return
    if _is_arrow(values):
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = values.type
        if pa.types.is_dictionary(kind) and (
            pa.types.is_string(kind.value_type) or pa.types.is_integer(kind.value_type)
        ):  # counted on the codes; the level names are the dictionary's
            kind = pa.string()
        if pa.types.is_string(kind) or pa.types.is_null(kind) or pa.types.is_integer(kind):
            # integers (a class label) counted as numbers, named as text: str(1) is "1"
            found = pc.value_counts(values.drop_null()).to_pylist() if len(values) else []
            counts = {str(item["values"]): int(item["counts"]) for item in found}
            tally.add(counts, values.null_count)
            return
        values = np.asarray(values.to_pylist(), dtype=object)
    tally_values(tally, values)


def _take(values: Any, mask: npt.NDArray[np.bool_]) -> Any:
    return values.filter(mask) if _is_arrow(values) else values[mask]


def _list(values: Any) -> list[Any]:
    return values.to_pylist() if _is_arrow(values) else list(values)


def _row(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass
class _Window:
    profile: Profile
    cutoff: int | None
    keep: bool
    features: dict[str, Tally] = field(init=False)
    prediction: Tally = field(init=False)
    probabilities: dict[str, NumericTally] | None = field(init=False)
    confidence: ConfidenceTally = field(default_factory=ConfidenceTally)
    lines: int = 0
    malformed: int = 0
    examples: list[str] = field(default_factory=list)
    outside: int = 0
    rows: int = 0
    first: int | None = None
    last: int | None = None
    models: set[str] = field(default_factory=set)
    kept: Kept | None = None
    pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(THREADS)
        self.features = {name: tally_for(ref) for name, ref in self.profile.features.items()}
        self.prediction = tally_for(self.profile.prediction)
        self.probabilities = None
        if self.profile.probabilities:
            self.probabilities = {}
            for name, reference in self.profile.probabilities.items():
                tally = tally_for(reference)
                assert isinstance(tally, NumericTally)
                self.probabilities[name] = tally
        if self.keep:
            has_proba = bool(self.profile.probabilities)
            self.kept = Kept([], [], [], np.empty((0, 0)) if has_proba else None)

    def add(self, block: Block) -> None:
        self.lines += block.lines
        self.outside += block.outside
        self.malformed += len(block.malformed)
        self.examples += list(block.malformed[: EXAMPLES - len(self.examples)])
        if not block.size:
            return
        mask = None
        if self.cutoff is not None:
            inside = block.times >= self.cutoff
            self.outside += int(block.size - inside.sum())
            if not inside.any():
                return
            if not inside.all():
                mask = inside
        pick = (lambda v: v) if mask is None else (lambda v: _take(v, mask))
        times = block.times if mask is None else block.times[mask]
        size = int(times.size)
        self.rows += size
        low, high = int(times.min()), int(times.max())
        self.first = low if self.first is None else min(self.first, low)
        self.last = high if self.last is None else max(self.last, high)

        def one(name: str, tally: Tally) -> None:
            if name in block.features:
                _add(tally, pick(block.features[name]))
            elif isinstance(tally, NumericTally):
                tally.add(np.full(size, np.nan))
            else:
                tally.add({}, size)

        # each tally in one thread at a time, every block's before the next: numpy's sort and
        # pyarrow's kernels release the GIL, so the features of a block are tallied in parallel
        for done in [self.pool.submit(one, n, t) for n, t in self.features.items()]:
            done.result()
        prediction = pick(block.columns["prediction"])
        _add(self.prediction, prediction)
        proba = self._probabilities(block, pick, size)
        if proba is not None:
            self.confidence.add(proba)
        self._models(block, pick)
        if self.kept is not None:
            self._keep(block, pick, prediction, proba)

    def _probabilities(self, block: Block, pick: Any, size: int) -> Any:
        if self.probabilities is None or block.probabilities is None:
            return None
        columns = []
        for name, tally in self.probabilities.items():
            values = (
                _floats(pick(block.probabilities[name]))
                if name in block.probabilities
                else np.full(size, np.nan)
            )
            tally.add(values)
            columns.append(values)
        return np.column_stack(columns)

    def _models(self, block: Block, pick: Any) -> None:
        keys = ("model", "version", "image_digest")
        present = [block.columns[k] for k in keys if k in block.columns]
        if present and all(_is_arrow(c) for c in present):
            import pyarrow.compute as pc

            distinct = {k: pc.unique(pick(block.columns[k])) for k in keys if k in block.columns}
            if all(len(d) <= 1 for d in distinct.values()):  # one model: no row by row
                one = [distinct[k][0].as_py() if len(distinct.get(k, ())) else None for k in keys]
                self.models.add(" ".join(str(v or "") for v in one).strip())
                return
        columns = [_list(pick(block.columns[k])) if k in block.columns else None for k in keys]
        size = len(next((c for c in columns if c is not None), []))
        rows = zip(*[c if c is not None else [None] * size for c in columns], strict=True)
        for row in set(rows):
            self.models.add(" ".join(str(v or "") for v in row).strip())

    def _keep(self, block: Block, pick: Any, prediction: Any, proba: Any) -> None:
        kept = self.kept
        assert kept is not None
        kept.ids.extend(str(i) for i in _list(pick(block.columns["id"])))
        size = len(kept.ids) - len(kept.rows)
        rows = _list(pick(block.columns["row"])) if "row" in block.columns else [0] * size
        kept.rows.extend(_row(r) for r in rows)
        kept.predictions.extend(_list(prediction))
        if kept.probabilities is not None:
            classes = len(self.probabilities or {})
            add = proba if proba is not None else np.full((size, classes), np.nan)
            self.kept = Kept(
                kept.ids,
                kept.rows,
                kept.predictions,
                np.vstack([kept.probabilities.reshape(-1, classes), add]),
            )

    def result(self, files: int) -> LiveRows:
        def when(micros: int | None) -> datetime | None:
            if micros is None:
                return None
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)

        return LiveRows(
            counts=LogCounts(
                files=files,
                lines=self.lines,
                malformed=self.malformed,
                malformed_examples=self.examples,
                outside_window=self.outside,
                rows=self.rows,
            ),
            features=self.features,
            prediction=self.prediction,
            probabilities=self.probabilities,
            confidence=self.confidence,
            first=when(self.first),
            last=when(self.last),
            models=sorted(self.models - {""}),
            kept=self.kept,
        )


def _blocks(files: list[tuple[str, Any]], wanted: Wanted, schema: Any) -> Iterator[Block]:
    """Every block of ``files`` in order."""
    for name, fs in files:
        handle = fs.open(name, "rb") if fs is not None else open(name, "rb")  # noqa: SIM115
        with handle:
            if name.endswith(".parquet"):
                yield from parquet_blocks(name, handle, wanted)
            else:
                yield from jsonl_blocks(name, handle, schema)


def _ahead(blocks: Iterator[Block], reader: ThreadPoolExecutor) -> Iterator[Block]:
    """``blocks``, each next one read (decoded: pyarrow releases the GIL) in ``reader`` while
    the caller tallies this one; never more than one block ahead (bounded memory)."""
    pending = reader.submit(next, blocks, None)
    try:
        while (block := pending.result()) is not None:
            pending = reader.submit(next, blocks, None)
            yield block
    finally:
        pending.cancel()
        wait([pending])


def read_log(
    sources: Sequence[str],
    profile: Profile,
    *,
    since: timedelta | None = None,
    now: datetime | None = None,
    keep: bool = False,
) -> LiveRows:
    """The window ``[now - since, ...)`` of the log (every row without ``since``), tallied
    against ``profile``; ``keep``: also each row's id, prediction and probabilities."""
    now = now or datetime.now(UTC)
    cutoff = now - since if since is not None else None
    start = None if cutoff is None else round(cutoff.timestamp() * 1_000_000)
    window = _Window(profile, start, keep)
    numeric = [n for n, f in profile.features.items() if isinstance(f, NumericProfile)]
    schema = json_schema(numeric, list(profile.probabilities or {}))
    wanted = Wanted(
        features=list(profile.features),
        categorical=[n for n, f in profile.features.items() if isinstance(f, CategoricalProfile)],
        probabilities=bool(profile.probabilities),
        ids=keep,
        cutoff=start,
    )
    files = log_files(sources, cutoff)
    with window.pool, ThreadPoolExecutor(1) as reader:
        for block in _ahead(_blocks(files, wanted, schema), reader):
            window.add(block)
    return window.result(len(files))


__all__ = ["Kept", "LiveRows", "log_files", "read_log"]
