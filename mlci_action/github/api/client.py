"""The adapter's face: one class with every call mlci makes to GitHub."""

from __future__ import annotations

from mlci_action.github.api.checks import Checks
from mlci_action.github.api.conversation import Conversation
from mlci_action.github.api.deployments import Deployments
from mlci_action.github.api.people import People


class GitHubAPI(Conversation, Checks, Deployments, People):
    """One repository's pull requests, reviews, comments, issues, workflow dispatches,
    checks, deployments and permissions."""
