"""The monitor's GitHub issue: its title and body, rendered from a template, no I/O.

Every value from the inference log (feature names, reasons, windows) is escaped here; the
monitor's own report, which escapes what it shows, is appended as it is, except that nothing
in it can pose as mlci's marker, and it is cut so the body stays within GitHub's limit.
"""

from __future__ import annotations

from mlci_action.monitoring.record import MonitorRecord
from mlci_action.report.escape import md
from mlci_action.report.render import GITHUB_COMMENT_LIMIT, templates

CUT_NOTE = (
    "\n\n_The report was cut to GitHub's size limit; the whole of it is in the run's job "
    "summary and its report.md._\n"
)
QUIET = ("no_traffic", "not_enough_traffic")
"""Verdicts without a drift verdict: too little traffic (never a pass, no retraining)."""


def issue_marker(name: str) -> str:
    """The hidden marker by which the next run finds the model's issue."""
    return f"<!-- mlci:monitor:{name} -->"


def issue_title(record: MonitorRecord) -> str:
    what = "no live traffic" if record.verdict in QUIET else "drift detected"
    return f"mlci · {record.name}: {what}"


def render_issue(
    record: MonitorRecord,
    report: str,
    *,
    retrain: str,
    run_url: str | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The issue's body: marker, what was found, what was started, then the report, the
    report cut (with a note) where the whole would pass ``limit`` characters."""
    report = report.replace("<!-- mlci:", "&lt;!-- mlci:")  # no second marker
    template = templates().get_template("monitor_issue.md.j2")

    def body(text: str) -> str:
        return template.render(
            marker=issue_marker(record.name),
            run=record,
            quiet=record.verdict in QUIET,
            retrain=retrain,
            run_url=run_url,
            report=text,
        )

    whole = body(report)
    if len(whole) <= limit:
        return whole
    room = limit - (len(body("")) + len(CUT_NOTE))
    return body(report[: max(room, 0)] + CUT_NOTE)


def render_closing(record: MonitorRecord, run_url: str | None = None) -> str:
    """The comment that closes the issue when a later run is healthy."""
    where = f" ([the run]({run_url}))" if run_url else ""
    return (
        f"The monitor finds no breach in {record.counts.rows} live rows between "
        f"{md(record.window.start or record.window.first or '?')} and {md(record.window.end)}"
        f"{where}: closing.\n"
    )
