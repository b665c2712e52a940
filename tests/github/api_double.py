"""A stateful double of api.github.com that checks itself against GitHub's OpenAPI description.

A real HTTP server on 127.0.0.1 (a ``ThreadingHTTPServer`` in a thread) answers the few
endpoints mlci's action calls, from state the test seeds (pulls, reviews, permissions,
comments). Every request it receives and every response it sends is validated against
GitHub's published description of api.github.com, the npm package ``@octokit/openapi``
(pinned in ``scripts/github-openapi.sh``, which installs it into ``.cache/octokit-openapi/``;
``MLCI_GITHUB_OPENAPI`` points elsewhere). A request GitHub would reject gets a 422 (or the
404 of an unknown endpoint) and a violation; a response the double builds that the
description does not allow is a violation too. ``assert_clean()`` fails a test on either.

    with GitHubDouble() as gh:
        gh.add_pull(7, author="alice", head_sha="a" * 40)
        ...  # point the client at gh.url
        gh.assert_clean()

Bodies are the description's schemas: the fields a test seeds are set from the state, and
every other required field is filled from its schema (URLs under the double, timestamps,
zeros, ``None`` where the schema allows null) by :func:`SpecFiller.fill`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry
from referencing.jsonschema import DRAFT4

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "github-openapi.sh"
DEFAULT_SPEC = (
    ROOT / ".cache/octokit-openapi/node_modules/@octokit/openapi/generated/api.github.com.json"
)
SPEC_URI = "https://mlci.invalid/api.github.com.json"
DOCS = "https://docs.github.com/rest"
JSON = dict[str, Any]
INSTALLATION_PREFIX = "ghs_"  # a GitHub App installation's token, GITHUB_TOKEN among them
ACTIONS_APP = "github-actions"  # the GitHub App GITHUB_TOKEN belongs to


def spec_path() -> Path:
    """The api.github.com description: ``$MLCI_GITHUB_OPENAPI``, else the pinned npm cache."""
    override = os.environ.get("MLCI_GITHUB_OPENAPI")
    if override:
        return Path(override)
    if not DEFAULT_SPEC.is_file():
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.DEVNULL)
    return DEFAULT_SPEC


# ---------------------------------------------------------------------------- the description


def _pointer(*parts: str | int) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    pointer: tuple[str, ...]  # ("paths", template, method)
    pattern: re.Pattern[str]
    literal_segments: int


class OpenAPI:
    """GitHub's description, its operations by path template, and cached schema validators."""

    def __init__(self, path: Path) -> None:
        self.spec: JSON = json.loads(path.read_text())
        self.version = self.spec["info"]["version"]
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, DRAFT4.create_resource(self.spec)
        )
        self._validators: dict[tuple[str, bool], Any] = {}
        self._lock = threading.Lock()
        ops: list[Operation] = []
        for template, item in self.spec["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
            for method in item:
                if method in ("get", "post", "put", "patch", "delete", "head"):
                    ops.append(
                        Operation(
                            method=method.upper(),
                            template=template,
                            operation_id=item[method]["operationId"],
                            pointer=("paths", template, method),
                            pattern=re.compile(f"^{regex}$"),
                            literal_segments=literal,
                        )
                    )
        # literal segments win over parameters: /check-runs/{id} before /{owner}/{repo}
        self.operations = sorted(ops, key=lambda o: -o.literal_segments)

    def at(self, *parts: str | int) -> Any:
        node: Any = self.spec
        for part in parts:
            node = node[part]
        return node

    def deref(self, node: Any, where: tuple[str | int, ...]) -> tuple[Any, tuple[str | int, ...]]:
        """Follow a non-schema ``$ref`` (a parameter, a response) to its target and its place."""
        while isinstance(node, dict) and "$ref" in node:
            where = tuple(
                p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/")
            )
            node = self.at(*where)
        return node, where

    def match(self, method: str, path: str) -> tuple[Operation, list[str]] | None:
        candidates = [o for o in self.operations if o.method == method]
        for op in candidates:
            m = op.pattern.match(path)
            if m:
                return op, [unquote(g) for g in m.groups()]
        return None

    def errors(self, where: tuple[str | int, ...], instance: Any, *, response: bool) -> list[str]:
        """Messages of ``instance`` against the schema at ``where``, refs resolved in the spec."""
        key = (_pointer(*where), response)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                cls = OAS30ReadValidator if response else OAS30WriteValidator
                validator = cls({"$ref": SPEC_URI + key[0]}, registry=self.registry)
                self._validators[key] = validator
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


@functools.cache
def load_openapi(path: Path | None = None) -> OpenAPI:
    return OpenAPI(path or spec_path())


def _coerce(value: str, schema: JSON) -> Any:
    """A path or query string as the JSON value its schema types it as (unchanged if not)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "array":
        return value.split(",")
    return value


# ---------------------------------------------------------------------------- filling bodies


class SpecFiller:
    """Builds a body of a named schema: given fields as set, required others from the schema."""

    def __init__(self, api: OpenAPI, base_url: str) -> None:
        self.api = api
        self.base_url = base_url

    def fill(self, schema_name: str, given: JSON, url_prefix: str) -> JSON:
        schema = self.api.at("components", "schemas", schema_name)
        return self._object(schema, given, url_prefix)

    def _resolve(self, schema: JSON) -> JSON:
        while "$ref" in schema:
            schema = self.api.at(*schema["$ref"][2:].split("/"))
        if "allOf" in schema:
            merged: JSON = {"type": "object", "properties": {}, "required": []}
            for part in schema["allOf"]:
                part = self._resolve(part)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
            return merged
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self._resolve(schema[key][0])
        return schema

    def _object(self, schema: JSON, given: JSON, url_prefix: str) -> JSON:
        schema = self._resolve(schema)
        out = dict(given)
        for name in schema.get("required", []):
            if name not in out:
                out[name] = self._value(name, schema["properties"].get(name, {}), url_prefix)
        return out

    def _value(self, name: str, schema: JSON, url_prefix: str) -> Any:
        schema = self._resolve(schema)
        if schema.get("nullable"):
            return None
        kind = schema.get("type")
        if "enum" in schema:
            return schema["enum"][0]
        if kind == "object":
            return self._object(schema, {}, url_prefix)
        if kind == "array":
            return []
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return 0
        if schema.get("format") == "date-time" or name.endswith("_at"):
            return now()
        if name == "url":
            return url_prefix
        if name.endswith("_url") or schema.get("format") == "uri":
            return f"{url_prefix}/{name.removesuffix('_url')}"
        if name == "node_id":
            return "MDQ6VXNlcjA="
        return ""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- state and records


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    headers: dict[str, str]


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    processed: bool = False
    """The request is carried out, and only the answer is replaced (a 502 after the write)."""


@dataclass
class Pull:
    number: int
    author: str
    head_sha: str
    base_ref: str
    head_ref: str
    head_repo_fork: bool
    title: str


@dataclass
class Comment:
    id: int
    issue: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class Review:
    id: int
    pr: int
    user: str
    state: str
    commit_id: str
    submitted_at: str


@dataclass
class State:
    owner: str
    repo: str
    token_user: str | None
    app_slug: str = ACTIONS_APP
    user_refused: bool = False
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)
    check_runs: dict[int, JSON] = field(default_factory=dict)
    check_run_apps: dict[int, str] = field(default_factory=dict)
    """The slug of the GitHub App that created each check run."""
    statuses: list[JSON] = field(default_factory=list)
    check_runs_forbidden: bool = False
    next_id: int = 1000


class Reply(Exception):
    """A response from a route; raised for errors, returned for success."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str, doc: str = DOCS, **extra: Any) -> Reply:
    return Reply(
        status, {"message": message, "documentation_url": doc, "status": str(status), **extra}
    )


# GitHub's limits that its description does not state (it answers 422 "Validation Failed").
EXTRA_LIMITS: dict[str, Callable[[Any], str | None]] = {
    "repos/create-commit-status": lambda b: (
        "description is too long (maximum is 140 characters)"
        if isinstance(b, dict) and len(b.get("description") or "") > 140
        else None
    ),
    "issues/create-comment": lambda b: (
        "body is too long (maximum is 65536 characters)"
        if isinstance(b, dict) and len(b.get("body") or "") > 65536
        else None
    ),
    "issues/update-comment": lambda b: (
        "body is too long (maximum is 65536 characters)"
        if isinstance(b, dict) and len(b.get("body") or "") > 65536
        else None
    ),
}

ROLE_TO_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


# ---------------------------------------------------------------------------- the double


class GitHubDouble:
    """api.github.com for one repository, on 127.0.0.1; see the module docstring."""

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
            return self._send(None, _error(404, "Not Found"))
        op, values = found
        problems += self._check_request(op, values, query, body, raw)
        label = f"{method} {path} ({op.operation_id})"
        for problem in problems:
            self._violate(f"{label}: request: {problem}")
        fault = self._take_fault(method, path)
        if fault is not None and not fault.processed:
            return self._send(op, Reply(fault.status, fault.body, fault.headers), label)
        if problems:
            reply = _error(422, "Validation Failed", errors=[{"message": p} for p in problems])
            return self._send(op, reply, label, check=False)
        auth = headers.get("authorization", "")
        if self.token is not None and auth.split(" ", 1)[-1] != self.token:
            return self._send(op, _error(401, "Bad credentials"), label)
        route = ROUTES.get(op.operation_id)
        if route is None:
            self._violate(f"{label}: not implemented by the double")
            return self._send(op, _error(404, "Not Found"), label, check=False)
        params = dict(zip(re.findall(r"\{([^}]+)\}", op.template), values, strict=True))
        try:
            with self._lock:
                if (params.get("owner"), params.get("repo")) not in (
                    (None, None),
                    (self.state.owner, self.state.repo),
                ):
                    raise _error(404, "Not Found")
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

    def _check_request(
        self, op: Operation, values: list[str], query: dict[str, list[str]], body: Any, raw: bytes
    ) -> list[str]:
        problems: list[str] = []
        operation = self.api.at(*op.pointer)
        declared: list[tuple[JSON, tuple[str | int, ...]]] = []
        for item_at in (("paths", op.template), op.pointer):
            for i, param in enumerate(self.api.at(*item_at).get("parameters", [])):
                declared.append(self.api.deref(param, (*item_at, "parameters", i)))
        names = re.findall(r"\{([^}]+)\}", op.template)
        path_values = dict(zip(names, values, strict=True))
        seen_query: set[str] = set()
        for param, where in declared:
            name, place = param["name"], param["in"]
            if place == "path":
                raw_value: str | None = path_values.get(name)
            elif place == "query":
                seen_query.add(name)
                raw_value = query[name][-1] if name in query else None
            else:
                continue
            if raw_value is None:
                if param.get("required"):
                    problems.append(f"missing required {place} parameter {name!r}")
                continue
            value = _coerce(raw_value, self.api.deref(param["schema"], ())[0])
            for message in self.api.errors((*where, "schema"), value, response=False):
                problems.append(f"{place} parameter {name!r}={raw_value!r}: {message}")
        for name in sorted(set(query) - seen_query):
            problems.append(f"query parameter {name!r} is not defined for this operation")
        request_body = operation.get("requestBody")
        if request_body is None:
            if raw:
                problems.append("this operation takes no request body")
            return problems
        request_body, where = self.api.deref(request_body, (*op.pointer, "requestBody"))
        if body is None:
            if request_body.get("required"):
                problems.append("a JSON request body is required")
            return problems
        if "application/json" in request_body.get("content", {}):
            schema_at = (*where, "content", "application/json", "schema")
            problems += self.api.errors(schema_at, body, response=False)
        limit = EXTRA_LIMITS.get(op.operation_id)
        too_long = limit(body) if limit else None
        if too_long:
            problems.append(too_long)
        return problems

    def _send(
        self, op: Operation | None, reply: Reply, label: str = "", *, check: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        if op is not None and check:
            for problem in self._check_response(op, reply):
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

    def _check_response(self, op: Operation, reply: Reply) -> list[str]:
        responses = self.api.at(*op.pointer, "responses")
        key = str(reply.status)
        if key in responses:
            response, where = self.api.deref(responses[key], (*op.pointer, "responses", key))
        elif reply.status >= 400:
            # GitHub answers any operation with its error shape (403 without checks:write,
            # 401, 5xx) whether or not the description lists the status
            schema = "validation-error" if reply.status == 422 else "basic-error"
            return self.api.errors(("components", "schemas", schema), reply.body, response=True)
        else:
            return [f"status {reply.status} is not a response of this operation"]
        content = response.get("content", {})
        if "application/json" not in content:
            return [] if reply.body is None else ["this response has no body"]
        if reply.body is None:
            return ["this response needs a JSON body"]
        schema_at = (*where, "content", "application/json", "schema")
        return self.api.errors(schema_at, reply.body, response=True)

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

    def comment_body(self, c: Comment) -> JSON:
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{self.repo_url}/issues/comments/{c.id}",
            "html_url": f"https://github.com/{self.full_name}/pull/{c.issue}#issuecomment-{c.id}",
            "issue_url": f"{self.repo_url}/issues/{c.issue}",
            "body": c.body,
            "user": self.user(c.user),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "author_association": "NONE" if c.user.endswith("[bot]") else "CONTRIBUTOR",
        }

    def pull_body(self, p: Pull) -> JSON:
        url = f"{self.repo_url}/pulls/{p.number}"
        head_repo = self.repository("repository", fork=p.head_repo_fork)
        base_repo = self.repository("repository")
        return self.filler.fill(
            "pull-request",
            {
                "id": 9000 + p.number,
                "node_id": f"PR_{p.number}",
                "number": p.number,
                "state": "open",
                "locked": False,
                "title": p.title,
                "user": self.user(p.author),
                "url": url,
                "html_url": f"https://github.com/{self.full_name}/pull/{p.number}",
                "issue_url": f"{self.repo_url}/issues/{p.number}",
                "comments_url": f"{self.repo_url}/issues/{p.number}/comments",
                "review_comments_url": f"{url}/comments",
                "commits_url": f"{url}/commits",
                "statuses_url": f"{self.repo_url}/statuses/{p.head_sha}",
                "head": {
                    "label": f"{head_repo['owner']['login']}:{p.head_ref}",
                    "ref": p.head_ref,
                    "sha": p.head_sha,
                    "repo": head_repo,
                    "user": head_repo["owner"],
                },
                "base": {
                    "label": f"{self.state.owner}:{p.base_ref}",
                    "ref": p.base_ref,
                    "sha": "0" * 40,
                    "repo": base_repo,
                    "user": base_repo["owner"],
                },
                "author_association": "CONTRIBUTOR",
                "draft": False,
                "merged": False,
                "mergeable_state": "clean",
                "created_at": now(),
                "updated_at": now(),
            },
            url,
        )

    def review_body(self, r: Review) -> JSON:
        html = f"https://github.com/{self.full_name}/pull/{r.pr}#pullrequestreview-{r.id}"
        pull_url = f"{self.repo_url}/pulls/{r.pr}"
        return {
            "id": r.id,
            "node_id": f"PRR_{r.id}",
            "user": self.user(r.user),
            "body": "",
            "state": r.state,
            "commit_id": r.commit_id,
            "html_url": html,
            "pull_request_url": pull_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
            "author_association": "MEMBER" if r.user in self.state.permissions else "NONE",
            "submitted_at": r.submitted_at,
        }

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
            raise _error(401, "Bad credentials")  # a user token whose login the test did not set
        return self.state.token_user


def _uid(login: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(login)) % 10_000_000 + 1


def _page(double: GitHubDouble, query: dict[str, list[str]], items: list[JSON], path: str) -> Reply:
    per_page = min(int(query.get("per_page", ["30"])[-1]), 100)
    page = max(int(query.get("page", ["1"])[-1]), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []

    def link(n: int, rel: str) -> str:
        return f'<{double.url}{path}?{urlencode({"per_page": per_page, "page": n})}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    headers = {"Link": ", ".join(links)} if links else {}
    return Reply(200, items[(page - 1) * per_page : page * per_page], headers)


# ---------------------------------------------------------------------------- routes

Route = Callable[[GitHubDouble, dict[str, str], dict[str, list[str]], Any], Reply]
ROUTES: dict[str, Route] = {}


def route(operation_id: str) -> Callable[[Route], Route]:
    def register(fn: Route) -> Route:
        ROUTES[operation_id] = fn
        return fn

    return register


def _pull(d: GitHubDouble, number: str) -> Pull:
    pull = d.state.pulls.get(int(number))
    if pull is None:
        raise _error(404, "Not Found")
    return pull


@route("repos/get")
def _get_repo(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    return Reply(200, d.repository())


@route("users/get-authenticated")
def _get_user(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    if d.installation():
        raise _error(403, "Resource not accessible by integration")
    login = d.actor()
    if d.state.user_refused:
        raise _error(403, "Resource not accessible by personal access token")
    return Reply(200, d.user(login, "private-user"))


@route("pulls/get")
def _get_pull(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    return Reply(200, d.pull_body(_pull(d, p["pull_number"])))


@route("issues/list-comments")
def _list_comments(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    pull = _pull(d, p["issue_number"])
    items = [d.comment_body(c) for c in d.comments_on(pull.number)]
    return _page(d, q, items, f"/repos/{d.full_name}/issues/{pull.number}/comments")


@route("issues/create-comment")
def _create_comment(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    pull = _pull(d, p["issue_number"])
    comment_id = d.add_comment(pull.number, d.actor(), b["body"])
    body = d.comment_body(d.state.comments[comment_id])
    return Reply(201, body, {"Location": body["url"]})


@route("issues/update-comment")
def _update_comment(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    comment = d.state.comments.get(int(p["comment_id"]))
    if comment is None:
        raise _error(404, "Not Found")
    comment.body, comment.updated_at = b["body"], now()
    return Reply(200, d.comment_body(comment))


def _check_run_body(d: GitHubDouble, run_id: int, fields: JSON) -> JSON:
    output = fields.get("output") or {}
    return d.filler.fill(
        "check-run",
        {
            "id": run_id,
            "node_id": f"CR_{run_id}",
            "head_sha": fields["head_sha"],
            "name": fields["name"],
            "external_id": fields.get("external_id", ""),
            "url": f"{d.repo_url}/check-runs/{run_id}",
            "html_url": f"https://github.com/{d.full_name}/runs/{run_id}",
            "details_url": fields.get("details_url"),
            "status": fields.get("status", "queued"),
            "conclusion": fields.get("conclusion"),
            "started_at": fields.get("started_at", now()),
            "completed_at": fields.get("completed_at"),
            "check_suite": {"id": 5000 + run_id},
            "output": {
                "title": output.get("title"),
                "summary": output.get("summary"),
                "text": output.get("text"),
                "annotations_count": 0,
                "annotations_url": f"{d.repo_url}/check-runs/{run_id}/annotations",
            },
            "app": d.app(d.state.check_run_apps.get(run_id, d.state.app_slug)),
            "pull_requests": [],
        },
        f"{d.repo_url}/check-runs/{run_id}",
    )


def _write_check(d: GitHubDouble, run_id: int, fields: JSON) -> JSON:
    if d.state.check_runs_forbidden:
        raise _error(403, "Resource not accessible by integration", f"{DOCS}/checks/runs")
    if not d.installation():
        raise _error(403, "You must authenticate via a GitHub App.", f"{DOCS}/checks/runs")
    stored = {**d.state.check_runs.get(run_id, {}), **fields}
    if stored.get("conclusion"):
        stored["status"] = "completed"
        stored.setdefault("completed_at", now())
    d.state.check_runs[run_id] = stored
    d.state.check_run_apps.setdefault(run_id, d.state.app_slug)
    return _check_run_body(d, run_id, stored)


@route("checks/create")
def _create_check(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    return Reply(201, _write_check(d, d._id(), b))


@route("checks/list-for-ref")
def _list_checks(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    name = q.get("check_name", [None])[-1]
    runs = [
        _check_run_body(d, run_id, fields)
        for run_id, fields in sorted(d.state.check_runs.items())
        if fields["head_sha"] == p["ref"] and name in (None, fields["name"])
    ]
    return Reply(200, {"total_count": len(runs), "check_runs": runs})


@route("checks/update")
def _update_check(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    run_id = int(p["check_run_id"])
    if run_id not in d.state.check_runs:
        raise _error(404, "Not Found")
    return Reply(200, _write_check(d, run_id, b))


@route("repos/create-commit-status")
def _create_status(d: GitHubDouble, p: dict[str, str], q: Any, b: JSON) -> Reply:
    status_id = d._id()
    record = {"sha": p["sha"], **b}
    d.state.statuses.append(record)
    body = {
        "url": f"{d.repo_url}/statuses/{p['sha']}",
        "avatar_url": None,
        "id": status_id,
        "node_id": f"SC_{status_id}",
        "state": b["state"],
        "description": b.get("description"),
        "target_url": b.get("target_url"),
        "context": b.get("context", "default"),
        "created_at": now(),
        "updated_at": now(),
        "creator": d.user(d.actor()),
    }
    return Reply(201, body, {"Location": body["url"]})


@route("pulls/list-reviews")
def _list_reviews(d: GitHubDouble, p: dict[str, str], q: dict[str, list[str]], b: Any) -> Reply:
    pull = _pull(d, p["pull_number"])
    items = [d.review_body(r) for r in d.state.reviews if r.pr == pull.number]
    return _page(d, q, items, f"/repos/{d.full_name}/pulls/{pull.number}/reviews")


@route("repos/get-collaborator-permission-level")
def _permission(d: GitHubDouble, p: dict[str, str], q: Any, b: Any) -> Reply:
    login = p["username"]
    role = d.state.permissions.get(login, "none")
    user = d.user(login, "collaborator")
    user["permissions"] = {
        "pull": role != "none",
        "triage": role in ("triage", "write", "maintain", "admin"),
        "push": role in ("write", "maintain", "admin"),
        "maintain": role in ("maintain", "admin"),
        "admin": role == "admin",
    }
    user["role_name"] = role
    body = {"permission": ROLE_TO_PERMISSION[role], "role_name": role, "user": user}
    return Reply(200, body)


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
