"""The project's pandera schema, validated lazily: every failing check of every column."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from mlci_action.errors import InputError
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import EXAMPLES, make_check, plural, show
from mlci_action.worker.checks.table import Table

SETTING = "data.schema"
_COLUMN_CHECKS = {"column_in_dataframe", "column_in_schema"}


def schema_check(
    schema: pa.DataFrameSchema, table: Table, dataset: str, schema_file: str
) -> DataCheck:
    """One check per file; one failure per (column, check), with the lines that fail it."""
    failures, rows = schema_failures(schema, table, dataset, schema_file)
    return schema_result(failures, rows, table.name, dataset)


def schema_failures(
    schema: pa.DataFrameSchema, table: Table, dataset: str, schema_file: str
) -> tuple[list[CheckFailure], int]:
    """The failures, one per (column, check), and how many distinct rows failed."""
    try:
        # A shallow copy validated in place: pandera skips its deep copy, and copy-on-write
        # keeps the frame untouched even when the schema coerces or parses.
        schema.validate(table.frame.copy(deep=False), lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        return _group_failure_cases(exc.failure_cases, table)
    except pa.errors.SchemaError as exc:
        return [_single_failure(exc, table)], 0
    except (pa.errors.SchemaDefinitionError, pa.errors.SchemaInitError) as exc:
        raise InputError(
            f"{schema_file}: the schema cannot be applied to the {dataset} data: {exc}",
            hint="check the column types and checks the schema declares",
        ) from None
    return [], 0


def schema_result(failures: list[CheckFailure], rows: int, name: str, dataset: str) -> DataCheck:
    """The schema check of the data ``name`` (a file, or a data set of partitions)."""
    if not failures:
        return make_check(
            name="schema",
            kind="schema",
            dataset=dataset,
            passed=True,
            detail=f"{name}: all checks passed",
            setting=SETTING,
        )
    detail = f"{name}: {plural(len(failures), 'check')} failed"
    if rows:
        detail += f" on {plural(rows, 'row')}"
    return make_check(
        name="schema",
        kind="schema",
        dataset=dataset,
        passed=False,
        detail=detail,
        setting=SETTING,
        failures=failures,
    )


def _single_failure(exc: pa.errors.SchemaError, table: Table) -> CheckFailure:
    cases = exc.failure_cases
    if isinstance(cases, pd.DataFrame) and "failure_case" in cases:
        cases = cases["failure_case"]
    values = pd.Series(cases) if cases is not None else pd.Series([], dtype=object)
    check = exc.check if isinstance(exc.check, str) else getattr(exc.check, "name", None)
    reason = getattr(exc.reason_code, "value", exc.reason_code)
    return CheckFailure(
        check=str(check or reason or "schema"),
        column=None if exc.column_name is None else str(exc.column_name),
        count=max(len(values), 1),
        examples=[show(v) for v in values.head(EXAMPLES)] or [str(exc).splitlines()[0]],
        file=table.name,
    )


def _group_failure_cases(cases: pd.DataFrame, table: Table) -> tuple[list[CheckFailure], int]:
    """One CheckFailure per (column, check), and how many distinct rows failed.

    A dataframe-wide check fails whole rows: pandera lists every cell of every failing row,
    so those are counted once per row, with the rows' lines as examples.
    """
    cases = cases.copy()
    cases["column"] = cases["column"].astype(object)
    if "index" not in cases:
        cases["index"] = None
    # pandera's index is the frame's, which counts rows from 0 (Table.read makes sure)
    cases["index"] = pd.to_numeric(cases["index"], errors="coerce")
    # a missing or unexpected column: its name is the failure case (pandera puts the
    # schema's name, or nothing, in "column")
    whole_column = cases["check"].isin(_COLUMN_CHECKS)
    cases.loc[whole_column, "column"] = cases.loc[whole_column, "failure_case"].astype(str)
    whole_row = (cases.get("schema_context") == "DataFrameSchema") & ~whole_column
    failures = []
    by_cell = cases[~whole_row].groupby(["column", "check"], dropna=False, sort=False)
    for (column, check), group in by_cell:
        failures.append(
            CheckFailure(
                check=str(check),
                column=None if column is None or pd.isna(column) else str(column),
                count=len(group),
                examples=_cell_examples(group, table),
                file=table.name,
            )
        )
    for check, group in cases[whole_row].groupby("check", sort=False):
        rows = group["index"].dropna().drop_duplicates()
        failures.append(
            CheckFailure(
                check=str(check),
                count=len(rows) or len(group),
                examples=table.where(rows.head(EXAMPLES).to_numpy()),
                file=table.name,
            )
        )
    return failures, int(cases["index"].dropna().nunique())


def _cell_examples(group: pd.DataFrame, table: Table) -> list[str]:
    """``line 14: -1.0`` for the first failing cells; a column-level failure (a dtype, a
    missing column) has no row, only its value."""
    at_rows = group[group["index"].notna()].head(EXAMPLES)
    if len(at_rows):
        places = table.where(at_rows["index"].to_numpy())
        return [
            f"{place}: {show(value)}"
            for place, value in zip(places, at_rows["failure_case"], strict=True)
        ]
    values = group["failure_case"]
    try:
        distinct = values.drop_duplicates().head(EXAMPLES)
    except TypeError:  # unhashable failure cases
        distinct = values.astype(str).drop_duplicates().head(EXAMPLES)
    return [str(value) for value in distinct]
