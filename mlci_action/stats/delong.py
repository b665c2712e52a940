"""DeLong's test for the difference of two correlated ROC AUCs (binary classification).

The fast algorithm of Sun & Xu (2014, IEEE Signal Processing Letters 21(11)): the structural
components of DeLong, DeLong & Clarke-Pearson (1988) from midranks, O(n log n) instead of the
O(m n) pairwise kernel. Ties count one half (midranks). Each score column is sorted once
(:func:`mlci_action.stats.ranked.ranked`), shared with the point values and the report's curves. The delta's interval is the Wald
interval ``delta ± z * se``, which agrees with the test's p-value.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

from mlci_action.stats import PairedTest
from mlci_action.stats.ranked import Ranked, ranked

Floats = npt.NDArray[np.float64]


def components(sorted_once: Ranked) -> tuple[float, Floats, Floats]:
    """AUC and the structural components V10 (one per positive) and V01 (one per negative),
    in row order; the midranks all come from the column's one sort."""
    hits = sorted_once.hits
    m, n = sorted_once.positives, sorted_once.negatives
    combined = sorted_once.midranks()
    within_pos = sorted_once.midranks(hits)[hits]
    within_neg = sorted_once.midranks(~hits)[~hits]
    v10 = (combined[hits] - within_pos) / n
    v01 = 1.0 - (combined[~hits] - within_neg) / m
    auc = float((combined[hits].sum() - m * (m + 1) / 2) / (m * n))
    return auc, v10, v01


def covariance(hits: npt.ArrayLike, scores: list[Floats]) -> tuple[Floats, Floats]:
    """The AUCs of each score column and their DeLong covariance matrix."""
    positives = np.asarray(hits, dtype=bool)
    m, n = int(positives.sum()), int((~positives).sum())
    if m < 2 or n < 2:
        raise ValueError("DeLong's test needs at least two rows of each class")
    found = [components(ranked(positives, s)) for s in scores]
    aucs = np.array([auc for auc, _, _ in found])
    v10 = np.vstack([v for _, v, _ in found])
    v01 = np.vstack([v for _, _, v in found])
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong(
    hits: npt.ArrayLike, scores_c: npt.ArrayLike, scores_b: npt.ArrayLike, confidence: float
) -> PairedTest:
    """The AUC delta (candidate - baseline), its interval and its two-sided p-value."""
    aucs, cov = covariance(
        hits, [np.asarray(scores_c, dtype=float), np.asarray(scores_b, dtype=float)]
    )
    delta = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        same = delta == 0.0
        return PairedTest(delta, delta, delta, 1.0 if same else 0.0, 0.0)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = float(2 * stats.norm.sf(abs(delta) / se))
    return PairedTest(delta, delta - z * se, delta + z * se, p, se)
