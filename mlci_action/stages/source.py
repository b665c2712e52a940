"""Source: the candidate (the working tree) and the baseline (a git ref), with content keys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlci_action import git
from mlci_action.config import CONFIG_FILE, load_config
from mlci_action.errors import ConfigError, InputError, StageFailure
from mlci_action.executors.base import check_environment_files
from mlci_action.hashing import value_digest
from mlci_action.keys import side_key
from mlci_action.paths import check_paths
from mlci_action.pipeline import RunContext, RunState, Side, StageOutput
from mlci_action.record import Source


class SourceStage:
    name = "source"
    needs: tuple[str, ...] = ()

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        project, config = ctx.options.project, ctx.config
        root = git.repo_root(project)
        sha = git.head(root) if root else None
        rel = project.resolve().relative_to(root).as_posix() if root else ""
        if rel == ".":
            rel = ""
        candidate_key = side_key(project, config, ctx.executor)
        candidate = Source(
            role="candidate",
            ref="working tree" if root is None or git.is_dirty(root, rel) else "HEAD",
            sha=sha,
            dirty=bool(root and git.is_dirty(root, rel)),
            key=candidate_key,
        )
        state = replace(state, candidate=replace(state.candidate, source=candidate))
        if ctx.options.champion:
            return self._champion_as_candidate(ctx, state)
        ref = ctx.options.base or config.baseline
        if ref == "registry" or (
            ref is None and ctx.registry is not None and config.deploy.registry
        ):
            champion = self._champion(ctx, explicit=ref == "registry")
            if champion is not None:
                return StageOutput(
                    replace(state, baseline=champion),
                    reason=f"baseline: champion {champion.source.ref}",
                )
            tag = ctx.options.registry_tag or config.deploy.champion_tag
            fallback = ctx.options.fallback_base
            if fallback is not None and root is not None and git.has_commit(root, fallback):
                ref = fallback  # nothing behind the tag yet: the first parent is the baseline
                ctx.progress.note(f"no {tag!r} image in the registry yet: comparing with {ref}")
            elif ref == "registry":
                raise InputError(
                    f"--base registry: no {tag!r} image of {config.deploy.repository(config.name)}",
                    hint="push and promote a first model, or compare with a git ref",
                )
            else:
                absent = Side(
                    source=Source(role="baseline", ref=f"registry {tag}"),
                    project=Path("registry"),
                    config=config,
                    error=f"the registry holds no {tag!r} image yet",
                    absent=True,
                )
                return StageOutput(
                    replace(state, baseline=absent),
                    reason=f"no baseline: the registry holds no {tag!r} image yet (first model)",
                )
        if ref is None:
            return StageOutput(state, reason="no baseline: pass --base REF to compare")
        root = git.require_repo(project, f"a baseline ({ref!r}) was asked for")
        base_sha = git.resolve(root, ref)
        # named as a reviewer knows it (``main``), not by the bare sha the action resolved
        source = Source(role="baseline", ref=ctx.options.base_name or ref, sha=base_sha)
        if git.tree_id(root, base_sha, rel) is None:  # the project is new: a first model
            absent = Side(
                source=source.model_copy(update={"key": value_digest({"absent": rel})}),
                project=Path(rel),
                config=config,
                error=f"{rel or '.'} does not exist at {ref}",
                absent=True,
            )
            return StageOutput(
                replace(state, baseline=absent), reason=f"baseline {ref} @ {base_sha[:12]}"
            )
        baseline = self._checkout(ctx, root, base_sha, rel, source)
        return StageOutput(
            replace(state, baseline=baseline), reason=f"baseline {ref} @ {base_sha[:12]}"
        )

    def _checkout(self, ctx: RunContext, root: Path, sha: str, rel: str, source: Source) -> Side:
        """The baseline's commit in a temporary worktree (for the run), its own mlci.yaml if
        it has one, and its key computed from those files as the candidate's is from the
        working tree: the same content has the same key in either role. Data that git
        ignores is not in the checkout; training the baseline then fails and says so."""
        tree = ctx.stack.enter_context(git.worktree(root, sha))
        project = tree / rel
        config = ctx.config
        error = None
        if git.has_file(root, sha, f"{rel}/{CONFIG_FILE}".lstrip("/")):
            try:
                config = load_config(project)
            except ConfigError as exc:
                error = f"its mlci.yaml is not valid: {exc.message}"
        if error is None:
            try:
                check_paths(project, config)
                check_environment_files(project, config.environment)
            except (ConfigError, InputError) as exc:
                error = exc.message
        key = (
            side_key(project, config, ctx.executor)
            if error is None
            else value_digest({"sha": sha, "rel": rel, "error": error})
        )
        return Side(
            source=source.model_copy(update={"key": key}),
            project=project,
            config=config,
            error=error,
        )

    def _champion_as_candidate(self, ctx: RunContext, state: RunState) -> StageOutput:
        """The model in production is what is evaluated; the working tree gives the data,
        the tests and the gates. Its key joins the image's digest and the tree's."""
        config = ctx.config
        champion = self._champion(ctx, explicit=True)
        if champion is None:
            raise InputError(
                f"--champion: no {config.deploy.champion_tag!r} image of "
                f"{config.deploy.repository(config.name)} in the registry",
                hint="push and promote a first model (mlci run --push, mlci promote)",
            )
        working = state.candidate
        source = champion.source.model_copy(
            update={
                "role": "candidate",
                "key": value_digest({"champion": champion.source.sha, "tree": working.source.key}),
            }
        )
        candidate = replace(champion, source=source, project=working.project)
        return StageOutput(
            replace(state, candidate=candidate),
            reason=f"champion {champion.image} ({(champion.source.sha or '')[:19]}) "
            "on the working tree's data and tests",
        )

    def _champion(self, ctx: RunContext, *, explicit: bool) -> Side | None:
        from mlci_action.images.champion import fetch_champion
        from mlci_action.images.registry import RegistryError

        config = ctx.config
        repository = config.deploy.repository(config.name)
        if repository is None or ctx.docker is None or ctx.registry is None:
            if explicit:
                raise InputError(
                    "the registry's champion (--base registry, --champion) needs "
                    "deploy.registry in mlci.yaml and a Docker engine",
                    hint="set deploy.registry to the registry that holds the champion",
                )
            return None
        tag = ctx.options.registry_tag or config.deploy.champion_tag
        try:
            with ctx.progress.activity(
                f"pulling {repository}:{tag}", ctx.log_path("pull-champion")
            ) as sink:
                found = fetch_champion(
                    ctx.docker,
                    ctx.registry,
                    repository,
                    tag,
                    ctx.workdir / "champion" / "model.skops",
                    sink,
                )
        except RegistryError as exc:
            # "could not ask" is not "there is none": a run that expected a baseline fails
            # closed rather than pass its regression gates against nothing
            raise StageFailure(
                f"could not ask the registry for the baseline {repository}:{tag}: {exc.message}",
                hint="the registry must answer (or have no such tag) for the run to compare; "
                "check deploy.registry, the network and the credentials",
            ) from None
        if found is None:
            return None
        source = Source(
            role="baseline", ref=f"registry {found.reference}", sha=found.digest, key=found.digest
        )
        return Side(
            source=source,
            project=Path("registry"),
            config=config,
            model=found.model,
            model_cached=True,
            from_registry=True,
            image=found.reference,
        )
