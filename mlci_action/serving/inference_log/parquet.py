"""Log records as Parquet (pyarrow, imported only when MLCI_LOG_FORMAT=parquet): the JSON
record's columns, ``features`` and ``probabilities`` as structs typed from the model, built
from a :class:`~.batch.Batch`'s arrays (no row at a time; pyarrow releases the GIL).

``time`` is a Parquet timestamp (``timestamp[us, tz=UTC]``: the same microseconds as the JSON
record's RFC 3339 string), so a reader compares it without parsing text and skips whole row
groups by their min/max statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlci_action.serving.inference_log.batch import Batch
from mlci_action.serving.inference_log.records import VERSION
from mlci_action.serving.model import ServedModel

TIME = pa.timestamp("us", tz="UTC")
"""The time column's type."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TYPES = {"FP64": pa.float64(), "INT64": pa.int64(), "BOOL": pa.bool_(), "BYTES": pa.string()}


def schema_for(model: ServedModel) -> pa.Schema:
    classes = model.classes
    if classes is None:
        prediction = pa.float64()
    elif classes.dtype.kind in "iu":
        prediction = pa.int64()
    elif classes.dtype.kind == "b":
        prediction = pa.bool_()
    elif classes.dtype.kind == "f":
        prediction = pa.float64()
    else:
        prediction = pa.string()
    probabilities = (
        pa.struct([(str(c), pa.float64()) for c in classes.tolist()])
        if model.classifier and classes is not None
        else pa.struct([("_", pa.float64())])
    )
    return pa.schema(
        [
            ("id", pa.string()),
            ("row", pa.int64()),
            ("time", TIME),
            ("model", pa.string()),
            ("version", pa.string()),
            ("image_digest", pa.string()),
            ("features", pa.struct([(f.name, _TYPES[f.datatype]) for f in model.features])),
            ("prediction", prediction),
            ("probabilities", probabilities),
        ]
    )


def micros(seconds: float) -> int:
    """Microseconds since the epoch: the instant the JSON record's RFC 3339 time names
    (:func:`~.records.rfc3339`, rounded alike)."""
    return (datetime.fromtimestamp(seconds, UTC) - EPOCH) // timedelta(microseconds=1)


def table_of(batch: Batch, image_digest: str) -> pa.Table:
    schema = schema_for(batch.model)
    rows, lengths = batch.rows, list(batch.lengths)
    features_type = schema.field("features").type
    features = pa.StructArray.from_arrays(
        [
            pa.array(batch.features[field.name], type=field.type, from_pandas=True)
            for field in features_type
        ],
        fields=list(features_type),
    )
    proba_type = schema.field("probabilities").type
    if batch.proba is None or batch.has_proba is None:
        probabilities = pa.nulls(rows, type=proba_type)
    else:
        probabilities = pa.StructArray.from_arrays(
            [pa.array(batch.proba[:, j], type=pa.float64()) for j in range(len(batch.classes))],
            fields=list(proba_type),
            mask=pa.array(~batch.has_proba),
        )
    columns = [
        pa.array(np.repeat(np.array(batch.ids, dtype=object), lengths), type=pa.string()),
        pa.array(batch.row_index),
        pa.array(
            np.repeat(np.array([micros(t) for t in batch.times], dtype=np.int64), lengths),
            type=TIME,
        ),
        pa.array([batch.model.name] * rows, type=pa.string()),
        pa.array([VERSION] * rows, type=pa.string()),
        pa.array([image_digest] * rows, type=pa.string()),
        features,
        pa.array(batch.labels, type=schema.field("prediction").type, from_pandas=True),
        probabilities,
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def writer_for(file: IO[bytes], schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(file, schema)
