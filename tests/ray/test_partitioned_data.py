"""The data tests of a Parquet data set split in many files, on the two-node cluster: one Ray
task per partition (a local partition's bytes through the object store, never a shared
filesystem), merged on the runner to exactly what the local executor's one worker gives."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from mlci_action.executors.tasks import DataTests
from mlci_action.partitioned import data_tests
from mlci_action.record import DataReport
from mlci_action.worker.checks import run
from tests.conftest import EXAMPLES
from tests.ray.conftest import cluster_runtime
from tests.worker.checks.partitioned_data import LEAKED, request, write

pytestmark = pytest.mark.ray


def test_partitioned_data_tests_on_the_cluster_equal_the_local_ones(ray_cluster, tmp_path):
    project = tmp_path / "repo"
    project.mkdir()
    write(project, files=6)
    shutil.copy(EXAMPLES / "classification" / "requirements.txt", project)
    config = yaml.safe_load((EXAMPLES / "classification" / "mlci.yaml").read_text())
    config["data"] = {"train": "data/train", "test": "data/test/*.parquet", "target": "label"}
    config["environment"]["executor"] = "ray"
    (project / "mlci.yaml").write_text(yaml.safe_dump(config))
    (project / "data" / "train.parquet").unlink()  # only the partitions go to the cluster
    (project / "data" / "test.parquet").unlink()

    # the baseline's training data in other partitions, one feature moved: drift is merged too
    base = tmp_path / "base"
    write(base, files=4)
    for part in sorted((base / "data" / "train").glob("*.parquet")):
        moved = pd.read_parquet(part)
        moved["radius"] += 10.0
        moved.to_parquet(part, index=False)
    asked = {
        **request(project, "data/train", "data/test/*.parquet", partitioned=True),
        "checks": {"leakage": {"max_rows": 0}},
        "baseline_train_path": str(base / "data" / "train"),
    }
    local = DataReport.model_validate(run(asked))

    with cluster_runtime(project, tmp_path, ray_cluster) as runtime:
        found = data_tests(runtime, DataTests.model_validate(asked))
        placed = [task for task in runtime.tasks() if task.name.startswith("data-tests ")]

    assert found.model_dump(exclude={"seconds"}) == local.model_dump(exclude={"seconds"})
    leakage = next(check for check in found.checks if check.name == "leakage")
    assert leakage.statistic == LEAKED
    # the whole-data-set checks, merged from the actors' row keys and tallies
    failed = {check.name for check in found.checks if not check.passed}
    assert {"duplicates", "constant", "categories", "feature_drift"} <= failed
    drifted = {c.column for c in found.checks if c.name == "feature_drift" and not c.passed}
    assert drifted == {"radius"}
    # one task per partition (the names as mlci.yaml's data.train finds them), on both nodes
    assert sorted(task.name for task in placed) == sorted(
        [f"data-tests data/train/part-{i:02d}.parquet" for i in range(6)]
        + [f"data-tests data/test/part-{i:02d}.parquet" for i in range(6)]
        + [f"data-tests {base}/data/train/part-{i:02d}.parquet" for i in range(4)]
    )
    assert len({task.node_id for task in placed}) == 2
