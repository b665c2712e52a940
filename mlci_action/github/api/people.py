"""Pull requests, their reviews, and people's permissions: who approved what."""

from __future__ import annotations

from urllib.parse import quote

from github import GithubException

from mlci_action.github.api.base import Connection
from mlci_action.github.api.records import Approval, PullInfo

ROLES = ("admin", "maintain", "write", "triage", "read", "none")
WRITERS = frozenset({"admin", "maintain", "write"})


class People(Connection):
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
