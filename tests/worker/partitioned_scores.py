"""A test set split in uneven Parquet files, the same rows in one file, and two real models:
partitioned scoring must give the one-file metrics (tests/worker and tests/ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlci_action.worker.modelio import save_model

SIZES = (700, 40, 1300, 1, 560, 1399)
"""Rows of each test partition (4000 in all; one of a single row)."""
METRICS = ["accuracy", "f1", "roc_auc", "log_loss", "brier_score", "balanced_accuracy"]
SLICES = ["region", "x0 >= 0.5"]
BREAKOUT = '`</details>` --> "]; click %%{init}%%'
"""A region value that tries to break out of the report (slices are PR data)."""


def write(folder: Path) -> tuple[Path, Path, str, str]:
    """folder/test.parquet, folder/test/part-*.parquet (the same rows), and the two models."""
    X, y = make_classification(n_samples=6000, n_features=5, n_informative=3, random_state=3)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    frame["region"] = np.random.default_rng(3).integers(0, 4, len(frame))
    frame["label"] = y
    train, test = frame.iloc[:2000], frame.iloc[2000:].reset_index(drop=True)
    features = train.drop(columns="label")
    candidate = save_model(
        LogisticRegression(max_iter=500).fit(features, train["label"]), folder / "c.skops"
    )
    baseline = save_model(
        DecisionTreeClassifier(max_depth=2, random_state=0).fit(features, train["label"]),
        folder / "b.skops",
    )
    one = folder / "test.parquet"
    test.to_parquet(one, index=False)
    parts = folder / "test"
    parts.mkdir()
    start = 0
    for index, size in enumerate(SIZES):
        test.iloc[start : start + size].to_parquet(parts / f"part-{index:02d}.parquet", index=False)
        start += size
    assert start == len(test)
    return one, parts, str(candidate), str(baseline)


def request(test: Path, candidate: str, baseline: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "test_path": str(test),
        "target": "label",
        "task": "classification",
        "metrics": METRICS,
        "bootstrap": {"resamples": 400, "confidence": 0.95, "seed": 5, "method": "poisson"},
        "candidate_model": candidate,
        "baseline_model": baseline,
        "slices": SLICES,
        "partitioned": test.is_dir(),
        **extra,
    }
