"""Deploy: push the approved serving image (or, with no registry, save it as an archive)."""

from __future__ import annotations

from dataclasses import replace

from mlci_action.errors import StageFailure
from mlci_action.images.reuse import key_tag
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import Deployment, Status


def immutable_tags(state: RunState, extra: tuple[str, ...] = ()) -> list[str]:
    """The commit's full and short sha (and ``extra``, e.g. ``pr-7``); a working tree with
    uncommitted changes gets one ``wt-<content key>`` tag and nothing else."""
    source = state.candidate.source
    if source.sha and not source.dirty:
        content = [key_tag(source.key)] if source.key else []  # a merge finds it by content
        return [source.sha, source.sha[:12], *extra, *content]
    return [f"wt-{(source.key or 'unknown')[:12]}"]


def moving_tags(ctx: RunContext, state: RunState) -> list[str]:
    """deploy.tags, or those the event allows (the action: only the default branch moves
    them); never for uncommitted changes."""
    if state.candidate.source.dirty:
        return []
    chosen = ctx.options.moving_tags
    return list(ctx.config.deploy.tags if chosen is None else chosen)


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
        immutable = immutable_tags(state, ctx.options.extra_tags)
        moving = moving_tags(ctx, state)
        with ctx.progress.activity(f"pushing {repository}", ctx.log_path("push")) as sink:
            digest = ctx.registry.publish(state.image.image_id, repository, immutable, moving, sink)
        deployment = Deployment(
            pushed=True,
            reason="approved: verdict pass and --push",
            repository=repository,
            digest=digest,
            tags=[*immutable, *moving],
            approved_commit=ctx.options.approved_commit,
            approvers=list(ctx.options.approvers),
        )
        return StageOutput(
            replace(state, deployment=deployment), reason=f"pushed {repository}@{digest}"
        )
