"""The file sink: JSON Lines and Parquet read back as written, rotation by size and age, whole
files only (``*.tmp`` until closed), one writer's files per pid, fsspec URLs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlci_action.serving.inference_log import files, jsonl
from mlci_action.serving.inference_log.batch import Batch, batch_of
from mlci_action.serving.inference_log.files import RotatingFiles
from mlci_action.serving.inference_log.records import Entry, records
from tests.monitoring.conftest import Project, sample
from tests.monitoring.test_inference_log_encode import rfc3339_of

NAME = re.compile(r"inference-\d{8}T\d{6}-(\d+)-(\d+)\.(jsonl|parquet)")


def made(project: Project, rows: int, seed: int, request_id: str) -> tuple[Batch, list[dict]]:
    """One request's batch, and its records as the contract has them, one at a time."""
    frame = sample(rows, seed)
    frame.loc[0, "a"] = float("nan")  # a missing value travels as null
    prediction = project.model.predict(frame.fillna(0.0))
    entry = Entry(request_id, 1_800_000_000.5, project.model, frame, prediction)
    return batch_of([entry]), records(entry, "")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_records_read_back_as_written(project: Project, tmp_path: Path, fmt: str) -> None:
    sink = RotatingFiles(str(tmp_path), fmt, rotate_bytes=1 << 30, rotate_seconds=3600)
    (first, one), (second, two) = made(project, 3, 1, "r1"), made(project, 2, 2, "r2")
    sink.write(first, "")
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir()] == [True]  # not yet readable
    sink.write(second, "")
    sink.close()
    (path,) = tmp_path.iterdir()
    match = NAME.fullmatch(path.name)
    assert match and match.groups() == (str(os.getpid()), "1", fmt)
    if fmt == "jsonl":
        back = [json.loads(line) for line in path.read_text().splitlines()]
    else:
        back = [{**r, "time": rfc3339_of(r["time"])} for r in pq.read_table(path).to_pylist()]
    assert back == one + two
    assert back[0]["features"]["a"] is None and back[0]["time"] == "2027-01-15T08:00:00.500000Z"


def test_a_file_is_closed_past_its_size(project: Project, tmp_path: Path) -> None:
    one, _ = made(project, 4, 3, "r")
    size = len(jsonl.encode(one, ""))
    sink = RotatingFiles(str(tmp_path), "jsonl", rotate_bytes=2 * size, rotate_seconds=3600)
    for _ in range(5):
        sink.write(one, "")
    closed = sorted(p.name for p in tmp_path.glob("*.jsonl"))
    assert [NAME.fullmatch(n).group(2) for n in closed] == ["1", "2"]  # type: ignore[union-attr]
    assert len(list(tmp_path.glob("*.tmp"))) == 1  # the fifth write opened a third
    sink.close()
    lines = [len(p.read_text().splitlines()) for p in sorted(tmp_path.glob("*.jsonl"))]
    assert sorted(lines) == [4, 8, 8]


def test_a_file_is_closed_past_its_age(project: Project, tmp_path: Path) -> None:
    now = [1000.0]
    sink = RotatingFiles(
        str(tmp_path), "jsonl", rotate_bytes=1 << 30, rotate_seconds=60, clock=lambda: now[0]
    )
    sink.write(made(project, 1, 4, "r")[0], "")
    now[0] += 59
    sink.tick()
    assert not list(tmp_path.glob("*.jsonl"))
    now[0] += 1
    sink.tick()  # idle, but old enough: closed without another write
    assert len(list(tmp_path.glob("*.jsonl"))) == 1 and not list(tmp_path.glob("*.tmp"))


def test_an_fsspec_url(project: Project) -> None:
    sink = RotatingFiles("memory://mlci-logs/m", "jsonl", rotate_bytes=1 << 30, rotate_seconds=60)
    sink.write(made(project, 2, 5, "r")[0], "")
    sink.close()
    fs = fsspec.filesystem("memory")
    (path,) = fs.glob("/mlci-logs/m/*.jsonl")
    back = pd.read_json(fs.open(path), lines=True)
    assert back["id"].tolist() == ["r", "r"] and back["row"].tolist() == [0, 1]


def test_the_monitor_reads_the_parquet_sink_as_it_reads_the_jsonl_sink(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serving image's Parquet file has several row groups (a categorical feature in a
    nested column across row groups once failed to read) and a timestamp time; the monitor
    tallies it as the same requests written as JSON Lines."""
    monkeypatch.setattr(files, "ROW_GROUP_ROWS", 30)  # a row group for each write below
    from mlci_action.monitoring.live import read_log
    from mlci_action.monitoring.profile import Profile
    from tests.monitoring.test_reader import tallies

    profile = Profile.from_json(project.reference.read_text())
    for fmt in ("jsonl", "parquet"):
        sink = RotatingFiles(str(tmp_path / fmt), fmt, rotate_bytes=1 << 30, rotate_seconds=3600)
        for index in range(4):
            sink.write(made(project, 30 + index, 40 + index, f"r{index}")[0], "")
        sink.close()
    (parquet,) = (tmp_path / "parquet").iterdir()
    assert pq.ParquetFile(parquet).metadata.num_row_groups == 4
    from_jsonl = read_log([str(tmp_path / "jsonl")], profile, keep=True)
    from_parquet = read_log([str(tmp_path / "parquet")], profile, keep=True)
    assert from_parquet.counts == from_jsonl.counts and from_parquet.counts.rows == 126
    assert tallies(from_parquet) == tallies(from_jsonl)
    assert (from_parquet.first, from_parquet.last) == (from_jsonl.first, from_jsonl.last)
    assert from_parquet.kept is not None and from_jsonl.kept is not None
    assert from_parquet.kept.ids == from_jsonl.kept.ids


def test_small_parquet_writes_gather_into_large_row_groups(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer wake-up's few rows are not a row group each: rows gather until ROW_GROUP_ROWS
    (here 50), and the rest is written when the file closes; nothing is lost or reordered."""
    monkeypatch.setattr(files, "ROW_GROUP_ROWS", 50)
    sink = RotatingFiles(str(tmp_path), "parquet", rotate_bytes=1 << 30, rotate_seconds=3600)
    ids = []
    for index in range(12):  # 12 writes of 10 rows: groups of 50, 50 and the last 20
        batch = made(project, 10, 100 + index, f"q{index}")[0]
        sink.write(batch, "")
        ids += [f"q{index}"] * batch.rows
    assert not list(tmp_path.glob("*.parquet"))  # invisible until closed
    sink.close()
    (path,) = tmp_path.glob("*.parquet")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [50, 50, 20]
    assert pq.read_table(path).column("id").to_pylist() == ids
