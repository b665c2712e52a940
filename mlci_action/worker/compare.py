"""Candidate against baseline, metric by metric, with the right test for each.

- accuracy: McNemar's exact test on the discordant rows (:mod:`mlci_action.stats.mcnemar`);
- binary ROC AUC: DeLong's test (:mod:`mlci_action.stats.delong`);
- everything else: the paired bootstrap (:func:`mlci_action.worker.scoring.bootstrap_deltas_all`)
  with the expanded percentile interval (:mod:`mlci_action.stats.intervals`).

Each result records its test, interval, p-value and minimum detectable effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.metrics import MetricSpec
from mlci_action.record import MetricResult
from mlci_action.stats import PairedTest
from mlci_action.stats.delong import delong
from mlci_action.stats.intervals import bootstrap_p_value, expanded_percentile, too_small
from mlci_action.stats.mcnemar import discordant, mcnemar
from mlci_action.stats.mde import mde, paired_proportion_se
from mlci_action.worker.positive import Label
from mlci_action.worker.resampling import Method
from mlci_action.worker.scoring import bootstrap_deltas_all, positive_column

Array = npt.NDArray[Any]
Values = dict[str, list[float | None]]
Found = tuple[str, PairedTest, float]
"""A test's name, its result, and the standard error for the minimum detectable effect."""
"""Each metric's value for the candidate and (when there is one) the baseline."""


@dataclass(frozen=True)
class Paired:
    """What both models answered on the same rows (a test set or one slice of it)."""

    truth: Array
    pred_c: Array
    proba_c: Array | None
    pred_b: Array
    proba_b: Array | None
    classes: Array | None
    positive: Label | None
    partition: Array | None = None
    """A partitioned test set: each row's partition index (the Poisson weights are drawn per
    partition); None for one file."""

    def subset(self, mask: Array) -> Paired:
        def take(values: Array | None) -> Array | None:
            return None if values is None else values[mask]

        return Paired(
            self.truth[mask],
            self.pred_c[mask],
            take(self.proba_c),
            self.pred_b[mask],
            take(self.proba_b),
            self.classes,
            self.positive,
            take(self.partition),
        )


@dataclass(frozen=True)
class Settings:
    resamples: int
    confidence: float
    seed: int
    method: Method


def compare(
    specs: Sequence[MetricSpec], values: Values, paired: Paired | None, settings: Settings
) -> dict[str, MetricResult]:
    """Each metric's result; without ``paired`` (no baseline), the candidate's value only."""
    if paired is None:
        return {
            spec.name: MetricResult(
                candidate=values[spec.name][0], greater_is_better=spec.greater_is_better
            )
            for spec in specs
        }
    defined = [spec for spec in specs if None not in values[spec.name]]
    tests: dict[str, Found] = {}
    for spec in defined:
        found = _exact_test(spec, paired, settings.confidence)
        if found is not None:
            tests[spec.name] = found
    rest = [spec.name for spec in defined if spec.name not in tests]
    if rest and settings.resamples > 0:
        tests.update(_bootstrap(rest, values, paired, settings))
    return {
        spec.name: _result(spec, values[spec.name], tests.get(spec.name), settings.confidence)
        for spec in specs
    }


def _exact_test(spec: MetricSpec, paired: Paired, confidence: float) -> Found | None:
    """McNemar for accuracy, DeLong for binary ROC AUC, with the null standard error for the
    minimum detectable effect; None for the bootstrap."""
    truth = paired.truth
    if spec.name == "accuracy":
        right_c, right_b = paired.pred_c == truth, paired.pred_b == truth
        b, c = discordant(right_c, right_b)
        return (
            "mcnemar",
            mcnemar(right_c, right_b, confidence),
            paired_proportion_se(b + c, len(truth)),
        )
    binary = paired.classes is not None and len(paired.classes) == 2
    if spec.name not in ("roc_auc", "roc_auc_ovr") or not binary:
        return None
    if paired.proba_c is None or paired.proba_b is None or paired.classes is None:
        return None
    column = (
        1 if spec.name == "roc_auc_ovr" else positive_column(spec, paired.classes, paired.positive)
    )
    hits = truth == paired.classes[column]
    try:
        found = delong(hits, paired.proba_c[:, column], paired.proba_b[:, column], confidence)
    except ValueError:  # fewer than two rows of a class (a small slice): the bootstrap's NaN
        return None
    return "delong", found, found.se


def _bootstrap(
    names: list[str], values: Values, paired: Paired, settings: Settings
) -> dict[str, Found]:
    deltas = bootstrap_deltas_all(
        names,
        paired.truth,
        paired.pred_c,
        paired.proba_c,
        paired.pred_b,
        paired.proba_b,
        settings.resamples,
        settings.seed,
        paired.classes,
        positive=paired.positive,
        method=settings.method,
        partition=paired.partition,
    )
    found: dict[str, Found] = {}
    rows = len(paired.truth)
    for name, drawn in deltas.items():
        interval = expanded_percentile(drawn, settings.confidence, rows)
        p = bootstrap_p_value(drawn)
        if interval is None or p is None:
            continue
        finite = drawn[np.isfinite(drawn)]
        se = float(np.std(finite, ddof=1)) if finite.size > 1 else 0.0
        cand, base = values[name]
        assert cand is not None and base is not None
        found[name] = ("bootstrap", PairedTest(cand - base, *interval, p, se), se)
    return found


def _result(
    spec: MetricSpec,
    values: list[float | None],
    test: Found | None,
    confidence: float,
) -> MetricResult:
    cand, base = values
    delta = None if cand is None or base is None else cand - base
    if test is None:
        return MetricResult(
            candidate=cand, baseline=base, delta=delta, greater_is_better=spec.greater_is_better
        )
    kind, found, se = test
    return MetricResult(
        candidate=cand,
        baseline=base,
        delta=delta,
        ci_low=found.low,
        ci_high=found.high,
        confidence=confidence,
        greater_is_better=spec.greater_is_better,
        # McNemar: the exact test decides; the others: the interval excludes 0
        significant=bool(
            found.p_value < 1 - confidence if kind == "mcnemar" else found.low > 0 or found.high < 0
        ),
        test=kind,
        p_value=found.p_value,
        mde=mde(se, confidence) if math.isfinite(se) and se > 0 else None,  # 0: no information
    )


def caution(truth: Array, classify: bool) -> str | None:
    """Why these rows are too few for any interval to mean much (see intervals.too_small)."""
    minority = None
    if classify and len(truth):
        counts = pd.Series(truth).value_counts()
        if len(counts) < 2:
            return f"{len(truth)} rows, all of one class"
        label = counts.index[-1]
        label = label.item() if isinstance(label, np.generic) else label  # 0, not np.int64(0)
        minority = (repr(label), int(counts.iloc[-1]))
    return too_small(len(truth), minority)
