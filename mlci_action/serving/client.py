"""The smoke test of a running prediction server: replay test rows, compare with evaluation.

The cases (test rows and the candidate's own labels and probabilities) are written by the
evaluate task in the project's environment (``mlci_action.worker.smoke_cases``); this side is
plain Python, so the action image carries no numpy or pandas. It speaks the Open Inference
(KServe V2) protocol as JSON, so any V2 server (mlci's, KServe's, Seldon's MLServer) can be
tested the same way; mlci's own server is checked against the stock tritonclient in the tests.

It waits for readiness, sends every row in batches (``batch_size`` rows a request, timed for
throughput) and a sample of rows one request each (``singles`` evenly spaced rows, timed for
latency), and compares both answers, labels and probabilities, with the cases: 1,000 rows
take four batches and 50 single requests, not 1,000 requests.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mlci_action.errors import StageFailure

_SHOWN = 5
_FORMAT = "mlci.smoke-cases/1"
LABEL_RTOL = 1e-9
"""A float label (a regression's prediction) must match to this relative tolerance."""
PROBA_ATOL = 1e-9
"""A probability must match to this absolute tolerance (BLAS may sum a batch differently)."""


class SmokeTestError(StageFailure):
    """The server could not be reached, never became ready, or refused the test rows."""


@dataclass(frozen=True)
class Mismatch:
    row: int
    expected: Any
    got: Any
    via: str
    """"single" (the per-row requests) or "batch"."""
    output: str = "predict"
    """"predict" (the label or value) or "predict_proba" (the row's probabilities)."""


@dataclass(frozen=True)
class SmokeResult:
    rows: int
    mismatches: int
    """Rows where either pass disagrees with the expected labels or probabilities."""
    first_mismatches: tuple[Mismatch, ...]
    p50_ms: float
    p99_ms: float
    """Client-side latency of the single-row requests (the sampled rows)."""
    batch_rows_per_s: float
    probabilities: bool = False
    """Whether probabilities were compared too (a classifier with predict_proba)."""


@dataclass(frozen=True)
class Cases:
    columns: dict[str, list[Any]]
    predict: list[Any]
    predict_proba: list[list[float]] | None
    rows: int

    @classmethod
    def read(cls, path: Path) -> Cases:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SmokeTestError(f"{path}: cannot read the smoke-test cases: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
            raise SmokeTestError(f"{path}: not an mlci smoke-cases file ({_FORMAT})")
        rows = int(raw["rows"])
        columns = {str(k): list(v) for k, v in raw["columns"].items()}
        predict, proba = list(raw["predict"]), raw.get("predict_proba")
        if any(len(v) != rows for v in (*columns.values(), predict)) or (
            proba is not None and len(proba) != rows
        ):
            raise SmokeTestError(f"{path}: columns and answers are not all {rows} rows long")
        return cls(columns, predict, proba, rows)

    def slice(self, start: int, stop: int) -> dict[str, list[Any]]:
        return {name: values[start:stop] for name, values in self.columns.items()}

    def sample(self, count: int) -> list[int]:
        """``count`` rows spread evenly over the file, the first and the last included."""
        if count >= self.rows:
            return list(range(self.rows))
        if count == 1:
            return [0]
        return sorted({round(i * (self.rows - 1) / (count - 1)) for i in range(count)})


def smoke_test(
    url: str,
    model_name: str,
    cases_path: Path,
    batch_size: int = 256,
    *,
    singles: int = 50,
    ready_timeout_s: float = 30.0,
    request_timeout_s: float = 60.0,
) -> SmokeResult:
    """Check a served model against the answers evaluation got in-process.

    ``url`` is ``host:port`` (``http://`` optional). Raises SmokeTestError when the server is
    unreachable, not ready within ``ready_timeout_s``, or answers with an error.
    """
    if batch_size < 1 or singles < 1:
        raise ValueError("batch_size and singles must be at least 1")
    cases = Cases.read(cases_path)
    base = "http://" + url.removeprefix("http://").rstrip("/")
    with requests.Session() as session:
        server = _Server(session, base, model_name, request_timeout_s)
        try:
            server.wait_ready(ready_timeout_s)
            datatypes, outputs = server.signature(cases)
            if cases.predict_proba is not None and "predict_proba" not in outputs:
                raise SmokeTestError(
                    f"the served model {model_name!r} gives no probabilities (outputs: "
                    f"{', '.join(outputs) or 'none'}), but the evaluated model did",
                    hint="training-serving skew: the served model is not the evaluated one",
                )
            wanted = ["predict"] + (["predict_proba"] if cases.predict_proba is not None else [])
            server.infer(cases.slice(0, 1), datatypes, wanted)  # warm-up, not timed
            batch, began = [], time.perf_counter()
            for start in range(0, cases.rows, batch_size):
                batch.append(
                    server.infer(cases.slice(start, start + batch_size), datatypes, wanted)
                )
            elapsed = time.perf_counter() - began
            single: dict[int, dict[str, list[Any]]] = {}
            latencies: list[float] = []
            for row in cases.sample(singles):
                began = time.perf_counter()
                single[row] = server.infer(cases.slice(row, row + 1), datatypes, wanted)
                latencies.append((time.perf_counter() - began) * 1000)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _unreachable(base, exc) from None
    found = _compare(cases, _joined(batch), "batch", range(cases.rows))
    found += _compare(cases, _joined(list(single.values())), "single", list(single))
    return SmokeResult(
        rows=cases.rows,
        mismatches=len({m.row for m in found}),
        first_mismatches=tuple(sorted(found, key=lambda m: (m.row, m.via, m.output))[:_SHOWN]),
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        batch_rows_per_s=cases.rows / elapsed if elapsed > 0 else float("inf"),
        probabilities=cases.predict_proba is not None,
    )


class _Server:
    """The V2 REST calls the smoke test makes, on one keep-alive session."""

    def __init__(self, session: requests.Session, base: str, model: str, timeout_s: float) -> None:
        self.session, self.base, self.model, self.timeout = session, base, model, timeout_s

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = "it never answered"
        while True:
            try:
                live = self.session.get(f"{self.base}/v2/health/ready", timeout=2)
                model = self.session.get(f"{self.base}/v2/models/{self.model}/ready", timeout=2)
                if live.ok and model.ok:
                    return
                last = f"it answered, but model {self.model!r} was not ready"
            except requests.RequestException as exc:
                last = f"{exc.__class__.__name__}: {_reason(exc)}"
            if time.monotonic() >= deadline:
                raise SmokeTestError(
                    f"the server at {self.base} was not ready within {timeout_s:g}s ({last})",
                    hint="check the server's log; is the port right?",
                )
            time.sleep(0.1)

    def signature(self, cases: Cases) -> tuple[dict[str, str], list[str]]:
        """The model's inputs (name: datatype) and output names; FP64 inputs if none declared."""
        answer = self.session.get(f"{self.base}/v2/models/{self.model}", timeout=self.timeout)
        if not answer.ok:
            raise SmokeTestError(
                f"cannot read model {self.model!r}'s metadata: {_error_text(answer)}"
            )
        metadata = answer.json()
        declared = {str(i["name"]): str(i["datatype"]) for i in metadata.get("inputs") or []}
        outputs = [str(o["name"]) for o in metadata.get("outputs") or []]
        if not declared:
            return dict.fromkeys(cases.columns, "FP64"), outputs
        missing = [name for name in declared if name not in cases.columns]
        if missing:
            raise SmokeTestError(
                f"the served model takes column(s) the test file lacks: {', '.join(missing)}"
            )
        return declared, outputs

    def infer(
        self, rows: dict[str, list[Any]], datatypes: dict[str, str], outputs: list[str]
    ) -> dict[str, list[Any]]:
        count = len(next(iter(rows.values()))) if rows else 0
        body = {
            "inputs": [
                {
                    "name": name,
                    "shape": [count],
                    "datatype": datatype,
                    "data": [_element(value, datatype) for value in rows[name]],
                }
                for name, datatype in datatypes.items()
            ],
            "outputs": [{"name": name} for name in outputs],
        }
        answer = self.session.post(
            f"{self.base}/v2/models/{self.model}/infer",
            data=json.dumps(body, allow_nan=True),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        if not answer.ok:
            raise SmokeTestError(
                f"the server at {self.base} refused a request: {_error_text(answer)}",
                hint="the test file's rows should pass the served model's schema",
            )
        found = {str(o["name"]): o for o in answer.json().get("outputs") or []}
        result: dict[str, list[Any]] = {}
        for name in outputs:
            tensor = found.get(name)
            data = None if tensor is None else tensor.get("data")
            width = _row_width(tensor)
            if data is None or len(data) != count * width:
                raise SmokeTestError(
                    f"the server at {self.base} answered without {count} {name!r} rows"
                )
            result[name] = (
                list(data)
                if width == 1
                else [data[i * width : (i + 1) * width] for i in range(count)]
            )
        return result


def _row_width(tensor: dict[str, Any] | None) -> int:
    shape = (tensor or {}).get("shape") or [0]
    return int(math.prod(shape[1:])) if len(shape) > 1 else 1


def _element(value: Any, datatype: str) -> Any:
    if datatype == "BYTES":
        return None if value is None else str(value)
    if value is None:
        return math.nan if datatype.startswith("FP") else None
    if datatype == "BOOL":
        return bool(value)
    if datatype.startswith(("INT", "UINT")):
        return int(value)
    if datatype.startswith("FP"):
        return float(value)
    return value


def _joined(parts: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    joined: dict[str, list[Any]] = {}
    for part in parts:
        for name, values in part.items():
            joined.setdefault(name, []).extend(values)
    return joined


def _compare(
    cases: Cases, answers: dict[str, list[Any]], via: str, rows: Sequence[int]
) -> list[Mismatch]:
    """Mismatches of ``answers``, which hold the answers for ``rows`` in that order."""
    found = [
        Mismatch(row, cases.predict[row], got, via)
        for row, got in zip(rows, answers["predict"], strict=True)
        if not _same_label(cases.predict[row], got)
    ]
    if cases.predict_proba is not None:
        expected = cases.predict_proba
        found += [
            Mismatch(row, expected[row], got, via, "predict_proba")
            for row, got in zip(rows, answers["predict_proba"], strict=True)
            for want in (expected[row],)
            if len(want) != len(got)
            or any(
                not _close(float(a), float(b), PROBA_ATOL, 0.0)
                for a, b in zip(want, got, strict=True)
            )
        ]
    return found


def _same_label(want: Any, got: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (want, got))
    if numbers:
        if isinstance(want, float) or isinstance(got, float):
            return _close(float(want), float(got), 0.0, LABEL_RTOL)
        return bool(want == got)
    return str(want) == str(got)


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(a)


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return float(statistics.quantiles(values, n=100, method="inclusive")[q - 1])


def _error_text(answer: requests.Response) -> str:
    try:
        error = answer.json().get("error")
    except ValueError:
        error = None
    return f"HTTP {answer.status_code}: {error or answer.text[:300] or answer.reason}"


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause (``Connection refused``), not urllib3's nested wrapper text."""
    cause: BaseException = exc
    while cause.__context__ is not None and cause.__context__ is not cause:
        cause = cause.__context__
    return str(cause)


def _unreachable(base: str, exc: requests.RequestException) -> SmokeTestError:
    return SmokeTestError(
        f"cannot reach the server at {base}: {exc.__class__.__name__}: {_reason(exc)}",
        hint="is the container running and the port published?",
    )


__all__: Sequence[str] = ("Cases", "Mismatch", "SmokeResult", "SmokeTestError", "smoke_test")
