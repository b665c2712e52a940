"""The terminal summary: the same words for a change and the same chart as the report."""

from __future__ import annotations

from rich.console import Console

from mlci_action.record import CacheInfo, MetricResult, RunRecord, Source
from mlci_action.terminal import TerminalProgress


def test_the_summary_says_each_change_in_words_and_draws_the_chart():
    record = RunRecord(
        mlci_version="0.1.0",
        name="shop",
        verdict="pass",
        summary="all gates passed",
        started_at="2026-11-28T00:00:00+00:00",
        seconds=1.0,
        candidate=Source(role="candidate", ref="HEAD"),
        baseline=Source(role="baseline", ref="main"),
        stages={},
        metrics={
            "recall": MetricResult(
                baseline=0.014,
                candidate=0.557,
                delta=0.543,
                ci_low=0.45,
                ci_high=0.63,
                confidence=0.95,
            ),
            "log_loss": MetricResult(
                baseline=0.2,
                candidate=0.2046,
                delta=0.0046,
                ci_low=-0.001,
                ci_high=0.009,
                confidence=0.95,
                greater_is_better=False,
            ),
        },
        positive_class="bought",
        cache=CacheInfo(hit=False, key="k" * 40),
    )
    console = Console(record=True, width=200, color_system=None)
    TerminalProgress(console).summary(record, "report.md")
    text = console.export_text()
    assert "better: +0.54 (95 % CI +0.45 to +0.63)" in text
    assert "no detectable change: +0.0046 (95 % CI -0.0010 to +0.0090)" in text
    assert "positive class: 'bought' (binary metrics)" in text
    assert "change in % of the baseline's value" in text and "recall ↑" in text
