"""The data-tests worker task on real files in tmp_path: schema, leakage, target and drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlci_action.config import DataChecks
from mlci_action.errors import InputError
from mlci_action.worker import datatests
from mlci_action.worker.schema_loader import load_schema

SCHEMA_PY = """\
import pandera.pandas as pa
from pandera.typing import Series


class IrisSchema(pa.DataFrameModel):
    length: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 10})
    width: Series[float] = pa.Field(ge=0, nullable=False)
    colour: Series[str] = pa.Field(isin=["red", "green", "blue"])
    species: Series[str] = pa.Field(isin=["a", "b", "c"])
"""

SCHEMA_YAML = """\
schema_type: dataframe
version: 0.35.0
columns:
  length:
    dtype: float64
    nullable: false
    checks:
      in_range: {min_value: 0, max_value: 10}
  width:
    dtype: float64
    nullable: false
    checks:
      greater_than_or_equal_to: 0
  colour:
    dtype: str
    checks:
      isin: [red, green, blue]
  species:
    dtype: str
    checks:
      isin: [a, b, c]
"""


def frame(n: int = 200, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "length": rng.uniform(1, 9, n).round(6),
            "width": (rng.uniform(0, 3, n) + shift).round(6),
            "colour": rng.choice(["red", "green", "blue"], n),
            "species": rng.choice(["a", "b", "c"], n),
        }
    )


def project(
    tmp_path: Path,
    train: pd.DataFrame | None = None,
    test: pd.DataFrame | None = None,
    *,
    schema: dict[str, Any] | None = None,
    baseline: pd.DataFrame | None = None,
    checks: dict[str, Any] | None = None,
    task: str = "classification",
    target: str = "species",
) -> dict[str, Any]:
    """Write the files of a project; return the worker request for it."""
    (tmp_path / "schema.py").write_text(SCHEMA_PY)
    (tmp_path / "schema.yaml").write_text(SCHEMA_YAML)
    (frame(seed=1) if train is None else train).to_csv(tmp_path / "train.csv", index=False)
    (frame(seed=2) if test is None else test).to_csv(tmp_path / "test.csv", index=False)
    if baseline is not None:
        baseline.to_csv(tmp_path / "baseline.csv", index=False)
    return {
        "project_dir": str(tmp_path),
        "train_path": "train.csv",
        "test_path": "test.csv",
        "target": target,
        "task": task,
        "schema_spec": schema,
        "checks": checks or DataChecks().model_dump(),
        "baseline_train_path": "baseline.csv" if baseline is not None else None,
    }


def find(report: dict[str, Any], name: str, **where: Any) -> list[dict[str, Any]]:
    return [
        check
        for check in report["checks"]
        if check["name"] == name and all(check[k] == v for k, v in where.items())
    ]


PY_SCHEMA = {"kind": "python", "path": "schema.py", "name": "IrisSchema"}
YAML_SCHEMA = {"kind": "yaml", "path": "schema.yaml"}


@pytest.mark.parametrize("schema", [PY_SCHEMA, YAML_SCHEMA], ids=["python", "yaml"])
def test_clean_data_passes(tmp_path: Path, schema: dict[str, Any]) -> None:
    report = datatests.run(project(tmp_path, schema=schema, baseline=frame(seed=3)))

    failed = [check for check in report["checks"] if not check["passed"]]
    assert failed == []
    assert report["passed"] is True
    assert report["rows"] == {"train": 200, "test": 200}
    kinds = {check["kind"] for check in report["checks"]}
    assert kinds == {"schema", "leakage", "target", "drift"}
    assert [c["dataset"] for c in find(report, "schema")] == ["train", "test"]


@pytest.mark.parametrize("schema", [PY_SCHEMA, YAML_SCHEMA], ids=["python", "yaml"])
def test_schema_violations_are_counted_with_examples(
    tmp_path: Path, schema: dict[str, Any]
) -> None:
    test = frame(seed=2)
    test.loc[[3, 5, 7], "length"] = [11.5, -1.0, 11.5]
    test.loc[[5, 9], "colour"] = ["purple", "<b>pink</b>"]

    report = datatests.run(project(tmp_path, test=test, schema=schema))

    assert report["passed"] is False
    train_check, test_check = find(report, "schema")
    assert train_check["passed"] is True
    assert test_check["passed"] is False
    assert test_check["detail"] == "2 checks failed on 4 rows"
    by_column = {failure["column"]: failure for failure in test_check["failures"]}
    assert by_column["length"]["count"] == 3
    assert sorted(by_column["length"]["examples"]) == ["-1.0", "11.5"]
    assert by_column["colour"]["count"] == 2
    assert by_column["colour"]["examples"] == ["purple", "<b>pink</b>"]  # not escaped here


def test_missing_column_is_reported_by_name(tmp_path: Path) -> None:
    test = frame(seed=2).drop(columns=["colour"])

    report = datatests.run(project(tmp_path, test=test, schema=PY_SCHEMA))

    test_check = find(report, "schema", dataset="test")[0]
    assert test_check["passed"] is False
    assert test_check["detail"] == "1 check failed"
    assert test_check["failures"] == [
        {"check": "column_in_dataframe", "column": "colour", "count": 1, "examples": ["colour"]}
    ]


def test_a_dataframe_check_counts_rows_and_strict_names_the_extra_column(tmp_path: Path) -> None:
    (tmp_path / "wide.py").write_text(
        SCHEMA_PY
        + """
    @pa.dataframe_check
    def width_is_plausible(cls, df):
        return df["width"] < 50

    class Config:
        strict = True
"""
    )
    test = frame(seed=2).assign(extra=1)
    test.loc[[2, 4], "width"] = 100.0

    report = datatests.run(
        project(
            tmp_path, test=test, schema={"kind": "python", "path": "wide.py", "name": "IrisSchema"}
        )
    )

    test_check = find(report, "schema", dataset="test")[0]
    assert test_check["detail"] == "2 checks failed on 2 rows"
    assert test_check["failures"] == [
        {"check": "column_in_schema", "column": "extra", "count": 1, "examples": ["extra"]},
        {"check": "width_is_plausible", "column": None, "count": 2, "examples": ["row 2", "row 4"]},
    ]


def test_a_coercing_schema_leaves_the_data_untouched() -> None:
    schema = pa.DataFrameSchema({"x": pa.Column(float, coerce=True)})
    data = pd.DataFrame({"x": [1, 2, 3]})

    check = datatests.schema_check(schema, data, "train", "schema.yaml")

    assert check.passed
    assert str(data["x"].dtype) == "int64"


def test_schema_with_postponed_annotations_and_a_sibling_import(tmp_path: Path) -> None:
    (tmp_path / "limits.py").write_text("MAX_LENGTH = 10\n")
    schema = tmp_path / "future_schema.py"
    schema.write_text(
        "from __future__ import annotations\n"
        + SCHEMA_PY.replace("10}", "MAX_LENGTH}").replace(
            "from pandera.typing import Series",
            "from pandera.typing import Series\nfrom limits import MAX_LENGTH",
        )
    )

    loaded = load_schema(
        {"kind": "python", "path": "future_schema.py", "name": "IrisSchema"}, str(tmp_path)
    )

    assert list(loaded.columns) == ["length", "width", "colour", "species"]


BROKEN = [
    (
        "syntax",
        "bad.py",
        "import pandera.pandas as pa\n\nclass IrisSchema(pa.DataFrameModel)\n    x: int\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:3: syntax error",
    ),
    (
        "missing-class",
        "bad.py",
        SCHEMA_PY,
        {"kind": "python", "path": "bad.py", "name": "Nope"},
        "bad.py: no class 'Nope'",
    ),
    (
        "not-a-model",
        "bad.py",
        "class IrisSchema:\n    pass\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:1: 'IrisSchema' is a class IrisSchema, not a pandera DataFrameModel",
    ),
    (
        "import-error",
        "bad.py",
        "import pandera.pandas as pa\nimport not_a_real_module_xyz\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:2: schema file cannot import module 'not_a_real_module_xyz'",
    ),
    (
        "raises",
        "bad.py",
        "x = 1\nraise RuntimeError('boom')\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:2: importing the schema file raised RuntimeError: boom",
    ),
    (
        "missing-file",
        "other.py",
        "",
        {"kind": "python", "path": "absent.py", "name": "IrisSchema"},
        "absent.py: schema file not found",
    ),
    (
        "bad-yaml",
        "bad.yaml",
        "columns:\n  length:\n    dtype: float64\n   checks: [\n",
        {"kind": "yaml", "path": "bad.yaml"},
        "bad.yaml:4: schema file is not valid YAML",
    ),
    (
        "unknown-check",
        "bad.yaml",
        "columns:\n  length:\n    dtype: float64\n    checks:\n      no_such_check: 3\n",
        {"kind": "yaml", "path": "bad.yaml"},
        "bad.yaml: not a valid pandera YAML schema",
    ),
    (
        "empty-yaml",
        "bad.yaml",
        "",
        {"kind": "yaml", "path": "bad.yaml"},
        "bad.yaml: schema file holds no pandera schema",
    ),
]


@pytest.mark.parametrize(
    ("filename", "content", "spec", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_schema_file_is_an_input_error(
    tmp_path: Path, filename: str, content: str, spec: dict[str, Any], message: str
) -> None:
    (tmp_path / filename).write_text(content)

    with pytest.raises(InputError) as caught:
        datatests.run(project(tmp_path, schema=spec))

    assert message in caught.value.message
    assert str(tmp_path) in caught.value.message
    assert caught.value.hint


def test_leakage_counts_test_rows_found_in_train(tmp_path: Path) -> None:
    train, test = frame(seed=1), frame(seed=2)
    test.iloc[[4, 10, 12]] = train.iloc[[0, 1, 2]].to_numpy()

    report = datatests.run(project(tmp_path, train, test))

    (leakage,) = find(report, "leakage")
    assert leakage["passed"] is False
    assert leakage["dataset"] == "train→test"
    assert leakage["failures"][0]["count"] == 3
    assert leakage["failures"][0]["examples"] == ["test row 4", "test row 10", "test row 12"]
    assert report["passed"] is False


def test_leakage_within_the_allowance_passes(tmp_path: Path) -> None:
    train, test = frame(seed=1), frame(seed=2)
    test.iloc[[4]] = train.iloc[[0]].to_numpy()
    checks = DataChecks.model_validate({"leakage": {"max_rows": 1}}).model_dump()

    report = datatests.run(project(tmp_path, train, test, checks=checks))

    assert find(report, "leakage")[0]["passed"] is True


def test_unseen_test_class_fails(tmp_path: Path) -> None:
    test = frame(seed=2)
    test.loc[[0, 1], "species"] = "d"

    report = datatests.run(project(tmp_path, test=test))

    (unseen,) = find(report, "unseen_classes")
    assert unseen["passed"] is False
    assert unseen["failures"][0]["examples"] == ["d"]
    assert unseen["failures"][0]["count"] == 2
    assert report["passed"] is False


def test_target_missing_share_and_class_balance(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[:9, "species"] = None
    train.loc[10:12, "species"] = "rare"
    checks = DataChecks.model_validate(
        {"target": {"max_missing": 0.01, "min_class_share": 0.05}}
    ).model_dump()

    report = datatests.run(project(tmp_path, train=train, checks=checks))

    missing = find(report, "target_missing", dataset="train")[0]
    assert missing["passed"] is False
    assert missing["statistic"] == pytest.approx(0.05)
    balance = find(report, "class_balance")[0]
    assert balance["passed"] is False
    assert balance["failures"][0]["examples"][0].startswith("rare: ")


def test_regression_target_shift_uses_ks(tmp_path: Path) -> None:
    train = frame(seed=1)
    test = frame(seed=2, shift=2.0)

    report = datatests.run(project(tmp_path, train, test, task="regression", target="width"))

    (shift,) = find(report, "target_shift")
    assert shift["passed"] is False
    assert shift["statistic"] > 0.25
    assert shift["detail"].startswith("KS statistic")


def test_target_column_absent_is_an_input_error(tmp_path: Path) -> None:
    test = frame(seed=2).rename(columns={"species": "label"})

    with pytest.raises(InputError, match=r"test\.csv: target column 'species' is not in the file"):
        datatests.run(project(tmp_path, test=test))


def test_drift_on_a_shifted_numeric_column(tmp_path: Path) -> None:
    report = datatests.run(
        project(tmp_path, baseline=frame(seed=3), train=frame(seed=1, shift=1.5))
    )

    drift = {check["column"]: check for check in find(report, "feature_drift")}
    assert "species" not in drift  # the target is not a feature
    assert drift["width"]["passed"] is False
    assert drift["width"]["severity"] == "warning"
    assert drift["width"]["statistic"] > drift["width"]["threshold"] == 0.2
    assert drift["length"]["passed"] is True
    assert report["passed"] is True  # a warning never fails the report


def test_drift_on_a_categorical_column(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[:150, "colour"] = "red"
    checks = DataChecks.model_validate({"drift": {"fail_on_drift": True}}).model_dump()

    report = datatests.run(project(tmp_path, train=train, baseline=frame(seed=3), checks=checks))

    colour = find(report, "feature_drift", column="colour")[0]
    assert colour["passed"] is False
    assert colour["severity"] == "error"
    assert colour["statistic"] > 0.2
    assert colour["detail"].startswith("PSI")
    assert report["passed"] is False


def test_added_and_removed_columns_are_reported(tmp_path: Path) -> None:
    train = frame(seed=1).rename(columns={"colour": "hue"})

    report = datatests.run(project(tmp_path, train=train, baseline=frame(seed=3)))

    (columns,) = find(report, "feature_columns")
    assert columns["passed"] is False
    assert columns["detail"] == "added: hue; removed: colour"


def test_identical_baseline_data_is_unchanged(tmp_path: Path) -> None:
    request = project(tmp_path, baseline=frame(seed=9))
    shutil.copyfile(tmp_path / "train.csv", tmp_path / "baseline.csv")

    report = datatests.run(request)

    drift = [check for check in report["checks"] if check["kind"] == "drift"]
    assert [(c["passed"], c["detail"]) for c in drift] == [(True, "data unchanged")]


def test_disabled_checks_are_skipped(tmp_path: Path) -> None:
    checks = DataChecks.model_validate(
        {"leakage": {"enabled": False}, "target": {"enabled": False}, "drift": {"enabled": False}}
    ).model_dump()

    report = datatests.run(project(tmp_path, baseline=frame(seed=3), checks=checks))

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


def test_schema_loader_rejects_an_unknown_spec(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown schema spec"):
        load_schema({"kind": "toml", "path": "x.toml"}, str(tmp_path))


def test_ks_statistic_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(5)
    for a, b in (
        (rng.normal(size=500), rng.normal(0.3, size=700)),
        (rng.integers(0, 5, 300).astype(float), rng.integers(0, 6, 200).astype(float)),
        (np.array([1.0]), np.array([1.0, 2.0])),
    ):
        assert datatests._ks(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-15)


def test_a_missing_baseline_file_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    request = dict(project(tmp_path), baseline_train_path="old/train.csv")

    report = datatests.run(request)

    (drift,) = [check for check in report["checks"] if check["kind"] == "drift"]
    assert (drift["passed"], drift["severity"]) == (False, "warning")
    assert "drift not checked" in drift["detail"] and "not found" in drift["detail"]
    assert report["passed"] is True
