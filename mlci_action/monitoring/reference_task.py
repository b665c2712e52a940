"""Worker task "reference-profile": the reference profile of the candidate, for its serving
image (mlci_action.monitoring.profile). Runs in the project's environment: it reads the data
files and asks the model for its test-set predictions and probabilities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.dataset import is_partitioned
from mlci_action.metrics import CATALOG
from mlci_action.monitoring.merge import feature_profiles
from mlci_action.monitoring.performance import metric_interval
from mlci_action.monitoring.profile import MetricInterval, build_profile
from mlci_action.worker.frames import read_table, split_xy
from mlci_action.worker.modelio import load_model
from mlci_action.worker.partitions import Partition, partitions, read_partition
from mlci_action.worker.positive import resolve_positive

REFERENCE_RESAMPLES = 200
"""At most this many bootstrap resamples for the metrics' intervals (sklearn on each one)."""


def _partitions(spec: str, setting: str) -> list[Partition] | None:
    """The data set's partitions when ``spec`` names a directory, glob or URL, else None."""
    if not is_partitioned(Path.cwd(), spec):
        return None
    return partitions(spec, Path.cwd(), setting=setting)


def _answers(
    model: Any, features: pd.DataFrame, classify: bool
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    predicted = np.asarray(model.predict(features))
    proba = None
    if classify and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(features), dtype=float)
    return predicted, proba


def _score(
    request: dict[str, Any], model: Any, classify: bool
) -> tuple[pd.Series, np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """The test set's labels, predictions and probabilities: of the one file, or of each
    partition in turn (one in memory at a time; only the answers are kept), in file order."""
    spec, target = request["test_path"], request["target"]
    parts = _partitions(spec, "data.test")
    if parts is None:
        features, labels = split_xy(read_table(spec, what="test file"), target, spec)
        return labels, *_answers(model, features, classify)
    all_labels, all_predicted, all_proba = [], [], []
    for part in parts:
        features, labels = split_xy(read_partition(part), target, part.name)
        predicted, proba = _answers(model, features, classify)
        all_labels.append(labels)
        all_predicted.append(predicted)
        all_proba.append(proba)
    kept = [proba for proba in all_proba if proba is not None]
    joined = np.concatenate(kept) if kept else None
    return (
        pd.concat(all_labels, ignore_index=True),
        np.concatenate(all_predicted),
        joined,
    )


def _features(request: dict[str, Any]) -> tuple[pd.DataFrame | None, Any]:
    """The training file, or its partitions' merged feature profiles (read twice)."""
    spec = request["train_path"]
    parts = _partitions(spec, "data.train")
    if parts is None:
        return read_table(spec, what="training file"), None

    def frames() -> Iterator[pd.DataFrame]:
        return (read_partition(part) for part in parts)

    return None, feature_profiles(frames, request["target"])


def run(request: dict[str, Any]) -> dict[str, Any]:
    model = load_model(request["model"], list(request.get("trusted_types") or []))
    classify = request["task"] == "classification"
    target, predicted, proba = _score(request, model, classify)
    classes = np.asarray(model.classes_) if proba is not None else None  # type: ignore[attr-defined]
    train, features = _features(request)
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
        features=features,
    )
    Path(request["profile_path"]).write_text(profile.to_json(), encoding="utf-8")
    return {"profile_path": request["profile_path"], "features": len(profile.features)}
