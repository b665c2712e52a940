"""The report's charts and smaller tables, rendered from records with real curves: Mermaid
source that nothing from a pull request can break out of, the confusion matrix and per-class
tables, package changes, the most drifted features, and the size limit."""

from __future__ import annotations

import re

from mlci_action.record import Curve
from mlci_action.report.mermaid import MAX_POINTS, text, xychart
from mlci_action.report.render import GITHUB_COMMENT_LIMIT, render_limited, render_markdown
from mlci_action.report.tables import package_changes
from tests.report import records
from tests.report.records import EVIL

_CELL = re.compile(r"(?<!\\)\|")


def mermaid_blocks(report: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", report, flags=re.S | re.M)


def test_mermaid_text_keeps_words_and_drops_every_way_out() -> None:
    cleaned = text(EVIL)
    for bad in ('"', "`", "%", "{", "}", ";", "[", "]", "<", ">", "\n", "#", "|"):
        assert bad not in cleaned
    assert "click A call alert()" in cleaned  # words stay: harmless inside a quoted string
    assert text("ROC curve (positive class 'yes')") == "ROC curve (positive class 'yes')"
    assert text("") == "-"


def test_a_hostile_positive_class_stays_inside_the_chart_title() -> None:
    report = render_markdown(records.classification(label=EVIL))
    blocks = mermaid_blocks(report)
    assert len(blocks) == 3
    for block in blocks:
        assert "%%" not in block and "`" not in block and "click" not in block.split("title")[0]
        title = next(line for line in block.splitlines() if line.strip().startswith("title"))
        assert title.count('"') == 2  # one string, opened and closed
        assert "\n" not in title
    # the fences are the only code blocks: no label closed one early
    assert report.count("```") % 2 == 0


def test_xychart_lines_share_the_x_values_and_are_capped() -> None:
    curve = Curve(
        kind="residuals",
        title="t",
        x_label="x",
        y_label="y",
        x=[float(k) for k in range(80)],
        candidate=[float("nan")] + [1.0] * 79,
        baseline=[2.0] * 80,
    )
    chart = xychart(curve)
    lines = [line for line in chart.splitlines() if line.strip().startswith("line")]
    assert len(lines) == 2
    for line in lines:
        values = line.split("[")[1].rstrip("]").split(", ")
        assert len(values) == MAX_POINTS
        assert all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in values)  # Mermaid's number syntax


def test_classification_report_shows_curves_matrix_and_package_changes() -> None:
    record = records.classification()
    report = render_markdown(record)
    assert "### Curves" in report
    assert [b.split("title ")[1].split('"')[1] for b in mermaid_blocks(report)] == [
        "ROC curve (positive class yes)",
        "Precision-recall curve (positive class yes)",
        "Calibration (reliability) (positive class yes)",
    ]
    assert "grey&#58; baseline \\(AUC" in report  # the caption names the lines
    assert record.curves is not None and record.curves.confusion is not None
    matrix = record.curves.confusion
    assert matrix.baseline is not None
    diagonal = matrix.candidate[0][0]
    change = diagonal - matrix.baseline[0][0]
    assert f"| **no** | **{diagonal}** ({change:+d}) |" in report
    # the environment: the changes, not the list
    assert "| scikit\\-learn | 1\\.5\\.2 | **1\\.6\\.0** |" in report
    assert "| pandas |" not in report
    assert "1 added, 1 removed, 1 changed, 2 unchanged." in report


def test_regression_report_has_its_own_curves_on_their_own_scales() -> None:
    report = render_markdown(records.regression())
    blocks = mermaid_blocks(report)
    assert len(blocks) == 3
    axes = [re.search(r"y-axis \"[^\"]*\" (\S+) --> (\S+)", b) for b in blocks]
    assert all(axes)
    # every chart has the range of its own values: rows counted from 0, errors from 0
    assert [a.group(1) for a in axes if a][1:] == ["0", "0"]
    assert "Confusion matrix" not in report


def test_package_changes_compare_names_as_pip_does() -> None:
    changes = package_changes(
        {"Scikit_Learn": "1.5", "numpy": "2.0", "gone": "1"},
        {"scikit-learn": "1.6", "numpy": "2.0", "new": "3"},
    )
    assert changes.changed == [("scikit-learn", "1.5", "1.6")]
    assert changes.added == [("new", "3")] and changes.removed == [("gone", "1")]
    assert changes.unchanged == 1
    assert [row[0] for row in changes.rows] == ["gone", "new", "scikit-learn"]


def test_the_data_section_ranks_drift_and_keeps_failures() -> None:
    record = records.maximum(classes=5, features=40, packages=10)
    report = render_markdown(record)
    section = report.split("### Data checks")[1]
    drift = section.split("**Most drifted features**")[1].split("\n\n")[1]
    rows = [row for row in drift.splitlines() if row.startswith("| ")][1:]
    assert len(rows) == 10
    statistics = [float(row.split(" | ")[1]) for row in rows]
    assert statistics == sorted(statistics, reverse=True) and statistics[0] == 39 / 40
    assert record.data is not None
    drifted = sum(1 for c in record.data.checks if c.kind == "drift" and not c.passed)
    assert drifted and f"{drifted} of 40 features past their threshold" in section
    assert "| ❌ schema |" in section


def test_maximum_report_fits_and_keeps_verdict_gates_and_curves() -> None:
    record = records.maximum()
    full = render_markdown(record)
    assert len(full) > GITHUB_COMMENT_LIMIT
    limited = render_limited(record, marker="<!-- mlci:demo -->")
    assert len(limited) <= GITHUB_COMMENT_LIMIT
    assert limited.startswith("<!-- mlci:demo -->\n## ❌ mlci · demo: fail")
    assert "| accuracy ↑ |" in limited and "max\\_regression" in limited
    assert "**Confusion matrix**" in limited and "**Per class**" in limited
    assert "left out to fit the size limit" in limited
    assert "<details><summary>Stages and time" in limited  # folded, not dropped
    for row in (r for r in limited.splitlines() if r.startswith("|")):
        assert row.endswith("|")  # no row cut in half


def test_nothing_from_the_pr_escapes_the_tables_or_the_folds() -> None:
    report = render_markdown(records.maximum(classes=20, features=30, packages=20))
    assert "<b>" not in report and "-->" not in report.replace("--&gt;", "")
    assert report.count("<details>") == report.count("</details>")
    for block in re.split(r"\n\n", report):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:  # each table keeps the header's number of cells in every row
            assert len({len(_CELL.findall(r)) for r in rows}) == 1, rows
