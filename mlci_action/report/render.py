"""render_markdown(record) -> str, from the jinja2 templates beside this module."""

from __future__ import annotations

import math
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from mlci_action.record import RunRecord
from mlci_action.report.change import describe_change
from mlci_action.report.escape import md, pre
from mlci_action.report.forest import forest_plot

GITHUB_COMMENT_LIMIT = 65_536


def num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.3e}"


def signed(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}g}" if value != 0 else "±0"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


@cache
def _env() -> Environment:
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
    return env


def render_markdown(record: RunRecord, *, details: bool = True, marker: str = "") -> str:
    """The report. ``details=False`` drops the collapsed sections (for size limits)."""
    return _env().get_template("report.md.j2").render(run=record, details=details, marker=marker)


def render_limited(record: RunRecord, limit: int = GITHUB_COMMENT_LIMIT, marker: str = "") -> str:
    """The report under ``limit`` characters: shorten the details, never the headline or table."""
    text = render_markdown(record, marker=marker)
    if len(text) <= limit:
        return text
    text = render_markdown(record, details=False, marker=marker)
    note = "\n_Details were left out to fit the size limit; see run.json and the job summary._\n"
    return text[: limit - len(note)] + note if len(text) + len(note) > limit else text + note
