"""Worker task "reference-profile": the reference profile of the candidate, for its serving
image (mlci_action.monitoring.profile). Runs in the project's environment: it reads the data
files and asks the model for its test-set predictions and probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.metrics import CATALOG
from mlci_action.monitoring.performance import metric_interval
from mlci_action.monitoring.profile import MetricInterval, build_profile
from mlci_action.worker.frames import read_table, split_xy
from mlci_action.worker.modelio import load_model
from mlci_action.worker.positive import resolve_positive

REFERENCE_RESAMPLES = 200
"""At most this many bootstrap resamples for the metrics' intervals (sklearn on each one)."""


def run(request: dict[str, Any]) -> dict[str, Any]:
    train = read_table(request["train_path"], what="training file")
    test = read_table(request["test_path"], what="test file")
    features, target = split_xy(test, request["target"], request["test_path"])
    model = load_model(request["model"], list(request.get("trusted_types") or []))
    predicted = np.asarray(model.predict(features))  # type: ignore[attr-defined]
    classify = request["task"] == "classification"
    proba = classes = None
    if classify and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(features), dtype=float)
        classes = np.asarray(model.classes_)  # type: ignore[attr-defined]
    positive = None
    names = list(request["metrics"])
    if classify and any(CATALOG[name].needs_positive for name in names):
        labels = classes if classes is not None else pd.unique(target.to_numpy())
        if len(labels) == 2:
            positive = resolve_positive(list(labels), request.get("positive_class"))
    boot = request.get("bootstrap") or {}
    metrics = {}
    for name in names:
        if CATALOG[name].input == "proba" and proba is None:
            continue
        value, low, high = metric_interval(
            name,
            target.to_numpy(),
            predicted,
            proba,
            classes,
            positive=positive,
            resamples=min(int(boot.get("resamples", 0)), REFERENCE_RESAMPLES),
            confidence=float(boot.get("confidence", 0.95)),
            seed=int(boot.get("seed", 0)),
        )
        metrics[name] = MetricInterval(value=value, low=low, high=high)
    probabilities = None
    if proba is not None and classes is not None:
        probabilities = pd.DataFrame(proba, columns=[str(label) for label in classes.tolist()])
    profile = build_profile(
        train,
        request["target"],
        predicted,
        probabilities,
        metrics,
        task=request["task"],
        positive_class=positive,
    )
    Path(request["profile_path"]).write_text(profile.to_json(), encoding="utf-8")
    return {"profile_path": request["profile_path"], "features": len(profile.features)}
