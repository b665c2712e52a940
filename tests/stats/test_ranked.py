"""One sort per score column: midranks as scipy's, curves and areas as scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from mlci_action.stats.delong import covariance
from mlci_action.stats.ranked import ranked
from mlci_action.worker.fast_scores import blocked_product
from mlci_action.worker.resampling import draw


def column(decimals: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hits = rng.random(3000) < 0.3
    scores = rng.random(3000) + 0.2 * hits
    return hits, scores if decimals is None else np.round(scores, decimals)


@pytest.mark.parametrize("decimals", [None, 2, 1, 0])
def test_midranks_equal_scipy_rankdata(decimals: int | None) -> None:
    hits, scores = column(decimals, 1)
    once = ranked(hits, scores)
    assert np.array_equal(once.midranks(), stats.rankdata(scores))
    assert np.array_equal(once.midranks(hits)[hits], stats.rankdata(scores[hits]))
    assert np.array_equal(once.midranks(~hits)[~hits], stats.rankdata(scores[~hits]))


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_curves_and_areas_equal_scikit_learn(decimals: int | None) -> None:
    hits, scores = column(decimals, 2)
    once = ranked(hits, scores)
    fpr, tpr = once.roc_curve()
    want_fpr, want_tpr, _ = skm.roc_curve(hits, scores)
    np.testing.assert_allclose(fpr, want_fpr, rtol=1e-12, atol=0)
    np.testing.assert_allclose(tpr, want_tpr, rtol=1e-12, atol=0)
    precision, recall = once.precision_recall_curve()
    want_precision, want_recall, _ = skm.precision_recall_curve(hits, scores)
    np.testing.assert_allclose(precision, want_precision, rtol=1e-12, atol=0)
    np.testing.assert_allclose(recall, want_recall, rtol=1e-12, atol=0)
    assert once.auc() == pytest.approx(skm.roc_auc_score(hits, scores), rel=1e-12, abs=0)
    want_ap = skm.average_precision_score(hits, scores)
    assert once.average_precision() == pytest.approx(want_ap, rel=1e-12, abs=0)


def test_delong_reads_the_same_sort_as_the_curves() -> None:
    hits, scores = column(2, 3)
    first = ranked(hits, scores)
    aucs, _ = covariance(hits, [scores, np.round(scores, 1)])
    assert ranked(hits, scores.copy()) is first  # the same rows and scores: not sorted again
    assert aucs[0] == pytest.approx(skm.roc_auc_score(hits, scores), rel=1e-12, abs=0)


def test_the_blocked_product_equals_one_float64_product() -> None:
    weights = draw(50_001, range(7), 4, "multinomial")
    rng = np.random.default_rng(5)
    values = rng.standard_normal((50_001, 3)) * [1.0, 1e-3, 1e3]
    found = blocked_product(weights, values)
    want = weights.astype(np.float64) @ values
    np.testing.assert_allclose(found, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    # 0/1 columns in float32: every partial sum is a whole number, so exact
    flags = (rng.random((50_001, 2)) < 0.4).astype(np.float32)
    exact = blocked_product(weights, flags)
    assert np.array_equal(exact, weights.astype(np.int64) @ flags.astype(np.int64))


def test_scores_that_are_not_numbers_are_refused() -> None:
    hits, scores = column(None, 4)
    scores[7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ranked(hits, scores)
