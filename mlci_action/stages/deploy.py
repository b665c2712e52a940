"""Deploy: push the approved serving image (or, with no registry, save it as an archive)."""

from __future__ import annotations

from dataclasses import replace

from mlci_action.errors import StageFailure
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import Deployment, Status


def immutable_tags(state: RunState) -> list[str]:
    source = state.candidate.source
    if source.sha and not source.dirty:
        return [source.sha, source.sha[:12]]
    return [f"wt-{(source.key or 'unknown')[:12]}"]


class Deploy:
    name = "deploy"
    needs: tuple[str, ...] = ("package", "gates", "data_tests", "model_tests")

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        if state.image is None:
            return StageOutput(state, Status.SKIPPED, "nothing packaged")
        config, docker = ctx.config, ctx.docker
        if docker is None:
            raise StageFailure("no Docker engine")
        repository = config.deploy.repository(config.name)
        if repository is None:
            archive = ctx.options.out / "image.tar"
            tmp = archive.with_name(".image.tar.tmp")
            archive.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as handle:
                for chunk in docker.client.images.get(state.image.tag).save(named=True):
                    handle.write(chunk)
            tmp.replace(archive)
            deployment = Deployment(
                pushed=False,
                reason=f"no registry configured: saved; load it with `docker load -i {archive}`",
                archive="image.tar",
                tags=[state.image.tag],
            )
            return StageOutput(replace(state, deployment=deployment), reason=deployment.reason)
        if not ctx.options.push:
            deployment = Deployment(
                pushed=False, reason="not approved for push (pass --push)", repository=repository
            )
            return StageOutput(replace(state, deployment=deployment), reason=deployment.reason)
        if ctx.registry is None:
            raise StageFailure("no registry client")
        immutable, moving = immutable_tags(state), list(config.deploy.tags)
        digest = ctx.registry.publish(
            state.image.image_id, repository, immutable, moving, ctx.progress.note
        )
        deployment = Deployment(
            pushed=True,
            reason="approved: verdict pass and --push",
            repository=repository,
            digest=digest,
            tags=[*immutable, *moving],
        )
        return StageOutput(
            replace(state, deployment=deployment), reason=f"pushed {repository}@{digest}"
        )
