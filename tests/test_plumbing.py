"""The pieces under the stages: hashing, git, the run cache, parameters, the worker host."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from mlci_action import git as mgit
from mlci_action.cache import RunCache
from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.host import HostPool
from mlci_action.executors.tasks import ModelTests
from mlci_action.hashing import tree_digest
from mlci_action.params import diff, flatten
from tests.conftest import ROOT, git


def test_tree_digest_follows_content_not_mlci_output(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = tree_digest(tmp_path)
    (tmp_path / ".mlci" / "out").mkdir(parents=True)
    (tmp_path / ".mlci" / "out" / "run.json").write_text("{}")
    assert tree_digest(tmp_path) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert tree_digest(tmp_path) != first


def test_tree_digest_respects_gitignore(tmp_path):
    git(tmp_path, "init", "--quiet")
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / "kept.txt").write_text("k")
    first = tree_digest(tmp_path)
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "big.bin").write_text("noise")
    assert tree_digest(tmp_path) == first


def test_git_resolve_worktree_and_dirty(tmp_path):
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    (tmp_path / "f.txt").write_text("one")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "one")
    first = mgit.resolve(tmp_path, "main")
    (tmp_path / "f.txt").write_text("two")
    assert mgit.is_dirty(tmp_path, "")
    with mgit.worktree(tmp_path, first) as tree:
        assert (tree / "f.txt").read_text() == "one"
    assert not tree.exists()
    assert len(git(tmp_path, "worktree", "list").splitlines()) == 1  # removed and pruned
    with pytest.raises(InputError, match="does not exist"):
        mgit.resolve(tmp_path, "nope")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the repository to another user")
def test_git_trusts_a_workspace_owned_by_another_user(tmp_path, monkeypatch):
    """GitHub's runner user checks out the workspace; the action's container runs as root."""
    monkeypatch.setattr(mgit, "_TRUSTED", [])
    repo = tmp_path / "workspace"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, 1001, 1001, follow_symlinks=False)
    assert mgit.repo_root(repo) is None  # git refuses: "detected dubious ownership"
    mgit.trust(repo)
    assert mgit.repo_root(repo) == repo.resolve()
    sha = mgit.resolve(repo, "main")
    assert mgit.has_commit(repo, sha) and not mgit.has_commit(repo, "nope")
    with mgit.worktree(repo, sha) as tree:
        assert (tree / "a.txt").read_text() == "a"
    assert not (repo / ".git" / "config").read_text().count("safe")  # no config file written


def test_run_cache_round_trip(tmp_path):
    cache = RunCache(tmp_path)
    assert cache.model("k") is None
    model = tmp_path / "m.skops"
    model.write_bytes(b"model")
    stored = cache.store_model("k", model)
    assert cache.model("k") == stored and stored.read_bytes() == b"model"
    assert RunCache.run_key("a", None, "local") != RunCache.run_key("a", "b", "local")
    assert cache.run("missing") is None


def test_params_flatten_and_diff():
    assert flatten({"a": {"b": 1}, "c": [1, 2]}) == {"a.b": "1", "c": "[1, 2]"}
    assert diff({"lr": 0.1, "depth": 3}, {"lr": 0.2, "depth": 3, "new": True}) == {
        "lr": {"baseline": "0.1", "candidate": "0.2"},
        "new": {"baseline": None, "candidate": "true"},
    }


def test_worker_host_runs_tasks_and_survives_errors(tmp_path):
    pool = HostPool(tmp_path / "logs")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    try:
        host = pool.get(sys.executable, env)
        missing = {
            "train_path": str(tmp_path / "none.csv"),
            "target": "y",
            "estimator": "sklearn.linear_model.Ridge",
            "params": {},
            "seed": 0,
            "model_path": str(tmp_path / "m.skops"),
        }
        payload = host.call(
            "train-estimator", missing, cwd=tmp_path, env={}, log=tmp_path / "t.log"
        )
        assert (
            payload["ok"] is False
            and payload["kind"] == "input"
            and "not found" in payload["message"]
        )
        (tmp_path / "train.csv").write_text("x,y\n1,2\n2,4\n3,6\n")
        ok = {**missing, "train_path": str(tmp_path / "train.csv")}
        payload = host.call("train-estimator", ok, cwd=tmp_path, env={}, log=tmp_path / "t.log")
        assert payload["ok"] is True and (tmp_path / "m.skops").is_file()
        assert pool.get(sys.executable, env) is host  # reused, imports paid once
        idle = pool.get(sys.executable, env, lane="model-tests")  # warmed, never given a task
    finally:
        pool.close()
    assert host._proc.returncode == 0  # a used host ends when its input closes
    # one never used is stopped at once, not left to finish its imports first
    assert idle._proc.returncode == -signal.SIGTERM


def model_tests_request(tmp_path):
    """A whole model-tests request (the worker checks it against the typed model)."""
    return ModelTests(
        project_dir=str(tmp_path),
        path="tests",
        model=str(tmp_path / "model.skops"),
        train_path=str(tmp_path / "train.csv"),
        test_path=str(tmp_path / "test.csv"),
        target="y",
        task="regression",
        results_path=str(tmp_path / "results.json"),
    ).model_dump(mode="json")


def test_worker_host_death_is_a_stage_failure(tmp_path):
    pool = HostPool(tmp_path / "logs")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_exit.py").write_text(
        "import os\n\ndef test_exit():\n    print('bye', flush=True)\n    os._exit(9)\n"
    )
    try:
        host = pool.get(sys.executable, {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        with pytest.raises(StageFailure, match="died during model-tests") as info:
            host.call(
                "model-tests",
                model_tests_request(tmp_path),
                cwd=tmp_path,
                env={},
                log=tmp_path / "mt.log",
            )
        assert "exit()" in str(info.value)  # the hint
        assert not host.alive
    finally:
        pool.close()


def test_worker_host_timeout(tmp_path):
    pool = HostPool(tmp_path / "logs")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_slow.py").write_text(
        "import time\n\ndef test_slow():\n    time.sleep(60)\n"
    )
    try:
        host = pool.get(sys.executable, {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        with pytest.raises(StageFailure, match="timed out"):
            host.call(
                "model-tests",
                model_tests_request(tmp_path),
                cwd=tmp_path,
                env={},
                log=None,
                timeout=3,  # the test sleeps 60 s: any timeout short of that is exceeded
            )
    finally:
        pool.close()


def test_model_test_results_file(tmp_path, monkeypatch):
    """The plugin records outcomes to MLCI_RESULTS_PATH; fixtures skip outside mlci."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_m.py").write_text(
        "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n\ndef test_needs_model(model):\n    pass\n"
    )
    results = tmp_path / "r.json"
    import subprocess

    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MLCI_RESULTS_PATH": str(results)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            "-p",
            "mlci_action.pytest_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
    )
    outcomes = {
        t["nodeid"].split("::")[1]: t["outcome"] for t in json.loads(results.read_text())["tests"]
    }
    assert outcomes == {"test_ok": "passed", "test_bad": "failed", "test_needs_model": "skipped"}


def test_worker_cli_usage():
    from mlci_action.worker.__main__ import main

    assert main(["nope"]) == 2
    assert Path(ROOT / "mlci_action" / "worker" / "__main__.py").is_file()


def test_own_container_id_is_read_from_docker_s_bind_mounts(tmp_path):
    from mlci_action.images.docker_api import own_container_id

    cid = "0123456789abcdef" * 4
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "1 0 0:1 / / rw - overlay overlay rw\n"
        f"2 1 8:1 /var/lib/docker/containers/{cid}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
    )
    assert own_container_id(mountinfo) == cid
    mountinfo.write_text("1 0 0:1 / / rw - ext4 /dev/sda1 rw\n")
    assert own_container_id(mountinfo) is None
    assert own_container_id(tmp_path / "absent") is None


def test_file_digest_is_sha256_and_hashed_once_per_content_within_a_run(tmp_path, monkeypatch):
    import hashlib

    from mlci_action import hashing

    data = tmp_path / "train.csv"
    data.write_bytes(b"a,b\n1,2\n")
    reads: list[Path] = []
    real = hashing._read_digest
    monkeypatch.setattr(hashing, "_read_digest", lambda path: reads.append(path) or real(path))
    assert hashing.file_digest(data) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert hashing.file_digest(data) and len(reads) == 2  # outside a run: no memo
    with hashing.remembered():
        first = hashing.file_digest(data)
        tree = tree_digest(tmp_path)  # the tree key names the same file
        assert hashing.file_digest(data) == first and len(reads) == 3
        # same size, same mtime, new bytes: the ctime still tells
        stat = data.stat()
        data.write_bytes(b"a,b\n3,4\n")
        os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert hashing.file_digest(data) == hashlib.sha256(b"a,b\n3,4\n").hexdigest()
        assert tree_digest(tmp_path) != tree
    with hashing.remembered():  # a new run remembers nothing of the last
        hashing.file_digest(data)
    assert len(reads) == 5
