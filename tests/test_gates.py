"""Gates: MLflow MetricThreshold semantics, regression limits and significance."""

from __future__ import annotations

import pytest

from mlci_action.config import Gate
from mlci_action.record import MetricResult
from mlci_action.stages.gates import check_gate


def metric(candidate, baseline=None, ci=(None, None), greater=True):
    delta = None if baseline is None else candidate - baseline
    return MetricResult(
        candidate=candidate,
        baseline=baseline,
        delta=delta,
        ci_low=ci[0],
        ci_high=ci[1],
        greater_is_better=greater,
    )


@pytest.mark.parametrize(
    ("name", "gate", "result", "passed", "words"),
    [
        ("accuracy", Gate(threshold=0.9), metric(0.95), True, "≥ 0.9"),
        ("accuracy", Gate(threshold=0.9), metric(0.85), False, "is not ≥ 0.9"),
        ("rmse", Gate(threshold=10), metric(12.0), False, "is not ≤ 10"),
        ("rmse", Gate(threshold=10), metric(8.0), True, "≤ 10"),
        ("accuracy", Gate(max_regression=0.02), metric(0.93, 0.94), True, "max_regression"),
        ("accuracy", Gate(max_regression=0.02), metric(0.90, 0.94), False, "below -0.02"),
        ("rmse", Gate(max_relative_regression=0.05), metric(10.4, 10.0), True, "-4.00% ≥ -5.00%"),
        ("rmse", Gate(max_relative_regression=0.05), metric(10.6, 10.0), False, "-6.00%"),
        (
            "accuracy",
            Gate(min_absolute_change=0.01),
            metric(0.95, 0.93),
            True,
            "min_absolute_change",
        ),
        (
            "accuracy",
            Gate(min_absolute_change=0.01),
            metric(0.935, 0.93),
            False,
            "min_absolute_change",
        ),
        ("accuracy", Gate(min_relative_change=0.1), metric(0.6, 0.5), True, "+20.00%"),
        ("accuracy", Gate(max_regression=0.01), metric(0.5), True, "no baseline"),
        (
            "accuracy",
            Gate(require_significant=True),
            metric(0.95, 0.9, (0.01, 0.09)),
            True,
            "significant",
        ),
        (
            "accuracy",
            Gate(require_significant=True),
            metric(0.95, 0.9, (-0.01, 0.09)),
            False,
            "not significant",
        ),
        (
            "rmse",
            Gate(require_significant=True),
            metric(9.0, 10.0, (-2.0, -0.5), False),
            True,
            "significant",
        ),
        ("accuracy", Gate(threshold=0.5, greater_is_better=False), metric(0.4), True, "≤ 0.5"),
    ],
)
def test_gate_rules(name, gate, result, passed, words):
    outcome = check_gate(name, gate, result)
    assert outcome.passed is passed, outcome.reason
    assert words in outcome.reason


def test_nan_candidate_fails():
    assert not check_gate("accuracy", Gate(threshold=0.1), metric(float("nan"))).passed


@pytest.mark.parametrize(
    ("gate", "missing", "passed", "words"),
    [
        # an expected baseline that could not be scored fails the comparison rules
        (Gate(max_regression=0.02), "the baseline main: training failed", False, "no baseline"),
        (Gate(require_significant=True), "registry unreachable", False, "without_baseline: pass"),
        # unless the config says so, explicitly
        (Gate(max_regression=0.02, without_baseline="pass"), "x", True, "not checked"),
        # a first model (nothing at the baseline yet) or no baseline asked for: not checked
        (Gate(max_regression=0.02), None, True, "not checked"),
        # absolute rules never need a baseline
        (Gate(threshold=0.9), "registry unreachable", True, "≥ 0.9"),
    ],
)
def test_comparison_rules_fail_closed_without_an_expected_baseline(gate, missing, passed, words):
    result = check_gate("accuracy", gate, metric(0.95), missing)
    assert result.passed is passed
    assert words in result.reason
    if not passed:
        assert missing in result.reason
