"""The shared bin rule and PSI (mlci_action.monitoring.bins), against the contract's words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlci_action.monitoring.bins import (
    MISSING,
    bin_index,
    categorical_psi,
    numeric_counts,
    numeric_psi,
    psi,
)

EDGES = [0.0, 1.0, 2.0, 5.0]  # 3 bins


def test_values_on_inner_edges_go_up_and_outside_values_to_the_end_bins() -> None:
    values = [-3.0, 0.0, 0.5, 1.0, 1.99, 2.0, 5.0, 99.0, float("nan")]
    assert bin_index(EDGES, values).tolist() == [0, 0, 0, 1, 1, 2, 2, 2, MISSING]


def test_counts_and_missing() -> None:
    counts, missing = numeric_counts(EDGES, [0.1, 0.2, 1.5, 7.0, float("nan"), float("nan")])
    assert counts.tolist() == [2, 1, 1] and missing == 2


def _by_hand(expected: list[float], actual: list[float], eps: float = 1e-4) -> float:
    e_total, a_total = sum(expected), sum(actual)
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        p, q = max(e / e_total, eps), max(a / a_total, eps)
        total += (q - p) * math.log(q / p)
    return total


def test_psi_is_the_contracts_formula_and_zero_for_the_same_shape() -> None:
    rng = np.random.default_rng(3)
    expected, actual = rng.integers(0, 100, size=8), rng.integers(0, 100, size=8)
    actual[2] = 0  # an empty bin is clipped, never infinite
    assert psi(expected, actual) == pytest.approx(_by_hand(list(expected), list(actual)))
    assert psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)
    assert math.isnan(psi([1, 2], [0, 0]))


def test_missing_is_a_bin_only_when_either_side_has_some() -> None:
    assert numeric_psi([5, 5], 0, [5, 5], 0) == pytest.approx(0.0)
    assert numeric_psi([5, 5], 0, [5, 5], 10) == pytest.approx(_by_hand([5, 5, 0], [5, 5, 10]))


def test_categorical_psi_over_the_union_of_levels_plus_other() -> None:
    expected = {"red": 50, "green": 30}
    live = {"red": 10, "blue": 20}
    got = categorical_psi(expected, 20, 0, live, 0, 5)
    # levels red, green, blue, then other, then missing (the live side has some)
    assert got == pytest.approx(_by_hand([50, 30, 0, 20, 0], [10, 0, 20, 0, 5]))
    assert categorical_psi(expected, 0, 0, {"red": 5, "green": 3}) == pytest.approx(0.0)
