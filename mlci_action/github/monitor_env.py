"""Where the action runs `mlci monitor`: with the monitor's own dependencies, installed when a
monitoring run first needs them.

The action image carries mlci's orchestrating side only (about 270 MB), because every pull
request's job pulls it. The monitor also needs numpy, pandas, scipy, scikit-learn, pyarrow and
fsspec (about 420 MB installed), and runs once a night: it installs them with uv from
``requirements/monitor.txt`` (exact versions, hashes required, no dependency resolution) into
a folder of the container, then runs `mlci monitor` in a child process with that folder on its
path. Where they can be imported already (a development install, ``pip install mlci``), the
monitor runs in-process and nothing is installed.

The child gets the action's environment without its inputs (``INPUT_*``: the GitHub token and
the registry password): the monitor reads the log with the runner's own credentials
(``AWS_*``, ``GOOGLE_*``...), and never needs the action's.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mlci_action.errors import InputError
from mlci_action.executors.base import MLCI_SOURCE
from mlci_action.github.monitor import Runner, monitor_command

MODULES = ("numpy", "pandas", "scipy", "sklearn", "pyarrow", "fsspec")
"""What the monitor imports beyond the action image's packages."""
IN_IMAGE = Path("/opt/mlci/requirements-monitor.txt")
"""The pins in the action image (the Dockerfile copies requirements/monitor.txt there)."""
IN_SOURCE = MLCI_SOURCE / "requirements" / "monitor.txt"
SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")


def missing(modules: tuple[str, ...] = MODULES) -> list[str]:
    """The monitor's modules this interpreter cannot import."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def pins() -> Path:
    """The pinned requirements: the image's copy, else the source tree's."""
    for path in (IN_IMAGE, IN_SOURCE):
        if path.is_file():
            return path
    raise InputError(
        "mlci monitor's dependencies are not installed and requirements/monitor.txt is missing",
        hint="pip install numpy pandas scipy scikit-learn pyarrow fsspec, or use mlci's image",
    )


@dataclass(frozen=True)
class OwnEnvironment:
    """`mlci monitor` in a child process whose path has ``target`` (installed once)."""

    target: Path
    requirements: Path
    uv: str
    environ: Mapping[str, str]
    out: TextIO

    def install(self) -> None:
        done = self.target / ".mlci-installed"  # the pins it holds: a new mlci reinstalls
        if done.is_file() and done.read_text() == self.requirements.read_text():
            return
        print(f"installing mlci monitor's dependencies ({', '.join(MODULES)})", file=self.out)
        self.out.flush()
        command = [
            self.uv,
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--python",
            sys.executable,
            "--target",
            str(self.target),
            "--requirement",
            str(self.requirements),
        ]
        env = self.child_environment()
        if SYSTEM_CAS.is_file():  # uv's own roots lack a proxy's CA; the image's bundle has it
            env.setdefault("SSL_CERT_FILE", str(SYSTEM_CAS))
        ran = subprocess.run(command, env=env, capture_output=True, text=True)
        if ran.returncode != 0:
            tail = "\n".join(ran.stderr.strip().splitlines()[-5:])
            raise InputError(
                f"could not install mlci monitor's dependencies from {self.requirements}: {tail}",
                hint="the runner needs to reach PyPI (or UV_INDEX_URL) for the nightly monitor",
            )
        done.write_text(self.requirements.read_text())

    def __call__(self, argv: list[str]) -> int:
        self.install()
        env = self.child_environment()
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.target), *filter(None, [env.get("PYTHONPATH")])]
        )
        command = [sys.executable, "-m", "mlci_action", "monitor", *argv]
        self.out.flush()
        if _is_file(self.out):
            return subprocess.run(command, env=env, stdout=self.out).returncode
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        self.out.write(done.stdout)
        return done.returncode

    def child_environment(self) -> dict[str, str]:
        """The action's environment without its inputs (the token, the registry password)."""
        return {k: v for k, v in self.environ.items() if not k.startswith("INPUT_")}


def _is_file(stream: TextIO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def runner(environ: Mapping[str, str], out: TextIO) -> Runner:
    """In-process when the monitor's modules import here; else its own environment, in
    ``MLCI_MONITOR_ENV`` (relative: to the workspace; a folder a workflow can keep with
    actions/cache) or else the temporary folder, which dies with the action's container."""
    if not missing():
        return monitor_command
    from mlci_action.executors.local import uv_bin

    workspace = Path(environ.get("GITHUB_WORKSPACE") or ".")
    target = workspace / environ["MLCI_MONITOR_ENV"] if environ.get("MLCI_MONITOR_ENV") else None
    target = target or Path(tempfile.gettempdir()) / "mlci-monitor-env"
    return OwnEnvironment(target, pins(), uv_bin(), environ, out)
