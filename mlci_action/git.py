"""Git, for the source stage: resolve refs, read commits, check out a baseline worktree."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlci_action.errors import InputError

_TRUSTED: list[str] = []


def trust(directory: Path) -> None:
    """Let git work in ``directory`` although another user owns it (``safe.directory``).

    For the action only: GitHub checks the workspace out as the runner's user and runs the
    action's container as root, and git refuses such a repository ("detected dubious
    ownership"). The workspace is the code under test, so it is trusted by definition; the
    setting goes on each git command line, never into a config file.
    """
    if str(directory) not in _TRUSTED:
        _TRUSTED.append(str(directory))


def _argv(*args: str) -> list[str]:
    return ["git", *(f for d in _TRUSTED for f in ("-c", f"safe.directory={d}")), *args]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(_argv(*args), cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
    return done.stdout.strip()


def repo_root(path: Path) -> Path | None:
    try:
        return Path(_git(path, "rev-parse", "--show-toplevel")).resolve()
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        return None


def require_repo(path: Path, why: str) -> Path:
    root = repo_root(path)
    if root is None:
        raise InputError(
            f"{path} is not inside a git repository, but {why}",
            hint="run `git init` and commit the project, or leave out --base",
        )
    return root


def head(root: Path) -> str | None:
    try:
        return _git(root, "rev-parse", "HEAD")
    except subprocess.CalledProcessError:
        return None  # no commits yet


def dirty_files(root: Path, rel: str) -> list[str]:
    """Uncommitted changes under ``rel`` (modified, staged, untracked), as git names them."""
    spec = rel or "."
    prefix = rel + "/" if rel else ""
    excludes = [  # mlci's own output and Python's caches are not changes
        f":(exclude){prefix}.mlci",
        f":(exclude,glob){prefix}**/__pycache__/**",
        f":(exclude,glob){prefix}**/.pytest_cache/**",
    ]
    listing = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", spec, *excludes)
    return [line.split(maxsplit=1)[1] for line in listing.splitlines() if line.strip()]


def is_dirty(root: Path, rel: str) -> bool:
    return bool(dirty_files(root, rel))


def resolve(root: Path, ref: str) -> str:
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise InputError(
            f"baseline ref {ref!r} does not exist in {root}",
            hint="give a branch, tag or commit that exists (in CI, fetch it first: "
            "actions/checkout with fetch-depth: 0)",
        ) from None


def has_commit(cwd: Path, ref: str) -> bool:
    try:
        _git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        return False
    return True


def has_file(root: Path, sha: str, path: str) -> bool:
    try:
        _git(root, "cat-file", "-e", f"{sha}:{path}")
    except subprocess.CalledProcessError:
        return False
    return True


def parents(root: Path, sha: str) -> list[str]:
    """The parents of commit ``sha`` (two for a merge commit)."""
    try:
        return _git(root, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    except subprocess.CalledProcessError:
        return []


def show(root: Path, sha: str, path: str) -> str | None:
    """The text of ``path`` at commit ``sha``; None where it does not exist there."""
    try:
        return _git(root, "show", f"{sha}:{path}")
    except subprocess.CalledProcessError:
        return None


def listed_files(directory: Path) -> list[str] | None:
    """Files under ``directory`` git tracks or would (not ignored); None outside a repository."""
    try:
        done = subprocess.run(
            _argv("ls-files", "-z", "--cached", "--others", "--exclude-standard", "."),
            cwd=directory,
            capture_output=True,
            check=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    return [name for name in done.stdout.decode().split("\0") if name]


def tree_id(root: Path, sha: str, rel: str) -> str | None:
    """The git tree id of directory ``rel`` at ``sha``: a content hash for free."""
    try:
        return _git(root, "rev-parse", f"{sha}:{rel}" if rel else f"{sha}^{{tree}}")
    except subprocess.CalledProcessError:
        return None


def describe(root: Path, sha: str) -> str:
    try:
        return _git(root, "log", "-1", "--format=%s", sha)
    except subprocess.CalledProcessError:
        return ""


@contextmanager
def worktree(root: Path, sha: str) -> Iterator[Path]:
    """A detached, temporary checkout of ``sha``; removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="mlci-baseline-"))
    path = parent / "tree"
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", str(path), sha)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(parent, ignore_errors=True)
        raise InputError(f"cannot check out baseline {sha[:12]}: {exc.stderr.strip()}") from None
    try:
        yield path
    finally:
        subprocess.run(
            _argv("worktree", "remove", "--force", str(path)),
            cwd=root,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(parent, ignore_errors=True)
        subprocess.run(_argv("worktree", "prune"), cwd=root, capture_output=True, check=False)
