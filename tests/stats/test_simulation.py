"""Interval coverage and the minimum detectable effect, checked by simulation on a known truth.

Small resample counts and a few hundred simulated test sets keep each test to seconds; the
tolerances are about three binomial standard errors of the simulated rates.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlci_action.stats.intervals import expanded_percentile, expanded_tail, too_small
from mlci_action.stats.mcnemar import discordant, mcnemar, p_value
from mlci_action.stats.mde import mde, paired_proportion_se
from mlci_action.worker.scoring import bootstrap_deltas_all

SIMULATIONS = 300


@pytest.mark.parametrize("rows", [30, 100, 1000])
def test_expanded_percentile_interval_covers_the_true_delta(rows: int) -> None:
    """Two models whose answers are right with probability 0.8 and 0.7, independently: the
    true accuracy delta is 0.1. The paired bootstrap as count weights (multinomial)."""
    rng = np.random.default_rng(rows)
    covered = 0
    for _ in range(SIMULATIONS):
        right = (rng.random(rows) < 0.8).astype(float) - (rng.random(rows) < 0.7)
        weights = rng.multinomial(rows, np.full(rows, 1 / rows), size=200)
        found = expanded_percentile(weights @ right / rows, 0.95, rows)
        assert found is not None
        covered += found[0] <= 0.1 <= found[1]
    assert covered / SIMULATIONS == pytest.approx(0.95, abs=0.04)


def test_mlcis_resampler_feeds_the_interval() -> None:
    """The interval from mlci's own paired bootstrap of accuracy, on one test set."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    pred_c = np.where(rng.random(200) < 0.8, truth, 1 - truth)
    pred_b = np.where(rng.random(200) < 0.7, truth, 1 - truth)
    deltas = bootstrap_deltas_all(
        ["accuracy"], truth, pred_c, None, pred_b, None, 400, 0, np.array([0, 1])
    )["accuracy"]
    found = expanded_percentile(deltas, 0.95, 200)
    plain = np.percentile(deltas, [2.5, 97.5])
    delta = (pred_c == truth).mean() - (pred_b == truth).mean()
    assert found is not None and found[0] <= plain[0] < delta < plain[1] <= found[1]


def test_the_expanded_interval_is_wider_on_small_sets_only() -> None:
    assert expanded_tail(0.95, 10) < expanded_tail(0.95, 100) < 0.025
    assert expanded_tail(0.95, 100_000) == pytest.approx(0.025, abs=1e-4)


@pytest.mark.parametrize("rows", [30, 1000])
def test_mcnemar_interval_covers_the_true_delta(rows: int) -> None:
    rng = np.random.default_rng(7 + rows)
    covered = 0
    for _ in range(SIMULATIONS):
        right_c, right_b = rng.random(rows) < 0.8, rng.random(rows) < 0.7
        found = mcnemar(right_c, right_b, 0.95)
        covered += found.low <= 0.1 <= found.high
    assert covered / SIMULATIONS >= 0.92


@pytest.mark.parametrize("rows", [30, 100])
def test_mcnemar_interval_covers_a_small_difference_between_similar_models(rows: int) -> None:
    """Two models that disagree on 3 % of rows (often on none of 30): the interval still covers
    the true delta of 1 point about 95 % of the time; one conditional on the discordant rows
    would collapse to [0, 0] whenever they agree everywhere."""
    rng = np.random.default_rng(11 + rows)
    covered = 0
    for _ in range(SIMULATIONS):
        draw = rng.random(rows)
        right_c, right_b = draw < 0.02, (draw >= 0.02) & (draw < 0.03)  # b: 2 %, c: 1 %
        found = mcnemar(right_c, right_b, 0.95)
        covered += found.low <= 0.01 <= found.high
    assert covered / SIMULATIONS >= 0.92


def test_rejection_rate_at_the_mde_is_about_80_percent() -> None:
    """A test set of 2,000 rows where 20 % of answers differ between the models: a true
    accuracy gain equal to the MDE is detected by McNemar's test about 80 % of the time."""
    rows, share = 2000, 0.2
    effect = mde(paired_proportion_se(int(share * rows), rows), 0.95)
    rng = np.random.default_rng(3)
    rejected = 0
    for _ in range(SIMULATIONS * 2):
        draw = rng.random(rows)
        only_c = draw < (share + effect) / 2  # candidate right, baseline wrong
        only_b = (draw >= (share + effect) / 2) & (draw < share)
        right_c, right_b = only_c, only_b  # the concordant rows do not matter
        b, c = discordant(right_c, right_b)
        assert b + c > 0
        rejected += p_value(b, c) < 0.05
    assert rejected / (SIMULATIONS * 2) == pytest.approx(0.8, abs=0.06)


def test_too_small() -> None:
    assert too_small(29) == "29 rows (fewer than 30)"
    assert too_small(500, ("'yes'", 9)) == "9 rows of class 'yes' (fewer than 10)"
    assert too_small(500, ("'yes'", 10)) is None
