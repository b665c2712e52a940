"""`mlci validate`: `mlci run` up to and including the data tests, with nothing trained.

The same stages in the same environment (the executor `run` would choose, its cached
environment reused): a schema or data file the project's environment cannot read fails here,
not after training. Exit 0: valid; 1: a data check or a stage failed; 2: unusable input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlci_action.commands.run import begin
from mlci_action.pipeline import Options, run_stages
from mlci_action.record import Status
from mlci_action.stages import STAGE_NAMES, VALIDATE
from mlci_action.terminal import TerminalProgress

if TYPE_CHECKING:
    from mlci_action.images.docker_api import Docker
    from mlci_action.images.registry import Registry


def validate(
    options: Options,
    progress: TerminalProgress,
    docker: Docker | None = None,
    registry: Registry | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    with begin(options, progress, docker, registry, environ=environ) as (ctx, state):
        state = run_stages(ctx, state, VALIDATE)
        config = ctx.config
    if state.data is not None:
        progress.data_checks(state.data)
    stages = state.stages
    failed = [n for n in STAGE_NAMES if n in stages and stages[n].status == Status.FAILED]
    progress.validated(config.name, config.evaluation.task, failed)
    return 1 if failed else 0
