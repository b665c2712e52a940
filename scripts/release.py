"""The release workflow's two edits and checks (.github/workflows/release.yml), run the same
way locally:

    python scripts/release.py check-version --tag v0.2.0 [--pyproject F] [--changelog F]
    python scripts/release.py pin-action --image ghcr.io/OWNER/REPO@sha256:<64 hex> [--file F]

``check-version`` checks that the pushed tag is ``v`` + pyproject's ``project.version`` and that
CHANGELOG.md has a section for that version (``## 0.2.0``, ``## [0.2.0] - 2026-12-01``...).
``pin-action`` points ``runs.image`` of action.yml at the pushed action image by digest
(``docker://REPOSITORY@sha256:...``), so a runner pulls that image instead of building the
Dockerfile: it replaces the one YAML scalar in place (comments, quoting and the rest of the file
stay byte for byte), re-reads the result to check that nothing else changed, and does nothing
when the file is already pinned there. A reference without a sha256 digest is refused: a tag
can be moved, a digest cannot.

Exit 0 when done, 2 (with the file, line, field and a hint) when an input is unusable. Needs
Python >= 3.11 and PyYAML only, so the workflow runs it without installing mlci.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

DOCKER_PREFIX = "docker://"
# REPOSITORY@sha256:DIGEST, REPOSITORY as the distribution spec names it (an optional
# registry host with port, then lower-case path components); no tag: the digest decides
IMAGE_REF = re.compile(
    r"(?P<repository>"
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"@sha256:[0-9a-f]{64}"
)
TAG = re.compile(r"v(?P<version>[0-9]+\.[0-9]+\.[0-9]+(?:[-.+]?[0-9A-Za-z.]+)?)")


class ReleaseError(Exception):
    """An unusable input: where it is (``file:line``), which field, what is wrong, the fix."""

    def __init__(self, where: str, field: str, problem: str, hint: str) -> None:
        super().__init__(where, field, problem, hint)
        self.where, self.field, self.problem, self.hint = where, field, problem, hint

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.problem}\n  hint: {self.hint}"


# --- pin-action ------------------------------------------------------------------------------


def image_reference(given: str, *, where: str) -> str:
    """``docker://REPOSITORY@sha256:...`` for `given` (with or without ``docker://``)."""
    ref = given.removeprefix(DOCKER_PREFIX)
    if IMAGE_REF.fullmatch(ref) is None:
        problem = (
            f"--image {given!r} has no sha256 digest"
            if "@sha256:" not in ref
            else f"--image {given!r} is not REPOSITORY@sha256:<64 lower-case hex digits>"
        )
        raise ReleaseError(
            where,
            "runs.image",
            problem,
            "give the digest the registry answered to the push, e.g. "
            "ghcr.io/owner/mlci@sha256:<64 hex digits> (a tag can move; a digest cannot)",
        )
    return DOCKER_PREFIX + ref


def _key(mapping: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key, value in mapping.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return key, value
    return None


def _compose(path: Path, text: str) -> yaml.MappingNode:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ReleaseError(
            f"{path}{line}", "(file)", f"not valid YAML ({getattr(exc, 'problem', exc)})",
            "fix the YAML syntax first",
        ) from None  # fmt: skip
    if not isinstance(node, yaml.MappingNode):
        raise ReleaseError(f"{path}", "(file)", "not a YAML mapping", "is this an action.yml?")
    return node


def _image_scalar(path: Path, root: yaml.MappingNode) -> yaml.ScalarNode:
    runs = _key(root, "runs")
    if runs is None or not isinstance(runs[1], yaml.MappingNode):
        line = runs[0].start_mark.line + 1 if runs else 1
        raise ReleaseError(
            f"{path}:{line}", "runs", "no `runs:` mapping", "a Docker action has runs: {using: docker, image: ...}"
        )  # fmt: skip
    using = _key(runs[1], "using")
    if using is None or not isinstance(using[1], yaml.ScalarNode) or using[1].value != "docker":
        line = (using or runs)[0].start_mark.line + 1
        raise ReleaseError(
            f"{path}:{line}", "runs.using", "this is not a Docker action",
            "only `using: docker` actions run an image",
        )  # fmt: skip
    image = _key(runs[1], "image")
    if image is None:
        raise ReleaseError(
            f"{path}:{runs[0].start_mark.line + 1}", "runs.image", "missing",
            "add `image: Dockerfile` under runs:",
        )  # fmt: skip
    node = image[1]
    if not isinstance(node, yaml.ScalarNode) or node.style in ("|", ">"):
        raise ReleaseError(
            f"{path}:{node.start_mark.line + 1}", "runs.image", "not a one-line string",
            "write it as `image: Dockerfile` on one line",
        )  # fmt: skip
    return node


def pin_action(path: Path, image: str) -> bool:
    """Point `path`'s ``runs.image`` at `image` (REPOSITORY@sha256:...); True if it changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReleaseError(
            str(path), "(file)", f"cannot be read ({exc.strerror})", "give --file the action.yml"
        ) from None
    node = _image_scalar(path, _compose(path, text))
    where = f"{path}:{node.start_mark.line + 1}"
    wanted = image_reference(image, where=where)
    if node.value == wanted:
        return False
    before = yaml.safe_load(text)
    start, end = node.start_mark.index, node.end_mark.index
    edited = text[:start] + wanted + text[end:]  # plain style: a docker:// ref needs no quotes
    after = yaml.safe_load(edited)
    expected: dict[str, Any] = {**before, "runs": {**before["runs"], "image": wanted}}
    if after != expected:  # the edit touched more than the one value: never write that
        raise ReleaseError(
            where, "runs.image", "the edited file would not read back as the same action",
            "write runs.image as a plain or quoted scalar on its own line",
        )  # fmt: skip
    path.write_text(edited, encoding="utf-8")
    return True


# --- check-version -----------------------------------------------------------------------------


def _line_of(text: str, pattern: str, *, after: str | None = None) -> int:
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next((i + 1 for i, line in enumerate(lines) if line.strip() == after), 0)
    for number in range(start, len(lines)):
        if re.match(pattern, lines[number]):
            return number + 1
    return 1


def check_version(tag: str, pyproject: Path, changelog: Path) -> str:
    """The version when `tag` = ``v`` + pyproject's version and CHANGELOG has its section."""
    match = TAG.fullmatch(tag)
    if match is None:
        raise ReleaseError(
            "--tag", "tag", f"{tag!r} is not vMAJOR.MINOR.PATCH",
            "push a tag such as v0.2.0 (the workflow runs on tags v*.*.*)",
        )  # fmt: skip
    try:
        text = pyproject.read_text(encoding="utf-8")
        version = tomllib.loads(text)["project"]["version"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ReleaseError(
            str(pyproject), "project.version", f"cannot be read ({type(exc).__name__}: {exc})",
            "pyproject.toml needs [project] version = \"X.Y.Z\"",
        ) from None  # fmt: skip
    line = _line_of(text, r"\s*version\s*=", after="[project]")
    if str(version) != match["version"]:
        raise ReleaseError(
            f"{pyproject}:{line}", "project.version", f"is {version!r}, the tag is {tag}",
            f'set version = "{match["version"]}" and commit it before tagging, or tag v{version}',
        )  # fmt: skip
    try:
        log = changelog.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReleaseError(
            str(changelog), "(file)", f"cannot be read ({exc.strerror})", "keep a CHANGELOG.md"
        ) from None
    heading = rf"##\s+\[?v?{re.escape(str(version))}\]?(\s|$)"
    if not any(re.match(heading, line) for line in log.splitlines()):
        unreleased = _line_of(log, r"##\s+\[?Unreleased", after=None)
        raise ReleaseError(
            f"{changelog}:{unreleased}", f"## {version}", "no section for this version",
            f"rename '## Unreleased' to '## {version} - YYYY-MM-DD' (and open a new "
            "'## Unreleased' above it) in the commit you tag",
        )  # fmt: skip
    return str(version)


# --- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="release.py", description=(__doc__ or "").split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pin = commands.add_parser("pin-action", help="point action.yml's runs.image at a digest")
    pin.add_argument("--image", required=True, help="REPOSITORY@sha256:<digest>")
    pin.add_argument("--file", type=Path, default=Path("action.yml"))
    check = commands.add_parser("check-version", help="tag = pyproject version, in CHANGELOG")
    check.add_argument("--tag", required=True, help="vX.Y.Z (github.ref_name)")
    check.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    check.add_argument("--changelog", type=Path, default=Path("CHANGELOG.md"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "pin-action":
            changed = pin_action(args.file, args.image)
            image = image_reference(args.image, where=str(args.file))
            print(f"{args.file}: runs.image {'set to' if changed else 'already'} {image}")
        else:
            version = check_version(args.tag, args.pyproject, args.changelog)
            print(f"{args.tag}: {args.pyproject} and {args.changelog} agree on {version}")
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
