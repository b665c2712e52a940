"""The ``local`` executor: a uv virtual environment per content hash, reused when unchanged."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlci_action import proc
from mlci_action.config import Config, Environment
from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.base import (
    MLCI_SOURCE,
    RUNTIME_REQUIREMENTS,
    ProcessRuntime,
    check_environment_files,
    environment_key,
)
from mlci_action.executors.environ import scrubbed
from mlci_action.record import EnvironmentInfo

_DONE = ".mlci-complete"
_PACKAGES = ".mlci-packages.json"
_UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def uv_bin() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise InputError("uv is not installed", hint="pip install uv") from None
        return found


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LocalExecutor:
    name = "local"

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    def _python(self, env: Environment) -> str:
        return env.python or ".".join(platform.python_version_tuple()[:2])

    def key(self, project: Path, config: Config) -> str:
        env = config.environment
        return environment_key(project, env, self._python(env), self.name)

    def prepare_image(self, image: str, log: Path, config: Config) -> None:
        return None  # no images here: the champion is scored in the project's environment

    def prepare(self, project: Path, config: Config, log: Path) -> ProcessRuntime:
        env = config.environment
        check_environment_files(project, env)
        key = self.key(project, config)
        root = self.cache_dir / "envs" / key[:20]
        python_version = self._python(env)
        with _locked(self.cache_dir / "envs" / f"{key[:20]}.lock"):
            reused = (root / _DONE).is_file()
            if not reused:
                self._build(project, env, root, python_version, log)
        packages = json.loads((root / _PACKAGES).read_text(encoding="utf-8"))
        info = EnvironmentInfo(
            key=key, python=python_version, executor=self.name, reused=reused, packages=packages
        )
        return ProcessRuntime(
            info=info,
            python=str(root / "bin" / "python"),
            bin_dir=root / "bin",
            pass_env=tuple(env.pass_env),
        )

    def _build(self, project: Path, env: Environment, root: Path, python: str, log: Path) -> None:
        shutil.rmtree(root, ignore_errors=True)
        uv = uv_bin()
        outputs: list[str] = []
        # a requirements file may name ${VARIABLES}: it sees the allow-list, not mlci's secrets
        build_env = {**scrubbed(os.environ, env.pass_env, build=True), **_UV_ENV}

        def step(*argv: str) -> None:
            done = proc.run([uv, *argv], cwd=project, env=build_env, inherit=False)
            outputs.append(f"$ uv {' '.join(argv)}\n{done.output}")
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("\n".join(outputs), encoding="utf-8")
            if not done.ok:
                shutil.rmtree(root, ignore_errors=True)
                raise StageFailure(
                    f"building the environment failed at `uv {argv[0]} {argv[1] if len(argv) > 1 else ''}`"
                    f" (exit {done.returncode})",
                    log_tail=done.tail(),
                    hint="check the requirements files and the Python version in mlci.yaml",
                )

        step("venv", "--quiet", "--python", python, str(root))
        target = ["--python", str(root / "bin" / "python")]
        if env.lock:
            step("pip", "sync", *target, str(project / env.lock))
        requirements = [arg for name in env.requirements for arg in ("-r", str(project / name))]
        step("pip", "install", *target, *requirements, *RUNTIME_REQUIREMENTS)
        # mlci's own package (only it, not the site-packages it may be installed in) on the path
        source = root / "mlci-src"
        source.mkdir()
        (source / "mlci_action").symlink_to(MLCI_SOURCE / "mlci_action", target_is_directory=True)
        site = next((root / "lib").glob("python3*/site-packages"))
        (site / "_mlci.pth").write_text(f"{source}\n", encoding="utf-8")
        freeze = proc.run([uv, "pip", "freeze", *target], cwd=project, env=build_env, inherit=False)
        packages = dict(line.split("==", 1) for line in freeze.output.splitlines() if "==" in line)
        (root / _PACKAGES).write_text(json.dumps(packages, sort_keys=True), encoding="utf-8")
        (root / _DONE).write_text(python, encoding="utf-8")
