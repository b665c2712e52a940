"""The label metrics resampled per category of row: the same bootstrap as resampling rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mlci_action.worker.categories import MAX_CATEGORIES, categorize
from mlci_action.worker.resampling import Method
from mlci_action.worker.scoring import bootstrap_deltas_all, metric_values

from .test_scoring import classified

LABEL_METRICS = ["accuracy", "f1", "f1_macro", "precision", "recall", "balanced_accuracy"]


def test_categories_are_the_distinct_triples_and_their_sizes() -> None:
    truth = np.array(["a", "b", "a", "a", "b", "a"], dtype=object)
    pred_c = np.array([0, 1, 0, 1, 1, 0])
    pred_b = np.array([0.0, 0.0, 0.0, 1.0, 0.0, np.nan])
    found = categorize(truth, pred_c, pred_b)
    assert found is not None
    triples = list(zip(truth, pred_c, pred_b, strict=True))
    assert [triples[row] for row in found.rows] == list(dict.fromkeys(triples))
    sizes = {triples[row]: size for row, size in zip(found.rows, found.sizes, strict=True)}
    assert sizes[("a", 0, 0.0)] == 2 and sum(sizes.values()) == len(truth)


def test_too_many_categories_fall_back_to_row_weights() -> None:
    rows = np.arange(MAX_CATEGORIES + 1)
    assert categorize(rows, rows, rows) is None
    assert categorize(rows % 64, rows % 64, (rows // 64) % 2) is not None


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_category_counts_have_the_row_bootstraps_moments(method: Method) -> None:
    """Multinomial(n, n_c/n) counts: mean n_c, variance n_c (1 - n_c/n), total n exactly;
    Poisson: mean and variance n_c."""
    truth = np.repeat([0, 1, 1, 0], [500, 300, 150, 50])
    grouped = categorize(truth, np.repeat([0, 1, 0, 1], [500, 300, 150, 50]), truth)
    assert grouped is not None
    counts = grouped.counts(4000, 3, method)
    sizes = grouped.sizes
    share = sizes / sizes.sum()
    variance = sizes * (1 - share) if method == "multinomial" else sizes.astype(float)
    assert np.abs(counts.mean(axis=0) - sizes).max() < 5 * np.sqrt(variance / 4000).max()
    np.testing.assert_allclose(counts.var(axis=0), variance, rtol=0.1)
    if method == "multinomial":
        assert (counts.sum(axis=1) == len(truth)).all()


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_each_category_resample_is_the_metric_on_its_rows(method: Method) -> None:
    """A resample's category counts as explicit rows (each category's rows drawn as often as
    it counts): the deltas equal scikit-learn's on those rows, exactly."""
    inputs = classified(classes=3, rows=120)
    y, pred_c, pred_b = inputs["y_true"], inputs["pred_c"], inputs["pred_b"]
    names = ["accuracy", "f1_macro", "precision_macro", "balanced_accuracy", "f1_weighted"]
    deltas = bootstrap_deltas_all(names, **inputs, resamples=20, seed=6, method=method)
    grouped = categorize(y, pred_c, pred_b)
    assert grouped is not None
    members = [
        np.flatnonzero((y == y[r]) & (pred_c == pred_c[r]) & (pred_b == pred_b[r]))
        for r in grouped.rows
    ]
    rng = np.random.default_rng(0)
    for row, counts in enumerate(grouped.counts(20, 6, method)):
        # any rows of the category will do: they all have the same labels
        take = np.concatenate([rng.choice(m, size=c) for m, c in zip(members, counts, strict=True)])
        for name in names:
            c = metric_values(name, y[take], pred_c[take], None, inputs["classes"])
            b = metric_values(name, y[take], pred_b[take], None, inputs["classes"])
            assert deltas[name][row] == pytest.approx(c - b, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_per_category_and_per_row_give_the_same_distribution(method: Method) -> None:
    """Against the straightforward reference (the same metrics on row weights): means, spreads
    and 2.5/97.5 % quantiles within Monte Carlo error, and a two-sample KS test."""
    inputs = classified(rows=600)
    resamples = 2000
    names = ["accuracy", "f1", "recall", "balanced_accuracy"]
    common = {"resamples": resamples, "method": method}
    by_category = bootstrap_deltas_all(names, **inputs, seed=11, **common)
    by_row = bootstrap_deltas_all(names, **inputs, seed=12, categories=False, **common)
    for name in names:
        new, old = by_category[name], by_row[name]
        spread = old.std()
        assert new.mean() == pytest.approx(old.mean(), abs=4 * math.sqrt(2) * spread / 45)
        assert new.std() == pytest.approx(spread, rel=0.1)
        allowed = 4 * math.sqrt(2) * 2.7 * spread / math.sqrt(resamples)
        for q in (2.5, 97.5):
            assert np.percentile(new, q) == pytest.approx(np.percentile(old, q), abs=allowed)
        assert stats.ks_2samp(new, old).pvalue > 1e-3, name


def test_label_metrics_share_their_resamples_and_others_keep_theirs() -> None:
    """Label metrics alone or with others: the same deltas; log_loss is on row weights and
    does not change with the label metrics' path."""
    inputs = classified()
    together = bootstrap_deltas_all(["f1", "log_loss", "accuracy"], **inputs, resamples=50, seed=1)
    alone = bootstrap_deltas_all(["accuracy", "f1"], **inputs, resamples=50, seed=1)
    rows = bootstrap_deltas_all(["log_loss"], **inputs, resamples=50, seed=1, categories=False)
    np.testing.assert_array_equal(together["f1"], alone["f1"])
    np.testing.assert_array_equal(together["accuracy"], alone["accuracy"])
    np.testing.assert_array_equal(together["log_loss"], rows["log_loss"])
    assert np.corrcoef(together["accuracy"], together["f1"])[0, 1] > 0.5
