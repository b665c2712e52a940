"""The environment variables the project's code gets: an allow-list, never mlci's own.

The training command, the model tests, schema code and the environment build run with
``PATH``, ``HOME``, the locale, ``TZ``, a few thread-count settings, mlci's ``MLCI_*`` task
variables (set per task by the stages, never inherited) and whatever the *trusted*
configuration names in ``environment.pass_env``. Everything else, above all the action's
``INPUT_*`` values, ``GITHUB_TOKEN``, ``ACTIONS_*``, ``MLCI_REGISTRY_*``, ``DOCKER_*`` and cloud
credentials, stays in mlci's process.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping

BASE = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TERM")
"""Always passed when mlci has them."""
BASE_PATTERNS = ("LC_*",)
TUNING = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Thread counts and BLAS kernel choices: settings of the machine, not secrets."""
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
"""The thread counts mlci sets when two trainings share the machine (see :func:`thread_limits`)."""
BUILD = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
"""What a package install needs to reach an index from this machine (the build only)."""


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(name, pattern) if pattern.endswith("*") else name == pattern
        for pattern in patterns
    )


def scrubbed(
    environ: Mapping[str, str], pass_env: Iterable[str] = (), *, build: bool = False
) -> dict[str, str]:
    """The variables of ``environ`` the project's code may see (``build``: and its install)."""
    allowed = [*BASE, *BASE_PATTERNS, *TUNING, *(BUILD if build else ()), *pass_env]
    return {name: value for name, value in environ.items() if _matches(name, allowed)}


def thread_limits(
    share: int, pass_env: Iterable[str] = (), environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The thread counts for one of two trainings running at the same time: ``share`` threads
    each (cores // 2), so that they do not oversubscribe the cores.

    mlci sets these itself (a command's own variables win over what it inherits), so the
    project cannot raise them; a lower count the machine sets is kept, and a variable the
    trusted configuration names in ``environment.pass_env`` is the user's choice: left alone.
    """
    explicit = set(pass_env)
    limits: dict[str, str] = {}
    for name in THREADS:
        if name in explicit and name in environ:
            continue
        inherited = environ.get(name, "")
        lower = int(inherited) if inherited.isdigit() and 0 < int(inherited) < share else None
        limits[name] = str(lower or share)
    return limits
