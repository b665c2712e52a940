"""The run cache: entries verified against their manifests, evicted when damaged, written whole
or not at all, correct under concurrent writers; then the same through the real CLI."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest

from mlci_action.cache import (
    MANIFEST,
    TMP_MAX_AGE,
    CachedRun,
    RunCache,
    atomic_copy,
    atomic_write,
)
from mlci_action.record import StageResult, Status
from tests.conftest import ROOT
from tests.test_run import commit_change, read_run


class Warnings(list[str]):
    def __call__(self, text: str) -> None:
        self.append(text)


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


@pytest.fixture
def cache(tmp_path: Path, warnings: Warnings) -> RunCache:
    return RunCache(tmp_path / "cache", warn=warnings)


def a_file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def results(**changes: object) -> CachedRun:
    fields: dict[str, object] = {
        "computed_at": "2026-11-28T10:00:00+00:00",
        "stages": {"train": StageResult(status=Status.PASSED, seconds=3.0, reason="trained")},
        "params": {"C": {"baseline": "1.0", "candidate": "0.5"}},
        "trained": {"candidate": True},
    }
    return CachedRun.model_validate({**fields, **changes})


# ---------------------------------------------------------------------- models


def test_a_stored_model_has_a_manifest_and_is_read_back_verified(cache, tmp_path, warnings):
    stored = cache.store_model("k1", a_file(tmp_path / "m.skops", b"model bytes"))
    assert stored == cache.root / "models" / "k1" / "model.skops"
    manifest = json.loads((stored.parent / MANIFEST).read_text())
    assert manifest == {
        "files": {"model.skops": {"sha256": hashlib.sha256(b"model bytes").hexdigest(), "size": 11}}
    }
    assert cache.model("k1") == stored
    fetched = cache.fetch_model("k1", tmp_path / "run" / "candidate")
    assert fetched == tmp_path / "run" / "candidate" / "model.skops"
    assert fetched.read_bytes() == b"model bytes"
    assert sorted(p.name for p in fetched.parent.iterdir()) == ["model.skops"]  # no staging left
    assert warnings == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda f: f.write_bytes(f.read_bytes()[:4]), id="truncated"),
        pytest.param(lambda f: f.write_bytes(b"X" * f.stat().st_size), id="same-size"),
        pytest.param(lambda f: f.unlink(), id="missing"),
        pytest.param(lambda f: (f.parent / MANIFEST).write_text("{not json"), id="manifest"),
        pytest.param(lambda f: (f.parent / MANIFEST).unlink(), id="no-manifest"),
    ],
)
def test_a_damaged_model_is_evicted_with_a_warning(cache, tmp_path, warnings, damage):
    stored = cache.store_model("k1", a_file(tmp_path / "m.skops", b"model bytes"))
    assert stored is not None
    damage(stored)
    into = tmp_path / "run"
    assert cache.fetch_model("k1", into) is None
    assert not (cache.root / "models" / "k1").exists()  # evicted: the next run recomputes
    assert not into.exists() or list(into.iterdir()) == []  # nothing half-copied is left
    assert len(warnings) == 1 and "damaged" in warnings[0] and "evicted" in warnings[0]
    assert cache.model("k1") is None and len(warnings) == 1  # now a plain miss
    # and storing again works
    assert cache.store_model("k1", tmp_path / "m.skops") is not None
    assert cache.model("k1") is not None


def test_a_manifest_naming_files_outside_the_entry_is_refused(cache, tmp_path, warnings):
    stored = cache.store_model("k1", a_file(tmp_path / "m.skops", b"model"))
    assert stored is not None
    digest = {"sha256": hashlib.sha256(b"model").hexdigest(), "size": 5}
    (stored.parent / MANIFEST).write_text(
        json.dumps({"files": {"model.skops": digest, "../../escaped": digest}})
    )
    into = tmp_path / "run" / "candidate"
    assert cache.fetch_model("k1", into) is None
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "run" / "escaped").exists()
    assert "damaged" in warnings[0]


@pytest.mark.parametrize("key", ["", "../x", "a/b", ".hidden", "x" * 300])
def test_keys_are_checked(cache, key):
    with pytest.raises(ValueError, match="not a cache key"):
        cache.model(key)


@pytest.mark.parametrize("name", ["", "../out", "/abs", "a/../b", "a//b", MANIFEST])
def test_file_names_are_checked(cache, tmp_path, name):
    with pytest.raises(ValueError, match="not a file name"):
        cache.store_run("k", results(), {name: a_file(tmp_path / "f", b"f")})
    assert not (cache.root / "runs").exists()


# ------------------------------------------------------------------------ runs


def run_files(tmp_path: Path, model: bytes = b"model") -> dict[str, Path]:
    return {
        "models/candidate.skops": a_file(tmp_path / "w" / "candidate" / "model.skops", model),
        "predictions.csv": a_file(tmp_path / "w" / "predictions.csv", b"y\n1\n"),
        "logs/train.log": a_file(tmp_path / "w" / "logs" / "train.log", b"trained\n"),
    }


def test_run_results_round_trip_into_the_work_directory(cache, tmp_path, warnings):
    cache.store_run("r1", results(), run_files(tmp_path))
    into = tmp_path / "run"
    into.mkdir()
    found = cache.run("r1", into=into)
    assert found == results()
    assert (into / "models" / "candidate.skops").read_bytes() == b"model"
    assert (into / "predictions.csv").read_bytes() == b"y\n1\n"
    assert (into / "logs" / "train.log").read_bytes() == b"trained\n"
    assert not [p for p in into.iterdir() if p.name.startswith(".cache-")]
    assert cache.run("r1") == results()  # verified in place
    assert cache.run("missing") is None and warnings == []


def test_a_run_without_a_required_file_is_a_miss_and_is_kept(cache, tmp_path, warnings):
    cache.store_run("r1", results(), run_files(tmp_path))
    assert cache.run("r1", into=tmp_path / "run", require=["smoke-cases.json"]) is None
    assert not (tmp_path / "run" / "predictions.csv").exists()
    assert cache.run("r1") is not None and warnings == []


def test_a_damaged_run_entry_is_evicted_and_copies_nothing(cache, tmp_path, warnings):
    cache.store_run("r1", results(), run_files(tmp_path))
    model = cache.root / "runs" / "r1" / "models" / "candidate.skops"
    model.write_bytes(b"mo")  # truncated
    into = tmp_path / "run"
    into.mkdir()
    assert cache.run("r1", into=into) is None
    assert list(into.iterdir()) == []  # all or nothing: not even the good files
    assert not (cache.root / "runs" / "r1").exists()
    assert "runs/r1" in warnings[0] and "models/candidate.skops has 2 bytes" in warnings[0]


def test_results_that_do_not_parse_are_evicted(cache, tmp_path, warnings):
    cache.store_run("r1", results(), run_files(tmp_path))
    folder = cache.root / "runs" / "r1"
    bad = b'{"computed_at": 1}'
    (folder / "results.json").write_bytes(bad)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["results.json"] = {"sha256": hashlib.sha256(bad).hexdigest(), "size": 18}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert cache.run("r1", into=tmp_path / "run") is None
    assert not folder.exists() and "results.json is not valid" in warnings[0]


def test_an_entry_with_more_files_replaces_one_with_fewer_never_the_reverse(cache, tmp_path):
    files = run_files(tmp_path)
    cache.store_run("r1", results(computed_at="first"), files)
    smoke = a_file(tmp_path / "w" / "smoke-cases.json", b"{}")
    cache.store_run("r1", results(computed_at="second"), {**files, "smoke-cases.json": smoke})
    assert cache.run("r1", require=["smoke-cases.json"]) == results(computed_at="second")
    cache.store_run("r1", results(computed_at="third"), files)  # fewer: the entry stays
    assert cache.run("r1") == results(computed_at="second")
    cache.store_run("r1", results(computed_at="fourth"), {**files, "smoke-cases.json": smoke})
    assert cache.run("r1") == results(computed_at="second")  # same files: the first one stays


def test_a_damaged_entry_in_the_way_of_a_store_is_replaced(cache, tmp_path, warnings):
    cache.store_model("k1", a_file(tmp_path / "m.skops", b"model one"))
    (cache.root / "models" / "k1" / "model.skops").write_bytes(b"bad")
    stored = cache.store_model("k1", a_file(tmp_path / "m2.skops", b"model two"))
    assert stored is not None and stored.read_bytes() == b"model two"
    assert cache.model("k1") == stored and "damaged" in warnings[0]


# --------------------------------------------------------------- temp folders


def test_a_killed_writer_leaves_only_a_temp_folder_which_is_ignored_then_cleaned(
    cache, tmp_path, warnings
):
    # what a run killed while storing leaves: a half-written folder in tmp/, nothing in place
    tmp = cache.root / "tmp"
    stale = a_file(tmp / "models-k1-123-abc" / "model.skops", b"half").parent
    fresh = a_file(tmp / "runs-r1-456-def" / "results.json", b"{").parent
    old = time.time() - TMP_MAX_AGE - 60
    os.utime(stale, (old, old))
    assert cache.model("k1") is None and cache.run("r1") is None and warnings == []
    cache.store_model("k2", a_file(tmp_path / "m.skops", b"model"))  # a store cleans up
    assert not stale.exists()
    assert fresh.exists()  # may be another process's entry being written right now
    assert [p.name for p in tmp.iterdir()] == [fresh.name]


def test_a_store_that_cannot_write_warns_and_returns_none(tmp_path, warnings):
    root = a_file(tmp_path / "not-a-dir", b"")  # the cache root is a file
    cache = RunCache(root, warn=warnings)
    assert cache.store_model("k1", a_file(tmp_path / "m.skops", b"model")) is None
    assert "cannot store" in warnings[0]


# ---------------------------------------------------------------- concurrency


def _store_model(root: str, data: bytes) -> bool:
    source = Path(root) / "src" / f"{os.getpid()}-{data[:8].hex()}.skops"
    a_file(source, data)
    return RunCache(Path(root) / "cache").store_model("shared", source) is not None


def test_concurrent_writers_and_readers_see_whole_entries_only(tmp_path):
    contents = {bytes([i]) * (1 << 20) + bytes([i]) for i in range(8)}  # 1 MB each, distinct
    seen: list[bytes] = []
    stop = threading.Event()
    reader_cache = RunCache(
        tmp_path / "cache", warn=lambda text: seen.append(b"WARN " + text.encode())
    )

    def read() -> None:
        while not stop.is_set():
            found = reader_cache.model("shared")
            if found is not None:
                with suppress(FileNotFoundError):  # replaced after it was verified
                    seen.append(found.read_bytes())

    with ThreadPoolExecutor(2) as readers:
        futures = [readers.submit(read) for _ in range(2)]
        spawn = multiprocessing.get_context("spawn")  # no fork while threads run
        with ProcessPoolExecutor(4, mp_context=spawn) as writers:
            stored = list(writers.map(_store_model, [str(tmp_path)] * 8, sorted(contents)))
        stop.set()
        for future in futures:
            future.result()
    assert all(stored)
    final = RunCache(tmp_path / "cache").model("shared")
    assert final is not None and final.read_bytes() in contents
    assert all(data in contents for data in seen), "a reader saw a partial or mixed entry"
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []  # no temp folder left


def test_atomic_write_and_copy_from_many_threads(tmp_path):
    dest = tmp_path / "out" / "run.json"
    texts = [json.dumps({"writer": i, "pad": "x" * 200_000}) for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda text: atomic_write(dest, text), texts))
    assert dest.read_text() in texts
    sources = [a_file(tmp_path / f"src{i}", text.encode()) for i, text in enumerate(texts)]
    copy = tmp_path / "out" / "model.skops"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda src: atomic_copy(src, copy), sources))
    assert copy.read_text() in texts
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.skops", "run.json"]


# ------------------------------------------------------- through the real CLI


def loadable(model: Path) -> bool:
    from mlci_action.worker.modelio import load_model  # scikit-learn: slow, so only here

    return type(load_model(model)).__name__ == "Pipeline"


def run_key_folder(cache_dir: Path, project: Path) -> Path:
    return cache_dir / "runs" / read_run(project)["cache"]["key"]


def test_truncated_cache_files_are_detected_and_recomputed(make_project, mlci, shared_cache):
    project = make_project("classification")
    # a change only this test makes: its cache entries are its own in the shared cache
    commit_change(project, "params.yaml", "C: 1.0", "C: 0.37")
    first = mlci("run", str(project))
    assert first.returncode == 0, first.stderr
    candidate_key = read_run(project)["candidate"]["key"]

    # the training cache's model, truncated: a run that needs it (here: another run key, with
    # a baseline) notices, trains again, and passes
    model = shared_cache / "models" / candidate_key / "model.skops"
    model.write_bytes(model.read_bytes()[:100])
    second = mlci("run", str(project), "--base", "HEAD~1")
    assert second.returncode == 0, second.stderr
    assert "damaged" in second.stderr and f"models/{candidate_key[:12]}" in second.stderr
    run = read_run(project)
    assert run["verdict"] == "pass" and run["cache"]["hit"] is False
    assert run["cache"]["trained"]["candidate"] is True
    assert model.stat().st_size > 100  # stored again, whole

    # the run cache's copy of the model, truncated: not published, the run is recomputed
    entry = run_key_folder(shared_cache, project)
    (entry / "models" / "candidate.skops").write_bytes(b"PK\x03\x04")
    third = mlci("run", str(project), "--base", "HEAD~1")
    assert third.returncode == 0, third.stderr
    assert "damaged" in third.stderr and "results reused" not in third.stderr
    run = read_run(project)
    assert run["verdict"] == "pass" and run["cache"]["hit"] is False
    out_model = project / ".mlci" / "out" / "models" / "candidate.skops"
    assert loadable(out_model)

    # and the entry stored again is whole: the next run is a hit with the same model
    fourth = mlci("run", str(project), "--base", "HEAD~1")
    assert fourth.returncode == 0, fourth.stderr
    assert "results reused from the cache" in fourth.stderr and "damaged" not in fourth.stderr
    assert read_run(project)["cache"]["hit"] is True
    assert (entry / "models" / "candidate.skops").read_bytes() == out_model.read_bytes()
    assert loadable(out_model)


def test_two_concurrent_runs_on_a_fresh_cache(make_project, tmp_path):
    project = make_project("classification")
    cache_dir = tmp_path / "fresh-cache"
    env = {
        **os.environ,
        "MLCI_CACHE_DIR": str(cache_dir),
        "MLCI_EXECUTOR": "local",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    outs = [tmp_path / "out-a", tmp_path / "out-b"]
    runs = [
        subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "mlci"), "run", str(project), "--out", str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=900)
        assert run.returncode == 0, stderr
        assert "cache:" not in stderr  # no warning about the cache
    records = [json.loads((out / "run.json").read_text()) for out in outs]
    assert {r["verdict"] for r in records} == {"pass"}
    assert records[0]["cache"]["key"] == records[1]["cache"]["key"]

    cache = RunCache(cache_dir, warn=pytest.fail)
    assert [p.name for p in (cache_dir / "runs").iterdir()] == [records[0]["cache"]["key"]]
    assert [p.name for p in (cache_dir / "models").iterdir()] == [records[0]["candidate"]["key"]]
    assert cache.run(records[0]["cache"]["key"]) is not None  # valid (verified in place)
    assert cache.model(records[0]["candidate"]["key"]) is not None
    assert list((cache_dir / "tmp").iterdir()) == []
