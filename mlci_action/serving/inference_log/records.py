"""What a request leaves on the queue (:class:`Entry`: references, no copies) and the log
records the writer thread makes of it, one per row, in the monitoring contract's shape::

    {"id", "row", "time", "model", "version", "image_digest",
     "features": {column: value|null}, "prediction", "probabilities": {class: p}|null}
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.serving.model import Prediction, ServedModel

VERSION = "1"
"""The model version the V2 paths serve (``/v2/models/NAME/versions/1``)."""

_CALLER_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-Id if it is a plain token (letters, digits, ``._:/+=@-``, at
    most 128), else a new uuid4 hex: an id travels into files and CloudEvents headers."""
    if header and _CALLER_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Entry:
    """One logged request: the decoded features and the model's arrays, as they were."""

    request_id: str
    time: float
    """seconds since the epoch"""
    model: ServedModel
    features: pd.DataFrame | np.ndarray
    """The validated frame, or the numeric fast path's float matrix (serving.numeric) in the
    model's feature order; made a frame in the writer thread, off the request path."""
    prediction: Prediction

    @property
    def rows(self) -> int:
        return len(self.features)

    @cached_property
    def frame(self) -> pd.DataFrame:
        if isinstance(self.features, pd.DataFrame):
            return self.features
        return pd.DataFrame(self.features, columns=self.model.feature_names, copy=False)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain(values: Any) -> list[Any]:
    """A column as JSON-ready Python values, NaN and NA as None."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    listed = array.tolist()
    if array.dtype.kind == "f":
        if np.isnan(array).any():
            return [None if v != v else v for v in listed]
    elif array.dtype.kind == "O" and pd.isna(array).any():
        return [
            None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v
            for v in listed
        ]
    return listed


def records(entry: Entry, image_digest: str) -> list[dict[str, Any]]:
    columns = {name: plain(entry.frame[name]) for name in entry.frame.columns}
    names = list(columns)
    labels = plain(entry.prediction.labels)
    proba = entry.prediction.proba
    classes = entry.prediction.classes
    class_names = [] if classes is None else [str(c) for c in classes.tolist()]
    stamp = rfc3339(entry.time)
    out = []
    for row in range(entry.rows):
        probabilities = None
        if proba is not None:
            probabilities = dict(zip(class_names, proba[row].tolist(), strict=True))
        out.append(
            {
                "id": entry.request_id,
                "row": row,
                "time": stamp,
                "model": entry.model.name,
                "version": VERSION,
                "image_digest": image_digest,
                "features": {name: columns[name][row] for name in names},
                "prediction": labels[row],
                "probabilities": probabilities,
            }
        )
    return out
