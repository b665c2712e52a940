"""GitHub's size limits, and texts cut to them."""

from __future__ import annotations

CHECK_SUMMARY_LIMIT = 65_535  # output.summary, in the API's description
STATUS_DESCRIPTION_LIMIT = 140  # GitHub answers 422 above it
COMMENT_LIMIT = 65_536  # GitHub answers 422 above it


def trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_comment(body: str, marker: str) -> str:
    """Within GitHub's limit, the marker kept so the next run finds the comment."""
    if len(body) <= COMMENT_LIMIT:
        return body
    note = "\n\n… (cut to GitHub's comment limit)"
    cut = body[: COMMENT_LIMIT - len(note) - len(marker) - 1] + note
    return cut if marker in cut else f"{marker}\n{cut}"
