"""Ground-truth labels: CSV, JSONL and Parquet, a file:// URL, and a bad record named by its
line (CSV, JSONL) or row (Parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlci_action.errors import InputError
from mlci_action.monitoring.labels import read_labels

LABELS = pd.DataFrame({"id": ["a", "b", "c"], "row": [0, 0, 1], "y": [1, 0, 1]})


def write(path: Path, frame: pd.DataFrame, *, blank_line_after: int | None = None) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        lines = frame.to_json(orient="records", lines=True).splitlines()
        if blank_line_after is not None:
            lines.insert(blank_line_after, "")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_each_format_reads_the_same_labels_also_from_a_file_url(
    tmp_path: Path, suffix: str
) -> None:
    path = write(tmp_path / f"labels{suffix}", LABELS)
    for source in (str(path), f"file://{path}"):
        labels = read_labels(source, "y")
        assert labels.loc[("c", 1), "label"] == 1 and labels.loc[("b", 0), "label"] == 0
        assert len(labels) == 3


@pytest.mark.parametrize(
    ("suffix", "place"),
    [(".csv", "line 3"), (".jsonl", "line 3"), (".parquet", "row 2")],
)
def test_a_row_that_is_not_a_whole_number_is_named_by_its_place(
    tmp_path: Path, suffix: str, place: str
) -> None:
    bad = LABELS.assign(row=["0", "first", "1"])  # the second record
    # CSV: the header is line 1; JSONL: line 2 is blank, and still a line
    path = write(tmp_path / f"labels{suffix}", bad, blank_line_after=1)
    with pytest.raises(InputError, match=rf"labels{suffix}: {place}: row 'first' is not"):
        read_labels(str(path), "y")


def test_a_labels_line_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"id": "a", "y": 1}\n\n{"id": "b", y: 0}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"labels\.jsonl: line 3: not JSON"):
        read_labels(str(path), "y")


def test_an_empty_id_is_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("id,row,y\na,0,1\n,0,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"labels\.csv: line 3: id is empty"):
        read_labels(str(path), "y")
