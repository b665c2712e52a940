"""Data tests of a Parquet data set split in many files: one partition at a time, merged in
file order, they give the one-process result on the same rows in one file: the same failure
counts, the same first examples (named by file and row), the same leaked rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from mlci_action.record import DataReport
from mlci_action.worker.checks import run
from mlci_action.worker.checks.partitioned import PartOutcome, RowKeys, TrainKeys, check_part
from tests.worker.checks.partitioned_data import LEAKED, global_row, request, write


def by_check(report: DataReport) -> dict[tuple[str, str], object]:
    return {(check.name, check.dataset): check for check in report.checks}


def test_partitions_give_the_one_file_result(tmp_path: Path) -> None:
    sizes, _, _ = write(tmp_path)
    whole = DataReport.model_validate(
        run(request(tmp_path, "data/train.parquet", "data/test.parquet", partitioned=False))
    )
    parts = DataReport.model_validate(
        run(request(tmp_path, "data/train", "data/test/*.parquet", partitioned=True))
    )
    assert parts.rows == whole.rows == {"train": 3000, "test": 900}
    one, many = by_check(whole), by_check(parts)
    assert (
        set(one)
        == set(many)
        == {
            ("columns", "train→test"),
            ("schema", "train"),
            ("schema", "test"),
            ("leakage", "train→test"),
        }
    )
    for dataset in ("train", "test"):
        a, b = one["schema", dataset], many["schema", dataset]
        assert not a.passed and not b.passed
        # one failure per (column, check), in the order first met (file order here)
        failures_a = sorted(a.failures, key=lambda f: (str(f.column), f.check))
        failures_b = sorted(b.failures, key=lambda f: (str(f.column), f.check))
        assert [(f.column, f.check, f.count) for f in failures_a] == [
            (f.column, f.check, f.count) for f in failures_b
        ]
        assert len(failures_a) == 3
        assert a.detail.split(": ", 1)[1] == b.detail.split(": ", 1)[1]  # checks and rows
        for fa, fb in zip(failures_a, failures_b, strict=True):
            # "row 913: -1.0" in one file is "data/test/part-03.parquet, row 12: -1.0" here
            assert len(fa.examples) == len(fb.examples) > 0
            for ea, eb in zip(fa.examples, fb.examples, strict=True):
                where_a, _, value_a = ea.partition(": ")
                if ", row " in eb:
                    file, _, rest = eb.partition(", ")
                    where_b, _, value_b = rest.partition(": ")
                    where_b = f"{file} {where_b}"
                else:  # every failure in one file: the file is the failure's
                    where_b, _, value_b = eb.partition(": ")
                    where_b = f"{fb.file} {where_b}"
                assert value_a == value_b
                assert int(where_a.removeprefix("row ")) == global_row(where_b, sizes[dataset])

    a, b = one["leakage", "train→test"], many["leakage", "train→test"]
    assert a.statistic == b.statistic == LEAKED and not b.passed
    assert a.failures[0].count == b.failures[0].count == LEAKED
    for ea, eb in zip(a.failures[0].examples, b.failures[0].examples, strict=True):
        pattern = re.compile(r"^(.*) = (.*): (\(.*\))$")
        (here_a, there_a, row_a), (here_b, there_b, row_b) = (
            pattern.match(e).groups()  # type: ignore[union-attr]
            for e in (ea, eb)
        )
        assert row_a == row_b
        assert int(here_a.removeprefix("row ")) == global_row(here_b, sizes["test"])
        assert int(there_a.split(" row ")[1]) == global_row(there_b, sizes["train"])


def test_a_partition_outcome_survives_its_json_form(tmp_path: Path) -> None:
    write(tmp_path, files=2)
    train = pd.read_parquet(tmp_path / "data" / "train" / "part-00.parquet")
    test = pd.read_parquet(tmp_path / "data" / "test" / "part-01.parquet")
    keys = RowKeys.shared(train, test)
    first = check_part(train, "a", "train", schema=None, schema_file="", keys=keys)
    merged = TrainKeys.merge([first])
    found = check_part(
        test, "b", "test", schema=None, schema_file="", keys=keys, train_keys=merged.keys
    )
    again = PartOutcome.from_json(found.to_json())
    assert again == found
    assert again.leaked == int(np.isin(keys.hashes(test), merged.keys).sum())


def test_numbers_key_alike_whatever_their_integer_or_float_type() -> None:
    ints = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    floats = pd.DataFrame({"x": [1.0, 2.0, np.nan], "y": ["a", "b", "c"]})
    keys = RowKeys.shared(ints, floats)
    assert (keys.hashes(ints)[:2] == keys.hashes(floats)[:2]).all()
    assert keys.hashes(ints)[2] != keys.hashes(floats)[2]


def test_a_test_set_of_one_csv_file_against_partitioned_training_data(tmp_path: Path) -> None:
    write(tmp_path)
    pd.read_parquet(tmp_path / "data" / "test.parquet").to_csv(
        tmp_path / "data" / "test.csv", index=False
    )
    report = DataReport.model_validate(
        run(request(tmp_path, "data/train", "data/test.csv", partitioned=True))
    )
    assert by_check(report)["leakage", "train→test"].statistic == LEAKED


def test_partition_names_and_values_cannot_break_out_of_the_report(tmp_path: Path) -> None:
    from mlci_action.report.render import render_markdown
    from tests.test_report import EVIL, _cells, _data_section, record

    write(tmp_path, files=3)
    # a file name holds no "/": the values hold `</details>` (partitioned_data.frames)
    hostile = f'0-->"]; click x%%{{init}}%%{EVIL.replace("/", "")}.parquet'
    folder = tmp_path / "data" / "test"
    (folder / "part-00.parquet").rename(folder / hostile)  # the first in file order
    report = DataReport.model_validate(
        run(request(tmp_path, "data/train", "data/test", partitioned=True))
    )
    shown = " ".join(e for c in report.checks for f in c.failures for e in f.examples)
    assert "</details>" in shown and hostile in shown  # the hostile text reaches the report
    section = _data_section(render_markdown(record(data=report)))
    assert "<img" not in section and "-->" not in section and "%%{init}%%" not in section
    assert section.count("<details>") == section.count("</details>")
    for row in (row for row in section.splitlines() if row.startswith("|")):
        assert _cells(row) in (4, 5), row
