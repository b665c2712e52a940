"""data.train / data.test as a directory, glob or URL of Parquet files: checked at entry (a
message naming mlci.yaml's line and the setting), keyed by the partitions' contents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlci_action.config import load_config
from mlci_action.dataset import data_digest, is_partitioned
from mlci_action.errors import InputError, MlciError
from mlci_action.preflight import check_inputs, check_reachable
from tests.conftest import EXAMPLES


def split(frame: pd.DataFrame, folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    size = -(-len(frame) // files)
    for at in range(files):
        frame.iloc[at * size : (at + 1) * size].to_parquet(
            folder / f"part-{at:03d}.parquet", index=False
        )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """examples/classification with its training data as 5 Parquet files in data/train/."""
    project = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "classification", project, ignore=shutil.ignore_patterns(".mlci"))
    split(pd.read_csv(project / "data" / "train.csv"), project / "data" / "train", 5)
    return project


def configure(project: Path, **data: str) -> int:
    """Set data.* keys in mlci.yaml; the line data.train is on."""
    path = project / "mlci.yaml"
    document = yaml.safe_load(path.read_text())
    document["data"].update(data)
    text = yaml.safe_dump(document, sort_keys=False)
    path.write_text(text)
    return next(
        n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith("train:")
    )


@pytest.mark.parametrize("spec", ["data/train", "data/train/", "data/train/*.parquet"])
def test_a_directory_or_glob_passes_the_entry_checks(project: Path, spec: str) -> None:
    configure(project, train=spec)
    assert is_partitioned(project, spec)
    check_inputs(project, load_config(project))


def test_a_file_url_passes_the_entry_checks(project: Path) -> None:
    spec = (project / "data" / "train").as_uri()
    configure(project, train=spec)
    check_inputs(project, load_config(project))
    assert data_digest(project, spec) == data_digest(project, "data/train")


@pytest.mark.parametrize("spec", ["data/train/*.pq", "data/nothing/*.parquet", "data/empty"])
def test_nothing_matching_names_the_line_and_setting(project: Path, spec: str) -> None:
    (project / "data" / "empty").mkdir()
    (project / "data" / "empty" / "readme.txt").write_text("no data here")
    line = configure(project, train=spec)
    with pytest.raises(InputError) as caught:
        check_inputs(project, load_config(project))
    assert f"mlci.yaml:{line}: data.train" in caught.value.message
    assert caught.value.hint


def test_a_partition_without_the_target_is_refused(project: Path) -> None:
    first = project / "data" / "train" / "part-000.parquet"
    pd.read_parquet(first).drop(columns="diagnosis").to_parquet(first, index=False)
    configure(project, train="data/train")
    with pytest.raises(InputError, match=r"part-000\.parquet: target column 'diagnosis'"):
        check_inputs(project, load_config(project))


def test_a_glob_may_not_leave_the_project(project: Path, tmp_path: Path) -> None:
    split(pd.read_csv(project / "data" / "test.csv"), tmp_path / "outside", 2)
    configure(project, train="../outside/*.parquet")
    with pytest.raises(MlciError, match=r"data\.train"):
        check_inputs(project, load_config(project))


def test_the_key_follows_every_partitions_content(project: Path) -> None:
    before = data_digest(project, "data/train")
    assert before is not None and before == data_digest(project, "data/train/*.parquet")
    last = project / "data" / "train" / "part-004.parquet"
    frame = pd.read_parquet(last)
    frame.iloc[:1, 0] += 1.0
    frame.to_parquet(last, index=False)
    assert data_digest(project, "data/train") not in (None, before)
    (project / "data" / "train" / "part-005.parquet").write_bytes(last.read_bytes())
    assert len({before, data_digest(project, "data/train")}) == 2


def test_a_pull_request_cannot_point_the_data_at_a_url_of_its_choosing(project: Path) -> None:
    """A URL is read with the runner's filesystem and credentials: a pull request may move its
    data inside the checkout (what is tested), never to a URL the base does not name (where)."""
    from mlci_action.github.trust import apply

    base_text = (project / "mlci.yaml").read_text()
    configure(project, train="data/train", test="file:///etc/mlci-attacker/")
    head = load_config(project)
    trusted, report = apply(head, base_text, "main @ base")
    assert trusted.data.train == "data/train"  # a path in the checkout: the PR's
    assert trusted.data.test == yaml.safe_load(base_text)["data"]["test"]  # the URL: the base's
    assert "data.test" in {change.key for change in report.ignored}
    # the same URL on the base is the base's choice, and stays
    configure(project, test="s3://team-bucket/test/")
    same = (project / "mlci.yaml").read_text()
    assert apply(load_config(project), same, "main @ base")[0].data.test == "s3://team-bucket/test/"
    # a PR that adds mlci has no base value to fall back on: refused, naming the setting
    with pytest.raises(InputError, match=r"data\.test is a URL \(s3://\.\.\.\)") as refused:
        apply(load_config(project), None, "main @ base")
    assert "team-bucket" not in refused.value.message


def test_a_url_is_refused_for_the_docker_executor_at_entry(project: Path) -> None:
    """The docker executor's containers have no host files, credentials or network: a URL data
    set exits 2 before anything runs, naming the line and setting; local and ray read it."""
    spec = (project / "data" / "train").as_uri()
    line = configure(project, test=spec)
    config = load_config(project)
    for fine in ("local", "ray", "current"):
        check_reachable(project, config, fine)
    with pytest.raises(MlciError) as caught:
        check_reachable(project, config, "docker")
    assert f"mlci.yaml:{line + 1}: data.test" in caught.value.message
    assert caught.value.exit_code == 2 and "executor" in caught.value.hint
