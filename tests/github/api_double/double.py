"""GitHubDouble: the HTTP server, the seeding of its state, and the checks of every exchange."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.github.api_double import checks, deployments, issues, pulls, repos
from tests.github.api_double.openapi import JSON, Operation, SpecFiller, load_openapi, now
from tests.github.api_double.routing import Route
from tests.github.api_double.state import (
    ACTIONS_APP,
    INSTALLATION_PREFIX,
    ROLE_TO_PERMISSION,
    Comment,
    Deployment,
    Fault,
    Issue,
    Pull,
    RecordedRequest,
    Reply,
    Review,
    State,
    error,
)

ROUTES: dict[str, Route] = {
    **repos.ROUTES,
    **pulls.ROUTES,
    **checks.ROUTES,
    **deployments.ROUTES,
    **issues.ROUTES,
}
"""The operations the double answers, by GitHub's operationId."""


class GitHubDouble:
    """api.github.com for one repository, on 127.0.0.1; see the package docstring."""

    def __init__(
        self,
        owner: str = "octo-org",
        repo: str = "models",
        *,
        token: str | None = "ghs_double_token",
        token_user: str | None = None,
        app_slug: str = ACTIONS_APP,
        user_refused: bool = False,
        spec: Path | None = None,
    ) -> None:
        """``token``: the one the double accepts (None: any). Like GitHub, the double tells
        whose the calling token is by its prefix:

        - an installation token (``ghs_``) is the GitHub App ``app_slug``'s (``github-actions``:
          GITHUB_TOKEN): its comments and statuses are authored by ``<app_slug>[bot]`` (type
          Bot), its check runs carry that app, and ``GET /user`` answers it 403;
        - any other token is the user ``token_user``'s: its writes are authored by that login,
          ``GET /user`` answers with it (403 with ``user_refused``), and a check run's create
          is answered 403 (only GitHub Apps may create check runs)."""
        if token is not None and not token.startswith(INSTALLATION_PREFIX) and not token_user:
            raise ValueError("a user token needs token_user, the login it belongs to")
        self.api = load_openapi(spec)
        self.token = token
        self.state = State(
            owner=owner,
            repo=repo,
            token_user=token_user,
            app_slug=app_slug,
            user_refused=user_refused,
        )
        self._caller = ""  # the token of the request being answered
        self.violations: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> GitHubDouble:
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.filler = SpecFiller(self.api, self.url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GitHubDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ seeding

    @property
    def full_name(self) -> str:
        return f"{self.state.owner}/{self.state.repo}"

    def _id(self) -> int:
        with self._lock:
            self.state.next_id += 1
            return self.state.next_id

    def add_pull(
        self,
        number: int,
        author: str,
        head_sha: str,
        base_ref: str = "main",
        head_repo_fork: bool = False,
        *,
        head_ref: str = "feature",
        title: str = "A change",
    ) -> None:
        self.state.pulls[number] = Pull(
            number, author, head_sha, base_ref, head_ref, head_repo_fork, title
        )

    def add_review(self, pr: int, user: str, state: str, commit_id: str | None = None) -> int:
        """A review submitted now, on the commit ``commit_id`` (default: the pull request's
        head at this moment), as on GitHub, where every review names the commit it was given
        on. ``state``: APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED. Returns its id."""
        sha = commit_id or self.state.pulls[pr].head_sha
        review = Review(self._id(), pr, user, state, sha, now())
        self.state.reviews.append(review)
        return review.id

    def push_head(self, pr: int, head_sha: str) -> None:
        """The author pushes ``head_sha`` to the pull request; earlier reviews keep the commit
        they were given on."""
        self.state.pulls[pr].head_sha = head_sha

    def dismiss_review(self, review_id: int) -> None:
        """A maintainer dismisses a review: GitHub keeps it in its place, in state DISMISSED."""
        [review] = [r for r in self.state.reviews if r.id == review_id]
        review.state = "DISMISSED"

    def add_comment(self, issue: int, user: str, body: str) -> int:
        comment = Comment(self._id(), issue, user, body, now(), now())
        self.state.comments[comment.id] = comment
        return comment.id

    def add_check_run(
        self, sha: str, name: str, *, app_slug: str | None = None, **fields: Any
    ) -> int:
        """A run created by the GitHub App ``app_slug`` (default: the double's own app)."""
        run_id = self._id()
        self.state.check_runs[run_id] = {"head_sha": sha, "name": name, **fields}
        self.state.check_run_apps[run_id] = app_slug or self.state.app_slug
        return run_id

    def set_permission(self, user: str, role: str) -> None:
        """``role``: admin, maintain, write, triage, read or none."""
        if role not in ROLE_TO_PERMISSION:
            raise ValueError(f"unknown role {role!r}")
        self.state.permissions[user] = role

    def set_check_runs_forbidden(self, forbidden: bool = True) -> None:
        """Answer check-run writes 403 like a token without ``checks: write``."""
        self.state.check_runs_forbidden = forbidden

    def set_branch(self, name: str, sha: str) -> None:
        """A branch a deployment's ``ref`` may name."""
        self.state.branches[name] = sha

    def add_deployment(
        self,
        sha: str,
        environment: str,
        payload: JSON | str,
        *,
        ref: str | None = None,
        creator: str = "deployer",
        transient: bool = False,
    ) -> int:
        """A deployment made earlier, by ``creator`` (another tool, say). Returns its id."""
        dep = Deployment(
            id=self._id(),
            sha=sha,
            ref=ref or sha,
            task="deploy",
            environment=environment,
            payload=payload,
            description="",
            creator=creator,
            app=None,
            transient=transient,
            production=environment == "production",
            created_at=now(),
        )
        self.state.deployments[dep.id] = dep
        return dep.id

    def add_deployment_status(
        self,
        deployment_id: int,
        state: str,
        *,
        creator: str = "deployer",
        auto_inactive: bool = True,
    ) -> None:
        """A status made earlier; ``auto_inactive`` as GitHub's request field."""
        deployments.add_status(
            self,
            self.state.deployments[deployment_id],
            state,
            auto_inactive=auto_inactive,
            creator=creator,
        )

    def deployment_states(self, deployment_id: int) -> list[str]:
        """A deployment's status states, newest first."""
        return [s.state for s in deployments.statuses_of(self, deployment_id)]

    def set_deployments_forbidden(self, forbidden: bool = True) -> None:
        """Answer deployment and deployment-status writes 403, like a token without
        ``deployments: write``."""
        self.state.deployments_forbidden = forbidden

    def next_number(self) -> int:
        """The next issue number (issues and pull requests share one numbering)."""
        with self._lock:
            return max([0, *self.state.pulls, *self.state.issues]) + 1

    def add_issue(
        self, title: str, body: str, *, user: str = "alice", labels: tuple[str, ...] = ()
    ) -> int:
        """An open issue someone opened earlier. Returns its number."""
        issue = Issue(self.next_number(), title, body, user, list(labels), now(), now())
        self.state.issues[issue.number] = issue
        return issue.number

    def set_issues_forbidden(self, forbidden: bool = True) -> None:
        """Answer issue writes 403, like a token without ``issues: write``."""
        self.state.issues_forbidden = forbidden

    def add_workflow(self, file: str, inputs: tuple[str, ...] = ("action", "reason")) -> None:
        """A workflow under .github/workflows/ with a workflow_dispatch trigger declaring
        ``inputs``."""
        self.state.workflows[file] = inputs

    def set_actions_forbidden(self, forbidden: bool = True) -> None:
        """Answer workflow dispatches 403, like a token without ``actions: write``."""
        self.state.actions_forbidden = forbidden

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        headers: dict[str, str] | None = None,
        body: Any = None,
        *,
        times: int = 1,
        processed: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with this status instead; with
        ``processed``, carry each one out first (GitHub did the write, the answer was lost)."""
        payload = body if body is not None else {"message": f"injected {status}"}
        self._faults.append(
            Fault(
                method.upper(),
                re.compile(path_regex),
                status,
                headers or {},
                payload,
                times,
                processed,
            )
        )

    # ------------------------------------------------------------------ assertions

    def comments_on(self, issue: int) -> list[Comment]:
        return sorted(
            (c for c in self.state.comments.values() if c.issue == issue), key=lambda c: c.id
        )

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def assert_clean(self) -> None:
        assert not self.violations, "GitHub API double saw violations:\n" + "\n".join(
            self.violations
        )

    # ------------------------------------------------------------------ handling

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        body: Any = None
        problems: list[str] = []
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                problems.append("request body is not JSON")
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, body, headers))
        found = self.api.match(method, path)
        if found is None:
            self._violate(f"{method} {path}: no such operation in api.github.com")
            return self._send(None, error(404, "Not Found"))
        op, values = found
        problems += self.api.check_request(op, values, query, body, raw)
        label = f"{method} {path} ({op.operation_id})"
        for problem in problems:
            self._violate(f"{label}: request: {problem}")
        fault = self._take_fault(method, path)
        if fault is not None and not fault.processed:
            return self._send(op, Reply(fault.status, fault.body, fault.headers), label)
        if problems:
            reply = error(422, "Validation Failed", errors=[{"message": p} for p in problems])
            return self._send(op, reply, label, check=False)
        auth = headers.get("authorization", "")
        if self.token is not None and auth.split(" ", 1)[-1] != self.token:
            return self._send(op, error(401, "Bad credentials"), label)
        route = ROUTES.get(op.operation_id)
        if route is None:
            self._violate(f"{label}: not implemented by the double")
            return self._send(op, error(404, "Not Found"), label, check=False)
        params = dict(zip(re.findall(r"\{([^}]+)\}", op.template), values, strict=True))
        try:
            with self._lock:
                if (params.get("owner"), params.get("repo")) not in (
                    (None, None),
                    (self.state.owner, self.state.repo),
                ):
                    raise error(404, "Not Found")
                self._caller = auth.split(" ", 1)[-1]
                reply = route(self, params, query, body)
        except Reply as raised:
            reply = raised
        if fault is not None:  # processed: the state changed, the client never hears of it
            self._send(op, reply, label)
            return self._send(op, Reply(fault.status, fault.body, fault.headers), label)
        return self._send(op, reply, label)

    def _violate(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.path.search(path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _send(
        self, op: Operation | None, reply: Reply, label: str = "", *, check: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        if op is not None and check:
            for problem in self.api.check_response(op, reply.status, reply.body):
                self._violate(f"{label}: response {reply.status}: {problem}")
        headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-GitHub-Request-Id": f"MLCI:{len(self.requests)}",
            **reply.headers,
        }
        if reply.body is None:
            return reply.status, headers, b""
        headers["Content-Type"] = "application/json; charset=utf-8"
        return reply.status, headers, json.dumps(reply.body).encode()

    # ------------------------------------------------------------------ bodies

    @property
    def repo_url(self) -> str:
        return f"{self.url}/repos/{self.full_name}"

    def user(self, login: str, schema: str = "simple-user") -> JSON:
        bot = login.endswith("[bot]")
        uid = _uid(login)
        page = f"apps/{login.removesuffix('[bot]')}" if bot else login
        return self.filler.fill(
            schema,
            {
                "login": login,
                "id": uid,
                "node_id": f"U_{uid}",
                "type": "Bot" if bot else "User",
                "site_admin": False,
                "html_url": f"https://github.com/{page}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "gravatar_id": "",
                "user_view_type": "private" if schema == "private-user" else "public",
            },
            f"{self.url}/users/{login}",
        )

    def repository(self, schema: str = "full-repository", *, fork: bool = False) -> JSON:
        owner, name = self.state.owner, self.state.repo
        full_name = f"{owner}-fork/{name}" if fork else self.full_name
        return self.filler.fill(
            schema,
            {
                "id": 4242 + fork,
                "node_id": f"R_{4242 + fork}",
                "name": name,
                "full_name": full_name,
                "owner": self.user(full_name.split("/")[0]),
                "private": False,
                "fork": fork,
                "visibility": "public",
                "default_branch": "main",
                "url": f"{self.url}/repos/{full_name}",
                "html_url": f"https://github.com/{full_name}",
                "permissions": {
                    "admin": False,
                    "maintain": False,
                    "push": True,
                    "triage": True,
                    "pull": True,
                },
            },
            f"{self.url}/repos/{full_name}",
        )

    def app(self, slug: str) -> JSON:
        """The GitHub App ``slug`` as a check run's ``app``."""
        actions = slug == ACTIONS_APP
        app_id = 15368 if actions else _uid(slug) % 1_000_000 + 1
        return self.filler.fill(
            "nullable-integration",
            {
                "id": app_id,
                "slug": slug,
                "node_id": f"A_{app_id}",
                "client_id": f"Iv1.{app_id:016x}",
                "owner": self.user("github" if actions else self.state.owner),
                "name": "GitHub Actions" if actions else slug,
                "description": None,
                "external_url": "https://help.github.com/en/actions" if actions else "",
                "html_url": f"https://github.com/apps/{slug}",
                "permissions": {"checks": "write", "issues": "write", "metadata": "read"},
                "events": [],
            },
            f"{self.url}/apps/{slug}",
        )

    def installation(self) -> bool:
        """Whether the request being answered came with an installation token."""
        return self._caller.startswith(INSTALLATION_PREFIX)

    def actor(self) -> str:
        """The login the request being answered writes as."""
        if self.installation():
            return f"{self.state.app_slug}[bot]"
        if not self.state.token_user:
            raise error(401, "Bad credentials")  # a user token whose login the test did not set
        return self.state.token_user


def _uid(login: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(login)) % 10_000_000 + 1


# ---------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    double: GitHubDouble
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, out_headers, body = self.double.handle(self.command, self.path, headers, raw)
        except Exception as exc:  # a bug in the double: fail the test, answer 500
            self.double._violate(f"{self.command} {self.path}: the double crashed: {exc!r}")
            status, out_headers, body = 500, {}, b""
        self.send_response(status)
        for key, value in out_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
