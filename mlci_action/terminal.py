"""All terminal output: progress per stage while running, a summary table at the end."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlci_action.record import RunRecord, StageResult, Status
from mlci_action.report.change import describe_change, verdict
from mlci_action.report.forest import forest_plot
from mlci_action.report.render import num

_COLOURS = {"better": "green", "worse": "red"}


def _label(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


_ICONS = {
    Status.PASSED: "[green]✔[/]",
    Status.FAILED: "[red]✘[/]",
    Status.SKIPPED: "[yellow]–[/]",
    Status.CACHED: "[cyan]♻[/]",
}


class TerminalProgress:
    """Progress lines per stage; safe to call from the threads stages run in."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._lock = threading.Lock()

    def stage_started(self, name: str) -> None:
        with self._lock:
            self.console.print(f"[dim]▶ {name} …[/]")

    def stage_finished(self, name: str, result: StageResult) -> None:
        note = f" [dim]{escape(result.reason)}[/]" if result.reason else ""
        with self._lock:
            self.console.print(f"{_ICONS[result.status]} {name:<12} {result.seconds:6.1f}s{note}")

    def note(self, text: str) -> None:
        with self._lock:
            self.console.print(f"[dim]{escape(text)}[/]")

    def summary(self, record: RunRecord, report_path: str) -> None:
        if record.metrics:
            table = Table(title=f"mlci · {escape(record.name)}", title_justify="left")
            for column in ("metric", "baseline", "candidate", "change vs baseline", "gate"):
                numeric = column in ("baseline", "candidate")
                table.add_column(column, justify="right" if numeric else "left")
            gates = {g.metric: g for g in record.gates}
            for name, m in record.metrics.items():
                gate = gates.get(name)
                said = verdict(m)
                change = escape(describe_change(m)) if said is not None else "–"
                if said in _COLOURS:
                    change = f"[{_COLOURS[said]}]{change}[/]"
                table.add_row(
                    name,
                    num(m.baseline),
                    num(m.candidate),
                    change,
                    ("[green]pass[/]" if gate.passed else "[red]fail[/]") if gate else "–",
                )
            self.console.print(table)
            if record.positive_class is not None:
                self.console.print(
                    f"positive class: {escape(_label(record.positive_class))} (binary metrics)"
                )
            plot = forest_plot(record.metrics)
            if plot:
                self.console.print(escape(plot))
        colour = "green" if record.verdict == "pass" else "red"
        self.console.print(f"[bold {colour}]{record.verdict.upper()}[/] {escape(record.summary)}")
        self.console.print(f"report: {report_path}")
