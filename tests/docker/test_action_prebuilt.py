"""The released action under act: action.yml pinned by scripts/release.py to a prebuilt image
(``docker://127.0.0.1:5000/mlci-test/action@sha256:...``) runs that image, builds nothing.

The image is built once from this checkout's Dockerfile and pushed to the local authenticated
registry, as the release workflow pushes it to ghcr.io; the action folder the workflow uses
holds the pinned action.yml and no Dockerfile at all. act runs with ``--pull=false``, which
for a ``docker://`` image means "pull only when the daemon does not have it": the push leaves
the image in the daemon under ``REPOSITORY@sha256:...`` (its RepoDigests), so act finds it and
never asks the registry (it has no credentials for it here, a pull would fail).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, git
from tests.github.act import init_repo, run_act
from tests.github.api_double import GitHubDouble

pytestmark = pytest.mark.e2e

TOKEN = "ghs_prebuiltT0kenValue0123456789abcdefgh"
WORKFLOW = """\
name: mlci
on: pull_request
jobs:
  mlci:
    runs-on: ubuntu-latest
    steps:
      - id: mlci
        uses: ./.github/actions/mlci
        with:
          config: .
      - if: always()
        run: echo "outputs verdict=${{ steps.mlci.outputs.verdict }}"
"""


def push_image(client, registry, repository: str, tag: str) -> str:
    """Push `repository:tag`; the digest the registry answered (the push stream is read:
    docker-py does not raise on an ``errorDetail`` there)."""
    digest = None
    for chunk in client.api.push(
        repository, tag=tag, auth_config=registry.auth_config, stream=True, decode=True
    ):
        if "errorDetail" in chunk or "error" in chunk:
            pytest.fail(f"push of {repository}:{tag} failed: {chunk}")
        digest = (chunk.get("aux") or {}).get("Digest", digest)
    assert digest and digest.startswith("sha256:"), "the push stream named no digest"
    return str(digest)


@pytest.fixture(scope="module")
def pinned_image(docker_client, action_image, registry) -> str:
    """mlci's action image in the local registry, as REPOSITORY@sha256:DIGEST: the session's
    action image (built once from this checkout's Dockerfile, tests/docker/conftest.py), under
    a tag of its own and pushed; act must not find (or need) an image it could have built."""
    repository = registry.repository("mlci-test/action")
    tag = uuid.uuid4().hex[:12]
    assert docker_client.images.get(action_image).tag(repository, tag)
    reference = f"{repository}@{push_image(docker_client, registry, repository, tag)}"
    # what act's --pull=false looks up: the daemon knows the image by that exact reference
    assert (
        docker_client.images.get(reference).id == docker_client.images.get(f"{repository}:{tag}").id
    )
    return reference


def pin(action_yml: Path, image: str) -> None:
    """The release workflow's own edit: scripts/release.py pin-action."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "release.py"),
            "pin-action",
            "--image",
            image,
            "--file",
            str(action_yml),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_pinned_action_runs_its_prebuilt_image_without_building(pinned_image, tmp_path, registry):
    repo = tmp_path / "repo"
    shutil.copytree(
        EXAMPLES / "classification",
        repo,
        ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__"),
    )
    with (repo / "mlci.yaml").open("a") as config:
        config.write("\ndeploy:\n  base_image: mlci-base:bookworm\n")
    action = repo / ".github" / "actions" / "mlci"
    action.mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", action / "action.yml")
    pin(action / "action.yml", pinned_image)  # and no Dockerfile beside it: nothing to build
    (repo / ".github" / "workflows").mkdir()
    (repo / ".github" / "workflows" / "mlci.yml").write_text(WORKFLOW)
    (repo / ".gitignore").write_text(".mlci/\n")

    with GitHubDouble(token=TOKEN) as gh:
        init_repo(repo, repository=gh.full_name)
        base = git(repo, "rev-parse", "HEAD")
        git(repo, "checkout", "--quiet", "-b", "feature")
        params = repo / "params.yaml"
        params.write_text(params.read_text().replace("C: 1.0", "C: 0.5"))
        git(repo, "commit", "--quiet", "-am", "C: 0.5")
        head = git(repo, "rev-parse", "HEAD")
        gh.add_pull(7, author="bob", head_sha=head)
        payload = {
            "number": 7,
            "action": "synchronize",
            "pull_request": {
                "number": 7,
                "user": {"login": "bob"},
                "head": {
                    "sha": head,
                    "ref": "feature",
                    "repo": {"full_name": gh.full_name, "fork": False},
                },
                "base": {"sha": base, "ref": "main", "repo": {"full_name": gh.full_name}},
            },
            "repository": {"full_name": gh.full_name, "default_branch": "main"},
        }
        result = run_act(
            repo,
            "pull_request",
            payload,
            env={"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name},
            secrets={"GITHUB_TOKEN": TOKEN},
            timeout=900,
        )
        assert result.ok, result.describe()
        # the action's verdict, its comment and its check run
        assert result.step_outputs["mlci"]["verdict"] == "pass", result.describe()
        assert "outputs verdict=pass" in result.output
        [comment] = gh.comments_on(7)
        assert "mlci" in comment.body
        assert [run["conclusion"] for run in gh.state.check_runs.values()] == ["success"]
        gh.assert_clean()

    # act built nothing and ran the pinned image
    messages = [str(record.get("msg", "")) for record in result.records]
    assert not [m for m in messages if "docker build" in m], result.describe()
    assert [m for m in messages if "docker pull" in m and pinned_image in m], result.describe()
    assert [m for m in messages if "docker create" in m and pinned_image in m], result.describe()
