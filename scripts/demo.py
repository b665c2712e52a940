"""`make demo`: a change to the bundled classification example, compared with its baseline commit.

Copies examples/classification into build/demo as a fresh git repository with two commits
(the baseline, then a change of hyper-parameters), runs `mlci run --base HEAD~1` and says
where the report is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "build" / "demo"


def git(*args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=mlci demo", "-c", "user.email=demo@example.invalid", *args],
        cwd=DEMO,
        check=True,
        capture_output=True,
    )


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.copytree(
        ROOT / "examples" / "classification",
        DEMO,
        ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__"),
    )
    git("init", "--quiet", "--initial-branch=main")
    git("add", "-A")
    git("commit", "--quiet", "-m", "baseline: logistic regression, C=1.0")
    params = DEMO / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.5"))
    git("commit", "--quiet", "-am", "candidate: stronger regularisation (C=0.5)")
    print(f"demo repository: {DEMO} (baseline HEAD~1, candidate HEAD)\n", flush=True)
    # the demo runs on any machine with Python and git: a local uv environment, no Docker
    env = {**os.environ, "MLCI_EXECUTOR": os.environ.get("MLCI_EXECUTOR", "local")}
    code = subprocess.run(
        [sys.executable, "-m", "mlci_action", "run", str(DEMO), "--base", "HEAD~1"], env=env
    ).returncode
    report = DEMO / ".mlci" / "out" / "report.md"
    print(f"\nreport:   {report}\nrun.json: {report.with_name('run.json')}")
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    raise SystemExit(main())
