"""PSI, KS and chi-square against scipy and hand-computed values; a shifted feature and a
changed category share are found and named while the others pass."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mlci_action.config import Bootstrap, Monitoring
from mlci_action.monitoring.bins import MISSING, bin_index, psi
from mlci_action.monitoring.drift import categorical_drift, chi_square, numeric_drift
from mlci_action.monitoring.judge import judge
from mlci_action.monitoring.live import read_log
from mlci_action.monitoring.profile import CategoricalProfile, NumericProfile, numeric_profile
from tests.monitoring.world import frame, records, world, write_log


def test_bin_index_follows_the_contract_rule() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]  # three bins
    values = [-5, 0, 0.5, 1.0, 1.5, 2.0, 3.0, 99, float("nan")]
    assert bin_index(edges, values).tolist() == [0, 0, 0, 1, 1, 2, 2, 2, MISSING]


def test_psi_matches_the_hand_computed_sum() -> None:
    expected, actual = [50, 30, 20], [30, 30, 40]
    e, a = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    assert psi(expected, actual) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    # an empty bin is clipped at eps, not infinite
    assert psi([10, 0], [5, 5]) == pytest.approx(
        (0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    )
    assert psi([1, 2], [1, 2]) == 0.0


def test_ks_against_the_sketch_is_close_to_scipy_on_the_raw_values() -> None:
    rng = np.random.default_rng(3)
    train = rng.normal(0, 1, 5000)
    reference = numeric_profile(train)
    for shift in (0.0, 0.1, 0.5):
        live = rng.normal(shift, 1, 800)
        found = numeric_drift("x", reference, live, threshold=0.2, min_rows=1)
        exact = stats.ks_2samp(train, live)
        assert found.statistic is not None and found.p_value is not None
        assert abs(found.statistic - exact.statistic) <= 0.012  # read at 101 quantiles
        assert found.p_value == pytest.approx(
            float(stats.kstwo.sf(found.statistic, round(800 * 5000 / 5800)))
        )
        assert (found.p_value < 0.01) == (exact.pvalue < 0.01)


def test_ks_on_discrete_values_is_exact() -> None:
    train = np.repeat([0.0, 1.0, 2.0], [500, 300, 200])
    live = np.repeat([0.0, 1.0, 2.0], [200, 300, 500])
    found = numeric_drift("n", numeric_profile(train), live, threshold=0.2, min_rows=1)
    assert found.statistic == pytest.approx(stats.ks_2samp(train, live).statistic)


def test_chi_square_matches_the_hand_computed_statistic() -> None:
    ref, live = [500, 300, 200, 0], [100, 60, 80, 10]
    table = np.array([[500, 300, 200, 0], [100, 60, 80, 10]], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    found, p_value = chi_square(ref, live)
    assert found == pytest.approx(statistic)
    assert p_value == pytest.approx(float(stats.chi2.sf(statistic, 3)))


def test_categorical_drift_counts_unknown_levels_as_other_and_missing_apart() -> None:
    reference = CategoricalProfile(frequencies={"a": 60, "b": 40})
    found = categorical_drift(
        "c",
        reference,
        ["a"] * 30 + ["b"] * 30 + ["zzz"] * 30 + [None] * 10,
        threshold=0.2,
        min_rows=1,
    )
    assert found.missing == 10 and found.rows == 100
    assert found.psi == pytest.approx(psi([60, 40, 0, 0], [30, 30, 30, 10]), abs=1e-6)
    assert found.drifted is True
    assert found.detail == "a: 60.0% → 30.0%"  # the level whose share moved most


def test_too_few_rows_give_no_verdict() -> None:
    reference = NumericProfile(edges=[0, 1, 2], counts=[50, 50])
    found = numeric_drift("x", reference, [5.0] * 10, threshold=0.2, min_rows=100)
    assert found.psi is not None and found.psi > 1
    assert found.drifted is None


def test_a_shifted_feature_and_a_changed_share_are_named_and_the_others_pass(tmp_path) -> None:
    known = world()
    settings = Monitoring(min_rows=500)
    steady = frame(2000, seed=7)
    shifted = frame(2000, seed=8, shift=1.0, shares=(0.2, 0.3, 0.5))
    verdicts = {}
    for name, live in (("steady", steady), ("shifted", shifted)):
        write_log(tmp_path / name, records(known.model, live))
        rows = read_log([str(tmp_path / name)], known.profile)
        verdicts[name] = judge(
            known.profile,
            rows,
            settings,
            metrics=("accuracy",),
            bootstrap=Bootstrap(resamples=0),
        )
    assert verdicts["steady"].verdict == "healthy"
    assert not any(item.drifted for item in verdicts["steady"].drift)
    moved = verdicts["shifted"]
    assert moved.verdict == "breached"
    by_name = {item.name: item for item in moved.drift}
    assert by_name["x1"].drifted and by_name["color"].drifted
    assert not by_name["x2"].drifted
    assert by_name["x1"].p_value is not None and by_name["x1"].p_value < 1e-6
    assert by_name["color"].detail.startswith("red: ")  # 50 % -> 20 %, the largest move
    assert {b.name for b in moved.breaches if b.kind == "drift"} == {"x1", "color"}
    assert moved.prediction_drift is not None and moved.prediction_drift.psi is not None
