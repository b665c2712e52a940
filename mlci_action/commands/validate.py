"""`mlci validate`: check mlci.yaml, the data files and the schema, without training."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlci_action.config import load_config
from mlci_action.preflight import check_inputs
from mlci_action.record import DataReport
from mlci_action.stages.data_tests import schema_spec


def validate(project: Path, console: Console) -> int:
    config = load_config(project)
    check_inputs(project, config)
    console.print(
        f"[green]✔[/] mlci.yaml is valid ({escape(config.name)}, {config.evaluation.task})"
    )
    from mlci_action.worker import checks  # pandas and pandera: only now

    data = config.data
    report = DataReport.model_validate(
        checks.run(
            {
                "project_dir": str(project),
                "train_path": data.train,
                "test_path": data.test,
                "target": data.target,
                "task": config.evaluation.task,
                "schema_spec": schema_spec(data),
                "checks": data.checks.model_dump(mode="json"),
                "baseline_train_path": None,
            }
        )
    )
    table = Table(title="data checks", title_justify="left")
    for column in ("check", "data", "column", "result", "detail"):
        table.add_column(column)
    for check in report.checks:
        result = (
            "[green]pass[/]"
            if check.passed
            else ("[red]fail[/]" if check.severity == "error" else "[yellow]warn[/]")
        )
        detail = check.detail
        if check.failures:
            detail += "; " + "; ".join(
                f"{f.file + ' ' if f.file else ''}{f.column or '-'} {f.check}: {f.count} "
                f"(e.g. {', '.join(f.examples[:3])})"
                for f in check.failures[:5]
            )
        table.add_row(
            escape(check.name),
            escape(check.dataset),
            escape(check.column or "–"),
            result,
            escape(detail),
        )
    console.print(table)
    console.print(escape(report.tally))
    if report.passed:
        console.print("[bold green]valid[/]: the config, data files and schema are usable")
        return 0
    console.print("[bold red]invalid[/]: data checks failed (see above)")
    return 1
