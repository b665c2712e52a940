"""Durations and times of the monitoring window (stdlib only: mlci.yaml's check imports it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``"24h"`` -> 24 hours (units s, m, h, d, w); a ValueError says the form."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration: a number and a unit, e.g. 30m, 24h or 7d")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def parse_time(text: Any) -> datetime:
    """An RFC 3339 time (``...Z`` or with an offset), or an aware datetime (a Parquet
    timestamp read row by row), as an aware UTC datetime."""
    if isinstance(text, datetime):
        if text.tzinfo is None:
            raise ValueError("time has no UTC offset")
        return text.astimezone(UTC)
    if not isinstance(text, str):
        raise ValueError("time is not a string")
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time has no UTC offset")
    return value.astimezone(UTC)
