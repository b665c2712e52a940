"""All terminal output: progress per stage while running, a summary table at the end."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlci_action.record import RunRecord, StageResult, Status
from mlci_action.report.render import num, signed

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
            for column in ("metric", "baseline", "candidate", "Δ", "95% CI", "gate"):
                table.add_column(
                    column, justify="right" if column not in ("metric", "gate") else "left"
                )
            gates = {g.metric: g for g in record.gates}
            for name, m in record.metrics.items():
                gate = gates.get(name)
                ci = f"[{signed(m.ci_low)}, {signed(m.ci_high)}]" if m.ci_low is not None else "–"
                table.add_row(
                    name,
                    num(m.baseline),
                    num(m.candidate),
                    signed(m.delta),
                    ci,
                    ("[green]pass[/]" if gate.passed else "[red]fail[/]") if gate else "–",
                )
            self.console.print(table)
        colour = "green" if record.verdict == "pass" else "red"
        self.console.print(f"[bold {colour}]{record.verdict.upper()}[/] {escape(record.summary)}")
        self.console.print(f"report: {report_path}")
