"""The target's labels read in bytes equal the csv module's reading, whatever the file's shape."""

from __future__ import annotations

import csv
import random

import pytest

from mlci_action.column_values import column_values


def csv_module(path, name, delimiter):
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        index = next(reader).index(name)
        return {row[index] for row in reader if len(row) > index}


def write_rows(path, rows, delimiter=",", end="\n"):
    path.write_bytes(end.join(delimiter.join(row) for row in rows).encode() + end.encode())


@pytest.mark.parametrize("seed", range(12))
def test_equals_the_csv_module_on_random_files(tmp_path, seed):
    rnd = random.Random(seed)
    width = rnd.randint(1, 6)
    delimiter = rnd.choice([",", "\t"])
    header = [f"c{i}" for i in range(width)]
    labels = ["yes", "no", "NA", "", "1", "2.5", "é"]
    if seed % 3 == 0:
        labels.append('"quoted, with a comma"')  # quotes: the csv module's reading
    rows = [header]
    for _ in range(rnd.randint(0, 400)):
        row = [rnd.choice(labels) for _ in range(width)]
        if seed % 4 == 1 and rnd.random() < 0.1:
            row = row[: rnd.randint(0, width)]  # ragged rows, empty lines
        rows.append(row)
    path = tmp_path / "data.csv"
    write_rows(path, rows, delimiter, end=rnd.choice(["\n", "\r\n"]))
    for name in header:
        expected = csv_module(path, name, delimiter)
        for chunk in (7, 64, 1 << 20):  # rows cut at every chunk boundary
            assert column_values(path, name, delimiter, chunk=chunk) == expected, (name, chunk)


def test_target_column_first_middle_last_and_no_final_newline(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,target,b\n1,x,2\n3,y,4\n5,x,6", encoding="utf-8")
    assert column_values(path, "target", chunk=5) == {"x", "y"}
    assert column_values(path, "a", chunk=5) == {"1", "3", "5"}
    assert column_values(path, "b", chunk=5) == {"2", "4", "6"}


def test_lone_carriage_returns_are_line_ends_as_for_the_csv_module(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,target\r1,x\r2,y\r")
    assert column_values(path, "target") == csv_module(path, "target", ",") == {"x", "y"}
