"""The block reader: the fast (columnar) path and the line-by-line fallback give the same
tallies; a bad line costs only its block; Parquet logs and fsspec URLs read the same records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlci_action.monitoring import blocks
from mlci_action.monitoring.bins import bin_counts
from mlci_action.monitoring.drift import numeric_drift, reference_cdf
from mlci_action.monitoring.live import LiveRows, read_log
from mlci_action.monitoring.profile import numeric_profile
from mlci_action.monitoring.tally import SAMPLE, NumericTally, numeric_tally
from tests.monitoring.world import frame, records, world, write_log, write_parquet


def tallies(live: LiveRows) -> dict[str, object]:
    """What drift is judged on, comparable across reads."""
    out: dict[str, object] = {}
    for name, tally in [*live.features.items(), ("prediction", live.prediction)]:
        if isinstance(tally, NumericTally):
            out[name] = (tally.counts.tolist(), tally.at_points.tolist(), tally.missing)
        else:
            out[name] = (dict(tally.levels), tally.missing)
    for name, tally in (live.probabilities or {}).items():
        out[f"p{name}"] = (tally.counts.tolist(), tally.missing)
    out["confidence"] = (live.confidence.rows, round(live.confidence.total, 9))
    return out


def test_a_numeric_tally_fed_in_blocks_counts_as_one_pass_over_all_values() -> None:
    rng = np.random.default_rng(0)
    reference = numeric_profile(rng.normal(0, 1, 5000))
    points = reference_cdf(reference)[0]
    values = np.concatenate([rng.normal(0.3, 1.2, 30_000), [np.nan] * 7])
    tally = numeric_tally(reference.edges, points)
    for part in np.array_split(values, 9):
        tally.add(part)
    counts, missing = bin_counts(reference.edges, values)
    present = np.sort(values[~np.isnan(values)])
    assert tally.counts.tolist() == counts and tally.missing == missing == 7
    assert tally.at_points.tolist() == np.searchsorted(present, points, side="right").tolist()
    assert tally.sample.size == SAMPLE  # bounded, and its median is the window's, nearly
    assert abs(np.median(tally.sample) - np.median(present)) < 0.05
    whole = numeric_drift("x", reference, values, threshold=0.2, min_rows=1)
    assert numeric_drift("x", reference, tally, threshold=0.2, min_rows=1).psi == whole.psi


def test_a_bad_line_sends_only_its_block_down_the_slow_path_with_its_line_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = world()
    items = records(known.model, frame(400, seed=21))
    clean = write_log(tmp_path / "clean", items)
    lines = clean.read_text().splitlines(keepends=True)
    dirty = tmp_path / "dirty" / clean.name
    dirty.parent.mkdir()
    # line 251: not JSON; line 252: a time without an offset; a blank line is not a record
    bad = ["{broken\n", json.dumps({**items[0], "time": "2026-11-28T10:00:00"}) + "\n", "\n"]
    dirty.write_text("".join(lines[:250] + bad + lines[250:]), encoding="utf-8")
    monkeypatch.setattr(blocks, "CHUNK", 16_384)  # many blocks, the bad ones in the middle
    fast = read_log([str(clean.parent)], known.profile)
    slow = read_log([str(dirty.parent)], known.profile)
    assert fast.counts.rows == slow.counts.rows == 400
    assert slow.counts.malformed == 2 and slow.counts.lines == 402
    assert slow.counts.malformed_examples == [
        f"{dirty}:251: not JSON (Expecting property name enclosed in double quotes)",
        f"{dirty}:252: time: time has no UTC offset",
    ]
    assert tallies(fast) == tallies(slow)
    assert fast.first == slow.first and fast.last == slow.last


def test_mixed_value_types_in_a_column_fall_back_and_count_as_before(tmp_path: Path) -> None:
    known = world()
    items = records(known.model, frame(50, seed=22))
    items[3]["features"]["x1"] = "not a number"  # a string in a numeric column: missing
    items[4]["features"]["color"] = 7  # a number in a text column: the level "7"
    items[5]["id"] = 12345  # an id that is a number
    write_log(tmp_path, items)
    live = read_log([str(tmp_path)], known.profile, keep=True)
    assert live.counts.rows == 50 and live.counts.malformed == 0
    assert live.features["x1"].missing == 1
    color = live.features["color"]
    assert not isinstance(color, NumericTally) and color.levels["7"] == 1
    assert live.kept is not None and live.kept.ids[5] == "12345"


def test_a_parquet_log_gives_the_same_tallies_as_jsonl(tmp_path: Path) -> None:
    known = world()
    items = records(known.model, frame(300, seed=23))
    write_log(tmp_path / "jsonl", items)
    write_parquet(tmp_path / "parquet", items)
    from_jsonl = read_log([str(tmp_path / "jsonl")], known.profile, keep=True)
    from_parquet = read_log([str(tmp_path / "parquet")], known.profile, keep=True)
    assert from_parquet.counts.rows == 300 and from_parquet.counts.files == 1
    assert tallies(from_parquet) == tallies(from_jsonl)
    assert from_parquet.kept is not None and from_jsonl.kept is not None
    assert from_parquet.kept.ids == from_jsonl.kept.ids
    assert from_parquet.models == from_jsonl.models == ["demo abc123 sha256:" + "0" * 64]


def test_a_parquet_row_without_a_time_is_named_by_its_row(tmp_path: Path) -> None:
    known = world()
    items = records(known.model, frame(20, seed=24))
    items[6]["time"] = None
    path = write_parquet(tmp_path, items)
    live = read_log([str(tmp_path)], known.profile)
    assert live.counts.rows == 19 and live.counts.malformed == 1
    assert live.counts.malformed_examples == [f"{path}:row 7: time: time is not a string"]


def test_the_log_is_read_from_a_file_url_through_fsspec(tmp_path: Path) -> None:
    known = world()
    items = records(known.model, frame(120, seed=25))
    write_log(tmp_path / "log", items[:60])
    write_parquet(tmp_path / "log", items[60:])
    local = read_log([str(tmp_path / "log")], known.profile)
    remote = read_log([f"file://{tmp_path / 'log'}"], known.profile)
    assert remote.counts.files == 2 and remote.counts.rows == 120
    assert tallies(remote) == tallies(local)
