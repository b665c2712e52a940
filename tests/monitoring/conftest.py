"""An in-process prediction server with an inference log: the real app, uvicorn on a loopback
port in a thread, a model trained here, and a reference profile written in the contract's
format (``reference.json``, ``mlci-reference/1``) from a sample of the training distribution.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from mlci_action.serving.app import ServingApp, limit_threads
from mlci_action.serving.inference_log.reference import load_reference
from mlci_action.serving.inference_log.settings import LogSettings
from mlci_action.serving.inference_log.writer import InferenceLog
from mlci_action.serving.limits import Limits
from mlci_action.serving.metrics import ServingMetrics
from mlci_action.serving.model import ServedModel, ServingConfig, load
from mlci_action.serving.processes import listen
from mlci_action.serving.server import ModelSlot, ServerState
from tests.serving.conftest import COLORS, classification_project

FEATURES = ["a", "b", "color"]


def sample(rows: int, seed: int, *, shift_a: float = 0.0) -> pd.DataFrame:
    """Rows from the distribution the test model was trained on (tests.serving.conftest)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows) + shift_a,
            "b": rng.integers(0, 10, size=rows),
            "color": rng.choice(COLORS, size=rows),
        }
    )


def numeric_profile(values: np.ndarray, bins: int = 10) -> dict[str, Any]:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    inner = np.clip(np.searchsorted(edges[1:-1], values, side="right"), 0, len(edges) - 2)
    counts = np.bincount(inner, minlength=len(edges) - 1)
    qs = ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "missing": 0,
        "quantiles": {q: float(np.quantile(values, float(q))) for q in qs},
    }


def categorical_profile(values: pd.Series) -> dict[str, Any]:
    counts = values.astype(str).value_counts()
    return {
        "kind": "categorical",
        "frequencies": {str(k): int(v) for k, v in counts.items()},
        "other": 0,
        "missing": 0,
    }


def write_reference(path: Path, model: Any) -> Path:
    """A reference profile by hand, in the monitoring contract's JSON format."""
    frame = sample(5000, seed=11)
    predicted = pd.Series(model.predict(frame))
    document = {
        "format": "mlci-reference/1",
        "rows": len(frame),
        "target": "label",
        "task": "classification",
        "positive_class": None,
        "features": {
            "a": numeric_profile(frame["a"].to_numpy()),
            "b": numeric_profile(frame["b"].to_numpy().astype(float)),
            "color": categorical_profile(frame["color"]),
        },
        "prediction": categorical_profile(predicted),
        "probabilities": None,
        "metrics": {"accuracy": {"value": 0.9, "low": 0.85, "high": 0.95}},
    }
    path.write_text(json.dumps(document))
    return path


@dataclass(frozen=True)
class Project:
    root: Path
    model: ServedModel
    sklearn: Any
    reference: Path


@pytest.fixture(scope="package")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("served")
    sklearn, _ = classification_project(root)
    served = load(
        ServingConfig(
            model_path=root / "model.skops",
            name="m",
            schema={"kind": "python", "path": "schema.py", "name": "Features"},
            project_dir=root,
            target="label",
        )
    )
    return Project(root, served, sklearn, write_reference(root / "reference.json", sklearn))


@dataclass
class Running:
    url: str
    state: ServerState
    log: InferenceLog | None

    def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers=headers or {},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read()), _lower(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read()), _lower(exc.headers)

    def predict(self, frame: pd.DataFrame, request_id: str | None = None) -> dict[str, str]:
        headers = {"X-Request-Id": request_id} if request_id is not None else {}
        status, answer, got = self.post("/predict", frame.to_dict("records"), headers)
        assert status == 200, answer
        return got

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=30) as response:
            return str(response.read().decode())


def settings(project: Project, **changes: Any) -> LogSettings:
    base = LogSettings(reference=load_reference(project.reference), drift_window=500)
    return replace(base, **changes)


@contextmanager
def running(
    project: Project, log_settings: LogSettings | None, **log_args: Any
) -> Iterator[Running]:
    """The real app on 127.0.0.1:<free port>, with an inference log when settings are given."""
    slot = ModelSlot("m")
    slot.set(project.model)
    state = ServerState(slot, ServingMetrics())
    log = None
    if log_settings is not None:
        log = state.inference_log = InferenceLog(log_settings, state.metrics.registry, **log_args)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            ServingApp(state, Limits()), lifespan="off", log_config=None, access_log=False
        )
    )

    def serve() -> None:
        limit_threads(1)  # as the server's own processes do: no OpenMP team per row
        server.run(sockets=[sock])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield Running(f"http://127.0.0.1:{port}", state, log)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        if log is not None:
            log.close()


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus exposition, or None if absent."""
    for family in text_string_to_metric_families(text):
        for one in family.samples:
            if one.name == name and all(one.labels.get(k) == v for k, v in labels.items()):
                return float(one.value)
    return None


def read_jsonl(directory: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}
