"""What runs on a node of the Ray cluster, in the project's runtime environment.

One function, :func:`run_task`: lay out the task's files under the node's folder for this run
(the working directory's copy at the project's path, then the input files it was sent, as
bytes), run the project's command or ``python -m mlci_action.worker`` as a child process, and
hand back its exit code, log, result and declared output files, as bytes. No file is shared
with mlci's machine. The child dies with the task (``PR_SET_PDEATHSIG``), so cancelling the
task ends it.

This module is imported on the cluster: standard library and Ray only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = "/tmp/mlci-ray"
"""Each run's files on a node: ``ROOT/<run id>/fs/<path on mlci's machine>``."""
MAX_LOG_BYTES = 2**20


def node_path(run: str, path: str) -> str:
    return f"{ROOT}/{run}/fs{path}"


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _write(path: str, data: bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    partial.write_bytes(data)
    partial.replace(target)  # tasks on one node may write the same input at once


def _copy(source: str, target: str) -> None:
    _write(target, Path(source).read_bytes())


def _place_project(project: str) -> None:
    """The working directory Ray unpacked (this process's cwd) at the project's path."""
    shutil.copytree(os.getcwd(), project, dirs_exist_ok=True, copy_function=_copy)


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - MAX_LOG_BYTES))
        return handle.read().decode("utf-8", "replace")


def run_task(spec: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """``spec``: run, project, from_working_dir (the project is the job's working directory,
    else its files are among the inputs), argv or (task, request), cwd, env, outputs, timeout.
    ``inputs``: node path -> bytes (or an object ref of them)."""
    import ray

    started = time.perf_counter()
    if spec["from_working_dir"]:
        _place_project(spec["project"])
    refs = {path: value for path, value in inputs.items() if isinstance(value, ray.ObjectRef)}
    fetched = dict(zip(refs, ray.get(list(refs.values())), strict=True)) if refs else {}
    for path, value in inputs.items():
        _write(path, fetched.get(path, value))
    for path in spec["outputs"]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).unlink(missing_ok=True)
    bin_dir = os.path.dirname(sys.executable)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p)),
        "PYTHONHASHSEED": "0",
        **spec["env"],
    }
    Path(f"{ROOT}/{spec['run']}").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="mlci-task-", dir=f"{ROOT}/{spec['run']}"))
    log, result = scratch / "log.txt", scratch / "result.json"
    if spec.get("task"):
        request = scratch / "request.json"
        request.write_text(json.dumps(spec["request"]), encoding="utf-8")
        argv = [sys.executable, "-m", "mlci_action.worker", spec["task"], str(request), str(result)]
    else:
        argv = list(spec["argv"])
    timed_out = False
    with log.open("wb") as out:
        child = subprocess.Popen(
            argv,
            cwd=spec["cwd"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # the child dies with the task
        )
        try:
            code = child.wait(timeout=spec.get("timeout"))
        except subprocess.TimeoutExpired:
            child.kill()
            code, timed_out = child.wait(), True
        finally:  # cancelled (KeyboardInterrupt in this task): the child goes too
            if child.poll() is None:
                child.kill()
                child.wait()
    outputs = {p: Path(p).read_bytes() for p in spec["outputs"] if Path(p).is_file()}
    placed = {
        "node_id": ray.get_runtime_context().get_node_id(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    payload = json.loads(result.read_text(encoding="utf-8")) if result.is_file() else None
    text = _tail(log)
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "returncode": code,
        "timed_out": timed_out,
        "log": text,
        "result": payload,
        "outputs": outputs,
        "seconds": time.perf_counter() - started,
        **placed,
    }


def probe(run: str, lines: list[str] | None = None) -> dict[str, Any]:
    """Where the runtime environment was built, what it holds (packages and Python), and
    which of the requirement ``lines`` it lacks (:func:`lacking`)."""
    import importlib.metadata as metadata
    import platform

    import ray

    Path(f"{ROOT}/{run}").mkdir(parents=True, exist_ok=True)
    return {
        "python": platform.python_version(),
        "packages": {d.metadata["Name"]: d.version for d in metadata.distributions()},
        "node_id": ray.get_runtime_context().get_node_id(),
        "lacking": lacking(lines or []),
    }


def lacking(lines: list[str]) -> list[str]:
    """The requirement lines this node's Python does not satisfy as it is: not installed, of
    another version, or not a plain ``name<spec>; marker`` line (extras, URLs, pip options:
    left to pip). ``packaging`` comes with Ray."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            missing.append(line)
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        if requirement.url or requirement.extras:
            missing.append(line)
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(line)
    return missing


def clean(run: str) -> None:
    """This run's files on this node."""
    shutil.rmtree(f"{ROOT}/{run}", ignore_errors=True)
