"""The monitor's verdict: drift, prediction drift and live performance of a window, against
the reference profile and the limits of mlci.yaml's ``monitoring:`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.config import Bootstrap, MonitorGate, Monitoring
from mlci_action.metrics import CATALOG
from mlci_action.monitoring.drift import feature_drift
from mlci_action.monitoring.live import LiveRows
from mlci_action.monitoring.performance import CBPE_METRIC, cbpe_estimate, live_metrics
from mlci_action.monitoring.profile import Profile
from mlci_action.monitoring.record import Breach, FeatureDrift, LiveMetric, Verdict


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    summary: str
    drift: list[FeatureDrift]
    prediction_drift: FeatureDrift | None
    performance: list[LiveMetric]
    breaches: list[Breach]
    probability_drift: list[FeatureDrift] = field(default_factory=list)


def judge(
    profile: Profile,
    live: LiveRows,
    settings: Monitoring,
    *,
    metrics: tuple[str, ...],
    bootstrap: Bootstrap,
    labels: pd.Series | None = None,
) -> Judgement:
    rows = live.counts.rows
    if rows == 0:
        skipped = f", {live.counts.malformed} malformed" if live.counts.malformed else ""
        return Judgement(
            "no_traffic",
            f"no traffic: no logged rows in the window ({live.counts.files} files, "
            f"{live.counts.outside_window} rows before it{skipped})",
            [],
            None,
            [],
            [],
        )
    min_rows = settings.min_rows
    names = settings.drift.features or list(profile.features)
    drift = [
        feature_drift(
            name,
            profile.features[name],
            live.features[name],
            threshold=settings.drift.psi,
            min_rows=min_rows,
        )
        for name in names
    ]
    drift.sort(key=lambda item: -1.0 if item.psi is None else -item.psi)  # worst first
    prediction = feature_drift(
        "prediction",
        profile.prediction,
        live.prediction,
        threshold=settings.prediction_drift.psi,
        min_rows=min_rows,
    )
    probability = _probability_drift(profile, live, settings.prediction_drift.psi, min_rows)
    performance = _performance(profile, live, metrics, bootstrap, labels)
    if rows < min_rows:
        return Judgement(
            "not_enough_traffic",
            f"not enough traffic: {rows} rows in the window, fewer than monitoring.min_rows "
            f"({min_rows}); no drift verdict",
            drift,
            prediction,
            performance,
            [],
            probability,
        )
    breaches = [
        Breach(
            kind="drift",
            name=item.name,
            reason=f"PSI {item.psi:.3g} above {item.threshold:g} ({item.detail})",
            setting="monitoring.drift.psi",
        )
        for item in drift
        if item.drifted
    ]
    if prediction.drifted:
        breaches.append(
            Breach(
                kind="prediction_drift",
                name="prediction",
                reason=f"PSI {prediction.psi:.3g} above {prediction.threshold:g} "
                f"({prediction.detail})",
                setting="monitoring.prediction_drift.psi",
            )
        )
    for name, gate in settings.performance.items():
        found = next((m for m in performance if m.name == name), None)
        reason = _gate_breach(name, gate, found)
        if reason is not None:
            breaches.append(
                Breach(
                    kind="performance",
                    name=name,
                    reason=reason,
                    setting=f"monitoring.performance.{name}",
                )
            )
    if breaches:
        shown = ", ".join(sorted({b.name for b in breaches}))
        return Judgement(
            "breached",
            f"{len(breaches)} limit{'s' if len(breaches) != 1 else ''} breached on {rows} "
            f"rows: {shown}",
            drift,
            prediction,
            performance,
            breaches,
            probability,
        )
    return Judgement(
        "healthy",
        f"healthy: {rows} rows, no feature drifted (of {len(drift)}), predictions stable",
        drift,
        prediction,
        performance,
        [],
        probability,
    )


def _probability_drift(
    profile: Profile, live: LiveRows, threshold: float, min_rows: int
) -> list[FeatureDrift]:
    """Per class, the drift of the predicted probability's distribution (reported beside the
    prediction drift, under its threshold; not a limit of its own)."""
    if not profile.probabilities or live.probabilities is None:
        return []
    found = []
    for name, reference in profile.probabilities.items():
        tally = live.probabilities[name]
        if tally.rows == tally.missing:
            continue
        found.append(feature_drift(name, reference, tally, threshold=threshold, min_rows=min_rows))
    return found


def _texts(values: Any) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=object)


def _performance(
    profile: Profile,
    live: LiveRows,
    metrics: tuple[str, ...],
    bootstrap: Bootstrap,
    labels: pd.Series | None,
) -> list[LiveMetric]:
    classify = profile.task == "classification"
    classes = list(profile.probabilities or {})
    kept = live.kept
    if labels is not None and kept is not None:
        known = labels.notna().to_numpy()
        if not known.any():
            return []
        truth = labels.to_numpy()[known]
        predicted = np.asarray(kept.predictions, dtype=object)[known]
        if classify:  # the log and the labels file may spell a class differently (1, "1")
            truth, predicted = _texts(truth), _texts(predicted)
        else:
            truth, predicted = truth.astype(float), predicted.astype(float)
        proba = kept.probabilities if classify and classes else None
        rows_proba = None if proba is None or not proba.size else proba[known]
        if rows_proba is not None and np.isnan(rows_proba).any():
            rows_proba = None
        positive = None if profile.positive_class is None else str(profile.positive_class)
        found = live_metrics(
            list(metrics),
            truth,
            predicted,
            rows_proba,
            np.asarray(classes, dtype=object) if classes else None,
            positive=positive,
            resamples=bootstrap.resamples,
            confidence=bootstrap.confidence,
            seed=bootstrap.seed,
        )
    elif classify and classes and live.confidence.rows:
        found = [cbpe_estimate(live.confidence, bootstrap.confidence)]
    else:
        return []
    return [_with_reference(metric, profile) for metric in found]


def _with_reference(metric: LiveMetric, profile: Profile) -> LiveMetric:
    ref = profile.metrics.get(metric.name)
    if ref is None:
        return metric
    return metric.model_copy(
        update={"reference": ref.value, "reference_low": ref.low, "reference_high": ref.high}
    )


def _gate_breach(name: str, gate: MonitorGate, metric: LiveMetric | None) -> str | None:
    """Why the live metric breaches ``gate`` (None: it keeps it, or was not measured)."""
    if metric is None or metric.value is None:
        return None
    better = CATALOG[name].greater_is_better
    what = "estimated " if metric.estimate else ""
    # the value the rule judges: the point, the interval's worse end, or its better end
    worse = metric.low if better else metric.high
    best = metric.high if better else metric.low
    judged = {"point": metric.value, "non_inferiority": worse, "no_significant_regression": best}[
        gate.rule
    ]
    if judged is None:
        judged = metric.value
    shown = f"{what}{name} {metric.value:.4g}"
    if metric.low is not None and metric.high is not None:
        shown += f" [{metric.low:.4g}, {metric.high:.4g}]"
    if gate.min is not None and judged < gate.min:
        return f"{shown} below min {gate.min:g} ({gate.rule})"
    if gate.max is not None and judged > gate.max:
        return f"{shown} above max {gate.max:g} ({gate.rule})"
    if gate.max_regression is not None and metric.reference is not None:
        loss = metric.reference - judged if better else judged - metric.reference
        if loss > gate.max_regression:
            return (
                f"{shown} worse than at build time ({metric.reference:.4g}) by {loss:.4g}, "
                f"more than max_regression {gate.max_regression:g} ({gate.rule})"
            )
    return None


__all__ = ["CBPE_METRIC", "Judgement", "judge"]
