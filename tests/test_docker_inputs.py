"""The docker executor's input mapping, without a container: which host folders a task's
declared inputs copy in, and where the task sees them (a partitioned data.test as a glob)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlci_action.executors.docker import FS, ContainerRuntime
from mlci_action.executors.tasks import Evaluate
from mlci_action.record import EnvironmentInfo


class Recorder:
    """The transfer's side: the (host path, name in the container) pairs put."""

    def __init__(self) -> None:
        self.put_items: list[tuple[Path, str]] = []

    def put(self, items: Iterable[tuple[Path, str]]) -> None:
        self.put_items.extend(items)


class NoContainer:
    def exec_run(self, argv: list[str], **_: Any) -> tuple[int, bytes]:
        return 0, b""


def _runtime(recorder: Recorder) -> ContainerRuntime:
    info = EnvironmentInfo(key="k", python="3.11", executor="docker", reused=True)
    return ContainerRuntime(info=info, container=NoContainer(), transfer=recorder)  # type: ignore[arg-type]


def test_a_glob_input_copies_its_folder_and_keeps_its_pattern(tmp_path: Path) -> None:
    data = tmp_path / "elsewhere" / "test"
    data.mkdir(parents=True)
    for index in range(3):
        (data / f"part-{index}.parquet").write_bytes(b"PAR1")
    glob = data / "*.parquet"
    request = Evaluate(
        test_path=str(glob),
        target="y",
        task="classification",
        metrics=["accuracy"],
        candidate_model=str(tmp_path / "model.skops"),
        partitioned=True,
    )
    recorder = Recorder()
    runtime = _runtime(recorder)
    inputs = [Path(value) for name, _, value in request.files() if name == "test_path"]
    runtime.copy_in(inputs)  # before: FileNotFoundError on stat() of the glob
    assert [path for path, _ in recorder.put_items] == [data]
    translated = request.translated(runtime.where)["test_path"]
    assert translated == f"{FS}{glob.as_posix()}"
    runtime.copy_in(inputs)  # unchanged: nothing copied again
    assert len(recorder.put_items) == 1
