"""Real prediction servers, one per model, started once for the serving tests.

Each is ``python -m mlci_action.serving`` in a subprocess on a free loopback port (``--port 0``;
the port is read back from its log), serving a model trained and saved with skops here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from mlci_action.worker.modelio import save_model

COLORS = ["red", "green", "blue"]
SCHEMA_PY = """\
import pandera.pandas as pa
from pandera.typing import Series


class Features(pa.DataFrameModel):
    a: Series[float] = pa.Field(in_range={"min_value": -10, "max_value": 10})
    b: Series[int] = pa.Field(ge=0)
    color: Series[str] = pa.Field(isin=["red", "green", "blue"])
    label: Series[str]
"""


@pytest.fixture(scope="session", autouse=True)
def one_native_thread() -> Iterator[None]:
    """One OpenMP/BLAS thread for fitting and predicting in the test process, as the server
    has (MLCI_SERVE_THREADS=1): on a loaded machine an OpenMP team per call spins against the
    other jobs (the tree tests took 295 s with every core's threads against 9 s with one)."""
    with threadpool_limits(1):
        yield


@dataclass(frozen=True)
class Served:
    url: str
    """http://127.0.0.1:PORT"""
    address: str
    """127.0.0.1:PORT, as tritonclient takes it"""
    name: str
    model: Any
    test: pd.DataFrame
    target: str
    test_csv: Path
    log: Path

    @property
    def features(self) -> pd.DataFrame:
        return self.test.drop(columns=[self.target])


def request(
    served: Served, method: str, path: str, body: Any = None, *, raw: bytes | None = None
) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one real HTTP request."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(served.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, payload = response.status, response.read()
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, payload, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, json.loads(payload) if "json" in kind else payload.decode()


def classification_project(root: Path) -> tuple[Any, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 10, size=n),
            "color": rng.choice(COLORS, size=n),
        }
    )
    score = frame["a"] + (frame["color"] == "red") - 0.1 * frame["b"]
    frame["label"] = np.where(score > 0, "yes", np.where(score > -0.8, "maybe", "no"))
    train, test = frame.iloc[:300], frame.iloc[300:].reset_index(drop=True)
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", "passthrough", ["a", "b"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(train.drop(columns=["label"]), train["label"])
    save_model(model, root / "model.skops")
    (root / "schema.py").write_text(SCHEMA_PY)
    test.to_csv(root / "test.csv", index=False)
    return model, test


def regression_project(root: Path) -> tuple[Any, pd.DataFrame]:
    """Fitted on an array (no feature names): the server takes the columns from the schema."""
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(0, 5, size=n)})
    frame["y"] = 3 * frame["x1"] - frame["x2"] ** 2 + rng.normal(scale=0.1, size=n)
    train, test = frame.iloc[:200], frame.iloc[200:].reset_index(drop=True)
    model = Ridge(alpha=0.5).fit(train[["x1", "x2"]].to_numpy(), train["y"])
    save_model(model, root / "model.skops")
    schema = pa.DataFrameSchema(
        {
            "x1": pa.Column(float),
            "x2": pa.Column(float, pa.Check.in_range(0, 5)),
            "y": pa.Column(float),
        }
    )
    (root / "schema.yaml").write_text(str(schema.to_yaml()))
    test.to_csv(root / "test.csv", index=False)
    return model, test


def start(root: Path, name: str, schema: dict[str, str], target: str) -> subprocess.Popen[bytes]:
    log = (root / "server.log").open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlci_action.serving",
            "--model",
            str(root / "model.skops"),
            "--name",
            name,
            "--schema",
            json.dumps(schema),
            "--project-dir",
            str(root),
            "--target",
            target,
            "--port",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file, never a pipe nobody drains
    )


def wait_port(process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "serving model" in line and "http://" in line:
                return int(line.rsplit(":", 1)[1])
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"server did not start:\n{log.read_text()}")


def wait_ready(served: Served, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if request(served, "GET", "/v2/health/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server not ready:\n{served.log.read_text()}")


@pytest.fixture(scope="package")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    """Both servers start together (each pays the imports once), and stop at the end."""
    specs = {
        "clf": (
            classification_project,
            {"kind": "python", "path": "schema.py", "name": "Features"},
            "label",
        ),
        "reg": (regression_project, {"kind": "yaml", "path": "schema.yaml"}, "y"),
    }
    processes, made = {}, {}
    for name, (build, schema, target) in specs.items():
        root = tmp_path_factory.mktemp(name)
        made[name] = (root, *build(root), target)
        processes[name] = start(root, name, schema, target)
    try:
        served = {}
        for name, (root, model, test, target) in made.items():
            port = wait_port(processes[name], root / "server.log")
            served[name] = Served(
                url=f"http://127.0.0.1:{port}",
                address=f"127.0.0.1:{port}",
                name=name,
                model=model,
                test=test,
                target=target,
                test_csv=root / "test.csv",
                log=root / "server.log",
            )
        for one in served.values():
            wait_ready(one)
        yield served
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=10)


@pytest.fixture(scope="package")
def clf(servers: dict[str, Served]) -> Served:
    return servers["clf"]


@pytest.fixture(scope="package")
def reg(servers: dict[str, Served]) -> Served:
    return servers["reg"]


def columnar(frame: pd.DataFrame, types: dict[str, str]) -> list[dict[str, Any]]:
    """V2 inputs, one per column, as a V2 client sends them."""
    return [
        {
            "name": name,
            "shape": [len(frame)],
            "datatype": types[name],
            "data": frame[name].tolist(),
        }
        for name in types
    ]
