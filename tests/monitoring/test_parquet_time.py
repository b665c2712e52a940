"""The Parquet log's time column: a timestamp (what the serving image writes now) and the RFC
3339 string of older logs read to the same window; a window's start skips the row groups wholly
before it by their statistics, with the same counts as reading them, and a bad row after a
skipped row group is still named by its row in the file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlci_action.monitoring import blocks
from mlci_action.monitoring.live import read_log
from mlci_action.serving.inference_log.parquet import TIME
from tests.monitoring.test_reader import tallies
from tests.monitoring.world import frame, records, world

NOW = datetime.now(UTC).replace(microsecond=0)
"""After the files' mtime, which leaves out files last written before the window."""


def _write(path: Path, items: list[dict[str, Any]], *, stamp: bool, group: int) -> Path:
    """``items`` in row groups of ``group`` rows; the time a timestamp or the string."""
    table = pa.Table.from_pylist(items)
    if stamp:
        times = [datetime.fromisoformat(i["time"].replace("Z", "+00:00")) for i in items]
        table = table.set_column(
            table.schema.get_field_index("time"), "time", pa.array(times, type=TIME)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=group)
    return path


def test_a_timestamp_log_reads_the_window_a_string_log_reads(tmp_path: Path) -> None:
    known = world()
    items = records(known.model, frame(400, seed=31), start=NOW)
    for index in range(len(items)):  # one a minute: the first 280 are before the window
        items[index]["time"] = (NOW - timedelta(minutes=400 - index)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
    old = _write(tmp_path / "old" / "inference-1-0.parquet", items, stamp=False, group=50)
    new = _write(tmp_path / "new" / "inference-1-0.parquet", items, stamp=True, group=50)
    assert pq.read_schema(old).field("time").type == pa.string()
    window = {"since": timedelta(hours=2), "now": NOW}
    from_string = read_log([str(old.parent)], known.profile, **window)
    from_stamp = read_log([str(new.parent)], known.profile, **window)
    assert from_stamp.counts == from_string.counts
    assert from_stamp.counts.rows == 120 and from_stamp.counts.outside_window == 280
    assert tallies(from_stamp) == tallies(from_string)
    assert (from_stamp.first, from_stamp.last) == (from_string.first, from_string.last)
    assert from_stamp.first == NOW - timedelta(minutes=120)

    with new.open("rb") as handle:  # 5 of the 8 row groups wholly before the window: not read
        cutoff = round((NOW - timedelta(hours=2)).timestamp() * 1_000_000)
        read = list(blocks.parquet_blocks(str(new), handle, blocks.Wanted(cutoff=cutoff)))
    assert [(b.size, b.outside) for b in read if b.outside] == [(0, 250)]
    assert sum(b.size for b in read) == 150  # the row group astride the start is read whole


def test_a_bad_row_after_skipped_row_groups_is_named_by_its_row_in_the_file(
    tmp_path: Path,
) -> None:
    known = world()
    items = records(known.model, frame(100, seed=32), start=NOW)
    for index in range(100):
        items[index]["time"] = NOW - timedelta(minutes=100 - index)
    items[87]["time"] = None  # row 88 of the file, in the fourth row group of 25
    table = pa.Table.from_pylist(items, schema=pa.Table.from_pylist(items[:1]).schema)
    table = table.set_column(table.schema.get_field_index("time"), "time", table["time"].cast(TIME))
    path = tmp_path / "inference-1-0.parquet"
    pq.write_table(table, path, row_group_size=25)
    live = read_log([str(tmp_path)], known.profile, since=timedelta(minutes=20), now=NOW)
    assert live.counts.malformed_examples == [f"{path}:row 88: time: time is not a string"]
    assert live.counts.rows == 19 and live.counts.outside_window == 80
    assert live.counts.lines == 100
