"""All terminal output: one line per stage, live progress while running, tables at the end."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlci_action.record import DataCheck, DataReport, RunRecord, StageResult, Status
from mlci_action.report.change import describe_change, verdict
from mlci_action.report.forest import forest_plot
from mlci_action.report.render import num

_COLOURS = {"better": "green", "worse": "red"}


def _label(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


if TYPE_CHECKING:
    from mlci_action.images.activity import LogSink, Tally

_ICONS = {
    Status.PASSED: "[green]✔[/]",
    Status.FAILED: "[red]✘[/]",
    Status.SKIPPED: "[yellow]–[/]",
    Status.CACHED: "[cyan]♻[/]",
}
TAIL_LINES = 15
"""The lines of a failed stage's output shown under its line (run.json and the report keep more)."""
_SHOWN_FIELDS = {"name", "kind", "dataset", "passed", "severity", "detail", "column", "failures"}


class TerminalProgress:
    """One line per finished stage; while stages run, a live display (on a terminal) of the
    running stages and of Docker builds, pulls and pushes. Safe to call from the threads
    stages run in."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._lock = threading.Lock()
        self._live: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._keys = itertools.count()

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        """The live display goes, even when a stage raised past its own end."""
        with self._lock:
            for key in list(self._tasks):
                self._remove(key)

    # ---------------------------------------------------------------- the live display

    def _add(self, key: str, description: str) -> None:
        """Under the lock: a row of the live display, which starts with its first row."""
        if not self.console.is_terminal:
            return  # a log or a pipe: finished stages' lines only
        if self._live is None:
            self._live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._live.start()
        self._tasks[key] = self._live.add_task(description, total=None, detail="")

    def _remove(self, key: str) -> None:
        """Under the lock: the row goes; the display stops with its last row."""
        task = self._tasks.pop(key, None)
        if self._live is not None and task is not None:
            self._live.remove_task(task)
            if not self._tasks:
                self._live.stop()
                self._live = None

    def stage_started(self, name: str) -> None:
        with self._lock:
            self._add(f"stage:{name}", f"[dim]{name}[/]")

    def stage_finished(self, name: str, result: StageResult) -> None:
        note = f" [dim]{escape(result.reason)}[/]" if result.reason else ""
        with self._lock:
            self._remove(f"stage:{name}")
            self.console.print(f"{_ICONS[result.status]} {name:<12} {result.seconds:6.1f}s{note}")
            if result.status == Status.FAILED and result.log_tail:
                lines = result.log_tail.rstrip().splitlines()[-TAIL_LINES:]
                self.console.print("\n".join(f"  [dim]│ {escape(line)}[/]" for line in lines))

    def note(self, text: str) -> None:
        with self._lock:
            self.console.print(f"[dim]{escape(text)}[/]")

    @contextmanager
    def activity(self, title: str, log: Path | None) -> Iterator[LogSink]:
        """A bar for a build (steps) or a pull/push (layers and bytes); the output to ``log``."""
        from mlci_action.images.activity import Activity

        key = f"activity:{next(self._keys)}"
        with self._lock:
            self._add(key, escape(title))

        def show(tally: Tally) -> None:
            with self._lock:
                task = self._tasks.get(key)
                if self._live is not None and task is not None:
                    self._live.update(
                        task, completed=tally.completed, total=tally.size, detail=tally.describe()
                    )

        try:
            with Activity(log, show) as sink:
                yield sink
        finally:
            with self._lock:
                self._remove(key)

    # ---------------------------------------------------------------- tables

    def data_checks(self, report: DataReport) -> None:
        """Every check the report holds, whatever fields a check has beyond the usual ones."""
        table = Table(title="data checks", title_justify="left")
        for column in ("check", "data", "column", "result", "detail"):
            table.add_column(column, overflow="fold")  # narrow consoles wrap, never cut
        for check in report.checks:
            result = (
                "[green]pass[/]"
                if check.passed
                else ("[red]fail[/]" if check.severity == "error" else "[yellow]warn[/]")
            )
            table.add_row(
                escape(check.name),
                escape(check.dataset),
                escape(check.column or "–"),
                result,
                escape(_detail(check)),
            )
        with self._lock:
            self.console.print(table)
            self.console.print(escape(report.tally))

    def validated(self, name: str, task: str, failed: Sequence[str]) -> None:
        with self._lock:
            if failed:
                self.console.print(
                    f"[bold red]invalid[/]: {escape(', '.join(failed))} failed (see above); "
                    "`mlci run` would stop there"
                )
            else:
                self.console.print(
                    f"[bold green]valid[/]: {escape(name)} ({escape(task)}): the config, the "
                    "environment, the data files and the schema are usable; nothing was trained"
                )

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


def _detail(check: DataCheck) -> str:
    """The check's detail, its failures with examples, and any further field it has."""
    parts = [check.detail] if check.detail else []
    parts += [
        f"{f.file + ' ' if f.file else ''}{f.column or '-'} {f.check}: {f.count} rows "
        f"(e.g. {', '.join(f.examples[:3])})"
        for f in check.failures[:5]
    ]
    if check.passed:
        return "; ".join(parts)
    for field, value in check.model_dump(exclude=_SHOWN_FIELDS).items():  # e.g. its setting
        if value is not None and str(value) not in check.detail:
            parts.append(
                f"{field}: {value:.4g}" if isinstance(value, float) else f"{field}: {value}"
            )
    return "; ".join(parts)
