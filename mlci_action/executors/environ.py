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
