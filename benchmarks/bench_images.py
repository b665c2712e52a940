"""Benchmark of the container images and the prediction server they run.

    python benchmarks/bench_images.py [--repeats N] [--requests N] [--batch-rows N] [--batches N]

Needs the Docker daemon, the base image and the authenticated registry that
scripts/services.sh starts; without them it prints why it skipped and exits 0. On a copy of
examples/classification in a temporary git repository, with a fresh MLCI_CACHE_DIR and a
registry repository of its own, it runs `mlci run --package` once (which builds or reuses the
environment image), then measures:

1. the serving image rebuilt after a model-only change (params.yaml's C), warm cache:
   ``build_serving_image`` alone, a new model each time, median and min of N;
2. what a model-only change pushes: the first image and then the changed one are published
   to the same repository (``Registry.publish``), and the layers of the second manifest that
   the first did not have are summed, beside the model layer's size;
3. the serving image's size against its parts: base, environment image minus base
   (dependencies + mlci), model layer, and the rest;
4. the server's speed through the V2 client (tritonclient.http): p50/p99 of single-row
   requests and rows/s of a 1,000-row batch;
5. the package stage's smoke test of ``--smoke-rows`` rows (default 1,000: the run's own
   smoke cases, the example's test rows, repeated to that many), as ``mlci run --package``
   runs it (``stages.package.smoke_test``: start the serving container, wait for readiness,
   every row in batches plus 50 single-row requests, compare with evaluation, remove the
   container), wall time from start to verdict, median of N; goal <= 10 s (issue 11).

It prints a markdown section. Containers, serving images and registry tags it made are
removed locally at the end; the environment image stays (it is the content-keyed cache every
`mlci run --package` of this tree reuses) and the registry keeps its repository.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "mlci-base:bookworm"
REGISTRY_HOST = "127.0.0.1:5000"
REGISTRY_USERNAME = "mlci"
REGISTRY_PASSWORD = os.environ.get("MLCI_TEST_REGISTRY_PASSWORD", "mlci-test-password")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MB = 1e6
REBUILD_GOAL_S = 5.0
OVERHEAD_GOAL_MB = 20.0


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def skipped(reason: str) -> int:
    print(f"Image benchmarks skipped: {reason}.\n")
    return 0


def services_missing() -> str | None:
    """Why the image benchmarks cannot run here, or None when everything they need answers."""
    from mlci_action.images.docker_api import daemon_reachable

    if not daemon_reachable():
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return f"no Docker daemon reachable at DOCKER_HOST={where} (start it: bash scripts/services.sh)"
    import docker

    try:
        docker.from_env(timeout=10).images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        return f"no base image {BASE_IMAGE} (make it: bash scripts/services.sh)"
    try:
        with urllib.request.urlopen(f"http://{REGISTRY_HOST}/v2/", timeout=5):
            pass
    except urllib.error.HTTPError:
        pass  # 401: there, with authentication
    except OSError as exc:
        return f"no registry at {REGISTRY_HOST} ({exc}; start it: bash scripts/services.sh)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def manifest(repository: str, tag: str) -> dict[str, Any]:
    """The image manifest (schema 2) of ``repository:tag`` from the registry's HTTP API."""
    request = urllib.request.Request(
        f"http://{REGISTRY_HOST}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_V2}
    )
    token = base64.b64encode(f"{REGISTRY_USERNAME}:{REGISTRY_PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    found: dict[str, Any] = json.loads(body)
    found["_bytes"] = len(body)
    return found


def layer_name(created_by: str) -> str:
    """A short name for an environment image layer, from its history's CreatedBy."""
    if "/opt/mlci/venv" in created_by and "COPY" in created_by.upper() and "src" not in created_by:
        return "dependencies (the virtual environment from the build stage)"
    known = [
        ("uv pip install", "dependencies (uv pip install)"),
        ("uv pip sync", "dependencies (uv pip sync)"),
        ("uv venv", "virtual environment (uv venv)"),
        ("/opt/mlci/bin/uv", "uv binary"),
        ("/opt/mlci/src/mlci_action", "mlci's code"),
        ("_mlci.pth", "mlci .pth file"),
        ("/opt/mlci/requirements", "requirement files"),
        ("mlci-build-ca.crt", "CA bundle"),
    ]
    return next((name for key, name in known if key in created_by), created_by[-60:].strip())


_CASES_SCRIPT = """
import sys, numpy as np, pandas as pd
from mlci_action.worker import smoke_cases
from mlci_action.worker.modelio import load_model
rows, target, test, trusted = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
model = load_model("/out/models/candidate.skops", trusted)
features = pd.read_csv("/project/" + test).drop(columns=[target])
features = features.iloc[np.arange(rows) % len(features)].reset_index(drop=True)
proba = model.predict_proba(features) if hasattr(model, "predict_proba") else None
classes = getattr(model, "classes_", None)
smoke_cases.write("/cases/smoke-cases.json", features, np.asarray(model.predict(features)),
                  proba, None if classes is None else np.asarray(classes), rows)
"""


def smoke_tests(
    engine: Any, config: Any, env_tag: str, tag: str, project: Path, rows: int, repeats: int
) -> tuple[list[float], list[Any]]:
    """``repeats`` runs of the package stage's smoke test of ``tag`` on ``rows`` rows: the
    test rows repeated to ``rows``, answered by the candidate model in its environment image
    (as the evaluate task writes the cases: ``mlci_action.worker.smoke_cases``)."""
    from types import SimpleNamespace

    from mlci_action.stages.package import smoke_test

    workdir = project.parent / "smoke-bench"
    workdir.mkdir(exist_ok=True)
    engine.client.containers.run(
        env_tag,
        [
            *("python", "-c", _CASES_SCRIPT, str(rows), config.data.target, config.data.test),
            *config.evaluation.trusted_types,
        ],
        volumes={
            str(project): {"bind": "/project", "mode": "ro"},
            str(project / ".mlci" / "out"): {"bind": "/out", "mode": "ro"},
            str(workdir): {"bind": "/cases", "mode": "rw"},
        },
        network_mode="none",
        remove=True,
    )
    ctx = SimpleNamespace(config=config, workdir=workdir)  # what smoke_test reads of the run
    seconds, results = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        result = smoke_test(ctx, engine, None, SimpleNamespace(tag=tag))  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - started)
        results.append(result)
    return seconds, results


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500, help="single-row requests")
    parser.add_argument("--batch-rows", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--smoke-rows", type=int, default=1000)
    args = parser.parse_args()
    reason = services_missing()
    if reason:
        return skipped(reason)

    import docker
    import tritonclient.http as v2

    from mlci_action.config import load_config
    from mlci_action.executors.environment_image import image_key
    from mlci_action.images.docker_api import Docker, connect
    from mlci_action.images.registry import Credentials, Registry
    from mlci_action.images.serving_image import (
        build_serving_image,
        data_hash,
        oci_labels,
        serving_command,
    )

    client = connect()
    engine = Docker(client)
    server_version = client.version().get("Version", "?")
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-images-"))
    made_tags: list[str] = []  # image tags this run created, untagged at the end
    containers: list[Any] = []
    repo = f"mlci-bench/bc-{uuid.uuid4().hex[:8]}"
    repository = f"{REGISTRY_HOST}/{repo}"
    # C values of our own, so no tag (mlci-serve/NAME:MODEL-DIGEST) is shared with the tests
    first_c = round(random.Random(uuid.uuid4().int).uniform(0.5, 0.9), 6)
    env = {
        **os.environ,
        "MLCI_CACHE_DIR": str(work / "cache"),
        "NO_COLOR": "1",
        "MLCI_REGISTRY_USERNAME": REGISTRY_USERNAME,
        "MLCI_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
    }
    try:
        project = work / "repo"
        shutil.copytree(
            ROOT / "examples" / "classification",
            project,
            ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__"),
        )
        (project / "params.yaml").write_text(f"C: {first_c}\nmax_iter: 1000\n")
        (project / "mlci.yaml").write_text(
            (project / "mlci.yaml").read_text()
            + f"\ndeploy:\n  base_image: {BASE_IMAGE}\n  registry: {REGISTRY_HOST}\n"
            f"  image: {repo}\n  tags: [latest]\n"
        )
        git(project, "init", "--quiet", "--initial-branch=main")
        git(project, "add", "-A")
        git(project, "commit", "--quiet", "-m", "baseline")

        # one `mlci run --package`: environment image (built unless this tree's exists),
        # first serving image, smoke test
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "mlci_action", "run", str(project), "--package"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        first_run_s = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(
                f"mlci run --package failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        run = json.loads((project / ".mlci" / "out" / "run.json").read_text())
        first = run["image"]
        made_tags.append(first["tag"])
        env_tag = first["environment_image"]
        config = load_config(project)

        # 1. model-only change, warm cache: build_serving_image alone, a new model each time
        rebuild_s: list[float] = []
        rebuilt = []
        same_env_layers = True
        first_layers = client.images.get(first["tag"]).attrs["RootFS"]["Layers"]
        for i in range(args.repeats):
            c = round(first_c + (i + 1) / 1000, 6)
            (project / "params.yaml").write_text(f"C: {c}\nmax_iter: 1000\n")
            model = work / "models" / f"model-{i}.skops"
            model.parent.mkdir(exist_ok=True)
            params = model.parent / "params.json"
            params.write_text(json.dumps({"C": c, "max_iter": 1000}))
            # trained in the environment image itself, whichever executor `mlci run` used
            client.containers.run(
                env_tag,
                ["python", "train.py"],
                working_dir="/project",
                volumes={
                    str(project): {"bind": "/project", "mode": "ro"},
                    str(model.parent): {"bind": "/models", "mode": "rw"},
                },
                environment={
                    "MLCI_TRAIN_PATH": f"/project/{config.data.train}",
                    "MLCI_TARGET": config.data.target,
                    "MLCI_MODEL_PATH": f"/models/{model.name}",
                    "MLCI_PARAMS_PATH": f"/models/{params.name}",
                },
                network_mode="host",
                remove=True,
            )
            labels = oci_labels(
                config,
                revision=None,
                source=None,
                metrics={},
                data_hash=data_hash(project, config),
                environment_key=image_key(project, config),
            )
            started = time.perf_counter()
            image = build_serving_image(
                engine,
                project=project,
                config=config,
                env_image=env_tag,
                model=model,
                labels=labels,
                sink=lambda _line: None,
            )
            rebuild_s.append(time.perf_counter() - started)
            made_tags.append(image.tag)
            rebuilt.append(image)
            layers = client.images.get(image.tag).attrs["RootFS"]["Layers"]
            same_env_layers &= layers[:-1] == first_layers[:-1] and layers[-1] != first_layers[-1]
        second = rebuilt[0]

        # 2. push the first image, then the model-only change, to the same repository
        registry = Registry(engine, Credentials(REGISTRY_USERNAME, REGISTRY_PASSWORD))
        started = time.perf_counter()
        first_statuses: list[str] = []
        registry.publish(
            first["image_id"], repository, ["v1"], [], lambda e: first_statuses.append(e.text)
        )
        push1_s = time.perf_counter() - started
        made_tags.append(f"{repository}:v1")
        statuses: list[str] = []
        started = time.perf_counter()
        registry.publish(second.image_id, repository, ["v2"], [], lambda e: statuses.append(e.text))
        push2_s = time.perf_counter() - started
        made_tags.append(f"{repository}:v2")
        m1, m2 = manifest(repo, "v1"), manifest(repo, "v2")
        had = {layer["digest"] for layer in m1["layers"]}
        new_layers = [layer for layer in m2["layers"] if layer["digest"] not in had]
        new_bytes = sum(int(layer["size"]) for layer in new_layers)
        model_compressed = int(m2["layers"][-1]["size"])
        config_blob = int(m2["config"]["size"])
        pushed_status = sum(s.startswith("Pushed") for s in statuses)
        existed_status = sum(s.startswith("Layer already exists") for s in statuses)
        mounted_first = sum(s.startswith("Mounted from") for s in first_statuses)
        total_compressed = sum(int(layer["size"]) for layer in m2["layers"])

        # 3. the serving image's size against its parts
        base_b = int(client.images.get(config.deploy.base_image).attrs["Size"])
        env_image = client.images.get(env_tag)
        env_b = int(env_image.attrs["Size"])
        serving_b = second.size_bytes
        model_b = second.model_layer_bytes
        rest_b = serving_b - env_b - model_b
        base_history = client.images.get(config.deploy.base_image).history()
        env_history = env_image.history()  # newest first
        own = env_history[: len(env_history) - len(base_history)]
        env_layers = [
            (layer_name(h.get("CreatedBy", "")), int(h.get("Size", 0)))
            for h in reversed(own)
            if int(h.get("Size", 0)) > 0
        ]
        deps_b = sum(size for name, size in env_layers if name.startswith("dependencies"))

        # 4. the server, through the V2 client
        port = free_port()
        command = [
            "127.0.0.1" if part == "0.0.0.0" else part for part in serving_command(config, port)
        ]
        started = time.perf_counter()
        container = client.containers.run(
            second.tag,
            command=command,
            detach=True,
            network_mode="host",
            labels={"org.mlci.benchmark": "1"},
        )
        containers.append(container)
        v2c = v2.InferenceServerClient(url=f"127.0.0.1:{port}", network_timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                if v2c.is_server_ready() and v2c.is_model_ready(config.name):
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                logs = container.logs(tail=40).decode("utf-8", "replace")
                raise SystemExit(f"the server never became ready:\n{logs}")
            time.sleep(0.05)
        ready_s = time.perf_counter() - started
        metadata = v2c.get_model_metadata(config.name)
        datatypes = {str(i["name"]): str(i["datatype"]) for i in metadata.get("inputs") or []}
        test = pd.read_csv(project / config.data.test)
        features = test.drop(columns=[config.data.target])
        datatypes = datatypes or dict.fromkeys(map(str, features.columns), "FP64")
        numpy_types = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64}
        outputs = [v2.InferRequestedOutput("predict", binary_data=False)]

        def infer(rows: pd.DataFrame) -> np.ndarray:
            inputs = []
            for name, datatype in datatypes.items():
                tensor = v2.InferInput(name, [len(rows)], datatype)
                values = rows[name].to_numpy(dtype=numpy_types.get(datatype, np.float64))
                tensor.set_data_from_numpy(values, binary_data=False)
                inputs.append(tensor)
            result = v2c.infer(config.name, inputs, outputs=outputs)
            return np.asarray(result.as_numpy("predict")).reshape(-1)

        for i in range(10):  # warm-up
            infer(features.iloc[i : i + 1])
        latencies, single = [], {}
        for i in range(args.requests):
            row = i % len(features)
            began = time.perf_counter()
            got = infer(features.iloc[row : row + 1])
            latencies.append((time.perf_counter() - began) * 1000)
            single[row] = got[0]
        picks = np.random.default_rng(0).choice(len(features), args.batch_rows, replace=True)
        batch = features.iloc[picks].reset_index(drop=True)
        infer(batch)  # warm-up
        batch_rps, answers = [], np.array([])
        for _ in range(args.batches):
            began = time.perf_counter()
            answers = infer(batch)
            batch_rps.append(args.batch_rows / (time.perf_counter() - began))
        mismatches = sum(
            1 for j, row in enumerate(picks) if row in single and answers[j] != single[row]
        )
        v2c.close()

        # 5. the package stage's smoke test of --smoke-rows rows, start to verdict
        smoke_s, smoke_results = smoke_tests(
            engine, config, env_tag, first["tag"], project, args.smoke_rows, args.repeats
        )
    finally:
        for container in containers:
            container.remove(force=True)
        for tag in reversed(made_tags):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag)
        shutil.rmtree(work, ignore_errors=True)

    # the markdown section
    rebuild_median = statistics.median(rebuild_s)
    print(
        f"## Images and serving ({platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, Docker {server_version}, median of {args.repeats})\n"
    )
    reused = "reused" if first["environment_reused"] else "built"
    executor = (run.get("environment") or {}).get("executor", "?")
    print(
        f"First `mlci run --package` (executor {executor}; environment image {reused}, serving "
        f"image, smoke test): {first_run_s:.1f} s.\n"
    )
    print("### 1. Serving image rebuilt after a model-only change (warm cache)\n")
    print("| measurement | median s | min s | max s |")
    print("|:--|--:|--:|--:|")
    print(
        f"| `build_serving_image`, new model (C changed) | {rebuild_median:.2f} | "
        f"{min(rebuild_s):.2f} | {max(rebuild_s):.2f} |"
    )
    print(
        f"\ngoal: rebuild after a model-only change <= {REBUILD_GOAL_S:g} s; measured "
        f"{rebuild_median:.2f} s: {'met' if rebuild_median <= REBUILD_GOAL_S else 'NOT met'}"
    )
    print(
        f"only the last (model) layer differs from the first image: {'yes' if same_env_layers else 'NO'}\n"
    )
    print("### 2. Push of a model-only change (same repository)\n")
    print("| push | layers new to the repository | bytes (compressed) | seconds |")
    print("|:--|--:|--:|--:|")
    print(
        f"| first image, empty repository | {len(m1['layers'])} of {len(m1['layers'])} | "
        f"{sum(int(layer['size']) for layer in m1['layers']):,} | {push1_s:.2f} |"
    )
    print(
        f"| model-only change | {len(new_layers)} of {len(m2['layers'])} | {new_bytes:,} | "
        f"{push2_s:.2f} |"
    )
    print(f"| (model layer, compressed in the registry) | | {model_compressed:,} | |")
    print(f"| (model layer, uncompressed) | | {model_b:,} | |")
    print(f"| (whole image, compressed) | | {total_compressed:,} | |")
    print(
        f"\nsecond push: {new_bytes:,} bytes of new layers = {new_bytes / model_compressed:.2f} x "
        f"the model layer ({new_bytes / total_compressed:.4%} of the image), plus the config blob "
        f"({config_blob:,} bytes) and the manifest ({m2['_bytes']:,} bytes); the push stream "
        f"said Pushed x {pushed_status}, Layer already exists x {existed_status}"
    )
    if mounted_first:
        print(
            f"(the first push mounted {mounted_first} of its layers from other repositories of "
            "the registry instead of uploading them: the registry already held those blobs)"
        )
    print()
    print("### 3. Serving image size against its parts (uncompressed)\n")
    print("| part | MB |")
    print("|:--|--:|")
    print(f"| base image ({config.deploy.base_image}) | {base_b / MB:.1f} |")
    print(f"| environment image - base (dependencies + mlci) | {(env_b - base_b) / MB:.1f} |")
    for name, size in env_layers:
        print(f"| &nbsp;&nbsp;of which {name} | {size / MB:.2f} |")
    print(f"| model layer | {model_b / MB:.3f} |")
    print(f"| rest (serving settings, labels) | {rest_b / MB:.3f} |")
    print(f"| **serving image** | **{serving_b / MB:.1f}** |")
    budget = env_b + model_b + OVERHEAD_GOAL_MB * MB
    print(
        f"\ngoal: serving image <= base + dependencies + model + {OVERHEAD_GOAL_MB:g} MB = "
        f"{budget / MB:.1f} MB; measured {serving_b / MB:.1f} MB: "
        f"{'met' if serving_b <= budget else 'NOT met'}"
    )
    strict = serving_b - base_b - deps_b - model_b
    print(
        f"counting only the dependency layer as dependencies, everything else mlci adds "
        f"(mlci's code, settings) is {strict / MB:.1f} MB\n"
    )
    print("### 4. Serving speed through the V2 client (tritonclient.http, JSON tensors)\n")
    print("| measurement | value |")
    print("|:--|--:|")
    print(f"| container start to ready | {ready_s:.2f} s |")
    print(f"| single row, p50 ({args.requests} requests) | {pct(latencies, 50):.2f} ms |")
    print(f"| single row, p99 | {pct(latencies, 99):.2f} ms |")
    print(
        f"| {args.batch_rows:,}-row batch, median of {args.batches} | "
        f"{statistics.median(batch_rps):,.0f} rows/s |"
    )
    print(
        f"| {args.batch_rows:,}-row batch, slowest / fastest | "
        f"{min(batch_rps):,.0f} / {max(batch_rps):,.0f} rows/s |"
    )
    print(f"\nbatch answers that differ from the single-row answers: {mismatches}\n")
    print(f"### 5. The package stage's smoke test of {args.smoke_rows:,} rows (start to verdict)\n")
    print("| measurement | value |")
    print("|:--|--:|")
    smoke_median = statistics.median(smoke_s)
    last = smoke_results[-1]
    print(
        f"| container start, readiness, {last.rows:,} rows in batches + single-row requests, "
        f"compare, remove: median of {len(smoke_s)} | {smoke_median:.2f} s |"
    )
    print(f"| fastest / slowest | {min(smoke_s):.2f} / {max(smoke_s):.2f} s |")
    print(
        f"| batches: rows/s (median of runs) | "
        f"{statistics.median(r.batch_rows_per_s for r in smoke_results):,.0f} |"
    )
    print(
        f"| single rows: p50 / p99 ms (median of runs) | "
        f"{statistics.median(r.p50_ms for r in smoke_results):.2f} / "
        f"{statistics.median(r.p99_ms for r in smoke_results):.2f} |"
    )
    print(
        f"| rows whose answers differ from evaluation's | "
        f"{max(r.mismatches for r in smoke_results)} |"
    )
    print(
        f"\ngoal: smoke test of 1,000 rows <= 10 s; measured {smoke_median:.2f} s: "
        f"{'met' if smoke_median <= 10 else 'NOT met'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
