"""The report in a real browser, as GitHub shows it: GitHub-flavoured Markdown with every
Mermaid chart drawn by the mermaid npm package (the major version GitHub uses) in Debian's
headless Chromium. Fails when a chart does not parse or draw, when a table is malformed, or
when anything from the pull request became markup.

Needs chromium and .cache/mermaid (``bash scripts/report-browser.sh``, which .ci/run calls)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci_action.record import RunRecord
from mlci_action.report.render import GITHUB_COMMENT_LIMIT, render_limited
from tests.report import browser, records

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")

CASES: dict[str, Callable[[], RunRecord]] = {
    "classification": records.classification,
    "regression": records.regression,
    "failing": records.failing,
    "maximum": records.maximum,
    "hostile label": lambda: records.classification(label=records.EVIL),
}


def _tables_in(markdown: str) -> int:
    """Markdown tables: a header row followed by a delimiter row."""
    return len(re.findall(r"^\|.*\|\n\|(?::?-+:?\|)+\n", markdown, flags=re.M))


@pytest.mark.parametrize("case", list(CASES))
def test_the_report_renders_in_a_browser(case: str, tmp_path: Path) -> None:
    markdown = render_limited(CASES[case]())
    assert len(markdown) <= GITHUB_COMMENT_LIMIT
    charts = len(re.findall(r"^```mermaid$", markdown, flags=re.M))
    assert charts >= (0 if case == "maximum" else 3)

    shown = browser.render(markdown, tmp_path)

    failed = [chart for chart in shown.charts if not chart["ok"]]
    assert not failed, failed
    assert len(shown.charts) == charts and shown.svgs == charts  # every chart drawn
    assert "Syntax error" not in shown.dom
    # every Markdown table became an HTML table, each row with the header's cells
    assert len(shown.tables) == _tables_in(markdown)
    for rows in shown.tables:
        assert len(set(rows)) == 1, rows
    # nothing from the pull request became markup: no tags beyond the report's own
    assert set(shown.tags) <= {
        *("html", "head", "meta", "title", "style", "body", "script"),
        *("h2", "h3", "p", "strong", "em", "code", "pre", "sub", "ul", "li", "blockquote"),
        *("table", "thead", "tbody", "tr", "th", "td", "details", "summary"),
    }, shown.tags
    assert shown.tags.get("details", 0) == markdown.count("<details>")
    assert shown.tags.get("script") == 2  # the page's own
