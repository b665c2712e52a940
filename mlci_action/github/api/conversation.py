"""Pull request comments, issues and workflow_dispatch events: what mlci says on GitHub."""

from __future__ import annotations

import itertools
from urllib.parse import quote

from github import GithubException

from mlci_action.github.api.base import Connection, authored_by
from mlci_action.github.api.creates import creating
from mlci_action.github.api.records import CommentResult, GitHubError, IssueResult
from mlci_action.github.api.text import fit_comment

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


class Conversation(Connection):
    def upsert_comment(self, pr_number: int, marker: str, body: str) -> CommentResult:
        """Edit mlci's own comment holding ``marker`` on the pull request, or create one.

        Only a comment authored by :attr:`identity` (login and type) is mlci's: anyone else's,
        marker or not, is left as it is. Where the identity is unknown (GET /user refused a
        token that is not an installation's), no comment is mlci's and a new one is posted."""
        body = fit_comment(body, marker)
        with self._translate(f"upserting the comment on #{pr_number}"):
            issue = self._repo.get_issue(pr_number)
            me = self._whoami()
            for attempt in creating():
                with attempt:
                    found = (
                        []
                        if me is None
                        else [
                            c
                            for c in issue.get_comments()
                            if marker in (c.body or "") and authored_by(c.user, me)
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
        body = fit_comment(body, marker)
        with self._translate("opening or updating mlci's issue", forbidden=ISSUES_PERMISSION):
            for attempt in creating():
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
            issue.create_comment(fit_comment(comment, ""))
            issue.edit(state="closed", state_reason="completed")

    def _find_issue(self, marker: str) -> int | None:
        me = self._whoami()
        if me is None:
            return None
        issues = self._repo.get_issues(state="open", sort="created", direction="desc")
        for issue in itertools.islice(issues, ISSUE_LOOKBACK):
            mine = issue.pull_request is None and authored_by(issue.user, me)
            if mine and marker in (issue.body or ""):
                return int(issue.number)
        return None

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
