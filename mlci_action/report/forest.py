"""The metrics chart: a text forest plot of each metric's change, on one scale, right = better.

Why this and not a chart of the metric values: a reviewer asks "did the candidate get better,
by how much, and is that more than noise?". The old Mermaid xychart drew baseline and
candidate values as bars and a line on one axis: two near-identical shapes, and metrics of
different scales (an RMSE of 50 beside an R² of 0.4) squeezed onto one axis. Mermaid's xychart
has no error bars, so it cannot show the confidence interval at all.

Here every metric gets one row: its change relative to the baseline's value (in %), turned so
that right of the zero line is better whatever the metric's direction (a falling log_loss
points right), with its confidence interval as a whisker. Rows are comparable, the zero line
shows at a glance which intervals cross it (no detectable change), and the same text renders
in a GitHub comment (a fenced code block), a job summary and the terminal.

Metrics without a baseline value, or with a baseline of 0 (no relative scale), get no row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlci_action.record import MetricResult
from mlci_action.report.change import signed

WIDTH = 41
"""Columns of the plot area (odd: the zero line sits in the middle)."""
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Row:
    """One metric's change in % of the baseline's value, oriented so that positive = better."""

    name: str
    estimate: float
    low: float | None
    high: float | None


def rows(metrics: Mapping[str, MetricResult]) -> list[Row]:
    found = []
    for name, metric in metrics.items():
        base, delta = metric.baseline, metric.delta
        if base is None or delta is None or base == 0 or not math.isfinite(base):
            continue
        scale = (1 if metric.greater_is_better else -1) * 100 / abs(base)
        low = high = None
        if metric.ci_low is not None and metric.ci_high is not None:
            low, high = sorted((metric.ci_low * scale, metric.ci_high * scale))
        arrow = "↑" if metric.greater_is_better else "↓"
        found.append(Row(f"{_NAME.sub('', name)} {arrow}", delta * scale, low, high))
    return [row for row in found if all(math.isfinite(v) for v in _values(row))]


def forest_plot(metrics: Mapping[str, MetricResult], width: int = WIDTH) -> str:
    """The plot as lines of text; "" when no metric has a baseline to compare with."""
    found = rows(metrics)
    if not found:
        return ""
    extent = _nice(max(abs(v) for row in found for v in _values(row)))
    label = max(len(row.name) for row in found)
    half = width // 2
    ticks = f"-{_percent(extent)}".ljust(half) + "0" + f"+{_percent(extent)}".rjust(half)
    lines = [
        "change in % of the baseline's value; right of │ = better (↓ metrics are flipped)",
        " " * label + "  " + "worse".ljust(half) + "│" + "better".rjust(half),
    ]
    for row in found:
        text = f"{signed(row.estimate)} %"
        if row.low is not None and row.high is not None:
            text += f" ({signed(row.low)} to {signed(row.high)})"
        lines.append(f"{row.name.ljust(label)}  {_draw(row, extent, width)}  {text}")
    lines.append(" " * label + "  " + ticks)
    return "\n".join(lines)


def _values(row: Row) -> list[float]:
    return [v for v in (row.estimate, row.low, row.high) if v is not None]


def _nice(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _percent(value: float) -> str:
    return f"{value:g} %"


def _draw(row: Row, extent: float, width: int) -> str:
    half = width // 2

    def column(value: float) -> int:
        return min(width - 1, max(0, half + round(value / extent * half)))

    cells = [" "] * width
    cells[half] = "│"
    if row.low is not None and row.high is not None:
        left, right = column(row.low), column(row.high)
        for k in range(left, right + 1):
            cells[k] = "┼" if k == half else "─"
        if left < right:
            cells[left], cells[right] = "├", "┤"
    cells[column(row.estimate)] = "●"
    return "".join(cells)
