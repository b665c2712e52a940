"""pytest plugin for model tests: fixtures for the trained models and the data.

mlci runs the project's model tests with ``-p mlci_action.pytest_plugin``; to run them by
hand, set the ``MLCI_*`` variables (see ``mlci run`` logs) or add
``pytest_plugins = ["mlci_action.pytest_plugin"]`` to a conftest.py.

Fixtures (session scoped): ``model``, ``baseline_model`` (skips when there is no baseline),
``train_data``, ``test_data`` (DataFrames), ``X_train``, ``y_train``, ``X_test``, ``y_test``,
``target`` (the target column's name).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

_results: list[dict[str, Any]] = []


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: model tests run under `mlci run`")
    return value


def _load(path: str) -> Any:
    from mlci_action.worker.modelio import load_model

    trusted = json.loads(os.environ.get("MLCI_TRUSTED_TYPES", "[]"))
    return load_model(path, trusted)


@pytest.fixture(scope="session")
def target() -> str:
    return _env("MLCI_TARGET")


@pytest.fixture(scope="session")
def model() -> Any:
    return _load(_env("MLCI_MODEL_PATH"))


@pytest.fixture(scope="session")
def baseline_model() -> Any:
    path = os.environ.get("MLCI_BASELINE_MODEL_PATH")
    if not path:
        pytest.skip("no baseline model in this run")
    return _load(path)


@pytest.fixture(scope="session")
def train_data() -> Any:
    from mlci_action.worker.frames import read_table

    return read_table(_env("MLCI_TRAIN_PATH"), what="training data")


@pytest.fixture(scope="session")
def test_data() -> Any:
    from mlci_action.worker.frames import read_table

    return read_table(_env("MLCI_TEST_PATH"), what="test data")


@pytest.fixture(scope="session")
def X_train(train_data: Any, target: str) -> Any:
    return train_data.drop(columns=[target])


@pytest.fixture(scope="session")
def y_train(train_data: Any, target: str) -> Any:
    return train_data[target]


@pytest.fixture(scope="session")
def X_test(test_data: Any, target: str) -> Any:
    return test_data.drop(columns=[target])


@pytest.fixture(scope="session")
def y_test(test_data: Any, target: str) -> Any:
    return test_data[target]


def pytest_sessionstart(session: pytest.Session) -> None:
    _results.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if (
        report.when == "call"
        or (report.when == "setup" and report.outcome != "passed")
        or (report.when == "teardown" and report.outcome == "failed")
    ):
        if (report.when == "setup" and report.outcome == "failed") or report.when == "teardown":
            outcome = "error"
        else:
            outcome = report.outcome
        message = None
        if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        elif report.failed:
            message = report.longreprtext.strip().splitlines()[-1] if report.longreprtext else None
        _results.append(
            {
                "nodeid": report.nodeid,
                "outcome": outcome,
                "seconds": round(report.duration, 4),
                "message": message,
            }
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("MLCI_RESULTS_PATH")
    if path:
        Path(path).write_text(
            json.dumps({"tests": _results, "exitstatus": int(exitstatus)}), encoding="utf-8"
        )
