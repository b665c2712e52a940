"""Row locations: a CSV row is named by the line it starts on, whatever the file's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci_action.worker.checks.table import Table
from tests.worker.checks.helpers import line


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("x,y\n1,a\n2,b\n3,c\n", [2, 3, 4]),
        ("x,y\r\n1,a\r\n2,b\r\n3,c", [2, 3, 4]),  # Windows line ends, no final newline
        ('x,y\n1,"a\nstill a"\n2,b\n3,c\n', [2, 4, 5]),  # a quoted field over two lines
        ("x,y\n1,a\n\n\n2,b\n3,c\n\n", [2, 5, 6]),  # blank lines pandas skips
        ('x,y\n1,"say ""hi""\n, twice"\n2,b\n3,c\n', [2, 4, 5]),  # escaped quotes
    ],
    ids=["plain", "crlf", "quoted-newline", "blank-lines", "escaped-quotes"],
)
def test_each_row_is_named_by_the_line_it_starts_on(
    tmp_path: Path, text: str, lines: list[int]
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())

    table = Table.read(path, "data.csv", what="data")

    assert table.where(range(3)) == [f"line {n}" for n in lines]
    for n, x in zip(lines, table.frame["x"], strict=True):
        assert line(path, n).startswith(f"{x},")


def test_a_file_whose_lines_cannot_be_matched_to_rows_counts_rows(tmp_path: Path) -> None:
    """A stray quote inside a field is text to pandas but would open a quoted field to a line
    scan: rather than guess a line, the row's number is given."""
    path = tmp_path / "data.csv"
    path.write_text("x,y\n1,5'11\"\n\n2,b\n3,c\n", encoding="utf-8")

    table = Table.read(path, "data.csv", what="data")

    assert len(table.frame) == 3
    assert table.where(range(3)) == ["row 1", "row 2", "row 3"]
    assert table.where_all([0, 2], total=4) == "rows 1, 3 and 2 more"
