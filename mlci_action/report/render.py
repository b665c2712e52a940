"""render_markdown(record) -> str, from the jinja2 templates beside this module."""

from __future__ import annotations

import math
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from mlci_action.monitoring.record import MonitorRecord
from mlci_action.record import RunRecord
from mlci_action.report.change import describe_change
from mlci_action.report.escape import md, pre
from mlci_action.report.forest import forest_plot
from mlci_action.report.mermaid import caption, xychart
from mlci_action.report.tables import drift_view, package_changes

GITHUB_COMMENT_LIMIT = 65_536


def num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.3e}"


def signed(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}g}" if value != 0 else "±0"


def cell(count: int, baseline: int | None, diagonal: bool = False) -> str:
    """A confusion matrix cell: the candidate's count, its change against the baseline's."""
    text = f"**{count}**" if diagonal else str(count)
    if baseline is None or baseline == count:
        return text
    return f"{text} ({count - baseline:+d})"


def pair(candidate: float, baseline: float | None) -> str:
    """A score with its change against the baseline's, e.g. ``0.912 (+0.021)``."""
    if baseline is None or candidate == baseline:
        return num(candidate, 3)
    return f"{num(candidate, 3)} ({candidate - baseline:+.3f})"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


@cache
def templates() -> Environment:
    """The report's templates with every filter they use (the PR comment, the monitor
    report and the monitor issue share them)."""
    env = Environment(
        loader=PackageLoader("mlci_action.report", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, pre=pre, num=num, signed=signed, seconds=seconds)
    env.filters.update(change=describe_change, forest=forest_plot)
    env.filters.update(xychart=xychart, caption=caption, cell=cell, pair=pair)
    env.filters.update(drift_view=drift_view, package_changes=package_changes)
    return env


FOLDS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"logs"}),
    frozenset({"logs", "passed", "packages", "params"}),
    frozenset({"logs", "passed", "packages", "params", "per_class", "failure_cases"}),
)
"""What :func:`render_limited` leaves out, step by step, until the report fits: log tails;
then the passed checks, the full package list and the changed parameters; then the per-class
table beyond its ten most frequent classes and the failing cases of the data checks; then every
folded section. Never the verdict, the gates, the metrics or the curves."""


def render_markdown(
    record: RunRecord,
    *,
    details: bool = True,
    marker: str = "",
    omit: frozenset[str] = frozenset(),
) -> str:
    """The report. ``details=False`` drops the collapsed sections, ``omit`` parts of others
    (names as in FOLDS), for size limits."""
    return (
        templates()
        .get_template("report.md.j2")
        .render(run=record, details=details, marker=marker, omit=omit)
    )


def render_limited(record: RunRecord, limit: int = GITHUB_COMMENT_LIMIT, marker: str = "") -> str:
    """The report under ``limit`` characters: fold and drop detail in the order of FOLDS, then
    every collapsed section; cut the tail (data and model-test tables) only as a last resort."""
    note = (
        "\n_Some details were left out to fit the size limit; see run.json and the job summary._\n"
    )
    for omit in FOLDS:
        text = render_markdown(record, marker=marker, omit=omit)
        if len(text) <= limit:
            return text if not omit else text + note if len(text) + len(note) <= limit else text
    text = render_markdown(record, details=False, marker=marker, omit=FOLDS[-1])
    return text[: limit - len(note)] + note if len(text) + len(note) > limit else text + note


def render_monitor(record: MonitorRecord, *, marker: str = "") -> str:
    """The report of `mlci monitor`."""
    return templates().get_template("monitor.md.j2").render(run=record, marker=marker)
