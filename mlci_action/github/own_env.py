"""Where the action runs what needs more than its image: in a child process with a set of
pinned requirements, installed when a run first needs them.

The action image carries mlci's orchestrating side only (about 270 MB), because every pull
request's job pulls it. Two kinds of run need more, and each has its own requirement set
(:data:`MONITOR`, :data:`RAY`): exact versions with hashes (``requirements/NAME.txt``, copied
into the image as ``/opt/mlci/requirements-NAME.txt``), installed with uv, no dependency
resolution, into a folder (``MLCI_MONITOR_ENV`` / ``MLCI_RAY_ENV``, relative to the workspace,
so a workflow can keep it with actions/cache; else the temporary folder, which dies with the
action's container). The work then runs in a child process with that folder on its path.
Where the modules import already (a development install, ``pip install 'mlci[ray]'``), it runs
in-process and nothing is installed.

What the child sees of the action's environment depends on what it is:

- ``mlci monitor`` reads the log with the runner's own credentials (``AWS_*``, ``GOOGLE_*``...)
  and never needs the action's inputs (``INPUT_*``: the GitHub token, the registry password):
  it does not get them.
- with ``executor: ray`` the child is the action itself (mlci's trusted code: it posts the
  comment and may push the image, so it keeps the inputs). The project's code runs on the
  cluster, which gets nothing of this environment but ``environment.pass_env``.
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

MARKER = "MLCI_OWN_ENV"
"""Set in the child to the requirement set's name: a child whose modules still do not import
fails instead of starting another child."""
SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Requirements:
    """One requirement set: what it is for, the modules it provides, where it is pinned."""

    name: str
    """``monitor`` or ``ray``: requirements/NAME.txt, /opt/mlci/requirements-NAME.txt"""
    purpose: str
    """For the log line and the messages: "mlci monitor's dependencies"."""
    modules: tuple[str, ...]
    """What the work imports beyond the action image's packages."""
    variable: str
    """The variable naming the folder to install into (relative: to the workspace)."""
    keeps_inputs: bool
    """Whether the child gets the action's ``INPUT_*`` (the token, the registry password)."""
    needed_for: str
    """The hint when the install fails: what the runner needs to reach PyPI for."""

    @property
    def in_image(self) -> Path:
        """The pins in the action image (the Dockerfile copies requirements/NAME.txt there)."""
        return Path("/opt/mlci") / f"requirements-{self.name}.txt"

    @property
    def in_source(self) -> Path:
        return MLCI_SOURCE / "requirements" / f"{self.name}.txt"

    def pins(self) -> Path:
        """The pinned requirements: the image's copy, else the source tree's."""
        for path in (self.in_image, self.in_source):
            if path.is_file():
                return path
        raise InputError(
            f"{self.purpose} are not installed and requirements/{self.name}.txt is missing",
            hint=f"pip install {' '.join(self.modules)}, or use mlci's image",
        )

    def target(self, environ: Mapping[str, str]) -> Path:
        """``$VARIABLE`` (relative: to the workspace), else a folder of the temporary folder."""
        if environ.get(self.variable):
            return Path(environ.get("GITHUB_WORKSPACE") or ".") / environ[self.variable]
        return Path(tempfile.gettempdir()) / f"mlci-{self.name}-env"


MONITOR = Requirements(
    name="monitor",
    purpose="mlci monitor's dependencies",
    modules=("numpy", "pandas", "scipy", "sklearn", "pyarrow", "fsspec"),
    variable="MLCI_MONITOR_ENV",
    keeps_inputs=False,
    needed_for="the nightly monitor",
)
RAY = Requirements(
    name="ray",
    purpose="the ray executor's dependencies",
    # the Ray Client, and the runner's side of partitioned data tests (the exact merges)
    modules=("ray", "numpy", "pandas", "pandera", "pyarrow"),
    variable="MLCI_RAY_ENV",
    keeps_inputs=True,
    needed_for="a run with environment.executor: ray",
)


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules this interpreter cannot import."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


@dataclass(frozen=True)
class OwnEnvironment:
    """A folder with one requirement set installed (once), and child processes of this
    interpreter with the folder on their path."""

    requirements: Requirements
    target: Path
    pins: Path
    uv: str
    environ: Mapping[str, str]
    out: TextIO

    def install(self) -> None:
        done = self.target / ".mlci-installed"  # the pins it holds: a new mlci reinstalls
        if done.is_file() and done.read_text() == self.pins.read_text():
            return
        modules = ", ".join(self.requirements.modules)
        print(f"installing {self.requirements.purpose} ({modules})", file=self.out)
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
            str(self.pins),
        ]
        env = {k: v for k, v in self.environ.items() if not k.startswith("INPUT_")}
        if SYSTEM_CAS.is_file():  # uv's own roots lack a proxy's CA; the image's bundle has it
            env.setdefault("SSL_CERT_FILE", str(SYSTEM_CAS))
        ran = subprocess.run(command, env=env, capture_output=True, text=True)
        if ran.returncode != 0:
            tail = "\n".join(ran.stderr.strip().splitlines()[-5:])
            raise InputError(
                f"could not install {self.requirements.purpose} from {self.pins}: {tail}",
                hint=f"the runner needs to reach PyPI (or UV_INDEX_URL) for "
                f"{self.requirements.needed_for}",
            )
        done.write_text(self.pins.read_text())

    def run(self, argv: list[str]) -> int:
        """``python ARGV`` with the folder on its path (installed first); its exit code. Its
        output goes to ``out``."""
        self.install()
        env = self.child_environment()
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.target), *filter(None, [env.get("PYTHONPATH")])]
        )
        env[MARKER] = self.requirements.name
        command = [sys.executable, *argv]
        self.out.flush()
        if _is_file(self.out):
            return subprocess.run(command, env=env, stdout=self.out).returncode
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        self.out.write(done.stdout)
        return done.returncode

    def child_environment(self) -> dict[str, str]:
        """The action's environment; without its inputs unless the set keeps them."""
        if self.requirements.keeps_inputs:
            return dict(self.environ)
        return {k: v for k, v in self.environ.items() if not k.startswith("INPUT_")}


def _is_file(stream: TextIO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def own_environment(
    requirements: Requirements, environ: Mapping[str, str], out: TextIO
) -> OwnEnvironment | None:
    """None when the set's modules import here (run in-process); else its own environment.
    A child of one (``MLCI_OWN_ENV``) whose modules still do not import is unusable input,
    never another child."""
    lacking = missing(requirements.modules)
    if not lacking:
        return None
    if environ.get(MARKER) == requirements.name:
        raise InputError(
            f"{requirements.purpose} were installed, but {', '.join(lacking)} does not import",
            hint=f"delete the folder {requirements.variable} names (or its cache) to reinstall",
        )
    from mlci_action.executors.local import uv_bin

    target = requirements.target(environ)
    return OwnEnvironment(requirements, target, requirements.pins(), uv_bin(), environ, out)
