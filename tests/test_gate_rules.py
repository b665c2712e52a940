"""Gate rules that judge the interval, Holm over significance judgements, slice gates, the
minimum detectable effect next to the gate, and slices in mlci.yaml and in the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci_action.config import Gate, SliceGate, parse_config
from mlci_action.errors import ConfigError
from mlci_action.gate_family import holm_verdict, significance_family, with_adjusted
from mlci_action.github import trust
from mlci_action.record import Evaluation, GateResult, MetricResult, SliceResult
from mlci_action.report.render import render_markdown
from mlci_action.stages.gates import check_gate, check_slices
from mlci_action.stats.holm import holm
from mlci_action.yamlfile import load_yaml
from tests.test_report import record


def recall(delta: float, low: float, high: float, p: float = 0.5, mde: float | None = None):
    return MetricResult(
        baseline=0.9,
        candidate=0.9 + delta,
        delta=delta,
        ci_low=low,
        ci_high=high,
        confidence=0.95,
        test="bootstrap",
        p_value=p,
        mde=mde,
    )


# one positive in 70 lost: -0.014, "noise" (the interval holds 0)
NOISE = recall(-0.014, -0.05, 0.02)
REAL = recall(-0.08, -0.12, -0.04, p=0.001)


@pytest.mark.parametrize(
    ("rule", "result", "passed"),
    [
        ("point", NOISE, False),  # today: any drop fails max_regression 0
        ("no_significant_regression", NOISE, True),  # the interval reaches 0: not proven
        ("no_significant_regression", REAL, False),  # the whole interval is below 0
        ("non_inferiority", NOISE, False),  # the worse end -0.05 is past -0.02
        ("non_inferiority", recall(-0.005, -0.015, 0.005), True),
    ],
)
def test_rules_judge_the_interval(rule, result, passed) -> None:
    gate = Gate(max_regression=0.02 if rule == "non_inferiority" else 0.0, rule=rule)
    found = check_gate("recall", gate, result)
    assert found.passed is passed and found.rule == rule
    assert found.decided_by == (None if passed else "max_regression")
    if rule != "point":
        assert rule.replace("_", " ").replace("non inferiority", "non-inferiority") in found.reason


def test_an_interval_rule_without_an_interval_fails_and_says_why() -> None:
    result = MetricResult(baseline=0.9, candidate=0.95, delta=0.05)
    found = check_gate("recall", Gate(rule="non_inferiority"), result)
    assert not found.passed and "needs a confidence interval" in found.reason


def test_a_smaller_is_better_metric_turns_the_interval() -> None:
    worse = MetricResult(
        baseline=0.1,
        candidate=0.2,
        delta=0.1,
        ci_low=0.05,
        ci_high=0.15,
        confidence=0.95,
        greater_is_better=False,
    )
    found = check_gate("log_loss", Gate(rule="no_significant_regression"), worse)
    assert not found.passed and "CI [-0.15, -0.05]" in found.reason


def test_a_limit_below_the_mde_is_warned() -> None:
    found = check_gate("recall", Gate(max_regression=0.005), recall(0.0, -0.02, 0.02, mde=0.03))
    assert found.mde == 0.03
    assert found.warnings == [
        "this test set cannot detect a regression of 0.005 in recall; "
        "smallest detectable ≈ 0.03 (80 % power)"
    ]
    assert not check_gate(
        "recall", Gate(max_regression=0.05), recall(0, -0.02, 0.02, mde=0.03)
    ).warnings


def test_holm_decides_require_significant_in_a_family() -> None:
    """Two improvements with p = 0.03 and 0.04: each significant alone, neither after Holm
    (0.06 and 0.06), so require_significant fails both and says so."""
    better = {
        "f1": recall(0.03, 0.001, 0.06, p=0.03),
        "precision": recall(0.03, 0.001, 0.06, p=0.04),
    }
    evaluation = Evaluation(rows=500, metrics=better)
    gates = {name: Gate(require_significant=True) for name in better}
    adjusted = holm(significance_family(gates, evaluation))
    assert adjusted == pytest.approx({("f1", None): 0.06, ("precision", None): 0.06})
    updated = with_adjusted(evaluation, adjusted)
    for name, gate in gates.items():
        metric = updated.metrics[name]
        assert metric.p_adjusted == pytest.approx(0.06)
        alone = check_gate(name, gate, better[name])
        assert alone.passed
        found = check_gate(name, gate, metric, None, holm_verdict(adjusted, (name, None), metric))
        assert not found.passed and "Holm-adjusted p = 0.06" in found.reason
        assert found.decided_by == "require_significant"


def slice_of(name: str, result: MetricResult, rows: int = 200, small: str | None = None):
    return SliceResult(
        name=name, spec="region", rows=rows, metrics={"recall": result}, too_small=small
    )


def test_slice_gates_judge_each_slice_and_skip_small_ones() -> None:
    slices = [
        slice_of("region = north", NOISE),
        slice_of("region = south", REAL),
        slice_of("region = east", REAL, rows=12, small="12 rows (fewer than 30)"),
        slice_of("region = west", MetricResult(candidate=0.5)),
    ]
    gate = Gate(slices=SliceGate(max_regression=0.0, rule="no_significant_regression"))
    found = {g.slice: g for g in check_slices("recall", gate, slices, {})}
    assert found["region = north"].passed
    assert not found["region = south"].passed
    assert found["region = south"].decided_by == "slices.max_regression"
    assert found["region = east"].passed and "too small" in found["region = east"].warnings[0]
    assert found["region = west"].passed and "not judged" in found["region = west"].reason
    # the slices join Holm's family: south's p = 0.001 stays significant among two
    family = significance_family(
        {"recall": gate}, Evaluation(rows=1, metrics={"recall": NOISE}, slices=slices)
    )
    assert set(family) == {("recall", "region = north"), ("recall", "region = south")}


CONFIG = """\
version: 1
name: demo
data: {train: train.csv, test: test.csv, target: y}
training: {estimator: sklearn.linear_model.LogisticRegression}
evaluation:
  task: classification
  metrics: [accuracy]
  slices:
    - region
    - {slice}
gates:
  accuracy:
    rule: {rule}
"""


@pytest.mark.parametrize(
    ("slice_", "rule", "words"),
    [
        ("age >= __import__('os')", "point", ':10: evaluation.slices.1: slice "age >= __import__'),
        ("age >>= 3", "point", ":10: evaluation.slices.1: slice 'age >>= 3'"),
        (
            "age >= 65",
            "non-inferiority",
            ":13: gates.accuracy.rule: 'non-inferiority' is not one of",
        ),
        ("age >= 65", "no_significant", "did you mean 'no_significant_regression'?"),
    ],
)
def test_bad_slices_and_rules_name_the_line(tmp_path: Path, slice_, rule, words) -> None:
    path = tmp_path / "mlci.yaml"
    path.write_text(CONFIG.replace("{slice}", slice_).replace("{rule}", rule))
    with pytest.raises(ConfigError) as error:
        parse_config(load_yaml(path))
    assert words in str(error.value)


BREAKOUTS = [
    "</details><img src=x onerror=alert(1)>",
    "--> <!-- `code` | cell |",
    '"]; click A callback %%{init: {"theme":"dark"}}%%',
]


@pytest.mark.parametrize("evil", BREAKOUTS)
def test_slice_names_from_the_data_cannot_break_out(evil: str) -> None:
    name = f"region = {evil}"
    run = record(
        metrics={"recall": REAL},
        slices=[slice_of(name, REAL)],
        gates=[
            GateResult(
                name=f"recall [{name}]",
                metric="recall",
                passed=False,
                reason="max_regression",
                slice=name,
                warnings=[f"slice {name}: too small"],
            ),
        ],
    )
    text = render_markdown(run)
    section = text[text.index("<details><summary>Slices") :]
    section = section[: section.index("</details>") + len("</details>")]
    assert section.count("</details>") == 1 and "<img" not in text
    assert "-->" not in text and "`code`" not in text and "%%{" not in text
    row = next(line for line in section.splitlines() if line.startswith("| region"))
    assert row.count(" | ") + 2 == section.splitlines()[2].count("|")  # no extra cells
    assert "Slice gates that failed" in section


def test_the_report_says_which_test_and_rule() -> None:
    accuracy = MetricResult(
        baseline=0.9,
        candidate=0.92,
        delta=0.02,
        ci_low=-0.01,
        ci_high=0.05,
        confidence=0.95,
        test="mcnemar",
        p_value=0.2,
        p_adjusted=0.4,
        mde=0.031,
    )
    gate = GateResult(
        name="accuracy",
        metric="accuracy",
        passed=True,
        reason="ok",
        rule="non_inferiority",
        warnings=["this test set cannot detect x"],
    )
    text = render_markdown(
        record(metrics={"accuracy": accuracy}, gates=[gate], too_small="25 rows (fewer than 30)")
    )
    assert "| accuracy | mcnemar | 0.2 (Holm 0.4) | 0.031 | non inferiority |" in text
    assert "Holm-adjusted over the 1 significance" in text
    assert "too small for any interval to mean much:** 25 rows \\(fewer than 30\\)" in text
    assert "> - this test set cannot detect x" in text


def test_a_pull_request_loosening_a_gate_by_its_rule_or_slices_is_shown_first(
    tmp_path: Path,
) -> None:
    """The PR's gates are used, but every change against the base branch's gates is listed in
    the report's trust section: a rule that judges the interval more leniently, or slice
    gates, are changes like any other limit."""
    base = CONFIG.replace("{slice}", "age >= 65").replace("{rule}", "point")
    head_path = tmp_path / "mlci.yaml"
    head_path.write_text(
        CONFIG.replace("{slice}", "age >= 65").replace("{rule}", "no_significant_regression")
        + "    slices: {max_regression: 0.5}\n"
    )
    head = parse_config(load_yaml(head_path))
    _, report = trust.apply(head, base, "main")
    changed = {change.key: (change.base, change.head) for change in report.gates}
    assert changed["gates.accuracy.rule"] == ('"point"', '"no_significant_regression"')
    assert changed["gates.accuracy.slices.max_regression"] == (None, "0.5")
