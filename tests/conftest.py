"""Shared fixtures: real git repositories made from the bundled examples, one shared cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            *("-c", "user.name=mlci tests", "-c", "user.email=tests@example.invalid"),
            *("-c", "safe.directory=*"),  # the e2e repositories belong to the "runner" user
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session, so the example's environment is built once."""
    return tmp_path_factory.mktemp("mlci-cache")


@pytest.fixture
def cache_env(shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MLCI_CACHE_DIR", str(shared_cache))
    return {"MLCI_CACHE_DIR": str(shared_cache)}


@pytest.fixture
def make_project(tmp_path: Path, cache_env: dict[str, str]) -> Callable[..., Path]:
    """Copy an example into a fresh git repository with one commit; return its directory."""

    def make(example: str = "classification", *, git_init: bool = True, name: str = "repo") -> Path:
        project = tmp_path / name
        shutil.copytree(
            EXAMPLES / example,
            project,
            ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__"),
        )
        if git_init:
            git(project, "init", "--quiet", "--initial-branch=main")
            git(project, "add", "-A")
            git(project, "commit", "--quiet", "-m", "baseline")
        return project

    return make


@pytest.fixture
def mlci(cache_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `mlci` CLI in a subprocess, as a user would."""

    def run(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        # local venvs unless a test asks for another executor (tests/docker do)
        defaults = {"COLUMNS": "200", "NO_COLOR": "1", "MLCI_EXECUTOR": "local"}
        env = {**os.environ, **cache_env, **defaults, **(env or {})}
        return subprocess.run(
            [str(ROOT / ".venv" / "bin" / "mlci"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    return run
