"""Data tests of a Parquet data set split in many files: one partition at a time, merged in
file order, they give the one-process result on the same rows in one file: the same failure
counts, the same first examples (named by file and row), the same leaked rows."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from mlci_action.config import DataChecks
from mlci_action.record import DataReport
from mlci_action.worker.checks import run
from mlci_action.worker.checks.partitioned import PartOutcome, RowKeys, TrainKeys, check_part
from mlci_action.worker.checks.partitioned_run import tally_plan
from tests.worker.checks.partitioned_data import (
    DUPLICATED,
    LEAKED,
    UNSEEN,
    global_row,
    request,
    write,
)


def by_check(report: DataReport) -> dict[tuple[str, str], object]:
    return {(check.name, check.dataset): check for check in report.checks}


def assert_same_figures(whole: DataReport, parts: DataReport, names: dict[str, str]) -> None:
    """Every check but schema and leakage (compared on their own): the same fields, and the
    same details and failure files once the one-file names are the partitioned ones."""
    assert [(c.name, c.dataset) for c in whole.checks] == [
        (c.name, c.dataset) for c in parts.checks
    ]
    assert whole.passed == parts.passed and whole.rows == parts.rows
    for a, b in zip(whole.checks, parts.checks, strict=True):
        if a.name in ("schema", "leakage"):
            continue
        fields = ("name", "dataset", "passed", "severity", "statistic", "threshold", "setting")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], a.name
        detail = a.detail
        for one_file, partitioned in names.items():
            detail = detail.replace(one_file, partitioned)
        assert detail == b.detail
        assert [
            (f.check, f.column, f.count, names.get(f.file or "", f.file)) for f in a.failures
        ] == [(f.check, f.column, f.count, f.file) for f in b.failures]
        assert [len(f.examples) for f in a.failures] == [len(f.examples) for f in b.failures]


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
    assert [(c.name, c.dataset) for c in whole.checks] == [
        (c.name, c.dataset) for c in parts.checks
    ]
    assert set(one) == {
        ("columns", "train→test"),
        ("schema", "train"),
        ("schema", "test"),
        ("duplicates", "train"),
        ("duplicates", "test"),
        ("constant", "train"),
        ("leakage", "train→test"),
        ("categories", "train→test"),
        ("target_missing", "train"),
        ("target_missing", "test"),
        ("unseen_classes", "train→test"),
        ("class_balance", "train"),
        ("target_shift", "train→test"),
    }
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


def test_whole_data_set_checks_merge_to_the_one_file_figures(tmp_path: Path) -> None:
    """Duplicates across files, a constant column, test-only categories and the class
    checks: the same verdicts, statistics, counts and details (but for the data's names),
    and examples naming the same rows."""
    sizes, _, _ = write(tmp_path, files=6)
    whole = DataReport.model_validate(
        run(request(tmp_path, "data/train.parquet", "data/test.parquet", partitioned=False))
    )
    parts = DataReport.model_validate(
        run(request(tmp_path, "data/train", "data/test/*.parquet", partitioned=True))
    )
    assert_same_figures(
        whole,
        parts,
        {"data/train.parquet": "data/train", "data/test.parquet": "data/test/*.parquet"},
    )
    one, many = by_check(whole), by_check(parts)
    # rows repeated within each data set, across its files: the same copies
    for dataset in ("train", "test"):
        a, b = one["duplicates", dataset], many["duplicates", dataset]
        assert not b.passed and b.failures[0].count >= DUPLICATED - 2
        for ea, eb in zip(a.failures[0].examples, b.failures[0].examples, strict=True):
            rows_a = [int(n) for n in ea.split(":")[0].removeprefix("rows ").split(", ")]
            rows_b = [
                global_row(w, sizes[dataset]) for w in eb.removeprefix("copies at ").split(", ")
            ]
            assert rows_a == rows_b
    constant = many["constant", "train"]
    assert [f.column for f in constant.failures] == ["source"]
    assert constant.failures[0].examples[0].endswith(": 'export-7'")
    # test-only sites: the same rows, in file order, and the same values
    a, b = one["categories", "train→test"], many["categories", "train→test"]
    assert b.statistic == UNSEEN - 1 or b.statistic == UNSEEN  # a leaked row may overwrite one
    for ea, eb in zip(a.failures[0].examples, b.failures[0].examples, strict=True):
        where_a, _, value_a = ea.partition(": ")
        where_b, _, value_b = eb.partition(": ")
        assert value_a == value_b
        assert int(where_a.removeprefix("row ")) == global_row(where_b, sizes["test"])


def test_labels_levels_and_types_merge_like_one_file(tmp_path: Path) -> None:
    """Missing and unseen labels, a rare class, an ID column (too many values to be a
    category), a column that is numbers in train and text in test, and an empty partition."""
    generator = np.random.default_rng(5)
    n = 600
    train = pd.DataFrame(
        {
            "id": [f"u{i}" for i in range(n)],
            "code": generator.integers(0, 4, n),
            "flag": generator.choice([True, False], n),
            "label": generator.choice(["a", "b", "c"], n, p=[0.6, 0.39, 0.01]).astype(object),
        }
    )
    test = train.sample(frac=0.5, random_state=1).reset_index(drop=True)
    test["code"] = test["code"].astype(str)
    test.loc[[3, 50, 51], "code"] = "9"
    train.loc[[7, 400], "label"] = None
    test.loc[[0, 120], "label"] = "z"  # a class the training data never has
    test.loc[[5], "label"] = None
    for name, frame in (("train", train), ("test", test)):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        (tmp_path / name).mkdir()
        cuts = [0, 0, 100, 250, len(frame)]  # the first file has no rows
        for at, (start, end) in enumerate(itertools.pairwise(cuts)):
            frame.iloc[start:end].to_parquet(tmp_path / name / f"p{at}.parquet", index=False)

    def report(train_path: str, test_path: str, partitioned: bool) -> DataReport:
        asked = {
            "project_dir": str(tmp_path),
            "train_path": train_path,
            "test_path": test_path,
            "target": "label",
            "task": "classification",
            "checks": {
                "drift": {"enabled": False},
                "categories": {"max_levels": 10},
                "target": {"min_class_share": 0.05},
            },
            "partitioned": partitioned,
        }
        return DataReport.model_validate(run(asked))

    whole = report("train.parquet", "test.parquet", False)
    parts = report("train", "test", True)
    assert_same_figures(whole, parts, {"train.parquet": "train", "test.parquet": "test"})
    many = by_check(parts)
    assert many["unseen_classes", "train→test"].failures[0].examples == [
        "test/p1.parquet row 1: 'z'",
        "test/p2.parquet row 21: 'z'",
    ]
    assert not many["class_balance", "train"].passed
    assert many["target_missing", "train"].failures[0].count == 2
    categories = many["categories", "train→test"]
    assert "id" in categories.detail  # left out: more than max_levels values
    assert [f.column for f in categories.failures] == ["code"]


def test_a_partition_outcome_survives_its_json_form(tmp_path: Path) -> None:
    write(tmp_path, files=2)
    train = pd.read_parquet(tmp_path / "data" / "train" / "part-00.parquet")
    test = pd.read_parquet(tmp_path / "data" / "test" / "part-01.parquet")
    keys = RowKeys.shared(train, test)
    plan = tally_plan(train, test, "label", "classification", DataChecks())
    assert plan is not None and plan.levels == ["kind", "label", "site", "source"]
    first = check_part(train, "a", "train", schema=None, schema_file="", keys=keys, plan=plan)
    assert first.row_keys is first.keys  # the same columns: one array
    again = PartOutcome.from_json(first.to_json(), first.keys)
    assert again.tally == first.tally and again.row_keys is again.keys
    merged = TrainKeys.merge([first])
    found = check_part(
        test,
        "b",
        "test",
        schema=None,
        schema_file="",
        keys=keys,
        train_keys=merged.keys,
        plan=plan,
    )
    assert found.tally is not None and found.row_keys is not None
    again = PartOutcome.from_json(found.to_json(), None, found.row_keys)
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
    assert '"]; click x %%{init}%%' in shown  # a test-only category
    section = _data_section(render_markdown(record(data=report)))
    assert "<img" not in section and "-->" not in section and "%%{init}%%" not in section
    assert section.count("<details>") == section.count("</details>")
    for row in (row for row in section.splitlines() if row.startswith("|")):
        assert _cells(row) in (4, 5), row
