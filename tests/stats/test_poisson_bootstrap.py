"""The Poisson bootstrap: exact merges across partitions, reproducible for a seed and a
partitioning, and intervals that agree with the multinomial paired bootstrap."""

from __future__ import annotations

import itertools
from functools import reduce

import numpy as np
import pytest

from mlci_action.stats.intervals import expanded_percentile
from mlci_action.stats.poisson_bootstrap import PoissonSums, partition_sums

REPLICATES = 2000


def paired(rows: int = 3000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-row correctness of two models that agree on most rows (the candidate a bit better)."""
    generator = np.random.default_rng(seed)
    baseline = (generator.random(rows) < 0.80).astype(float)
    flip = generator.random(rows) < 0.10
    candidate = np.where(flip, generator.random(rows) < 0.9, baseline).astype(float)
    return candidate, baseline


def bootstrapped(candidate, baseline, bounds, seed: int = 11) -> list[PoissonSums]:
    return [
        partition_sums(candidate[a:b], baseline[a:b], seed=seed, partition=i, replicates=REPLICATES)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def merged(parts: list[PoissonSums]) -> PoissonSums:
    return reduce(PoissonSums.merge, parts)


def test_the_merge_is_exact_in_any_order_and_the_point_delta_equals_the_whole():
    candidate, baseline = paired()
    parts = bootstrapped(candidate, baseline, [0, 400, 401, 1700, 2950, 3000])
    forward, backward = merged(parts), merged(parts[::-1])
    # 0/1 per-row values and integer weights: every sum is an exact integer
    assert np.array_equal(forward.weights, backward.weights)
    assert np.array_equal(forward.candidate, backward.candidate)
    assert np.array_equal(forward.deltas(), backward.deltas(), equal_nan=True)
    assert forward.rows == len(candidate)
    # the counts exactly; the delta to floating-point rounding
    assert (forward.candidate_total, forward.baseline_total) == (candidate.sum(), baseline.sum())
    assert forward.delta == pytest.approx(candidate.mean() - baseline.mean(), rel=1e-12)


def test_a_seed_and_a_partitioning_give_the_same_interval_again():
    candidate, baseline = paired(600)
    bounds = [0, 200, 450, 600]
    once = merged(bootstrapped(candidate, baseline, bounds)).interval(0.95)
    again = merged(bootstrapped(candidate, baseline, bounds)).interval(0.95)
    other_seed = merged(bootstrapped(candidate, baseline, bounds, seed=12)).interval(0.95)
    assert once == again
    assert once != other_seed


def test_intervals_agree_with_the_multinomial_bootstrap_within_monte_carlo_error():
    candidate, baseline = paired()
    rows = len(candidate)
    generator = np.random.default_rng(5)
    resampled = generator.integers(0, rows, size=(REPLICATES, rows))
    deltas = candidate[resampled].mean(axis=1) - baseline[resampled].mean(axis=1)
    low, high = expanded_percentile(deltas, 0.95, rows)
    width = high - low
    for bounds in ([0, rows], [0, 500, 1000, 1500, 2000, 2500, rows]):
        p_low, p_high = merged(bootstrapped(candidate, baseline, bounds)).interval(0.95)
        # endpoints of 2000-replicate bootstraps wander by a few % of the width
        assert p_low == pytest.approx(low, abs=0.15 * width)
        assert p_high == pytest.approx(high, abs=0.15 * width)


def test_partitions_bootstrapped_differently_do_not_merge():
    candidate, baseline = paired(100)
    one = partition_sums(candidate, baseline, seed=1, partition=0, replicates=10)
    other = partition_sums(candidate, baseline, seed=1, partition=1, replicates=20)
    with pytest.raises(ValueError, match="different numbers of replicates"):
        one.merge(other)
