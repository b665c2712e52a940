"""A :class:`~.batch.Batch` as JSON Lines, column by column: the monitoring contract's record
(:func:`.records.records` is its one-row-at-a-time reference), without a dict per row.

Each column becomes a list of JSON texts in one call (numbers and booleans: ``orjson`` on the
numpy array, split at the commas; anything else: each distinct value encoded once); the lines
are those lists interleaved with the constant pieces between them (``,"f1":``) and joined once.
A NaN or an infinity is ``null``, as a missing value. About a tenth of the time of a dict and a
``json.dumps`` per row (benchmarks/README.md), which is time the writer thread would otherwise
take from predictions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import orjson
import pandas as pd

from mlci_action.serving.inference_log.batch import Batch
from mlci_action.serving.inference_log.records import VERSION, rfc3339
from mlci_action.serving.protocol import Array

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def encode(batch: Batch, image_digest: str) -> bytes:
    rows = batch.rows
    if not rows:
        return b""
    const = json.dumps
    model = f',"model":{const(batch.model.name)},"version":{const(VERSION)}'
    model += f',"image_digest":{const(image_digest)},"features":{{'
    heads: list[str] = []
    middles: list[str] = []
    for request_id, time, length in zip(batch.ids, batch.times, batch.lengths, strict=True):
        heads += [f'{{"id":{const(request_id)},"row":'] * length
        middles += [f',"time":{const(rfc3339(time))}{model}'] * length
    pieces: list[Sequence[str]] = [heads, texts(batch.row_index), middles]
    names = list(batch.features)
    columns = (
        _matrix_texts(batch.matrix)
        if batch.matrix is not None
        else [texts(batch.features[name]) for name in names]
    )
    for i, (name, column) in enumerate(zip(names, columns, strict=True)):
        pieces += [[("," if i else "") + const(name) + ":"] * rows, column]
    pieces += [['},"prediction":'] * rows, texts(batch.labels)]
    if batch.proba is None or batch.has_proba is None:
        pieces.append([',"probabilities":null}\n'] * rows)
    else:
        probabilities = _matrix_texts(batch.proba)
        parts: list[Sequence[str]] = []
        for j, name in enumerate(batch.classes):
            opening = ',"probabilities":{' if j == 0 else ","
            parts += [[opening + const(name) + ":"] * rows, probabilities[j]]
        parts.append(["}}\n"] * rows)
        nulls = ~batch.has_proba
        if nulls.any():  # a request that asked for no probabilities: null, as one row would
            blanked = [np.array(part, dtype=object) for part in parts]
            for part in blanked:
                part[nulls] = ""
            blanked[-1][nulls] = ',"probabilities":null}\n'
            parts = [part.tolist() for part in blanked]
        pieces += parts
    width = len(pieces)
    flat: list[str] = [""] * (rows * width)
    for j, piece in enumerate(pieces):
        flat[j::width] = piece
    return "".join(flat).encode()


def texts(values: Array) -> list[str]:
    """Each value as JSON text (NaN, infinities and missing values as ``null``)."""
    array = np.asarray(values)
    if array.dtype.kind in "iub" or array.dtype == np.float64:
        return _split(orjson.dumps(np.ascontiguousarray(array), option=_NUMPY))
    if array.dtype.kind == "f":  # float16/32: written as the float64 each one is
        return _split(orjson.dumps(array.astype(np.float64), option=_NUMPY))
    codes, uniques = pd.factorize(array.astype(object), use_na_sentinel=True)
    encoded = np.array(
        [orjson.dumps(value, default=str, option=_NUMPY).decode() for value in uniques.tolist()]
        + ["null"],
        dtype=object,
    )
    return list(encoded[codes].tolist())


def _split(dumped: bytes) -> list[str]:
    return dumped[1:-1].decode().split(",") if len(dumped) > 2 else []


def _matrix_texts(matrix: Array) -> list[list[str]]:
    """A 2-D array's columns as JSON texts, from one orjson call over the whole matrix."""
    rows, width = matrix.shape
    if not rows:
        return [[] for _ in range(width)]
    array = matrix.astype(np.float64) if matrix.dtype.kind == "f" else matrix
    if array.dtype.kind not in "fiub":
        return [texts(array[:, j]) for j in range(width)]
    dumped = orjson.dumps(np.ascontiguousarray(array), option=_NUMPY)
    flat = dumped[2:-2].decode().replace("],[", ",").split(",")
    return [flat[j::width] for j in range(width)]


__all__ = ["encode", "texts"]
