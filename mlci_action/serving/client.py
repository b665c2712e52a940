"""The smoke test of a running prediction server, through a stock V2 client (tritonclient).

It waits for readiness, sends the test set as single rows (timing each request) and again in
large batches (for throughput), and compares both answers with the predictions the evaluate
stage wrote. Tensors go as plain V2 JSON (``binary_data=False``) so any V2 server - mlci's,
KServe's, Seldon's MLServer - can be tested the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tritonclient.http as v2
from tritonclient.utils import InferenceServerException

from mlci_action.errors import StageFailure
from mlci_action.serving.protocol import Array
from mlci_action.worker.frames import read_table, split_xy

_NUMPY = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32}
_SHOWN = 5


class SmokeTestError(StageFailure):
    """The server could not be reached, never became ready, or refused the test set."""


@dataclass(frozen=True)
class Mismatch:
    row: int
    expected: Any
    got: Any
    via: str
    """"single" (the per-row requests) or "batch"."""


@dataclass(frozen=True)
class SmokeResult:
    rows: int
    mismatches: int
    """Rows where either pass disagrees with the expected predictions."""
    first_mismatches: tuple[Mismatch, ...]
    p50_ms: float
    p99_ms: float
    """Client-side latency of the per-row requests (``batch_size`` rows each)."""
    batch_rows_per_s: float


def smoke_test(
    url: str,
    model_name: str,
    test_csv: Path,
    target: str,
    expected_predictions_csv: Path,
    batch_size: int = 1,
    *,
    ready_timeout_s: float = 30.0,
    request_timeout_s: float = 60.0,
    max_batch_rows: int = 10_000,
) -> SmokeResult:
    """Check a served model against the predictions made in-process.

    ``url`` is ``host:port`` (an ``http://`` prefix is dropped). Raises SmokeTestError when the
    server is unreachable, not ready within ``ready_timeout_s``, or answers with an error.
    """
    if batch_size < 1 or max_batch_rows < 1:
        raise ValueError("batch_size and max_batch_rows must be at least 1")
    features, _ = split_xy(read_table(test_csv, what="test file"), target, test_csv)
    expected = _expected(expected_predictions_csv, len(features))
    address = url.removeprefix("http://").rstrip("/")
    try:
        client = v2.InferenceServerClient(
            url=address, connection_timeout=request_timeout_s, network_timeout=request_timeout_s
        )
    except InferenceServerException as exc:
        raise SmokeTestError(f"bad server address {url!r}: {exc.message()}") from None
    try:
        _wait_ready(client, model_name, address, ready_timeout_s)
        datatypes = _input_datatypes(client, model_name, features)
        sender = _Sender(client, model_name, datatypes, address)
        sender.send(features.iloc[:1])  # warm-up, not timed: first-call imports and caches
        single, latencies = [], []
        for start in range(0, len(features), batch_size):
            began = time.perf_counter()
            single.append(sender.send(features.iloc[start : start + batch_size]))
            latencies.append((time.perf_counter() - began) * 1000)
        batch, began = [], time.perf_counter()
        for start in range(0, len(features), max_batch_rows):
            batch.append(sender.send(features.iloc[start : start + max_batch_rows]))
        elapsed = time.perf_counter() - began
    except OSError as exc:  # refused, reset, timed out (socket.timeout is one)
        raise _unreachable(address, exc) from None
    finally:
        client.close()
    wrong_single = _differs(expected, np.concatenate(single))
    wrong_batch = _differs(expected, np.concatenate(batch))
    shown = [
        Mismatch(int(row), _plain(expected[row]), _plain(got[row]), via)
        for via, got, wrong in (
            ("single", np.concatenate(single), wrong_single),
            ("batch", np.concatenate(batch), wrong_batch),
        )
        for row in np.flatnonzero(wrong)
    ]
    return SmokeResult(
        rows=len(features),
        mismatches=int(np.count_nonzero(wrong_single | wrong_batch)),
        first_mismatches=tuple(sorted(shown, key=lambda m: (m.row, m.via))[:_SHOWN]),
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
        batch_rows_per_s=len(features) / elapsed if elapsed > 0 else float("inf"),
    )


class _Sender:
    def __init__(
        self, client: v2.InferenceServerClient, model: str, datatypes: dict[str, str], address: str
    ) -> None:
        self.client, self.model, self.datatypes, self.address = client, model, datatypes, address
        self.outputs = [v2.InferRequestedOutput("predict", binary_data=False)]

    def send(self, rows: pd.DataFrame) -> Array:
        inputs = []
        for name, datatype in self.datatypes.items():
            tensor = v2.InferInput(name, [len(rows)], datatype)
            tensor.set_data_from_numpy(_column(rows[name], datatype), binary_data=False)
            inputs.append(tensor)
        try:
            result = self.client.infer(self.model, inputs, outputs=self.outputs)
        except InferenceServerException as exc:
            raise SmokeTestError(
                f"the server at {self.address} refused a request: {exc.message()}",
                hint="the test file's rows should pass the served model's schema",
            ) from None
        predictions = result.as_numpy("predict")
        if predictions is None or len(predictions) != len(rows):
            raise SmokeTestError(
                f"the server at {self.address} answered without {len(rows)} 'predict' values"
            )
        return np.asarray(predictions).reshape(-1)


def _wait_ready(
    client: v2.InferenceServerClient, model: str, address: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    last = "it never answered"
    while True:
        try:
            if client.is_server_ready() and client.is_model_ready(model):
                return
            last = f"it answered, but model {model!r} was not ready"
        except InferenceServerException as exc:
            last = exc.message() or str(exc)
        except OSError as exc:
            last = f"{exc.__class__.__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise SmokeTestError(
                f"the server at {address} was not ready within {timeout_s:g}s ({last})",
                hint="check the server's log; is the port right?",
            )
        time.sleep(0.1)


def _input_datatypes(
    client: v2.InferenceServerClient, model: str, features: pd.DataFrame
) -> dict[str, str]:
    """The model's inputs from its metadata; FP64 columns if the server declares none."""
    try:
        metadata = client.get_model_metadata(model)
    except InferenceServerException as exc:
        raise SmokeTestError(f"cannot read model {model!r}'s metadata: {exc.message()}") from None
    declared = {str(i["name"]): str(i["datatype"]) for i in metadata.get("inputs") or []}
    if not declared:
        return dict.fromkeys(map(str, features.columns), "FP64")
    missing = [name for name in declared if name not in features.columns]
    if missing:
        raise SmokeTestError(
            f"the served model takes column(s) the test file lacks: {', '.join(missing)}"
        )
    return declared


def _column(values: pd.Series, datatype: str) -> Array:
    if datatype == "BYTES":
        return np.array([None if pd.isna(v) else str(v) for v in values], dtype=np.object_)
    if datatype == "BOOL":
        return values.to_numpy(dtype=bool)
    return values.to_numpy(dtype=_NUMPY.get(datatype, np.float64))


def _expected(path: Path, rows: int) -> Array:
    frame = read_table(path, what="expected predictions file")
    if "prediction" not in frame.columns:
        raise SmokeTestError(f"{path}: no 'prediction' column (columns: {list(frame.columns)})")
    if len(frame) != rows:
        raise SmokeTestError(f"{path}: {len(frame)} predictions for {rows} test rows")
    return frame["prediction"].to_numpy()


def _differs(expected: Array, got: Array) -> Array:
    """Labels must be equal; floats equal to 1e-9 relative (JSON carries them exactly)."""
    if _numeric(expected) and _numeric(got):
        if expected.dtype.kind == "f" or got.dtype.kind == "f":
            same = np.isclose(
                got.astype(float), expected.astype(float), rtol=1e-9, atol=0.0, equal_nan=True
            )
            return ~same
        return got != expected
    return np.array([str(a) != str(b) for a, b in zip(expected, got, strict=True)], dtype=bool)


def _numeric(array: Array) -> bool:
    return array.dtype.kind in "biuf"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _unreachable(address: str, exc: OSError) -> SmokeTestError:
    return SmokeTestError(
        f"cannot reach the server at {address}: {exc.__class__.__name__}: {exc}",
        hint="is the container running and the port published?",
    )


__all__: Sequence[str] = ("Mismatch", "SmokeResult", "SmokeTestError", "smoke_test")
