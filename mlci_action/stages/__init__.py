"""The stages of a run, in order. Adding a stage is adding a module and a line here."""

from __future__ import annotations

from mlci_action.pipeline import Stage
from mlci_action.stages.data_tests import DataTests
from mlci_action.stages.deploy import Deploy
from mlci_action.stages.environment import BuildEnvironment
from mlci_action.stages.evaluate import Evaluate
from mlci_action.stages.gates import Gates
from mlci_action.stages.model_tests import ModelTestsStage
from mlci_action.stages.package import Package
from mlci_action.stages.source import SourceStage
from mlci_action.stages.train import Train

SOURCE: Stage = SourceStage()

STAGES: list[Stage] = [
    BuildEnvironment(),
    DataTests(),
    Train(),
    Evaluate(),
    ModelTestsStage(),
    Gates(),
    Package(),
    Deploy(),
]
"""Everything after the source stage (the run cache is consulted between the two)."""

VALIDATE: list[Stage] = [stage for stage in STAGES if stage.name in ("environment", "data_tests")]
"""What `mlci validate` runs after the source stage: what `mlci run` runs before training."""

STAGE_NAMES = [SOURCE.name, *(stage.name for stage in STAGES), "report"]
