"""A Parquet data set in many files: partitions in file order, and the schema check of each
partition merged exactly (equal to one process reading every file)."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlci_action.errors import InputError
from mlci_action.worker.checks.merge import PartSchema, merge_schema
from mlci_action.worker.checks.schema import schema_failures
from mlci_action.worker.checks.table import Table
from mlci_action.worker.partitions import partitions, read_partition

SCHEMA = pa.DataFrameSchema(
    {
        "radius": pa.Column(float, pa.Check.in_range(0, 40), nullable=False),
        "kind": pa.Column(str, pa.Check.isin(["benign", "malignant"])),
        "label": pa.Column(int),
    },
    checks=[pa.Check(lambda frame: frame["radius"] < frame["label"] + 30, name="radius_vs_label")],
)


def data(rows: int = 900) -> pd.DataFrame:
    generator = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "radius": generator.uniform(1, 35, rows),
            "kind": generator.choice(["benign", "malignant"], rows),
            "label": generator.integers(0, 2, rows),
        }
    )
    frame.loc[generator.choice(rows, 23, replace=False), "radius"] = -1.0
    frame.loc[generator.choice(rows, 4, replace=False), "radius"] = np.nan
    frame.loc[generator.choice(rows, 17, replace=False), "kind"] = "Benign "
    frame.loc[generator.choice(rows, 9, replace=False), "kind"] = "`</details>`"
    return frame


@pytest.fixture
def dataset(tmp_path):
    """data/train/: 7 Parquet files of uneven size in two folders, and files that are not
    partitions (Spark's _SUCCESS, a hidden file, a CSV)."""
    frame = data()
    folder = tmp_path / "data" / "train"
    (folder / "late").mkdir(parents=True)
    bounds = [0, 50, 51, 300, 420, 700, 880, 900]
    names = [f"part-{i:04d}.parquet" for i in range(6)] + ["late/part-0000.parquet"]
    for name, (start, end) in zip(names, itertools.pairwise(bounds), strict=True):
        frame.iloc[start:end].to_parquet(folder / name, index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0009.parquet.crc").write_text("")
    (folder / "notes.csv").write_text("a\n1\n")
    return tmp_path, frame


def test_a_directory_a_glob_and_a_file_url_name_the_same_partitions_in_file_order(dataset):
    project, _ = dataset
    by_folder = partitions("data/train", project, setting="data.train")
    assert [part.name for part in by_folder] == [  # sorted by path: late/ first
        "data/train/late/part-0000.parquet",
        *(f"data/train/part-{i:04d}.parquet" for i in range(6)),
    ]
    by_glob = partitions("data/train/*.parquet", project, setting="data.train")
    assert [part.uri for part in by_glob] == [part.uri for part in by_folder]
    url = (project / "data" / "train").as_uri()
    by_url = partitions(url, project, setting="data.train")
    assert [part.name.removeprefix(url) for part in by_url] == [
        part.name.removeprefix("data/train") for part in by_folder
    ]
    assert read_partition(by_url[3]).equals(read_partition(by_folder[3]))
    one = partitions("data/train/part-0002.parquet", project, setting="data.train")
    assert [part.name for part in one] == ["data/train/part-0002.parquet"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("data/nowhere", ["data.test", "'data/nowhere' not found"]),
        ("data/train/*.orc", ["data.test", "holds no Parquet files"]),
        ("nosuchscheme://bucket/x", ["data.test", "cannot open"]),
    ],
)
def test_data_that_names_no_partition_is_unusable_input(dataset, spec, words):
    project, _ = dataset
    with pytest.raises(InputError) as caught:
        partitions(spec, project, setting="data.test")
    assert all(word in caught.value.message for word in words), caught.value.message
    assert caught.value.exit_code == 2


def _value(example: str) -> str:
    return example.rsplit(": ", 1)[-1] if ": " in example else ""


def test_the_merged_schema_check_equals_one_process_over_every_file(dataset):
    project, frame = dataset
    parts = partitions("data/train", project, setting="data.train")
    results = []
    for part in reversed(parts):  # workers finish in any order; the merge takes file order
        table = Table(read_partition(part), project / part.name, part.name)
        failures, rows = schema_failures(SCHEMA, table, "train", "schema.py")
        results.append(PartSchema(part.name, failures, rows))
    by_name = {result.name: result for result in results}
    merged = merge_schema([by_name[part.name] for part in parts], "data/train", "train")

    whole = Table(
        pd.concat([read_partition(part) for part in parts], ignore_index=True),
        project / "data/train",
        "data/train",
    )
    failures, rows = schema_failures(SCHEMA, whole, "train", "schema.py")
    assert not merged.passed
    assert f"on {rows} rows" in merged.detail
    # the same failures with the same counts (listed in the order the partitions met them)
    mine = {(f.column, f.check): f for f in merged.failures}
    theirs = {(f.column, f.check): f for f in failures}
    assert {key: f.count for key, f in mine.items()} == {key: f.count for key, f in theirs.items()}
    for key, failure in theirs.items():
        # the same first cases, in the same order; here each names its file and row there
        assert [_value(e) for e in mine[key].examples] == [_value(e) for e in failure.examples]
    radius = next(f for f in merged.failures if f.column == "radius" and "range" in f.check)
    assert radius.examples[0].startswith("data/train/")
    assert ".parquet, row " in radius.examples[0]
    assert radius.file == "data/train"
    assert radius.count == int((frame["radius"] == -1.0).sum())


def test_a_failure_in_one_partition_points_into_that_file(tmp_path):
    table = Table(data(40), tmp_path / "b.parquet", "d/b.parquet")
    failures, rows = schema_failures(SCHEMA, table, "test", "schema.py")
    merged = merge_schema(
        [PartSchema("d/a.parquet", [], 0), PartSchema("d/b.parquet", failures, rows)], "d", "test"
    )
    assert merged.failures and all(f.file == "d/b.parquet" for f in merged.failures)
    assert all(e.startswith("row ") for f in merged.failures for e in f.examples)


def test_partition_names_and_values_from_the_pr_cannot_break_out_of_the_report(tmp_path):
    from mlci_action.record import DataReport
    from mlci_action.report.render import render_markdown
    from tests.report.records import EVIL, _base

    frame = data(40)
    frame.loc[3, "kind"] = EVIL
    parts = []
    for name in (f"d/{EVIL}a.parquet", f"d/{EVIL}b.parquet"):
        table = Table(frame, tmp_path / "x.parquet", name)
        parts.append(PartSchema(name, *schema_failures(SCHEMA, table, "test", "schema.py")))
    merged = merge_schema(parts, f"d/{EVIL}", "test")
    assert any(EVIL in example for f in merged.failures for example in f.examples)
    report = DataReport(passed=False, rows={"test": 80}, checks=[merged], seconds=0.1)
    text = render_markdown(_base(data=report, verdict="fail"))
    assert "call alert" in text  # the examples are in the report, escaped
    assert text.count("<details>") == text.count("</details>")
    assert "<b>x</b>" not in text and "-->" not in text
    assert '"]; click' not in text and "%%{init" not in text


@pytest.mark.parametrize(
    "spec",
    [
        "data/train",
        "data/train/",
        "data/train/*.parquet",
        "data/train/part-0002.parquet",
        "data/train/late",
    ],
)
def test_without_pyarrow_the_same_partitions_are_listed(dataset, spec, monkeypatch):
    """The action image has no pyarrow: it lists a path in the checkout itself, with the same
    files in the same order; a URL there is unusable input that says why."""
    project, _ = dataset
    with_pyarrow = partitions(spec, project, setting="data.train")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `from pyarrow import fs` fails
    assert partitions(spec, project, setting="data.train") == with_pyarrow
    with pytest.raises(InputError, match=r"data\.train: .* pyarrow"):
        partitions((project / "data" / "train").as_uri(), project, setting="data.train")
    with pytest.raises(InputError, match="not found"):
        partitions("data/nothing", project, setting="data.train")
