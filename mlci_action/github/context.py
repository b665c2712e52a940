"""The action's inputs (``INPUT_*``) and the event that triggered it, checked once at entry."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from mlci_action.errors import ConfigError

EVENTS = (
    "pull_request",
    "pull_request_target",
    "push",
    "pull_request_review",
    "workflow_dispatch",
    "schedule",
)
APP_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
"""A GitHub App's slug, as in https://github.com/apps/<slug>: lowercase letters, digits, hyphens."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionInputs(_Frozen):
    """The inputs of action.yml; each named INPUT_<NAME> in the environment."""

    config: str = "mlci.yaml"
    github_token: SecretStr | None = None
    app_slug: str | None = None
    """The GitHub App whose installation token github_token is, when it is not GITHUB_TOKEN
    (whose app is github-actions): mlci edits only comments by <app_slug>[bot]."""
    registry: str | None = None
    registry_username: str | None = None
    registry_password: SecretStr | None = None
    push: Literal["auto", "never"] = "auto"
    """auto: push when the gates pass and the event meets the deploy policy; never: don't."""
    comment: bool = True
    baseline: str | None = None
    """A git ref or "registry"; default: the PR's base commit, else the registry's champion."""

    @field_validator("comment", mode="before")
    @classmethod
    def _boolean(cls, value: object) -> object:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    @field_validator("app_slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not APP_SLUG.fullmatch(value):
            hint = " (give the app's slug, without [bot])" if value.endswith("[bot]") else ""
            raise ValueError(
                f"expected a GitHub App's slug, as in https://github.com/apps/<slug>: lowercase "
                f"letters, digits and hyphens; got {value!r}{hint}"
            )
        return value


def _input(environ: Mapping[str, str], name: str) -> str | None:
    """GitHub passes input `foo-bar` as INPUT_FOO-BAR (upper case, hyphens kept, spaces as _)."""
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        value = environ.get(key)
        if value is not None and value.strip() != "":
            return value.strip()
    return None


INPUT_NAMES = {
    "config": "config",
    "github_token": "github-token",
    "app_slug": "app-slug",
    "registry": "registry",
    "registry_username": "registry-username",
    "registry_password": "registry-password",
    "push": "push",
    "comment": "comment",
    "baseline": "baseline",
}


def load_inputs(environ: Mapping[str, str]) -> ActionInputs:
    raw = {field: _input(environ, name) for field, name in INPUT_NAMES.items()}
    try:
        return ActionInputs.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = INPUT_NAMES.get(field, field)
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"input `{name}` (INPUT_{name.upper()}): {message}")
        raise ConfigError(
            "the action's inputs are not valid:\n  " + "\n  ".join(problems),
            hint="fix the `with:` block of the mlci step in your workflow",
        ) from None


class PullRequest(_Frozen):
    number: int
    author: str
    head_sha: str
    head_ref: str
    base_ref: str
    base_sha: str
    is_fork: bool


class Event(_Frozen):
    name: str
    repository: str
    sha: str
    ref: str
    actor: str
    default_branch: str | None = None
    pull_request: PullRequest | None = None
    review_state: str | None = None
    reviewer: str | None = None
    dispatch_inputs: dict[str, str] = {}

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None


def _pull_request(payload: Mapping[str, Any], repository: str) -> PullRequest | None:
    pr = payload.get("pull_request")
    if not isinstance(pr, Mapping):
        return None
    head, base = pr.get("head") or {}, pr.get("base") or {}
    head_repo = (head.get("repo") or {}).get("full_name")
    return PullRequest(
        number=int(pr.get("number") or payload.get("number") or 0),
        author=str((pr.get("user") or {}).get("login") or ""),
        head_sha=str(head.get("sha") or ""),
        head_ref=str(head.get("ref") or ""),
        base_ref=str(base.get("ref") or ""),
        base_sha=str(base.get("sha") or ""),
        is_fork=bool((head.get("repo") or {}).get("fork"))
        or (head_repo is not None and head_repo != repository),
    )


def load_event(environ: Mapping[str, str]) -> Event:
    name = environ.get("GITHUB_EVENT_NAME", "")
    if name not in EVENTS:
        raise ConfigError(
            f"GITHUB_EVENT_NAME={name!r}: mlci runs on {', '.join(EVENTS)}",
            hint="trigger the workflow on one of these events",
        )
    payload: dict[str, Any] = {}
    path = environ.get("GITHUB_EVENT_PATH")
    if path:
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"GITHUB_EVENT_PATH={path}: cannot read the event payload ({exc})"
            ) from None
    repository = environ.get("GITHUB_REPOSITORY") or str(
        (payload.get("repository") or {}).get("full_name", "")
    )
    if "/" not in repository:
        raise ConfigError(
            "GITHUB_REPOSITORY is not set to owner/name", hint="run mlci as a GitHub Action step"
        )
    review = payload.get("review") or {}
    inputs = payload.get("inputs") or {}
    return Event(
        name=name,
        repository=repository,
        sha=environ.get("GITHUB_SHA", ""),
        ref=environ.get("GITHUB_REF", ""),
        actor=environ.get("GITHUB_ACTOR", ""),
        default_branch=(payload.get("repository") or {}).get("default_branch"),
        pull_request=_pull_request(payload, repository),
        review_state=str(review.get("state")).lower() if review else None,
        reviewer=(review.get("user") or {}).get("login") if review else None,
        dispatch_inputs={str(k): str(v) for k, v in inputs.items()}
        if isinstance(inputs, Mapping)
        else {},
    )
