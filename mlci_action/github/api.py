"""The one module that talks to GitHub's REST API, through PyGithub.

Every call goes through a lazy ``Github`` client (objects are not fetched until a field is
read, so a comment upsert is one list and one write) whose transport retries 5xx, 429 and
rate limits (403 with ``Retry-After`` or a rate-limit message) with a bounded backoff that
honours ``Retry-After``. Every PyGithub, requests or urllib3 exception becomes a
:class:`GitHubError` whose message never contains the token.

Creates whose answer is a 5xx or lost (a comment, a check run, a deployment) look before
they try again, for what they sent may have been done.

mlci edits only what it wrote itself: the sticky comment is one holding mlci's marker *and*
authored by :attr:`GitHubAPI.identity`, and a check run found after a lost answer must carry
mlci's fresh ``external_id`` *and* (for an installation token) come from mlci's own app (a
deployment: mlci's fresh id in its payload *and* :attr:`GitHubAPI.identity` as its creator). Anyone
can post a comment holding the marker; were mlci to edit it, its author could later edit the
report into a fake pass.
"""

from __future__ import annotations

import inspect
import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import requests
import tenacity
import urllib3
from github import Auth, BadAttributeException, Github, GithubException, GithubRetry
from github.CheckRun import CheckRun
from github.Deployment import Deployment
from github.GithubObject import NotSet
from github.NamedUser import NamedUser
from github.Organization import Organization

from mlci_action.errors import MlciError
from mlci_action.github.context import APP_SLUG

Conclusion = Literal["success", "failure", "neutral"]
DeploymentState = Literal["success", "failure", "error", "inactive", "in_progress"]
CHECK_SUMMARY_LIMIT = 65_535  # output.summary, in the API's description
STATUS_DESCRIPTION_LIMIT = 140  # GitHub answers 422 above it
COMMENT_LIMIT = 65_536  # GitHub answers 422 above it
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
WRITERS = frozenset({"admin", "maintain", "write"})
# the longest a single wait may be: Retry-After, a secondary or a primary rate limit
MAX_WAIT_SECONDS = 120
SECONDARY_RATE_WAIT_SECONDS = 60
INSTALLATION_TOKEN_PREFIX = "ghs_"  # GITHUB_TOKEN and other GitHub App installation tokens
ACTIONS_APP_SLUG = "github-actions"  # the GitHub App GITHUB_TOKEN is an installation token of
CREATE_ATTEMPTS = 3
"""Tries at a create (POST) whose answer was a 5xx or lost; each is preceded by a look."""
DEPLOYMENT_MARKER = "mlci_create_id"
"""The payload key of a deployment's fresh id, by which a create after a 5xx is found."""
DIGEST_KEY = "digest"
"""The payload key of the image digest (sha256:...) a deployment shipped."""
DEPLOYMENT_LOOKBACK = 100
"""Deployments read at most, newest first, to find a create after a 5xx or a rollback target."""
ISSUES_PERMISSION = (
    "the token needs `issues: write`: add it to the workflow's `permissions:`, or to the "
    "GitHub App's"
)
ACTIONS_PERMISSION = (
    "the token needs `actions: write` to start a workflow: add it to the workflow's "
    "`permissions:`, or to the GitHub App's"
)
ISSUE_LOOKBACK = 300
"""Open issues read at most, newest first, to find mlci's sticky issue."""
DEPLOYMENTS_PERMISSION = (
    "the token needs `deployments: write`: add it to the workflow's `permissions:`, or to the "
    "GitHub App's"
)


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
class IssueResult:
    number: int
    url: str
    created: bool


@dataclass(frozen=True)
class Approval:
    """A pull request review that approved the commit ``commit_id`` (None where GitHub no
    longer has that commit)."""

    login: str
    commit_id: str | None
    submitted_at: datetime | None
    review_id: int

    def approves(self, sha: str) -> bool:
        """Whether this approval was given on the commit ``sha`` (a full SHA)."""
        return bool(sha) and (self.commit_id or "").lower() == sha.lower()


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment of one environment and the state of its latest status (None: no status
    yet). ``succeeded``: whether any of its statuses was success; GitHub marks a superseded
    successful deployment ``inactive``, so that one reads state inactive and succeeded."""

    id: int
    sha: str
    ref: str
    environment: str
    payload: dict[str, Any]
    created_at: datetime
    state: str | None
    succeeded: bool

    @property
    def digest(self) -> str | None:
        """The image digest the deployment shipped, from its payload's ``digest``."""
        value = self.payload.get(DIGEST_KEY)
        return value if isinstance(value, str) and value else None


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
    """One repository's pull requests, reviews, comments, checks, deployments and
    permissions."""

    def __init__(
        self,
        token: str,
        repository: str,
        base_url: str = "https://api.github.com",
        retries: int = 5,
        *,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
        app_slug: str | None = None,
    ) -> None:
        """The pauses between requests are PyGithub's defaults, which keep clear of
        GitHub's secondary rate limits; tests against a local double set them to 0.

        ``app_slug``: the GitHub App whose installation token (``ghs_``) ``token`` is, when it
        is not GITHUB_TOKEN (the app ``github-actions``); an installation token cannot ask
        GitHub which app it belongs to. Ignored for any other token."""
        if not token:
            raise GitHubError("no GitHub token")
        if repository.count("/") != 1:
            raise GitHubError(f"repository {repository!r} is not owner/name")
        if app_slug is not None and not APP_SLUG.fullmatch(app_slug):
            raise GitHubError(
                f"app slug {app_slug!r} is not a GitHub App's slug (lowercase letters, digits, "
                "hyphens)"
            )
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
        self._installation = token.startswith(INSTALLATION_TOKEN_PREFIX)
        self._app_slug = app_slug or ACTIONS_APP_SLUG
        self._me_known = False
        self._me: tuple[str, str] | None = None

    def close(self) -> None:
        self._gh.close()

    @property
    def identity(self) -> str | None:
        """The login mlci writes as: ``<app-slug>[bot]`` for an installation token
        (``github-actions[bot]`` for GITHUB_TOKEN), the login GET /user answers for any other
        token, or None where GET /user is refused: then mlci cannot tell its own comments
        from anyone else's, so it edits none and posts a new one each time."""
        with self._translate("reading the token's own account"):
            me = self._whoami()
        return me[0] if me is not None else None

    # -------------------------------------------------------------------- comments

    def upsert_comment(self, pr_number: int, marker: str, body: str) -> CommentResult:
        """Edit mlci's own comment holding ``marker`` on the pull request, or create one.

        Only a comment authored by :attr:`identity` (login and type) is mlci's: anyone else's,
        marker or not, is left as it is. Where the identity is unknown (GET /user refused a
        token that is not an installation's), no comment is mlci's and a new one is posted."""
        body = _fit_comment(body, marker)
        with self._translate(f"upserting the comment on #{pr_number}"):
            issue = self._repo.get_issue(pr_number)
            me = self._whoami()
            for attempt in _creating():
                with attempt:
                    found = (
                        []
                        if me is None
                        else [
                            c
                            for c in issue.get_comments()
                            if marker in (c.body or "") and _authored_by(c.user, me)
                        ]
                    )
                    if found:  # on a second look: the first POST did create it
                        again = attempt.retry_state.attempt_number > 1
                        if found[0].body != body:
                            found[0].edit(body)
                        return CommentResult(found[0].id, found[0].html_url, created=again)
                    made = issue.create_comment(body)
                    return CommentResult(made.id, made.html_url, created=True)
            raise AssertionError("unreachable: tenacity re-raises the last error")

    # -------------------------------------------------------------------- issues

    def find_issue(self, marker: str) -> int | None:
        """The number of mlci's own open issue holding ``marker`` (authored by
        :attr:`identity`; pull requests are not issues here), or None."""
        with self._translate("looking for mlci's issue", forbidden=ISSUES_PERMISSION):
            return self._find_issue(marker)

    def upsert_issue(
        self, marker: str, title: str, body: str, labels: tuple[str, ...] = ()
    ) -> IssueResult:
        """Edit mlci's own open issue holding ``marker``, or open one; as :meth:`upsert_comment`,
        only an issue authored by :attr:`identity` is mlci's, and a create whose answer was a
        5xx or lost looks again before it tries again."""
        body = _fit_comment(body, marker)
        with self._translate("opening or updating mlci's issue", forbidden=ISSUES_PERMISSION):
            for attempt in _creating():
                with attempt:
                    number = self._find_issue(marker)
                    if number is not None:
                        issue = self._repo.get_issue(number)
                        again = attempt.retry_state.attempt_number > 1
                        if issue.body != body or issue.title != title:
                            issue.edit(title=title, body=body)
                        return IssueResult(number, issue.html_url, created=again)
                    made = self._repo.create_issue(title=title, body=body, labels=list(labels))
                    return IssueResult(made.number, made.html_url, created=True)
            raise AssertionError("unreachable: tenacity re-raises the last error")

    def close_issue(self, number: int, comment: str) -> None:
        """Comment on the issue, then close it as completed."""
        with self._translate(f"closing issue #{number}", forbidden=ISSUES_PERMISSION):
            issue = self._repo.get_issue(number)
            issue.create_comment(_fit_comment(comment, ""))
            issue.edit(state="closed", state_reason="completed")

    def _find_issue(self, marker: str) -> int | None:
        me = self._whoami()
        if me is None:
            return None
        issues = self._repo.get_issues(state="open", sort="created", direction="desc")
        for issue in itertools.islice(issues, ISSUE_LOOKBACK):
            mine = issue.pull_request is None and _authored_by(issue.user, me)
            if mine and marker in (issue.body or ""):
                return int(issue.number)
        return None

    # -------------------------------------------------------------------- actions

    def dispatch_workflow(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        """A workflow_dispatch event of ``workflow`` (a file name under .github/workflows/,
        or its id) on ``ref``. A 5xx is not retried: a second retraining is worse than none,
        and the next night asks again."""
        url = f"{self._repo.url}/actions/workflows/{quote(workflow, safe='')}/dispatches"
        with self._translate(
            f"starting workflow {workflow} on {ref}", forbidden=ACTIONS_PERMISSION
        ):
            try:
                self._gh.requester.requestJsonAndCheck(
                    "POST", url, input={"ref": ref, "inputs": inputs}
                )
            except GithubException as exc:
                if exc.status == 404:
                    raise GitHubError(
                        f"GitHub API error starting workflow {workflow} on {ref}: 404: no "
                        f"workflow {workflow!r} with a workflow_dispatch trigger on {ref} (or "
                        f"the token may not see it: {ACTIONS_PERMISSION})",
                        status=404,
                    ) from None
                raise

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
        and one with that id, created by mlci's own app (:meth:`_is_mine`), means the create
        did happen."""
        mine = _external_id()
        with self._translate(f"creating the check run {name!r}"):
            try:
                for attempt in _creating():
                    with attempt:
                        if attempt.retry_state.attempt_number > 1 and any(
                            self._is_mine(run, mine)
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

    # -------------------------------------------------------------------- deployments

    def create_deployment(
        self, ref: str, environment: str, payload: dict[str, Any], description: str
    ) -> int:
        """A deployment of ``ref`` (a SHA, best) to ``environment``; returns its id.

        It neither merges the default branch in (``auto_merge: false``) nor waits for commit
        statuses (``required_contexts: []``): mlci deploys what it built and tested. The
        payload carries a fresh id under :data:`DEPLOYMENT_MARKER`: after a 5xx the
        environment's newest deployments are listed, and one with that id, created by
        :attr:`identity` where it is known, means the create did happen."""
        mine = _external_id()
        with self._translate(
            f"creating a deployment of {ref} to {environment}", forbidden=DEPLOYMENTS_PERMISSION
        ):
            for attempt in _creating():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        found = self._find_deployment(environment, mine)
                        if found is not None:
                            return found
                    made = self._repo.create_deployment(
                        ref=ref,
                        auto_merge=False,
                        required_contexts=[],
                        payload={**payload, DEPLOYMENT_MARKER: mine},
                        environment=environment,
                        description=description,
                        transient_environment=False,
                        production_environment=environment == "production",
                    )
                    return made.id
            raise AssertionError("unreachable: tenacity re-raises the last error")

    def set_deployment_status(
        self,
        deployment_id: int,
        state: DeploymentState,
        description: str,
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """A new status of the deployment. A ``success`` makes GitHub mark the environment's
        earlier successful deployments inactive (``auto_inactive``). After a 5xx, a newest
        status with the same state and description means it was set."""
        body: dict[str, Any] = {
            "state": state,
            "description": _trim(description, STATUS_DESCRIPTION_LIMIT),
            "auto_inactive": True,
        }
        if environment_url:
            body["environment_url"] = environment_url
        if log_url:
            body["log_url"] = log_url
        url = f"{self._repo.url}/deployments/{deployment_id}/statuses"
        with self._translate(
            f"setting deployment {deployment_id} to {state}", forbidden=DEPLOYMENTS_PERMISSION
        ):
            for attempt in _creating():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        deployment = self._repo.get_deployment(deployment_id)
                        newest = next(iter(deployment.get_statuses()), None)
                        if (
                            newest is not None
                            and newest.state == state
                            and newest.description == body["description"]
                        ):
                            return
                    self._gh.requester.requestJsonAndCheck("POST", url, input=body)
                    return

    def deployments(
        self, environment: str, *, limit: int = DEPLOYMENT_LOOKBACK
    ) -> list[DeploymentInfo]:
        """The environment's ``limit`` newest deployments, newest first, each with the state
        of its latest status (one request for the list, one per deployment for its statuses)."""
        with self._translate(f"listing the deployments to {environment}"):
            found = list(itertools.islice(self._history(environment), limit))
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)

    def previous_successful(
        self, environment: str, before_digest: str | None = None
    ) -> DeploymentInfo | None:
        """The deployment to roll back to: the newest one of ``environment`` that succeeded
        (its latest status success, or inactive once a later one superseded it) and shipped a
        digest other than ``before_digest``. Without ``before_digest``, the digest of the live
        deployment (the newest whose latest status is success) is the one to move away from.
        Deployments that never succeeded, or whose payload names no digest, are passed over.
        None when there is no such deployment among the :data:`DEPLOYMENT_LOOKBACK` newest."""
        current = before_digest
        with self._translate(f"looking for the previous deployment to {environment}"):
            for deployment in itertools.islice(self._history(environment), DEPLOYMENT_LOOKBACK):
                if deployment.digest is None or not deployment.succeeded:
                    continue
                if current is None and deployment.state == "success":
                    current = deployment.digest  # the live one
                    continue
                if deployment.state in ("success", "inactive") and deployment.digest != current:
                    return deployment
        return None

    def _history(self, environment: str) -> Iterator[DeploymentInfo]:
        """The environment's deployments as GitHub lists them, newest first, each with its
        statuses read as it is reached."""
        for deployment in self._repo.get_deployments(environment=environment):
            statuses = sorted(
                deployment.get_statuses(), key=lambda s: (s.created_at, s.id), reverse=True
            )
            yield DeploymentInfo(
                id=deployment.id,
                sha=deployment.sha,
                ref=deployment.ref,
                environment=deployment.environment,
                payload={k: v for k, v in _payload(deployment).items() if k != DEPLOYMENT_MARKER},
                created_at=deployment.created_at,
                state=statuses[0].state if statuses else None,
                succeeded=any(s.state == "success" for s in statuses),
            )

    def _find_deployment(self, environment: str, marker: str) -> int | None:
        """The id of the deployment whose payload holds ``marker`` and that mlci created."""
        me = self._whoami()
        newest = self._repo.get_deployments(environment=environment)
        for deployment in itertools.islice(newest, DEPLOYMENT_LOOKBACK):
            if _payload(deployment).get(DEPLOYMENT_MARKER) != marker:
                continue
            creator = deployment.creator
            if me is None or (creator is not None and creator.login == me[0]):
                return deployment.id
        return None

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

    def approvals(self, pr_number: int, author: str, head_sha: str) -> list[Approval]:
        """The approvals that count for the commit ``head_sha``: :meth:`standing_approvals`
        given on that very commit. An approval of an earlier commit counts for none, even
        when it is its reviewer's latest word: the reviewer never saw what came after."""
        return [a for a in self.standing_approvals(pr_number, author) if a.approves(head_sha)]

    def standing_approvals(self, pr_number: int, author: str) -> list[Approval]:
        """Each reviewer's approval that still stands, on whichever commit it was given: the
        reviewer has write access (admin, maintain or write), is not the author, and their
        latest review decides. A later COMMENTED (or PENDING) review leaves it standing, as on
        GitHub itself; a later CHANGES_REQUESTED withdraws it, and a dismissed approval reads
        DISMISSED. In the order the reviews were submitted."""
        with self._translate(f"reading the reviews of #{pr_number}"):
            latest: dict[str, Approval | None] = {}
            for review in self._repo.get_pull(pr_number).get_reviews():
                if review.user is None or review.state in ("COMMENTED", "PENDING"):
                    continue
                login = review.user.login
                latest.pop(login, None)  # re-inserted: the dict keeps submission order
                latest[login] = (
                    Approval(login, review.commit_id, review.submitted_at, review.id)
                    if review.state == "APPROVED"
                    else None
                )
        standing = [
            approval
            for login, approval in latest.items()
            if approval is not None and login.lower() != author.lower()
        ]
        return [approval for approval in standing if self.permission(approval.login) in WRITERS]

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

    def _whoami(self) -> tuple[str, str] | None:
        """The (login, type) mlci writes as, or None where it cannot tell; see identity."""
        if self._installation:
            # GET /user and GET /app refuse an installation token: the app is the caller's
            return f"{self._app_slug}[bot]", "Bot"
        if not self._me_known:
            try:
                user = self._gh.get_user()
                self._me = (user.login, user.type or "")
            except GithubException as exc:
                if exc.status not in (401, 403, 404):
                    raise
                self._me = None  # nothing about the refusal is kept or shown
            self._me_known = True
        return self._me

    def _is_mine(self, run: CheckRun, external_id: str) -> bool:
        """A run with mlci's fresh ``external_id`` that mlci's own app created.

        For an installation token the run's ``app.slug`` must be the app's. A user token
        has no app to compare with: GitHub lets only GitHub Apps create check runs (a
        personal or OAuth token's create is answered 403 and mlci posts a commit status),
        and a GitHub App's user token (``ghu_``) does not tell which app it is, so there the
        ``external_id`` alone decides: a uuid4 that no one knew before mlci sent it."""
        if run.external_id != external_id:
            return False
        if not self._installation:
            return True
        app = run.app
        return app is not None and app.slug == self._app_slug

    # -------------------------------------------------------------------- errors

    @contextmanager
    def _translate(self, doing: str, *, forbidden: str | None = None) -> Iterator[None]:
        """PyGithub's, requests' and urllib3's exceptions as a GitHubError without the token;
        ``forbidden``: what a 403 (a refusal, rate limits having been waited out) means."""
        try:
            yield
        except GithubException as exc:
            why = f" ({forbidden})" if forbidden and exc.status == 403 else ""
            raise GitHubError(
                self._scrub(f"GitHub API error {doing}: {exc.status} {_message(exc)}{why}"),
                status=exc.status,
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise GitHubError(
                self._scrub(f"GitHub API unreachable {doing}: {type(exc).__name__}: {exc}")
            ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")


def _payload(deployment: Deployment) -> dict[str, Any]:
    """A deployment's payload as a dict; one another tool gave as a string reads empty."""
    try:
        payload = deployment.payload
    except BadAttributeException:
        return {}
    return payload if isinstance(payload, dict) else {}


def _authored_by(user: NamedUser | Organization | None, me: tuple[str, str]) -> bool:
    """Whether a comment's author is ``me``, (login, type), its type compared when known."""
    login, kind = me
    return user is not None and user.login == login and (not kind or user.type == kind)


def _external_id() -> str:
    """A check run's external_id that no one can know before mlci creates the run."""
    return f"mlci-{uuid.uuid4().hex}"


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
