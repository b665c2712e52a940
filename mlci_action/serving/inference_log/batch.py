"""Many logged requests as columns: what the writer thread encodes and bins in one go.

:func:`batch_of` turns the entries the writer drained (each a request's frame or fast-path
matrix and its prediction) into one :class:`Batch`: a numpy array per feature over all their
rows, the labels, the probabilities, and per request its id, time and row count. The sinks and
the drift window then work on whole columns (numpy, orjson, pyarrow), never on a row at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.serving.inference_log.records import Entry
from mlci_action.serving.model import ServedModel
from mlci_action.serving.protocol import Array


@dataclass(frozen=True)
class Batch:
    model: ServedModel
    ids: tuple[str, ...]
    """Per request."""
    times: tuple[float, ...]
    """Per request, seconds since the epoch."""
    lengths: tuple[int, ...]
    """Rows per request."""
    features: Mapping[str, Array]
    """Per feature column, every row of the batch, in request order."""
    matrix: Array | None
    """The same features as one ``(rows, features)`` float array when every request came by the
    numeric fast path (one call encodes it all), else None."""
    labels: Array
    proba: Array | None
    """``(rows, classes)``; a row whose request asked for no probabilities is NaN, and
    :attr:`has_proba` is False there. None when no request has any."""
    has_proba: npt.NDArray[np.bool_] | None
    classes: tuple[str, ...]
    """The probability columns' class names (as str)."""

    @property
    def rows(self) -> int:
        return len(self.labels)

    @property
    def row_index(self) -> npt.NDArray[np.int64]:
        """Each row's index within its request."""
        ends = np.cumsum(self.lengths)
        starts = np.repeat(ends - np.asarray(self.lengths, dtype=np.int64), self.lengths)
        return np.arange(self.rows, dtype=np.int64) - starts


def batch_of(entries: Sequence[Entry]) -> Batch:
    """One batch of the entries' rows; all entries are of one model (one per server)."""
    model = entries[0].model
    matrices = [entry.features for entry in entries]
    matrix: Array | None = None
    if all(isinstance(m, np.ndarray) for m in matrices):
        matrix = np.concatenate(matrices) if len(matrices) > 1 else np.asarray(matrices[0])
        features = {name: matrix[:, i] for i, name in enumerate(model.feature_names)}
    else:
        names = list(entries[0].frame.columns)
        features = {
            name: _concat([_column(entry.frame[name]) for entry in entries]) for name in names
        }
    predictions = [entry.prediction for entry in entries]
    labels = _concat([np.asarray(p.labels) for p in predictions])
    proba: Array | None = None
    has_proba = None
    classes: tuple[str, ...] = ()
    known = next((p for p in predictions if p.proba is not None), None)
    if known is not None and known.classes is not None:
        width = len(known.classes)
        classes = tuple(str(c) for c in known.classes.tolist())
        proba = np.concatenate(
            [
                np.asarray(p.proba, dtype=np.float64)
                if p.proba is not None
                else np.full((len(p.labels), width), np.nan)
                for p in predictions
            ]
        )
        has_proba = np.repeat(
            np.array([p.proba is not None for p in predictions]),
            [len(p.labels) for p in predictions],
        )
    return Batch(
        model=model,
        ids=tuple(entry.request_id for entry in entries),
        times=tuple(entry.time for entry in entries),
        lengths=tuple(entry.rows for entry in entries),
        features=features,
        matrix=matrix,
        labels=labels,
        proba=proba,
        has_proba=has_proba,
        classes=classes,
    )


def _column(series: pd.Series) -> Array:
    return series.to_numpy()


def _concat(arrays: list[Array]) -> Array:
    if len(arrays) == 1:
        return arrays[0]
    if len({a.dtype for a in arrays}) > 1:  # e.g. int64 in one request, object in another
        return np.concatenate([a.astype(object) for a in arrays])
    return np.concatenate(arrays)
