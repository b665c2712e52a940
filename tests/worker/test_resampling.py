"""The bootstrap's count weights: their distribution, reproducibility and chunking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlci_action.worker.resampling import (
    POISSON_ABOVE,
    ROW_BLOCK,
    Method,
    chunk_size,
    draw,
    resolve_method,
    weight_chunks,
)


def pmf_is(counts: np.ndarray, pmf: list[float]) -> None:
    """Each value's share of the counts is within 5 standard errors of its probability."""
    cells = counts.size
    for k, p in enumerate(pmf):
        share = float((counts == k).mean())
        assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / cells) + 1e-12, (k, share, p)


@pytest.mark.parametrize("rows", [1, 7, 30, 37, 500, 4000])
def test_multinomial_weights_are_rows_drawn_with_replacement(rows: int) -> None:
    resamples = min(4000, max(200, 400_000 // rows))
    weights = np.concatenate(list(weight_chunks(rows, resamples, 11, "multinomial")))
    assert weights.shape == (resamples, rows)
    assert (weights.sum(axis=1) == rows).all()  # every resample draws exactly `rows` rows
    # each row's count is Binomial(rows, 1/rows)
    pmf = [
        math.comb(rows, k) * (1 / rows) ** k * (1 - 1 / rows) ** (rows - k)
        for k in range(min(5, rows + 1))
    ]
    pmf_is(weights, pmf)
    # and two rows' counts are negatively correlated, as in a multinomial: -1/(rows - 1)
    if rows > 1:
        first, second = weights[:, 0].astype(float), weights[:, 1].astype(float)
        correlation = np.corrcoef(first, second)[0, 1]
        assert abs(correlation + 1 / (rows - 1)) <= 5 / math.sqrt(resamples)


def test_poisson_weights_are_independent_poisson_counts() -> None:
    weights = np.concatenate(list(weight_chunks(5000, 300, 4, "poisson")))
    pmf_is(weights, [math.exp(-1) / math.factorial(k) for k in range(7)])
    totals = weights.sum(axis=1)
    assert len(set(totals.tolist())) > 10  # the total varies (Poisson(rows))
    assert abs(totals.mean() - 5000) <= 5 * math.sqrt(5000 / 300)


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_weights_do_not_depend_on_chunking(method: Method) -> None:
    rows, resamples = 3000, 700
    small = list(weight_chunks(rows, resamples, 5, method, cells=rows * 64))
    large = list(weight_chunks(rows, resamples, 5, method, cells=rows * 500))
    assert len(small) == 11 and len(large) == 2
    np.testing.assert_array_equal(np.concatenate(small), np.concatenate(large))
    # and any range of resamples can be drawn on its own (a worker of a partitioned run)
    np.testing.assert_array_equal(
        draw(rows, range(600, 650), 5, method), np.concatenate(small)[600:650]
    )


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_the_seed_decides_the_weights(method: Method) -> None:
    first = draw(1000, range(20), 1, method)
    np.testing.assert_array_equal(first, draw(1000, range(20), 1, method))
    assert (first != draw(1000, range(20), 2, method)).any()


def test_poisson_weights_of_a_row_block_do_not_depend_on_the_other_blocks() -> None:
    """What a partitioned evaluation needs: each block of rows can be drawn where it lives."""
    alone = draw(ROW_BLOCK, range(3), 9, "poisson")
    longer = draw(ROW_BLOCK + 1000, range(3), 9, "poisson")
    np.testing.assert_array_equal(longer[:, :ROW_BLOCK], alone)


def test_auto_is_poisson_only_for_very_large_test_sets() -> None:
    assert resolve_method("auto", POISSON_ABOVE) == "multinomial"
    assert resolve_method("auto", POISSON_ABOVE + 1) == "poisson"
    assert resolve_method("poisson", 10) == "poisson"
    assert resolve_method("multinomial", 10 * POISSON_ABOVE) == "multinomial"


def test_chunks_are_bounded_by_the_cell_budget() -> None:
    assert chunk_size(200_000, cells=1 << 22) == 20
    assert chunk_size(10**8, cells=1 << 22) == 1  # always at least one resample
    chunks = list(weight_chunks(200_000, 45, 0, "multinomial", cells=1 << 22))
    assert [len(chunk) for chunk in chunks] == [20, 20, 5]
    assert all(chunk.dtype == np.uint8 for chunk in chunks)
