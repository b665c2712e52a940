"""A small synthetic world for the monitoring tests: a calibrated classifier, its reference
profile, and inference logs written in the monitoring contract's format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from mlci_action.monitoring.profile import MetricInterval, Profile, build_profile

COLORS = ("red", "green", "blue")
SHARES = (0.5, 0.3, 0.2)


def frame(
    rows: int, seed: int, *, shift: float = 0.0, shares: Sequence[float] = SHARES
) -> pd.DataFrame:
    """x1 ~ N(shift, 1), x2 ~ N(5, 2), color by ``shares``; y from a logistic model of them."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1.0, rows)
    x2 = rng.normal(5.0, 2.0, rows)
    color = rng.choice(COLORS, size=rows, p=list(shares))
    logit = 1.5 * x1 - 0.6 * (x2 - 5) + np.where(color == "red", 0.8, -0.4)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "y": y})


def fit(train: pd.DataFrame) -> Any:
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["color"]), remainder="passthrough"
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=500))
    return model.fit(train.drop(columns="y"), train["y"])


@dataclass(frozen=True)
class World:
    train: pd.DataFrame
    model: Any
    profile: Profile


@cache
def world(rows: int = 3000) -> World:
    train = frame(rows, seed=1)
    test = frame(1000, seed=2)
    model = fit(train)
    features = test.drop(columns="y")
    proba = pd.DataFrame(model.predict_proba(features), columns=[str(c) for c in model.classes_])
    accuracy = float((model.predict(features) == test["y"]).mean())
    profile = build_profile(
        train,
        "y",
        model.predict(features),
        proba,
        {"accuracy": MetricInterval(value=accuracy, low=accuracy - 0.03, high=accuracy + 0.03)},
        task="classification",
        positive_class=1,
    )
    return World(train, model, profile)


def records(
    model: Any, live: pd.DataFrame, *, prefix: str = "req", start: datetime | None = None
) -> list[dict[str, Any]]:
    """One log record per row (one-row requests), a second apart, ending before ``start``."""
    features = live.drop(columns="y", errors="ignore")
    predicted = model.predict(features)
    proba = model.predict_proba(features)
    start = start or datetime.now(UTC)
    out = []
    for index, row in enumerate(features.to_dict(orient="records")):
        when = start - timedelta(seconds=len(features) - index)
        out.append(
            {
                "id": f"{prefix}-{index}",
                "row": 0,
                "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "model": "demo",
                "version": "abc123",
                "image_digest": "sha256:" + "0" * 64,
                "features": row,
                "prediction": int(predicted[index]),
                "probabilities": {
                    str(c): float(p) for c, p in zip(model.classes_, proba[index], strict=True)
                },
            }
        )
    return out


def write_log(
    directory: Path, items: list[dict[str, Any]], name: str = "inference-20261128T110000-1-0.jsonl"
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


CONFIG = """\
version: 1
name: demo
data:
  train: train.csv
  test: test.csv
  target: y
training:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  task: classification
  metrics: [accuracy]
  bootstrap: {{resamples: 200}}
monitoring:
  log: {log}
  window: 24h
  min_rows: {min_rows}
  drift: {{psi: 0.2}}
  performance:
    accuracy: {{min: 0.5}}
"""


def project(
    tmp_path: Path, profile: Profile, *, log: Path, min_rows: int = 500, extra: str = ""
) -> Path:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    text = CONFIG.format(log=log, min_rows=min_rows) + extra
    (root / "mlci.yaml").write_text(text, encoding="utf-8")
    (root / "reference.json").write_text(profile.to_json(), encoding="utf-8")
    return root


def write_parquet(
    directory: Path,
    items: list[dict[str, Any]],
    name: str = "inference-20261128T110000-1-0.parquet",
) -> Path:
    """The same records as a Parquet log file (features and probabilities as structs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    pq.write_table(pa.Table.from_pylist(items), path)
    return path
