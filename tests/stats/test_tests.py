"""McNemar, DeLong and Holm against independent implementations, on random and tied data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from mlci_action.stats.delong import delong
from mlci_action.stats.holm import holm
from mlci_action.stats.mcnemar import agresti_min, discordant, mcnemar, p_value


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (0, 1), (1, 1), (3, 0), (5, 5), (12, 3), (2, 9), (40, 25), (200, 170)]
)
def test_mcnemar_p_value_matches_statsmodels(b: int, c: int) -> None:
    table = [[50, b], [c, 30]]
    expected = sm_mcnemar(table, exact=True).pvalue
    assert p_value(b, c) == pytest.approx(expected, abs=1e-12)
    assert p_value(b, c, mid_p=True) <= p_value(b, c)


@pytest.mark.parametrize("n", [5, 20, 300])
def test_mcnemar_on_rows_counts_the_discordant_pairs(n: int) -> None:
    rng = np.random.default_rng(n)
    right_c, right_b = rng.random(n) < 0.8, rng.random(n) < 0.7
    b, c = discordant(right_c, right_b)
    found = mcnemar(right_c, right_b, 0.95)
    table = [[int(np.sum(right_c & right_b)), b], [c, int(np.sum(~right_c & ~right_b))]]
    assert found.p_value == pytest.approx(sm_mcnemar(table, exact=True).pvalue, abs=1e-12)
    assert found.delta == pytest.approx(right_c.mean() - right_b.mean())
    assert found.low <= found.delta <= found.high
    # a clear result from the exact test is a clear result for the interval too
    if found.p_value < 0.01:
        assert found.low > 0 or found.high < 0
    if found.p_value > 0.2:
        assert found.low < 0 < found.high


def test_mcnemar_of_identical_answers_still_has_an_interval() -> None:
    """Two models that agree on all 114 rows: the delta is 0, but the rows cannot rule out a
    difference of about 2 points (Agresti-Min: 1/2 per cell), and the interval says so."""
    same = np.arange(114) % 7 != 0
    found = mcnemar(same, same, 0.95)
    assert (found.delta, found.p_value) == (0.0, 1.0)
    assert found.low == pytest.approx(-1.959964 / 116, rel=1e-5)
    assert found.high == pytest.approx(1.959964 / 116, rel=1e-5)


def test_agresti_min_by_hand() -> None:
    """b=10, c=3 of n=100: cells 10.5 and 3.5 of 102; Wald on the adjusted table."""
    b, c, n = 10.5, 3.5, 102
    centre = (b - c) / n
    spread = ((b + c) - (b - c) ** 2 / n) ** 0.5 / n
    assert agresti_min(10, 3, 100, 0.95) == pytest.approx(
        (centre - 1.959964 * spread, centre + 1.959964 * spread), rel=1e-6
    )


def _delong_quadratic(hits: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong 1988 straight from the definition: the pairwise Mann-Whitney kernel, O(m n)."""
    pos, neg = hits.astype(bool), ~hits.astype(bool)
    v10, v01, aucs = [], [], []
    for s in scores:
        x, y = s[pos][:, None], s[neg][None, :]
        kernel = (x > y) + 0.5 * (x == y)
        aucs.append(kernel.mean())
        v10.append(kernel.mean(axis=1))
        v01.append(kernel.mean(axis=0))
    cov = np.cov(np.vstack(v10)) / pos.sum() + np.cov(np.vstack(v01)) / neg.sum()
    return np.array(aucs), cov


@pytest.mark.parametrize(("n", "levels"), [(12, None), (80, 5), (400, None), (400, 3)])
def test_delong_matches_the_pairwise_kernel(n: int, levels: int | None) -> None:
    rng = np.random.default_rng(n + (levels or 0))
    hits = rng.random(n) < 0.4
    hits[:2], hits[2:4] = True, False
    c = hits + rng.normal(0, 1.0, n)
    b = hits + rng.normal(0, 1.5, n)
    if levels:  # heavy ties: scores rounded to a few values
        c, b = np.round(c * levels) / levels, np.round(b * levels) / levels
    aucs, cov = _delong_quadratic(hits, [c, b])
    found = delong(hits, c, b, 0.95)
    assert found.delta == pytest.approx(roc_auc_score(hits, c) - roc_auc_score(hits, b))
    assert found.delta == pytest.approx(aucs[0] - aucs[1])
    assert found.se**2 == pytest.approx(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], rel=1e-9)
    assert found.low < found.delta < found.high


def test_delong_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="two rows of each class"):
        delong(np.array([1, 1, 1, 0]), np.arange(4.0), np.arange(4.0), 0.95)


def test_holm_matches_statsmodels() -> None:
    rng = np.random.default_rng(1)
    for size in (1, 2, 5, 12):
        found = rng.random(size) ** 3
        ours = holm({f"m{k}": float(p) for k, p in enumerate(found)})
        theirs = multipletests(found, method="holm")[1]
        assert [ours[f"m{k}"] for k in range(size)] == pytest.approx(list(theirs))


def test_holm_on_a_constructed_family() -> None:
    # 0.01 * 3 = 0.03 rejects; 0.02 * 2 = 0.04 rejects; 0.04 * 1 = 0.04 (monotone) rejects
    assert holm({"a": 0.02, "b": 0.01, "c": 0.04}) == pytest.approx(
        {"a": 0.04, "b": 0.03, "c": 0.04}
    )
    # unadjusted, 0.03 would pass at 0.05; in a family of three it does not
    assert holm({"a": 0.03, "b": 0.5, "c": 0.9})["a"] == pytest.approx(0.09)
