"""Log records as Parquet (pyarrow, imported only when MLCI_LOG_FORMAT=parquet): the JSON
record's columns, ``features`` and ``probabilities`` as structs typed from the model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlci_action.serving.model import ServedModel

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
            ("time", pa.string()),
            ("model", pa.string()),
            ("version", pa.string()),
            ("image_digest", pa.string()),
            ("features", pa.struct([(f.name, _TYPES[f.datatype]) for f in model.features])),
            ("prediction", prediction),
            ("probabilities", probabilities),
        ]
    )


def table_of(records: Sequence[dict[str, Any]], model: ServedModel) -> pa.Table:
    return pa.Table.from_pylist(list(records), schema=schema_for(model))


def writer_for(file: IO[bytes], schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(file, schema)
