"""Docker output on the console: a bar while it runs, every line in the log file, none shown."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from rich.console import Console

from mlci_action.images.docker_api import BuildContext, Docker
from mlci_action.record import StageResult, Status
from mlci_action.terminal import TerminalProgress


def test_a_build_on_a_terminal_is_a_bar_and_its_log(docker_client, base_image, tmp_path: Path):
    console = Console(file=io.StringIO(), record=True, force_terminal=True, width=120)
    progress = TerminalProgress(console)
    marker = uuid.uuid4().hex[:12]
    tag = f"mlci-serve/activity-test:{marker}"
    context = BuildContext(
        dockerfile=f"FROM {base_image}\nRUN echo built-{marker} > /marker\nLABEL mlci.test={marker}\n",
        files={},
    )
    log = tmp_path / "logs" / "package.log"
    progress.stage_started("package")
    try:
        with progress.activity("building the serving image", log) as sink:
            Docker(docker_client).build(context, tag, sink)
        tally = sink.tally  # type: ignore[attr-defined]
        assert (tally.step, tally.steps) == (3, 3)
        progress.stage_finished("package", StageResult(status=Status.PASSED, seconds=1.0))
    finally:
        docker_client.images.remove(tag, force=True)
    written = log.read_text()
    assert f"Step 2/3 : RUN echo built-{marker}" in written and "Successfully built" in written
    shown = console.export_text()
    assert "Step " not in shown and "Successfully" not in shown and f"built-{marker}" not in shown
    assert "building the serving image" in shown  # the bar
    assert shown.count("✔ package") == 1  # the stage's one line, after the live rows go
