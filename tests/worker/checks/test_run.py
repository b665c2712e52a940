"""The data-tests task as a whole: which checks run, the report, the worker entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlci_action.errors import InputError
from mlci_action.worker.checks import run
from tests.worker.checks.helpers import (
    PY_SCHEMA,
    YAML_SCHEMA,
    find,
    frame,
    project,
    settings,
)


@pytest.mark.parametrize("schema", [PY_SCHEMA, YAML_SCHEMA], ids=["python", "yaml"])
def test_clean_data_passes(tmp_path: Path, schema: dict[str, Any]) -> None:
    report = run(project(tmp_path, schema=schema, baseline=frame(seed=3)))

    failed = [check for check in report["checks"] if not check["passed"]]
    assert failed == []
    assert report["passed"] is True
    assert report["rows"] == {"train": 200, "test": 200}
    kinds = {check["kind"] for check in report["checks"]}
    assert kinds == {
        "columns",
        "schema",
        "duplicates",
        "constant",
        "leakage",
        "categories",
        "target",
        "drift",
    }
    # every check says which setting tunes it
    assert all(check["setting"] for check in report["checks"])
    assert [c["dataset"] for c in find(report, "schema")] == ["train", "test"]


def test_target_column_absent_is_an_input_error(tmp_path: Path) -> None:
    test = frame(seed=2).rename(columns={"species": "label"})

    with pytest.raises(InputError, match=r"test\.csv: target column 'species' is not in the file"):
        run(project(tmp_path, test=test))


def test_disabled_checks_are_skipped(tmp_path: Path) -> None:
    off = {"enabled": False}
    families = ("columns", "duplicates", "categories", "constant", "leakage", "target", "drift")
    checks = settings(dict.fromkeys(families, off))

    report = run(project(tmp_path, baseline=frame(seed=3), checks=checks))

    assert report["checks"] == []
    assert report["passed"] is True


def test_the_worker_entry_point_writes_the_report(tmp_path: Path) -> None:
    request = project(tmp_path, schema=PY_SCHEMA)
    broken = dict(request, target="label")
    results = {}
    for name, payload in (("ok", request), ("broken", broken)):
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mlci_action.worker",
                "data-tests",
                str(tmp_path / f"{name}.json"),
                str(tmp_path / f"{name}-result.json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        results[name] = (
            done.returncode,
            json.loads((tmp_path / f"{name}-result.json").read_text()),
        )

    code, ok = results["ok"]
    assert code == 0 and ok["ok"] is True and ok["result"]["passed"] is True
    code, broken_result = results["broken"]
    assert code == 1
    assert broken_result["kind"] == "input"
    assert "target column 'label'" in broken_result["message"]
    assert "traceback" not in broken_result


def test_a_header_only_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    request = project(tmp_path)
    (tmp_path / "test.csv").write_text("length,width,colour,species\n")

    with pytest.raises(InputError) as caught:
        run(request)

    assert (
        caught.value.message == f"{tmp_path / 'test.csv'}: test data has a header but no data rows"
    )
    assert caught.value.hint


def test_parquet_rows_are_counted_from_one(tmp_path: Path) -> None:
    """A Parquet file has no lines: row i of the frame is "row i+1", whatever index it stored."""
    request = project(tmp_path)
    train = frame(seed=1)
    train.loc[[6, 7], "species"] = "x"
    train.index = train.index * 10 + 5  # a stored index that is not the row position
    train.to_parquet(tmp_path / "train.parquet")

    report = run(dict(request, train_path="train.parquet"))

    (categories,) = find(report, "categories")
    (failure,) = categories["failures"]
    assert failure["file"] == "train.parquet"
    assert failure["examples"] == ["row 7: 'x'", "row 8: 'x'"]
