"""The project's pandera schema: failures by column and check, at the lines that fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest

from mlci_action.errors import InputError
from mlci_action.worker.checks import run
from mlci_action.worker.checks.schema import schema_check
from mlci_action.worker.checks.table import Table
from mlci_action.worker.schema_loader import load_schema
from tests.worker.checks.helpers import (
    PY_SCHEMA,
    SCHEMA_PY,
    YAML_SCHEMA,
    cited,
    find,
    frame,
    line,
    project,
)


@pytest.mark.parametrize("schema", [PY_SCHEMA, YAML_SCHEMA], ids=["python", "yaml"])
def test_schema_violations_are_counted_with_examples(
    tmp_path: Path, schema: dict[str, Any]
) -> None:
    test = frame(seed=2)
    test.loc[[3, 5, 7], "length"] = [11.5, -1.0, 11.5]
    test.loc[[5, 9], "colour"] = ["purple", "<b>pink</b>"]

    report = run(project(tmp_path, test=test, schema=schema))

    assert report["passed"] is False
    train_check, test_check = find(report, "schema")
    assert train_check["passed"] is True
    assert test_check["passed"] is False
    assert test_check["detail"] == "test.csv: 2 checks failed on 4 rows (tune: data.schema)"
    assert test_check["setting"] == "data.schema"
    by_column = {failure["column"]: failure for failure in test_check["failures"]}
    assert by_column["length"]["count"] == 3
    assert by_column["length"]["file"] == "test.csv"
    # data row i of a CSV is line i + 2: the header is line 1
    assert by_column["length"]["examples"] == ["line 5: 11.5", "line 7: -1.0", "line 9: 11.5"]
    assert by_column["colour"]["count"] == 2
    assert by_column["colour"]["examples"] == [
        "line 7: 'purple'",
        "line 11: '<b>pink</b>'",  # not escaped here
    ]
    for example in by_column["length"]["examples"] + by_column["colour"]["examples"]:
        value = example.split(": ", 1)[1].strip("'")
        assert value in line(tmp_path / "test.csv", cited(example)).split(",")


def test_missing_column_is_reported_by_name(tmp_path: Path) -> None:
    test = frame(seed=2).drop(columns=["colour"])

    report = run(project(tmp_path, test=test, schema=PY_SCHEMA))

    test_check = find(report, "schema", dataset="test")[0]
    assert test_check["passed"] is False
    assert test_check["detail"] == "test.csv: 1 check failed (tune: data.schema)"
    assert test_check["failures"] == [
        {
            "check": "column_in_dataframe",
            "column": "colour",
            "count": 1,
            "examples": ["colour"],
            "file": "test.csv",
        }
    ]


def test_a_dataframe_check_counts_rows_and_strict_names_the_extra_column(tmp_path: Path) -> None:
    (tmp_path / "wide.py").write_text(
        SCHEMA_PY
        + """
    @pa.dataframe_check
    def width_is_plausible(cls, df):
        return df["width"] < 50

    class Config:
        strict = True
"""
    )
    test = frame(seed=2).assign(extra=1)
    test.loc[[2, 4], "width"] = 100.0

    report = run(
        project(
            tmp_path, test=test, schema={"kind": "python", "path": "wide.py", "name": "IrisSchema"}
        )
    )

    test_check = find(report, "schema", dataset="test")[0]
    assert test_check["detail"] == "test.csv: 2 checks failed on 2 rows (tune: data.schema)"
    assert [
        (f["check"], f["column"], f["count"], f["examples"]) for f in test_check["failures"]
    ] == [
        ("column_in_schema", "extra", 1, ["extra"]),
        ("width_is_plausible", None, 2, ["line 4", "line 6"]),
    ]
    for example in test_check["failures"][1]["examples"]:
        assert "100.0" in line(tmp_path / "test.csv", cited(example)).split(",")


def test_a_coercing_schema_leaves_the_data_untouched() -> None:
    schema = pa.DataFrameSchema({"x": pa.Column(float, coerce=True)})
    data = pd.DataFrame({"x": [1, 2, 3]})

    check = schema_check(schema, Table(data, Path("x.csv"), "x.csv"), "train", "schema.yaml")

    assert check.passed
    assert str(data["x"].dtype) == "int64"


def test_schema_with_postponed_annotations_and_a_sibling_import(tmp_path: Path) -> None:
    (tmp_path / "limits.py").write_text("MAX_LENGTH = 10\n")
    schema = tmp_path / "future_schema.py"
    schema.write_text(
        "from __future__ import annotations\n"
        + SCHEMA_PY.replace("10}", "MAX_LENGTH}").replace(
            "from pandera.typing import Series",
            "from pandera.typing import Series\nfrom limits import MAX_LENGTH",
        )
    )

    loaded = load_schema(
        {"kind": "python", "path": "future_schema.py", "name": "IrisSchema"}, str(tmp_path)
    )

    assert list(loaded.columns) == ["length", "width", "colour", "species"]


BROKEN = [
    (
        "syntax",
        "bad.py",
        "import pandera.pandas as pa\n\nclass IrisSchema(pa.DataFrameModel)\n    x: int\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:3: syntax error",
    ),
    (
        "missing-class",
        "bad.py",
        SCHEMA_PY,
        {"kind": "python", "path": "bad.py", "name": "Nope"},
        "bad.py: no class 'Nope'",
    ),
    (
        "not-a-model",
        "bad.py",
        "class IrisSchema:\n    pass\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:1: 'IrisSchema' is a class IrisSchema, not a pandera DataFrameModel",
    ),
    (
        "import-error",
        "bad.py",
        "import pandera.pandas as pa\nimport not_a_real_module_xyz\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:2: schema file cannot import module 'not_a_real_module_xyz'",
    ),
    (
        "raises",
        "bad.py",
        "x = 1\nraise RuntimeError('boom')\n",
        {"kind": "python", "path": "bad.py", "name": "IrisSchema"},
        "bad.py:2: importing the schema file raised RuntimeError: boom",
    ),
    (
        "missing-file",
        "other.py",
        "",
        {"kind": "python", "path": "absent.py", "name": "IrisSchema"},
        "absent.py: schema file not found",
    ),
    (
        "bad-yaml",
        "bad.yaml",
        "columns:\n  length:\n    dtype: float64\n   checks: [\n",
        {"kind": "yaml", "path": "bad.yaml"},
        "bad.yaml:4: schema file is not valid YAML",
    ),
    (
        "unknown-check",
        "bad.yaml",
        "columns:\n  length:\n    dtype: float64\n    checks:\n      no_such_check: 3\n",
        {"kind": "yaml", "path": "bad.yaml"},
        "bad.yaml: not a valid pandera YAML schema",
    ),
    (
        "empty-yaml",
        "bad.yaml",
        "",
        {"kind": "yaml", "path": "bad.yaml"},
        "bad.yaml: schema file holds no pandera schema",
    ),
]


@pytest.mark.parametrize(
    ("filename", "content", "spec", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_schema_file_is_an_input_error(
    tmp_path: Path, filename: str, content: str, spec: dict[str, Any], message: str
) -> None:
    (tmp_path / filename).write_text(content)

    with pytest.raises(InputError) as caught:
        run(project(tmp_path, schema=spec))

    assert message in caught.value.message
    assert str(tmp_path) in caught.value.message
    assert caught.value.hint


def test_schema_loader_rejects_an_unknown_spec(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown schema spec"):
        load_schema({"kind": "toml", "path": "x.toml"}, str(tmp_path))


def test_a_negative_value_is_named_by_its_line_and_value(tmp_path: Path) -> None:
    """A real data bug: a measurement entered with a sign; the schema says width >= 0."""
    test = frame(seed=2)
    test.loc[41, "width"] = -0.75

    report = run(project(tmp_path, test=test, schema=PY_SCHEMA))

    check = find(report, "schema", dataset="test")[0]
    (failure,) = check["failures"]
    assert (failure["column"], failure["count"], failure["file"]) == ("width", 1, "test.csv")
    (example,) = failure["examples"]
    assert example == "line 43: -0.75"
    header = line(tmp_path / "test.csv", 1).split(",")
    assert line(tmp_path / "test.csv", cited(example)).split(",")[header.index("width")] == "-0.75"


def test_line_numbers_follow_the_file_through_quoted_newlines_and_blank_lines(
    tmp_path: Path,
) -> None:
    """pandas skips blank lines and reads a quoted field over two lines as one row: the
    example still names the line the bad row starts on."""
    (tmp_path / "schema.yaml").write_text(
        "columns:\n  x:\n    dtype: int64\n    checks:\n      greater_than_or_equal_to: 0\n"
        "  note:\n    dtype: str\n"
    )
    path = tmp_path / "data.csv"
    path.write_text('x,note\n1,"a\nb"\n\n2,c\n-5,d\n3,e\n', encoding="utf-8")
    schema = load_schema({"kind": "yaml", "path": "schema.yaml"}, str(tmp_path))

    check = schema_check(schema, Table.read(path, "data.csv", what="data"), "train", "s.yaml")

    (failure,) = check.failures
    assert failure.examples == ["line 6: -5"]
    assert line(path, 6) == "-5,d"
