"""MLCI_LOG_* settings are checked at start: a bad one stops the server with exit 2 naming
the variable; and the real server (two processes) logs to files and exports the gauges."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from pathlib import Path

import pytest

from mlci_action.serving.__main__ import main, parse_args
from tests.monitoring.conftest import Project, metric, read_jsonl, sample
from tests.serving.test_listen import free_port, serve


def argv(project: Project) -> list[str]:
    schema = json.dumps({"kind": "python", "path": "schema.py", "name": "Features"})
    root = project.root
    return [
        *("--model", str(root / "model.skops"), "--name", "m", "--schema", schema),
        *("--project-dir", str(root), "--target", "label", "--port", "0"),
    ]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"MLCI_LOG_FORMAT": "csv"}, "MLCI_LOG_FORMAT='csv'"),
        ({"MLCI_LOG_SAMPLE": "1.5"}, "MLCI_LOG_SAMPLE='1.5'"),
        ({"MLCI_LOG_SAMPLE": "half"}, "MLCI_LOG_SAMPLE='half'"),
        ({"MLCI_LOG_QUEUE": "0"}, "MLCI_LOG_QUEUE='0'"),
        ({"MLCI_LOG_QUEUE": "2.5"}, "MLCI_LOG_QUEUE='2.5'"),
        ({"MLCI_LOG_ROTATE_MB": "-1"}, "MLCI_LOG_ROTATE_MB='-1'"),
        ({"MLCI_LOG_ROTATE_SECONDS": "inf"}, "MLCI_LOG_ROTATE_SECONDS='inf'"),
        ({"MLCI_DRIFT_WINDOW": "-5"}, "MLCI_DRIFT_WINDOW='-5'"),
        ({"MLCI_LOG_CLOUDEVENTS_URL": "ftp://x"}, "MLCI_LOG_CLOUDEVENTS_URL='ftp://x'"),
        ({"MLCI_REFERENCE": "/nonexistent/reference.json"}, "MLCI_REFERENCE="),
    ],
)
def test_a_bad_setting_exits_2_naming_it(
    project: Project, env: dict[str, str], words: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mlci.serving"):
        assert main(argv(project), env) == 2
    assert words in caplog.text


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("not json", "not a readable JSON"),
        ({"format": "other/1", "features": {}}, "'format'"),
        ({"format": "mlci-reference/1", "features": {"a": {"kind": "numeric"}}}, "features.a"),
        (
            {
                "format": "mlci-reference/1",
                "features": {"a": {"kind": "numeric", "edges": [0, 1, 1], "counts": [1, 1]}},
            },
            "strictly increasing",
        ),
        (
            {
                "format": "mlci-reference/1",
                "features": {"c": {"kind": "categorical", "frequencies": {"x": -1}}},
            },
            "features.c",
        ),
    ],
)
def test_a_broken_reference_names_the_file_and_field(
    project: Project, tmp_path: Path, document: object, field: str
) -> None:
    path = tmp_path / "reference.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(Exception) as caught:
        parse_args(argv(project), {"MLCI_REFERENCE": str(path)})
    assert str(path) in str(caught.value) and field in str(caught.value)
    assert getattr(caught.value, "exit_code", None) == 2


def test_the_reference_next_to_the_model_is_found(project: Project) -> None:
    _, listen = parse_args(argv(project), {})
    assert listen.logging.reference is not None
    assert listen.logging.reference.path == project.root / "reference.json"
    assert listen.logging.enabled and not listen.logging.path


@pytest.mark.monitoring
def test_two_server_processes_each_write_their_own_files(project: Project, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    port = free_port()
    env = {"WORKERS": "2", "PORT": str(port), "MLCI_LOG_PATH": str(logs), "MLCI_DRIFT_WINDOW": "50"}
    process = serve(project.root, env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = 0
        while ready < 2 and time.monotonic() < deadline:  # both processes log "ready"
            ready = (project.root / "server.log").read_text().count("ready (process")
            time.sleep(0.1)
        frame = sample(2, 3)
        ids = []
        for _ in range(20):  # new connections: the kernel spreads them over both processes
            request = urllib.request.Request(
                url + "/predict",
                data=json.dumps(frame.to_dict("records")).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                ids.append(response.headers["X-Request-Id"])
        time.sleep(1.5)  # the writers drain within a second (for /metrics)
        with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
            text = response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0
    assert metric(text, "mlci_inference_log_records_total", outcome="written") == 40
    assert sorted({r["id"] for r in read_jsonl(logs)}) == sorted(ids)  # closed at SIGTERM
    assert not list(logs.glob("*.tmp"))
    started = re.findall(r"ready \(process (\d+)\)", (project.root / "server.log").read_text())
    assert {path.name.split("-")[2] for path in logs.glob("*.jsonl")} <= set(started)
