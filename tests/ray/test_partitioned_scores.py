"""Scoring a Parquet test set split in many files on the two-node cluster: one scorer-actor
task per partition (its bytes and the models' through the object store), merged on the runner
to exactly what the local executor's worker gives, bootstrap intervals included."""

from __future__ import annotations

import shutil

import pytest
import yaml

from mlci_action.executors.tasks import Evaluate
from mlci_action.partitioned import evaluate
from mlci_action.record import Evaluation
from mlci_action.worker import evaluate as worker_evaluate
from tests.conftest import EXAMPLES
from tests.ray.conftest import cluster_runtime
from tests.worker.partitioned_scores import SIZES, request, write

pytestmark = pytest.mark.ray


def test_partitioned_scoring_on_the_cluster_equals_the_local_one(ray_cluster, tmp_path):
    project = tmp_path / "repo"
    project.mkdir()
    _, parts, candidate, baseline = write(project)
    shutil.copy(EXAMPLES / "classification" / "requirements.txt", project)
    config = yaml.safe_load((EXAMPLES / "classification" / "mlci.yaml").read_text())
    config["data"] = {"train": "test.parquet", "test": "test", "target": "label"}
    config["environment"]["executor"] = "ray"
    (project / "mlci.yaml").write_text(yaml.safe_dump(config))

    boot = {"resamples": 100, "confidence": 0.95, "seed": 5, "method": "poisson"}
    asked = request(parts, candidate, baseline, bootstrap=boot, slices=["x0 >= 0.5"])
    local = Evaluation.model_validate(worker_evaluate.run(asked))

    with cluster_runtime(project, tmp_path, ray_cluster) as runtime:
        found = evaluate(runtime, Evaluate.model_validate(asked))
        placed = [task for task in runtime.tasks() if task.name.startswith("evaluate ")]

    # metrics, exact tests and Poisson intervals: identical, whichever node scored what
    assert found.model_dump() == local.model_dump()
    assert (found.partitions, found.bootstrap_method) == (len(SIZES), "poisson")
    assert sorted(task.name for task in placed) == [
        f"evaluate {parts}/part-{i:02d}.parquet" for i in range(len(SIZES))
    ]
    assert len({task.node_id for task in placed}) == 2  # run.json's cluster tasks: both nodes
