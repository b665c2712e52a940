"""scripts/release.py (pin-action, check-version) on real files, and the release workflow's
shape: tag pushes only, least privilege per job, every third-party action pinned by SHA."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.conftest import ROOT

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER = "sha256:" + "fedcba9876543210" * 4
IMAGE = f"ghcr.io/mlci/mlci@{DIGEST}"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mlci_release", ROOT / "scripts" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


release = _load()


@pytest.fixture
def action(tmp_path: Path) -> Path:
    """A copy of mlci's own action.yml."""
    return Path(shutil.copy(ROOT / "action.yml", tmp_path / "action.yml"))


def _image_line(path: Path) -> int:
    """The line of runs.image (runs: is the last mapping of mlci's action.yml)."""
    lines = path.read_text().splitlines()
    runs = lines.index("runs:")
    return next(i for i, line in enumerate(lines, 1) if i > runs and "image:" in line)


# --- pin-action ----------------------------------------------------------------------------


def test_pin_changes_only_the_image_line(action: Path, capsys) -> None:
    before = action.read_text()
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(action)]) == 0
    after = action.read_text()
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert [old_lines[i] for i in changed] == ["  image: Dockerfile\n"]
    assert [new_lines[i] for i in changed] == [f"  image: docker://{IMAGE}\n"]
    expected = yaml.safe_load(before)
    expected["runs"]["image"] = f"docker://{IMAGE}"
    assert yaml.safe_load(after) == expected
    assert f"runs.image set to docker://{IMAGE}" in capsys.readouterr().out


def test_pin_is_idempotent_and_moves_to_a_new_digest(action: Path, capsys) -> None:
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(action)]) == 0
    pinned = action.read_bytes()
    # the same digest again, with the docker:// prefix or without: nothing changes
    for image in (IMAGE, f"docker://{IMAGE}"):
        assert release.main(["pin-action", "--image", image, "--file", str(action)]) == 0
        assert action.read_bytes() == pinned
    assert "runs.image already docker://" in capsys.readouterr().out
    # a new release's digest replaces the old one, still on the one line
    newer = f"ghcr.io/mlci/mlci@{OTHER}"
    assert release.main(["pin-action", "--image", newer, "--file", str(action)]) == 0
    assert yaml.safe_load(action.read_text())["runs"]["image"] == f"docker://{newer}"
    assert DIGEST not in action.read_text()


def test_pin_keeps_comments_quoting_and_order(tmp_path: Path) -> None:
    text = (
        "# my action\n"
        "name: 'x'   # the name\n"
        "description: y\n"
        "runs:\n"
        "  # built in every job, until the release pins it\n"
        '  image: "Dockerfile"  # see release.yml\n'
        "  using: 'docker'\n"
        "  args: ['--flag']\n"
    )
    path = tmp_path / "action.yml"
    path.write_text(text)
    ref = f"127.0.0.1:5000/mlci-test/action@{DIGEST}"
    assert release.main(["pin-action", "--image", ref, "--file", str(path)]) == 0
    assert path.read_text() == text.replace('"Dockerfile"', f"docker://{ref}")


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/mlci/mlci:1.0.0",  # a tag can move
        "ghcr.io/mlci/mlci",
        "docker://ghcr.io/mlci/mlci:latest",
        "ghcr.io/mlci/mlci@sha256:0123abc",  # too short
        "ghcr.io/mlci/mlci@sha512:" + "0" * 128,
        f"ghcr.io/mlci/mlci:1.0.0@{DIGEST}",  # a tag beside the digest: ambiguous, refused
        f"ghcr.io/MLCI/mlci@{DIGEST}",  # repository names are lower case
        f"ghcr.io/mlci/mlci@{DIGEST.upper()}",
        f"ghcr.io/mlci/mlci@{DIGEST} ",
    ],
)
def test_pin_refuses_a_reference_without_a_digest(action: Path, image: str, capsys) -> None:
    before = action.read_bytes()
    assert release.main(["pin-action", "--image", image, "--file", str(action)]) == 2
    error = capsys.readouterr().err
    assert f"{action}:{_image_line(action)}: runs.image: --image {image!r}" in error
    assert "hint: give the digest the registry answered" in error
    assert action.read_bytes() == before


def test_pin_refuses_an_action_that_is_not_docker(tmp_path: Path, capsys) -> None:
    path = tmp_path / "action.yml"
    path.write_text("name: js\nruns:\n  using: node20\n  main: index.js\n")
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(path)]) == 2
    assert f"{path}:3: runs.using: this is not a Docker action" in capsys.readouterr().err
    path.write_text("name: x\nruns:\n  using: docker\n")
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(path)]) == 2
    assert f"{path}:2: runs.image: missing" in capsys.readouterr().err


def test_pin_refuses_broken_or_missing_files(tmp_path: Path, capsys) -> None:
    path = tmp_path / "action.yml"
    path.write_text("name: x\nruns:\n  using: docker\n  image: [Dockerfile\n")
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(path)]) == 2
    assert re.search(
        rf"{re.escape(str(path))}:\d+: \(file\): not valid YAML", capsys.readouterr().err
    )
    path.write_text("runs:\n  using: docker\n  image: |\n    Dockerfile\n")
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(path)]) == 2
    assert f"{path}:3: runs.image: not a one-line string" in capsys.readouterr().err
    missing = tmp_path / "nope.yml"
    assert release.main(["pin-action", "--image", IMAGE, "--file", str(missing)]) == 2
    assert f"{missing}: (file): cannot be read" in capsys.readouterr().err


# --- check-version ---------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, str]:
    """Copies of pyproject.toml and CHANGELOG.md, the changelog with a section for the version."""
    pyproject = Path(shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml"))
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(
        (ROOT / "CHANGELOG.md")
        .read_text()
        .replace("## Unreleased", f"## Unreleased\n\n## [{version}] - 2026-12-01", 1)
    )
    return pyproject, changelog, version


def _check(tag: str, pyproject: Path, changelog: Path) -> int:
    argv = ["check-version", "--tag", tag, "--pyproject", str(pyproject)]
    return int(release.main([*argv, "--changelog", str(changelog)]))


def test_check_version_passes_when_tag_pyproject_and_changelog_agree(project, capsys) -> None:
    pyproject, changelog, version = project
    assert _check(f"v{version}", pyproject, changelog) == 0
    assert f"agree on {version}" in capsys.readouterr().out


def test_check_version_names_the_pyproject_line(project, capsys) -> None:
    pyproject, changelog, version = project
    major, minor, _patch = (int(part) for part in version.split("."))
    tag = f"v{major}.{minor + 1}.0"
    assert _check(tag, pyproject, changelog) == 2
    line = next(
        number
        for number, text in enumerate(pyproject.read_text().splitlines(), 1)
        if text.startswith("version =")
    )
    error = capsys.readouterr().err
    assert f"{pyproject}:{line}: project.version: is '{version}', the tag is {tag}" in error
    assert f'hint: set version = "{major}.{minor + 1}.0"' in error


def test_check_version_wants_a_changelog_section(project, capsys) -> None:
    pyproject, changelog, version = project
    changelog.write_text((ROOT / "CHANGELOG.md").read_text())  # only "## Unreleased"
    assert _check(f"v{version}", pyproject, changelog) == 2
    error = capsys.readouterr().err
    assert f"{changelog}:3: ## {version}: no section for this version" in error
    assert f"rename '## Unreleased' to '## {version} - YYYY-MM-DD'" in error
    # a heading that only starts with the version is another version's
    changelog.write_text(f"# Changelog\n\n## {version}1\n")
    assert _check(f"v{version}", pyproject, changelog) == 2


@pytest.mark.parametrize("tag", ["0.1.0", "v1", "v1.2", "release-1.2.3", "v1.2.3 "])
def test_check_version_refuses_a_malformed_tag(project, tag: str, capsys) -> None:
    pyproject, changelog, _ = project
    assert _check(tag, pyproject, changelog) == 2
    assert "--tag: tag: " in capsys.readouterr().err


# --- the release workflow ------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_release_runs_on_version_tags_only(workflow: dict) -> None:
    # PyYAML reads the key `on` as True
    assert workflow[True] == {"push": {"tags": ["v*.*.*"]}}
    assert workflow["permissions"] == {}


def test_release_jobs_have_least_privilege(workflow: dict) -> None:
    jobs = workflow["jobs"]
    granted = {name: job["permissions"] for name, job in jobs.items()}
    writers = {
        (name, scope)
        for name, scopes in granted.items()
        for scope, level in scopes.items()
        if level == "write"
    }
    # one writer per scope, each in the job that needs it
    assert writers == {("image", "packages"), ("pin", "contents"), ("pypi", "id-token")}
    assert jobs["pypi"]["environment"]["name"] == "pypi"
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    # PyPI last: it needs the release commit and the checked, built distributions
    assert set(jobs["pypi"]["needs"]) == {"dist", "pin"}
    assert set(jobs["pin"]["needs"]) == {"check", "image"}


def test_release_pins_every_action_by_sha(workflow: dict) -> None:
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", WORKFLOW.read_text(), re.MULTILINE)
    assert {ref.split("@")[0] for ref, _ in uses} >= {
        "actions/checkout",
        "pypa/gh-action-pypi-publish",
    }
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (ref, comment)
    # only the pin job keeps checkout's git credentials (it pushes the tags)
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@") and name != "pin":
                assert step["with"]["persist-credentials"] is False, name


def test_release_runs_this_script(workflow: dict) -> None:
    scripts = {
        name: "\n".join(step.get("run", "") for step in job["steps"])
        for name, job in workflow["jobs"].items()
    }
    assert 'scripts/release.py check-version --tag "$TAG"' in scripts["check"]
    assert 'scripts/release.py pin-action --image "$IMAGE"' in scripts["pin"]
    assert "python -m build" in scripts["dist"]
    # the arguments it is given come through the environment, never spliced into the script
    for step in (step for job in workflow["jobs"].values() for step in job["steps"]):
        assert "${{" not in step.get("run", ""), step
