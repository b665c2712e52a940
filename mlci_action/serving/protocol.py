"""The Open Inference Protocol (KServe V2) over REST: parsing requests, building answers.

Pure functions, no I/O: request bytes in, records out; arrays in, JSON-ready dicts out.
Every way a request can be wrong is a :class:`RequestError` carrying the HTTP status to answer.

Requests are V2 JSON. Triton's binary tensor extension is read too (a JSON header of
``Inference-Header-Content-Length`` bytes, then each input's raw bytes, as ``tritonclient``
sends by default); answers are always JSON, which every V2 client reads.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlci_action.errors import InputError

Array = npt.NDArray[Any]
Values = list[Any] | Array
"""One tensor's elements, flat: a JSON list, or an array decoded from binary data."""

NUMPY_TYPES: dict[str, type[np.generic]] = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}
DATATYPES = (*NUMPY_TYPES, "BYTES")


class RequestError(InputError):
    """The request cannot be answered; ``status`` is the HTTP status, ``columns`` the
    feature columns at fault (for the validation-failure metric)."""

    def __init__(self, status: int, message: str, *, columns: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.columns = tuple(columns)


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    datatype: str
    data: Values
    kinds: frozenset[type] | None = None
    """The Python types of a JSON list's elements (one scan at parsing, which the numeric
    fast path reuses); None when not known (binary data is an array)."""


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    inputs: tuple[Tensor, ...]
    outputs: tuple[str, ...] | None
    """The outputs asked for by name; None for all of them."""
    parameters: Mapping[str, Any]


def parse_infer_request(body: bytes, header_length: int | None = None) -> InferRequest:
    """A V2 infer request; ``header_length`` is the binary extension's JSON header size."""
    header, binary = body, b""
    if header_length is not None:
        if not 0 <= header_length <= len(body):
            raise RequestError(
                400, f"Inference-Header-Content-Length {header_length} is outside the body"
            )
        header, binary = body[:header_length], body[header_length:]
    document = _json_object(header)
    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise RequestError(400, "the request needs 'inputs': a non-empty list of tensors")
    inputs, offset = [], 0
    for position, raw in enumerate(raw_inputs):
        tensor, offset = _tensor(raw, position, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise RequestError(400, f"{len(binary) - offset} bytes of binary data belong to no input")
    names = [tensor.name for tensor in inputs]
    if len(set(names)) != len(names):
        raise RequestError(400, "two inputs have the same name")
    request_id = document.get("id")
    parameters = document.get("parameters", {})
    if not isinstance(parameters, dict):
        raise RequestError(400, "'parameters' must be an object")
    return InferRequest(
        id=None if request_id is None else str(request_id),
        inputs=tuple(inputs),
        outputs=_requested_outputs(document.get("outputs")),
        parameters=parameters,
    )


def parse_records(body: bytes) -> list[dict[str, Any]]:
    """``{"records": [{column: value}, ...]}`` or a bare list of such records."""
    document = _json(body)
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise RequestError(400, 'send {"records": [{"column": value, ...}, ...]} or a list')
    for row, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestError(400, f"record {row} is a {type(record).__name__}, not an object")
    return records


def feature_columns(request: InferRequest, features: Sequence[str]) -> dict[str, Values]:
    """The request's inputs as one flat column per feature.

    Either one input per feature, named after it, of shape [n] or [n, 1]; or a single 2-D
    input of any other name, shape [n, len(features)], its columns in ``features`` order.
    """
    first = request.inputs[0]
    if len(request.inputs) == 1 and first.name not in features and len(first.shape) == 2:
        return _split_matrix(first, features)
    unknown = [tensor.name for tensor in request.inputs if tensor.name not in features]
    if unknown:
        raise RequestError(
            422,
            f"unknown input {', '.join(map(repr, unknown))}; the model's inputs are "
            f"{', '.join(features)} (or one 2-D input of shape [n, {len(features)}])",
            columns=unknown,
        )
    columns: dict[str, Values] = {}
    for tensor in request.inputs:
        if (len(tensor.shape) == 2 and tensor.shape[1] != 1) or len(tensor.shape) > 2:
            raise RequestError(
                422,
                f"input {tensor.name!r} has shape {list(tensor.shape)}; a feature column "
                "has shape [n] or [n, 1]",
                columns=[tensor.name],
            )
        columns[tensor.name] = tensor.data
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        sizes = ", ".join(f"{name}: {size}" for name, size in lengths.items())
        raise RequestError(422, f"the inputs have different numbers of rows ({sizes})")
    return columns


def datatype_of(array: Array) -> str:
    """The V2 datatype for a numpy array: FP64, INT64, BOOL or BYTES."""
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def output_tensor(name: str, array: Array) -> dict[str, Any]:
    datatype = datatype_of(array)
    if datatype == "BYTES":
        data: list[Any] = [None if value is None else str(value) for value in array.ravel()]
    else:
        data = array.ravel().tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def infer_response(
    model_name: str,
    request: InferRequest,
    outputs: Mapping[str, Array],
) -> dict[str, Any]:
    """The answer: every output, or those the request named (unknown names are a 400)."""
    wanted = list(outputs) if request.outputs is None else list(request.outputs)
    unknown = [name for name in wanted if name not in outputs]
    if unknown:
        raise RequestError(
            400,
            f"unknown output {', '.join(map(repr, unknown))}; this model has: {', '.join(outputs)}",
        )
    response: dict[str, Any] = {
        "model_name": model_name,
        "outputs": [output_tensor(name, outputs[name]) for name in wanted],
    }
    if request.id is not None:
        response["id"] = request.id
    return response


def server_metadata(version: str) -> dict[str, Any]:
    return {"name": "mlci", "version": version, "extensions": []}


def model_metadata(
    name: str,
    inputs: Sequence[tuple[str, str]],
    outputs: Sequence[tuple[str, str, list[int]]],
) -> dict[str, Any]:
    """``inputs``: (name, datatype); ``outputs``: (name, datatype, shape with -1 for any)."""
    return {
        "name": name,
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [{"name": n, "datatype": t, "shape": [-1]} for n, t in inputs],
        "outputs": [{"name": n, "datatype": t, "shape": s} for n, t, s in outputs],
    }


def error_body(message: str) -> dict[str, str]:
    return {"error": message}


def encode(document: Any) -> bytes:
    """Compact JSON; floats are written shortest-exact, so they read back bit for bit.

    orjson (a tenth of the time of the standard library for a 1,000-row answer); it writes a
    NaN as null, which every JSON parser reads. What it cannot write (an integer over 64 bits)
    goes to the standard library."""
    try:
        return orjson.dumps(document)
    except orjson.JSONEncodeError:
        return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _json(body: bytes) -> Any:
    """orjson first (a tenth of the time for a 1,000-row batch); what it refuses is read by
    the standard library, which accepts what it always has (NaN and Infinity literals, as
    pandas' ``to_json`` and mlci's smoke client write them, UTF-16 bodies, huge integers) and
    words a refusal as before."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestError(
            400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not valid JSON: not UTF-8") from None


def _json_object(body: bytes) -> dict[str, Any]:
    document = _json(body)
    if not isinstance(document, dict):
        raise RequestError(400, f"the body is a JSON {type(document).__name__}, not an object")
    return document


def _tensor(raw: Any, position: int, binary: bytes, offset: int) -> tuple[Tensor, int]:
    if not isinstance(raw, dict):
        raise RequestError(400, f"input {position} is not an object")
    name, shape, datatype = raw.get("name"), raw.get("shape"), raw.get("datatype")
    if not isinstance(name, str) or not name:
        raise RequestError(400, f"input {position} has no 'name'")
    if not (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise RequestError(400, f"input {name!r}: 'shape' must be a list of sizes, e.g. [3]")
    if datatype not in DATATYPES:
        raise RequestError(
            400, f"input {name!r}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}"
        )
    size = math.prod(shape)
    parameters = raw.get("parameters") or {}
    binary_size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    data: Values
    kinds: frozenset[type] | None = None
    if binary_size is not None:
        if not isinstance(binary_size, int) or offset + binary_size > len(binary):
            raise RequestError(400, f"input {name!r}: binary_data_size runs past the body")
        data = _decode_binary(name, datatype, binary[offset : offset + binary_size])
        offset += binary_size
    elif "data" in raw:
        data, kinds = _flat(raw["data"])
    else:
        raise RequestError(400, f"input {name!r} has no 'data'")
    if len(data) != size:
        raise RequestError(
            400, f"input {name!r}: shape {shape} holds {size} elements but 'data' has {len(data)}"
        )
    return Tensor(name, tuple(shape), datatype, data, kinds), offset


def _flat(data: Any) -> tuple[list[Any], frozenset[type]]:
    """The data flat, and its elements' types: one scan when it is flat already (a subclass
    of list cannot come from JSON), two when it was nested."""
    if not isinstance(data, list):
        return [data], frozenset((type(data),))
    kinds = frozenset(map(type, data))
    if list not in kinds:
        return data, kinds
    flat = _flatten(data)
    return flat, frozenset(map(type, flat))


def _flatten(data: Any) -> list[Any]:
    """V2 allows the data nested by shape or flat (row-major); always hand back flat."""
    if not isinstance(data, list):
        return [data]
    if list not in set(map(type, data)):
        return data
    flat: list[Any] = []
    for item in data:
        flat.extend(_flatten(item))
    return flat


def _decode_binary(name: str, datatype: str, raw: bytes) -> Values:
    if datatype != "BYTES":
        dtype = np.dtype(NUMPY_TYPES[datatype]).newbyteorder("<")
        if len(raw) % dtype.itemsize:
            raise RequestError(400, f"input {name!r}: {len(raw)} bytes is not a whole {datatype}")
        return np.frombuffer(raw, dtype=dtype)
    items: list[Any] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise RequestError(400, f"input {name!r}: truncated BYTES element")
        (length,) = struct.unpack_from("<I", raw, offset)
        item = raw[offset + 4 : offset + 4 + length]
        if len(item) != length:
            raise RequestError(400, f"input {name!r}: truncated BYTES element")
        try:
            items.append(item.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(422, f"input {name!r}: a BYTES element is not UTF-8") from None
        offset += 4 + length
    return items


def _requested_outputs(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in raw
    ):
        raise RequestError(400, "'outputs' must be a list of objects with a 'name'")
    return tuple(item["name"] for item in raw) or None


def _split_matrix(tensor: Tensor, features: Sequence[str]) -> dict[str, Values]:
    width = tensor.shape[1]
    if width != len(features):
        raise RequestError(
            422,
            f"input {tensor.name!r} has {width} columns; the model takes {len(features)}: "
            f"{', '.join(features)}",
        )
    data = tensor.data
    return {name: data[column::width] for column, name in enumerate(features)}
