"""Slices of the test set (evaluation.slices), parsed once and safely: never evaluated as code.

A slice spec is either a column name (one slice per value: the most frequent
:data:`TOP_VALUES` values, the rest grouped as one) or a comparison ``column OP literal``:
OP one of ``== != >= <= > <``, the literal a number, a quoted string, ``true`` or ``false``. A
column name with spaces or symbols is written in backticks: ```my col` >= 3``.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOP_VALUES = 10
"""A column slice's values: the most frequent ones, the rest grouped as ``OTHER``."""
OTHER = "(other)"

Literal = float | int | str | bool

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_COLUMN = r"(?:`(?P<quoted>[^`]+)`|(?P<bare>[A-Za-z_][A-Za-z0-9_.]*))"
_EXPRESSION = re.compile(rf"^\s*{_COLUMN}\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<literal>.+?)\s*$")
_NAME_ONLY = re.compile(rf"^\s*{_COLUMN}\s*$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class SliceSpec:
    text: str
    """As written in mlci.yaml."""
    column: str
    op: str | None = None
    """None: one slice per value of the column."""
    value: Literal | None = None


def parse_slice(text: str) -> SliceSpec:
    """The spec of ``text``; ValueError saying what is wrong and what is expected."""
    found = _NAME_ONLY.match(text)
    if found:
        return SliceSpec(text, found["quoted"] or found["bare"])
    found = _EXPRESSION.match(text)
    if not found:
        raise ValueError(
            f"slice {text!r} is neither a column name nor 'column OP value' "
            f"(OP one of {' '.join(OPERATORS)}; e.g. 'age >= 65', \"region == 'north'\"; "
            "a column name with spaces in backticks)"
        )
    return SliceSpec(text, found["quoted"] or found["bare"], found["op"], _literal(found))


def _literal(found: re.Match[str]) -> Literal:
    raw = found["literal"]
    if raw in ("true", "false", "True", "False"):
        return raw.lower() == "true"
    if _NUMBER.match(raw):
        number = float(raw)
        whole = number.is_integer() and not any(c in raw for c in ".eE")
        return int(number) if whole else number
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        try:  # a string literal only: a literal_eval that yields anything else is refused
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            return value
    raise ValueError(
        f"slice {found.string!r}: the value {raw!r} is not a number, a quoted string, true or false"
    )
