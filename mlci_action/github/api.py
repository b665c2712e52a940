"""The one module that talks to GitHub's REST API, through PyGithub.

Every call goes through a lazy ``Github`` client (objects are not fetched until a field is
read, so a comment upsert is one list and one write) whose transport retries 5xx, 429 and
rate limits (403 with ``Retry-After`` or a rate-limit message) with a bounded backoff that
honours ``Retry-After``. Every PyGithub, requests or urllib3 exception becomes a
:class:`GitHubError` whose message never contains the token.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import requests
import tenacity
import urllib3
from github import Auth, Github, GithubException, GithubRetry
from github.GithubObject import NotSet

from mlci_action.errors import MlciError

Conclusion = Literal["success", "failure", "neutral"]
CHECK_SUMMARY_LIMIT = 65_535  # output.summary, in the API's description
STATUS_DESCRIPTION_LIMIT = 140  # GitHub answers 422 above it
COMMENT_LIMIT = 65_536  # GitHub answers 422 above it
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
WRITERS = frozenset({"admin", "maintain", "write"})
# the longest a single wait may be: Retry-After, a secondary or a primary rate limit
MAX_WAIT_SECONDS = 120
SECONDARY_RATE_WAIT_SECONDS = 60
INSTALLATION_TOKEN_PREFIX = "ghs_"  # GITHUB_TOKEN and other GitHub App installation tokens
CREATE_ATTEMPTS = 3
"""Tries at a create (POST) whose answer was a 5xx or lost; each is preceded by a look."""


class GitHubError(MlciError):
    """A GitHub API call failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CommentResult:
    id: int
    url: str
    created: bool


@dataclass(frozen=True)
class PullInfo:
    author: str
    head_sha: str
    base_ref: str
    head_repo_full_name: str
    is_fork: bool


class _Retry(GithubRetry):
    """GithubRetry, except that a POST (which creates something) is retried only when GitHub
    refused it (429, a rate-limit 403). After a 5xx or a lost answer it may have been done,
    so the caller looks before creating again: a second PR comment is worse than a late one."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return bool(self.total) and status_code in (403, 429)
        return bool(super().is_retry(method, status_code, has_retry_after))


def make_retry(retries: int) -> GithubRetry:
    """Retries 5xx, 429 and rate-limit 403s (a POST: only the refusals), waits bounded by
    MAX_WAIT_SECONDS."""
    options: dict[str, Any] = {
        "total": retries,
        "backoff_factor": 1.0,  # 0 s, 2 s, 4 s, ... between attempts without a Retry-After
        "backoff_max": 30,
        "status_forcelist": [429, *range(500, 600)],  # GithubRetry adds 403 (rate limits only)
        # idempotent methods only, for errors after the request was sent (a read timeout)
        "allowed_methods": frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"}),
        "raise_on_status": False,  # the last answer reaches PyGithub and becomes a GitHubError
        "secondary_rate_wait": SECONDARY_RATE_WAIT_SECONDS,
        "max_rate_limit_wait": MAX_WAIT_SECONDS,
    }
    if "retry_after_max" in inspect.signature(urllib3.Retry.__init__).parameters:
        options["retry_after_max"] = MAX_WAIT_SECONDS  # urllib3 >= 2.6 caps Retry-After
    return _Retry(**options)


class GitHubAPI:
    """One repository's pull requests, comments, checks and permissions."""

    def __init__(
        self,
        token: str,
        repository: str,
        base_url: str = "https://api.github.com",
        retries: int = 5,
        *,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
    ) -> None:
        """The pauses between requests are PyGithub's defaults, which keep clear of
        GitHub's secondary rate limits; tests against a local double set them to 0."""
        if not token:
            raise GitHubError("no GitHub token")
        if repository.count("/") != 1:
            raise GitHubError(f"repository {repository!r} is not owner/name")
        self._token = token
        self._repository = repository
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=base_url.rstrip("/"),
            retry=make_retry(retries),
            per_page=100,
            lazy=True,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        self._repo = self._gh.get_repo(repository)
        self._login_known = False
        self._login: str | None = None

    def close(self) -> None:
        self._gh.close()

    # -------------------------------------------------------------------- comments

    def upsert_comment(self, pr_number: int, marker: str, body: str) -> CommentResult:
        """Edit the comment holding ``marker`` on the pull request, or create it.

        Only comments by the token's own account are candidates when GET /user tells who
        that is; an installation token (GITHUB_TOKEN) cannot ask, so then a bot's comment
        is preferred, then any comment holding the marker."""
        body = _fit_comment(body, marker)
        with self._translate(f"upserting the comment on #{pr_number}"):
            issue = self._repo.get_issue(pr_number)
            login = self._token_login()
            for attempt in _creating():
                with attempt:
                    found = [c for c in issue.get_comments() if marker in (c.body or "")]
                    if login is not None:
                        found = [c for c in found if c.user and c.user.login == login]
                    else:
                        found.sort(key=lambda c: not (c.user and c.user.type == "Bot"))
                    if found:  # on a second look: the first POST did create it
                        again = attempt.retry_state.attempt_number > 1
                        if found[0].body != body:
                            found[0].edit(body)
                        return CommentResult(found[0].id, found[0].html_url, created=again)
                    made = issue.create_comment(body)
                    return CommentResult(made.id, made.html_url, created=True)
            raise AssertionError("unreachable: tenacity re-raises the last error")

    # -------------------------------------------------------------------- checks

    def report_check(
        self,
        sha: str,
        name: str,
        conclusion: Conclusion,
        title: str,
        summary: str,
        *,
        details_url: str | None = None,
    ) -> Literal["check-run", "status"]:
        """A completed check run, or a commit status where the token may not create one.

        The run carries a fresh ``external_id``: after a 5xx, the runs on ``sha`` are listed
        and one with that id means the create did happen."""
        mine = f"mlci-{uuid.uuid4().hex}"
        with self._translate(f"creating the check run {name!r}"):
            try:
                for attempt in _creating():
                    with attempt:
                        if attempt.retry_state.attempt_number > 1 and any(
                            run.external_id == mine
                            for run in self._repo.get_commit(sha).get_check_runs(check_name=name)
                        ):
                            return "check-run"
                        self._repo.create_check_run(
                            name=name,
                            head_sha=sha,
                            external_id=mine,
                            status="completed",
                            conclusion=conclusion,
                            output={"title": title, "summary": _trim(summary, CHECK_SUMMARY_LIMIT)},
                            details_url=details_url or NotSet,
                        )
                        return "check-run"
            except GithubException as exc:
                if exc.status not in (403, 404):
                    raise
        with self._translate(f"creating the commit status {name!r}"):
            self._repo.get_commit(sha).create_status(
                state="failure" if conclusion == "failure" else "success",
                description=_trim(title, STATUS_DESCRIPTION_LIMIT),
                context=name,
                target_url=details_url or NotSet,
            )
            return "status"

    # -------------------------------------------------------------------- people

    def pull(self, pr_number: int) -> PullInfo:
        with self._translate(f"reading pull request #{pr_number}"):
            pr = self._repo.get_pull(pr_number)
            head_repo = pr.head.repo
            head_name = head_repo.full_name if head_repo is not None else ""
            return PullInfo(
                author=pr.user.login,
                head_sha=pr.head.sha,
                base_ref=pr.base.ref,
                head_repo_full_name=head_name,
                is_fork=head_name.lower() != pr.base.repo.full_name.lower(),
            )

    def approvals(self, pr_number: int, author: str) -> list[str]:
        """Reviewers with write access whose latest decision is APPROVED, the author excepted.

        A later COMMENTED review does not withdraw an approval (as on GitHub itself); a later
        CHANGES_REQUESTED does, and a dismissed approval reads DISMISSED."""
        with self._translate(f"reading the reviews of #{pr_number}"):
            latest: dict[str, str] = {}
            for review in self._repo.get_pull(pr_number).get_reviews():
                if review.user is None or review.state in ("COMMENTED", "PENDING"):
                    continue
                latest[review.user.login] = review.state
        approved = [
            user
            for user, state in latest.items()
            if state == "APPROVED" and user.lower() != author.lower()
        ]
        return [user for user in approved if self.permission(user) in WRITERS]

    def permission(self, user: str) -> str:
        """admin, maintain, write, triage, read or none (a custom role reads as its base)."""
        url = f"{self._repo.url}/collaborators/{quote(user, safe='')}/permission"
        with self._translate(f"reading the permission of {user}"):
            try:
                _, data = self._gh.requester.requestJsonAndCheck("GET", url)
            except GithubException as exc:
                if exc.status == 404:
                    return "none"
                raise
        role = data.get("role_name")
        return str(role if role in ROLES else data.get("permission", "none"))

    def _token_login(self) -> str | None:
        """The token's own login, or None where GET /user is refused (an Actions token)."""
        if self._token.startswith(INSTALLATION_TOKEN_PREFIX):
            return None  # GET /user always answers 403 to an app installation's token
        if not self._login_known:
            try:
                self._login = self._gh.get_user().login
            except GithubException as exc:
                if exc.status not in (401, 403, 404):
                    raise
                self._login = None
            self._login_known = True
        return self._login

    # -------------------------------------------------------------------- errors

    @contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        try:
            yield
        except GithubException as exc:
            raise GitHubError(
                self._scrub(f"GitHub API error {doing}: {exc.status} {_message(exc)}"),
                status=exc.status,
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise GitHubError(
                self._scrub(f"GitHub API unreachable {doing}: {type(exc).__name__}: {exc}")
            ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")


def _maybe_done(exc: BaseException) -> bool:
    """A create that may or may not have happened: a 5xx, or no answer at all."""
    if isinstance(exc, GithubException):
        return exc.status is not None and exc.status >= 500
    return isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError)


def _creating() -> tenacity.Retrying:
    """Attempts at a create, each starting with a look (the caller's), 1 s then 2 s apart."""
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(CREATE_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=1, max=8),
        retry=tenacity.retry_if_exception(_maybe_done),
        reraise=True,
    )


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return exc.message or str(data or "")


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit_comment(body: str, marker: str) -> str:
    """Within GitHub's limit, the marker kept so the next run finds the comment."""
    if len(body) <= COMMENT_LIMIT:
        return body
    note = "\n\n… (cut to GitHub's comment limit)"
    cut = body[: COMMENT_LIMIT - len(note) - len(marker) - 1] + note
    return cut if marker in cut else f"{marker}\n{cut}"
