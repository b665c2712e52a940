"""Package: the serving image (environment image + model), smoke-tested before anything ships."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

from mlci_action.dataset import is_url
from mlci_action.errors import StageFailure
from mlci_action.executors.environment_image import ensure_environment_image, image_key
from mlci_action.executors.host import HostPool
from mlci_action.executors.tasks import ReferenceProfile
from mlci_action.images.docker_api import Docker
from mlci_action.images.serving_image import (
    build_serving_image,
    data_hash,
    oci_labels,
    serving_command,
)
from mlci_action.layout import SMOKE_CASES
from mlci_action.monitoring.profile import Profile
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import ImageInfo, SmokeTest, Status

REFERENCE = "reference.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _data_path(project: Path, spec: str) -> str:
    """A data setting as the worker reads it: a URL as written, else a path in the project
    (a directory or glob of partitions too: the worker merges their profiles)."""
    return spec if is_url(spec) else str((project / spec).resolve())


def reference_profile(ctx: RunContext, state: RunState) -> tuple[Profile, Path]:
    """The candidate's reference profile, computed by the worker in the project's environment."""
    side, config = state.candidate, state.candidate.config
    if side.model is None:
        raise StageFailure("no trained candidate model to profile")
    runtime = side.runtime
    if runtime is None:  # a cache hit: no environment stage ran; prepare (reuse) it here
        hosts = HostPool(ctx.workdir / "logs")
        ctx.stack.callback(hosts.close)
        runtime = ctx.executor.prepare(side.project, ctx.config, ctx.log_path("environment"))
        ctx.stack.callback(runtime.close)
        runtime = runtime.with_hosts(hosts)
    path = ctx.workdir / REFERENCE
    request = ReferenceProfile(
        train_path=_data_path(side.project, config.data.train),
        test_path=_data_path(side.project, config.data.test),
        target=config.data.target,
        task=config.evaluation.task,
        model=str(side.model),
        trusted_types=config.evaluation.trusted_types,
        metrics=list(config.evaluation.metric_names),
        positive_class=config.evaluation.positive_class,
        bootstrap=config.evaluation.bootstrap.model_dump(),
        profile_path=str(path),
    )
    runtime.call(request, cwd=side.project, log=ctx.log_path("reference-profile"))
    return Profile.from_json(path.read_bytes()), path


def smoke_test(ctx: RunContext, docker: Docker, state: RunState, image: ImageInfo) -> SmokeTest:
    """Start the serving image, replay the test rows over V2, compare with evaluation."""
    from mlci_action.serving.client import smoke_test as v2_smoke_test

    config = ctx.config
    port = free_port()
    network = docker.loopback_network()
    container = docker.client.containers.run(
        image.tag,
        command=serving_command(config, port),
        detach=True,
        network_mode=network,
        labels={"org.mlci.smoke-test": "1"},
    )
    try:
        result = v2_smoke_test(
            url=f"127.0.0.1:{port}",
            model_name=config.name,
            cases_path=ctx.workdir / SMOKE_CASES,
        )
    except StageFailure as exc:
        logs = container.logs(tail=40).decode("utf-8", "replace")
        raise StageFailure(
            f"smoke test of {image.tag} failed: {exc.message}", log_tail=logs
        ) from None
    finally:
        container.remove(force=True)
    return SmokeTest(
        rows=result.rows,
        mismatches=result.mismatches,
        p50_ms=round(result.p50_ms, 3),
        p99_ms=round(result.p99_ms, 3),
        batch_rows_per_s=round(result.batch_rows_per_s, 1),
        probabilities=result.probabilities,
        network=network,
        examples=[str(example) for example in result.first_mismatches][:5],
    )


class Package:
    name = "package"
    needs: tuple[str, ...] = ("evaluate",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        if not ctx.options.package:
            return StageOutput(state, Status.SKIPPED, "not asked: pass --package (or --push)")
        docker = ctx.docker
        side = state.candidate
        if docker is None or side.model is None:
            raise StageFailure("no Docker engine or no model to package")
        started = time.perf_counter()
        log = ctx.log_path("package")
        profile, profile_path = reference_profile(ctx, state)
        state = replace(state, reference_profile=profile)
        with ctx.progress.activity(f"building the serving image of {ctx.config.name}", log) as sink:
            env_tag, reused = ensure_environment_image(docker, side.project, ctx.config, sink)
            labels = oci_labels(
                ctx.config,
                revision=side.source.sha if not side.source.dirty else None,
                source=ctx.options.source_url,
                metrics=state.evaluation.metrics if state.evaluation else {},
                data_hash=data_hash(side.project, ctx.config),
                environment_key=image_key(side.project, ctx.config),
            )
            if ctx.options.approved_commit:
                labels["org.mlci.approved-commit"] = ctx.options.approved_commit
                labels["org.mlci.approvers"] = ",".join(ctx.options.approvers)
            serving = build_serving_image(
                docker,
                project=side.project,
                config=ctx.config,
                env_image=env_tag,
                model=Path(side.model),
                labels=labels,
                sink=sink,
                reference=profile_path,
            )
        image = ImageInfo(
            tag=serving.tag,
            image_id=serving.image_id,
            environment_image=env_tag,
            environment_reused=reused,
            size_bytes=serving.size_bytes,
            model_layer_bytes=serving.model_layer_bytes,
            environment_bytes=int(docker.client.images.get(env_tag).attrs.get("Size", 0)),
            build_seconds=round(time.perf_counter() - started, 3),
            labels=labels,
        )
        state = replace(state, image=image)
        if not ctx.config.deploy.smoke_test:
            return StageOutput(state, reason=f"built {image.tag}; smoke test turned off")
        smoke = smoke_test(ctx, docker, state, image)
        state = replace(state, smoke_test=smoke)
        if smoke.mismatches:
            return StageOutput(
                state,
                Status.FAILED,
                f"training-serving skew: {smoke.mismatches} of {smoke.rows} served predictions differ "
                "from evaluation",
            )
        return StageOutput(
            state,
            reason=f"built {image.tag} ({image.size_bytes / 1e6:.0f} MB, model layer "
            f"{image.model_layer_bytes / 1e3:.0f} kB); smoke test: {smoke.rows} rows identical"
            f"{' (labels and probabilities)' if smoke.probabilities else ''}, "
            f"p50 {smoke.p50_ms:.1f} ms, p99 {smoke.p99_ms:.1f} ms",
        )
