"""The report: pure rendering of a run record; PR-controlled text is escaped; size-limited."""

from __future__ import annotations

import re

import pytest

from mlci_action.record import (
    CacheInfo,
    CheckFailure,
    DataCheck,
    DataReport,
    GateResult,
    MetricResult,
    ModelTest,
    ModelTestsReport,
    RunRecord,
    SliceResult,
    Source,
    StageResult,
    Status,
)
from mlci_action.report.change import describe_change, verdict
from mlci_action.report.escape import md, pre
from mlci_action.report.forest import forest_plot
from mlci_action.report.render import render_limited, render_markdown

EVIL = "x</td><img src=x onerror=alert(1)> @octocat [click](https://evil.example) | **b** `c`"


def record(**changes) -> RunRecord:
    base = RunRecord(
        mlci_version="0.1.0",
        name="demo",
        verdict="fail",
        summary="gates: 1 of 1 gates failed: accuracy",
        started_at="2026-11-27T00:00:00+00:00",
        seconds=12.5,
        candidate=Source(role="candidate", ref="HEAD", sha="a" * 40),
        baseline=Source(role="baseline", ref="main", sha="b" * 40),
        stages={
            "source": StageResult(status=Status.PASSED, seconds=0.1),
            "train": StageResult(
                status=Status.FAILED, seconds=2.0, reason=EVIL, log_tail=f"line 1\n{EVIL}\n</pre>"
            ),
        },
        metrics={
            "accuracy": MetricResult(
                baseline=0.95,
                candidate=0.9,
                delta=-0.05,
                ci_low=-0.08,
                ci_high=-0.02,
                confidence=0.95,
                significant=True,
            )
        },
        gates=[
            GateResult(
                name="accuracy",
                metric="accuracy",
                passed=False,
                reason="max_regression: change -0.05 is below -0.02",
            )
        ],
        data=DataReport(
            passed=False,
            rows={"train": 100, "test": 20},
            checks=[
                DataCheck(
                    name="schema",
                    kind="schema",
                    dataset="train",
                    passed=False,
                    detail="1 check failed",
                    failures=[
                        CheckFailure(
                            check="in_range(0, 1)", column=EVIL, count=3, examples=[EVIL, "2"]
                        )
                    ],
                )
            ],
        ),
        model_tests=ModelTestsReport(
            passed=1,
            failed=1,
            tests=[
                ModelTest(nodeid=f"tests/test_m.py::test_{EVIL}", outcome="failed", message=EVIL)
            ],
        ),
        params={"C": {"baseline": "1.0", "candidate": EVIL}},
        cache=CacheInfo(hit=False, key="k" * 40),
    )
    return base.model_copy(update=changes)


def test_escape_neutralises_markdown_html_and_mentions():
    text = md(EVIL)
    for bad in ("<img", "</td>", "@octocat", "](", "**", "`c`", " | "):
        assert bad not in text
    assert "&#64;octocat" in text
    assert "<" not in pre("</pre><script>") and "&#64;" in pre("@x")


def test_report_has_verdict_table_chart_and_details():
    text = render_markdown(record())
    assert text.splitlines()[0].startswith("## ❌ mlci · demo: fail")
    row = "| accuracy ↑ | 0.95 | **0.9** | worse: -0.050 (95 % CI -0.080 to -0.020) | ❌"
    assert row in text
    assert "```text\nchange in % of the baseline's value" in text and "mermaid" not in text
    assert "### Data checks: ❌" in text and "### Model tests: ❌ 1 passed, 1 failed" in text
    assert "<details><summary>Parameters changed (1)</summary>" in text
    assert "### What failed" in text


def test_everything_from_the_pr_is_escaped():
    text = render_markdown(record())
    assert "<img" not in text and "@octocat" not in text
    # inside <pre> (an HTML block) markdown is not parsed; everywhere else links are broken up
    outside = text.split("<pre>")[0] + text.split("</pre>")[1]
    assert "](https://evil" not in outside
    # the only raw HTML is ours
    assert text.count("<pre>") == text.count("</pre>") == 1


def test_cache_hit_and_pass_are_said():
    text = render_markdown(record(verdict="pass", cache=CacheInfo(hit=True, key="c" * 40)))
    assert text.splitlines()[0].startswith("## ✅")
    assert "reused from cache" in text


def test_limit_keeps_headline_and_metrics_table():
    huge = record(
        stages={"train": StageResult(status=Status.FAILED, reason="x", log_tail="y" * 100_000)}
    )
    text = render_limited(huge, limit=65_536, marker="<!-- mlci:demo -->")
    assert len(text) <= 65_536
    assert text.startswith("<!-- mlci:demo -->")
    assert "| accuracy ↑ |" in text and "left out to fit" in text


def _data_section(text: str) -> str:
    return text.split("### Data checks")[1].split("### Model tests")[0]


def _cells(row: str) -> int:
    """The cells of a markdown table row: its pipes that are not escaped, less one."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def data_report(evil: str = "") -> DataReport:
    def check(name: str, passed: bool, severity: str = "error", **more) -> DataCheck:
        return DataCheck(
            name=name + evil,
            kind="categories",
            dataset="train" + evil,
            passed=passed,
            severity=severity,
            detail="detail " + evil,
            column="colour" + evil,
            **more,
        )

    return DataReport(
        passed=False,
        rows={"train": 200, "test": 50},
        checks=[
            check("constant", True),
            check(
                "categories",
                False,
                setting="data.checks.categories.max_rows" + evil,
                statistic=2.0,
                threshold=0.0,
                failures=[
                    CheckFailure(
                        check="not_in_test" + evil,
                        column="species" + evil,
                        count=2,
                        examples=["line 14: 'bb'" + evil, "line 79: 'bb'\n</details>" + evil],
                        file="data/train.csv" + evil,
                    )
                ],
            ),
            check("drift", False, severity="warning"),
            check("leakage", True),
        ],
    )


def test_the_data_section_lists_every_check_failures_first_passes_collapsed():
    data = data_report()
    text = render_markdown(record(data=data))
    section = _data_section(text)

    assert section.startswith(": ❌ 4 data checks: 1 failed, 1 warning, 2 passed")
    assert data.tally in text  # the one count, as the stage and the summary line say it
    failed, warnings, passed = (
        section.index("**Failed**"),
        section.index("**Warnings**"),
        section.index("<details><summary>Passed (2)</summary>"),
    )
    assert failed < warnings < passed
    icons = {"passed": "✅", "failed": "❌", "warning": "⚠️"}
    for c in data.checks:
        assert f"| {icons[c.outcome]} {md(c.name)} |" in section
    assert "line 14&#58; 'bb'; line 79&#58; 'bb'" in section  # the lines of the failing cases
    assert "categories on train (tune: data\\.checks\\.categories\\.max\\_rows):" in section
    assert "| data/train\\.csv | species | not\\_in\\_test | 2 |" in section


def test_values_from_the_data_cannot_break_out_of_the_tables_or_the_details_block():
    text = render_markdown(record(data=data_report(evil=EVIL)))
    section = _data_section(text)

    assert "<img" not in section and "@octocat" not in section
    assert section.count("<details>") == section.count("</details>") == 1
    rows = [row for row in section.splitlines() if row.startswith("|")]
    assert rows
    for row in rows:  # each table keeps its columns: 4 for checks, 5 for failing cases
        assert _cells(row) in (4, 5), row


# --- the change in words ----------------------------------------------------------------------


def metric(delta, low=None, high=None, greater_is_better=True, baseline=0.5) -> MetricResult:
    return MetricResult(
        baseline=baseline,
        candidate=baseline + delta,
        delta=delta,
        ci_low=low,
        ci_high=high,
        confidence=None if low is None else 0.95,
        greater_is_better=greater_is_better,
    )


@pytest.mark.parametrize(
    ("name", "greater_is_better", "delta", "low", "high", "expected"),
    [
        # smaller is better: a rise is worse, a fall is better
        ("log_loss", False, 0.0046, 0.00016, 0.0090, "log_loss worse: +0.0046 (95 % CI +0.00016 to +0.0090)"),
        ("log_loss", False, -0.012, -0.02, -0.004, "log_loss better: -0.012 (95 % CI -0.020 to -0.0040)"),
        ("log_loss", False, 0.003, -0.001, 0.007, "log_loss no detectable change: +0.0030 (95 % CI -0.0010 to +0.0070)"),
        # greater is better: a rise is better, a fall is worse
        ("accuracy", True, 0.021, 0.004, 0.038, "accuracy better: +0.021 (95 % CI +0.0040 to +0.038)"),
        ("accuracy", True, -0.05, -0.08, -0.02, "accuracy worse: -0.050 (95 % CI -0.080 to -0.020)"),
        ("accuracy", True, -0.004, -0.012, 0.004, "accuracy no detectable change: -0.0040 (95 % CI -0.012 to +0.0040)"),
    ],
)  # fmt: skip
def test_a_change_is_said_in_words(name, greater_is_better, delta, low, high, expected):
    assert describe_change(metric(delta, low, high, greater_is_better), name) == expected


def test_without_an_interval_the_words_claim_no_significance():
    assert describe_change(metric(-0.03, greater_is_better=False), "rmse") == (
        "rmse better: -0.030 (no confidence interval)"
    )
    assert describe_change(metric(-0.03), "r2") == "r2 worse: -0.030 (no confidence interval)"
    assert verdict(metric(0.0)) == "unchanged"
    assert describe_change(MetricResult(candidate=0.9)) == "no baseline to compare with"


def test_the_interval_decides_not_the_sign_of_the_estimate():
    # a percentile interval can lie on one side while the point estimate sits on the other
    assert verdict(metric(-0.001, 0.0005, 0.02)) == "better"
    assert verdict(metric(0.0, 0.0, 0.0)) == "no detectable change"


# --- the chart ----------------------------------------------------------------------------------


def columns(plot: str, name: str) -> tuple[int, int, int, int]:
    """(zero line, estimate, whisker start, whisker end) columns of a metric's row."""
    axis = next(line for line in plot.splitlines() if "worse" in line).index("│")
    row = next(line for line in plot.splitlines() if line.startswith(name + " "))
    zero_row = row[axis]
    assert zero_row in "│┼├┤●", row  # the zero line runs through every row
    left = row.index("├") if "├" in row else row.index("●")
    right = row.index("┤") if "┤" in row else row.index("●")
    return axis, row.index("●"), left, right


def test_the_chart_puts_every_metric_on_one_scale_with_better_to_the_right():
    metrics = {
        # an error metric of scale 50 that fell by 10 %: better, so right of zero
        "rmse": metric(-5.0, -7.5, -2.5, greater_is_better=False, baseline=50.0),
        # a score of scale 0.4 that fell by 10 %: worse, left of zero, as far as rmse is right
        "r2": metric(-0.04, -0.06, -0.02, baseline=0.4),
        # noise: the interval crosses zero
        "mae": metric(2.0, -2.0, 4.0, greater_is_better=False, baseline=40.0),
        "accuracy": MetricResult(candidate=0.9),  # no baseline: no row
    }
    plot = forest_plot(metrics)
    axis, rmse, rmse_left, rmse_right = columns(plot, "rmse ↓")
    _, r2, r2_left, r2_right = columns(plot, "r2 ↑")
    _, mae, mae_left, mae_right = columns(plot, "mae ↓")
    assert axis < rmse_left <= rmse <= rmse_right  # better: wholly right of zero
    assert r2_left <= r2 <= r2_right < axis  # worse: wholly left of zero
    assert rmse - axis == axis - r2  # -10 % of either scale is the same distance
    assert mae_left < axis < mae_right and mae < axis  # noise crosses zero; mae rose: left
    assert "+10 % (+5.0 to +15)" in plot and "-10 % (-15 to -5.0)" in plot
    assert "accuracy" not in plot
    assert "50" not in plot and "0.4" not in plot  # no raw metric values


def test_no_chart_without_a_baseline():
    assert forest_plot({"accuracy": MetricResult(candidate=0.9)}) == ""
    text = render_markdown(record(metrics={"accuracy": MetricResult(candidate=0.9)}, gates=[]))
    assert "```text" not in text and "| accuracy ↑ | – | **0.9** | – | – |" in text


def test_the_positive_class_is_named_and_escaped():
    text = render_markdown(record(positive_class="bought"))
    assert "positive class: 'bought' (binary metrics)" in text
    evil = render_markdown(record(positive_class=EVIL))
    assert "<img" not in evil and "@octocat" not in evil
    assert "positive class: 1 (binary metrics)" in render_markdown(record(positive_class=1))


def test_a_partitioned_test_set_is_noted_and_its_slice_values_stay_escaped():
    evil = '`</details>` --> "]; click x %%{init}%%'
    part = SliceResult(
        name=f"region = {evil}",
        spec="region",
        rows=40,
        metrics={"accuracy": metric(-0.05, -0.08, -0.02)},
    )
    text = render_markdown(
        record(test_partitions=6, bootstrap_method="poisson", bootstrap_seed=5, slices=[part])
    )
    assert "**The test set was scored in 6 partitions**" in text
    assert "drawn from seed 5 and its index" in text
    assert "</details>` -->" not in text and "-->" not in text.split("region = ")[1][:80]
    assert '"]; click' not in text and "%%{init}%%" not in text
    assert "partitions**" not in render_markdown(record())
