"""Projects of real files in tmp_path for the data checks, and how to read their lines back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.config import DataChecks

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


def settings(changes: dict[str, Any]) -> dict[str, Any]:
    """The checks' settings as mlci.yaml gives them: ``settings({"leakage": {"max_rows": 1}})``."""
    return DataChecks.model_validate(changes).model_dump()


def line(path: Path, number: int) -> str:
    """Line ``number`` of a text file, counted from 1 as an editor does."""
    return path.read_text(encoding="utf-8").splitlines()[number - 1]


def cited(example: str) -> int:
    """The line number an example cites: ``line 14: 'x'`` -> 14."""
    word, number = example.split(":")[0].split()[:2]
    assert word == "line", example
    return int(number)
