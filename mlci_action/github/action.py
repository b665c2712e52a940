"""The GitHub Action: inputs and event in; the run; outputs, summary, comment and check out.

``entrypoint.py`` at the repository's top calls :func:`main`. Everything that talks to GitHub
goes through :class:`mlci_action.github.api.GitHubAPI`; a comment or check that cannot be posted
is logged and changes neither the verdict nor the report (it is still in the job summary and
the outputs).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlci_action import git
from mlci_action.cache import default_cache_dir
from mlci_action.config import CONFIG_FILE, Config, load_config
from mlci_action.errors import ConfigError, InputError, MlciError
from mlci_action.github import trust
from mlci_action.github.approval import Decision, decide
from mlci_action.github.commands import Workflow
from mlci_action.github.context import ActionInputs, Event, load_event, load_inputs
from mlci_action.github.dispatch import sanitize_reason
from mlci_action.pipeline import Options
from mlci_action.record import RunRecord, StageResult, Status, TrustReport
from mlci_action.report.render import render_limited, render_markdown
from mlci_action.yamlfile import load_yaml

if TYPE_CHECKING:
    from mlci_action.github.api import GitHubAPI
    from mlci_action.images.activity import Activity
    from mlci_action.images.registry import Registry

_ICONS = {Status.PASSED: "✔", Status.FAILED: "✘", Status.SKIPPED: "–", Status.CACHED: "♻"}


class GitHubProgress:
    """Each finished stage as a collapsed group of the job log, with its reason and log tail."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._lock = threading.Lock()

    def stage_started(self, name: str) -> None:
        with self._lock:
            print(f"▶ {name}", file=self.workflow.out, flush=True)

    def stage_finished(self, name: str, result: StageResult) -> None:
        with (
            self._lock,
            self.workflow.group(f"{_ICONS[result.status]} {name} ({result.seconds:.1f} s)"),
        ):
            if result.reason or result.log_tail:
                with self.workflow.fenced():  # the project's output is no command channel
                    if result.reason:
                        print(result.reason, file=self.workflow.out)
                    if result.log_tail:
                        print(result.log_tail, file=self.workflow.out, flush=True)

    def note(self, text: str) -> None:
        with self._lock, self.workflow.fenced():
            print(text, file=self.workflow.out, flush=True)

    def activity(self, title: str, log: Path | None) -> Activity:
        """One line in the job log; the build's or push's output goes to its log file."""
        from mlci_action.images.activity import Activity

        self.note(title)
        return Activity(log)


DISPATCH_ACTIONS = ("retrain", "evaluate", "promote", "rollback", "monitor")
"""workflow_dispatch's ``action`` input: train and test (and push when the policy allows),
re-evaluate the champion, move a tag to a digest, or monitor the live model."""


def trusted_event(event: Event) -> bool:
    """Whether the run's code and settings are the default branch's own: a push or a
    dispatch on it, or the nightly schedule (which GitHub runs on it). Only such a run
    executes data.prepare; a pull request never does."""
    if event.name == "schedule":
        return True
    return (
        event.name in ("push", "workflow_dispatch")
        and event.branch is not None
        and event.branch == event.default_branch
    )


def _monitors(event: Event, config: Config) -> bool:
    """The nightly schedule monitors when monitoring.log is set (else it re-scores the
    champion); a dispatch with action ``monitor`` always does."""
    if event.name == "workflow_dispatch":
        return event.dispatch_inputs.get("action") == "monitor"
    return event.name == "schedule" and bool(config.monitoring.log)


def runs_on_ray(event: Event, config: Config, environ: Mapping[str, str]) -> bool:
    """Whether this run's pipeline uses the ray executor: the trusted mlci.yaml says so (a pull
    request's run reads its base's) or MLCI_EXECUTOR does (which a pull request's run drops).
    Monitoring, promote and rollback run no pipeline."""
    if _monitors(event, config):
        return False
    if event.name == "workflow_dispatch" and event.dispatch_inputs.get("action") in (
        "promote",
        "rollback",
    ):
        return False
    return (environ.get("MLCI_EXECUTOR") or config.environment.executor) == "ray"


def marker(name: str) -> str:
    return f"<!-- mlci:{name} -->"


def _project(workspace: Path, config_input: str) -> Path:
    path = (workspace / config_input).resolve()
    if path.is_dir():
        return path
    if path.name != CONFIG_FILE:
        raise ConfigError(
            f"input `config` ({config_input}): mlci reads {CONFIG_FILE}",
            hint=f"name the directory that holds {CONFIG_FILE}, or the file itself",
        )
    return path.parent


PR_EVENTS = ("pull_request", "pull_request_target", "pull_request_review")
"""Events whose code is a pull request's: sandboxed, with the base's trusted settings."""


def _trusted(config: Config, project: Path, event: Event) -> tuple[Config, TrustReport]:
    pr = event.pull_request
    if pr is None:
        raise InputError(
            f"a {event.name} event without a pull_request in its payload",
            hint="mlci needs the event's pull request to find the base commit",
        )
    base = pr.base_sha
    if not base and pr.base_ref and git.has_commit(project, f"origin/{pr.base_ref}"):
        base = git.resolve(project, f"origin/{pr.base_ref}")
    if not base:
        raise InputError(
            "the pull request's base commit is unknown, so mlci cannot read its trusted settings",
            hint="check out with `fetch-depth: 0` (actions/checkout)",
        )
    return trust.from_base(config, project, base, pr.base_ref)


def trusted_settings(
    config: Config, project: Path, event: Event, environ: Mapping[str, str]
) -> tuple[Config, TrustReport | None, Mapping[str, str]]:
    """The run's configuration and environment: a pull request decides what is trained and
    tested; where, how and what ships is its base's (and MLCI_EXECUTOR is dropped)."""
    if event.name not in PR_EVENTS:
        return config, None, environ
    config, report = _trusted(config, project, event)
    config = trust.require_sandbox(config, event.name)
    return config, report, {k: v for k, v in environ.items() if k != "MLCI_EXECUTOR"}


def _baseline(inputs: ActionInputs, event: Event, project: Path, config: Config) -> str | None:
    if inputs.baseline:
        return inputs.baseline
    pr = event.pull_request
    if pr is not None and pr.base_sha and git.has_commit(project, pr.base_sha):
        return pr.base_sha
    if pr is not None and pr.base_ref and git.has_commit(project, f"origin/{pr.base_ref}"):
        return f"origin/{pr.base_ref}"
    if event.name == "push" and git.has_commit(project, "HEAD~1"):
        # with a registry: the model behind the moving tag (_deploy_options), else the parent
        return None if config.deploy.registry else "HEAD~1"
    return None  # the registry's champion when one is configured, else no baseline


def _annotations(workflow: Workflow, record: RunRecord, project: Path, workspace: Path) -> None:
    config_file = project / CONFIG_FILE
    shown = os.path.relpath(config_file, workspace)
    document = load_yaml(config_file)
    for gate in record.gates:
        if not gate.passed:
            workflow.error(
                f"gate {gate.name}: {gate.reason}",
                file=shown,
                line=document.line_of(("gates", gate.name)),
                title="mlci gate failed",
            )
    if record.data is not None:
        for check in record.data.checks:
            if check.passed or check.severity != "error":
                continue
            data_key = "test" if check.dataset == "test" else "train"
            data_file = (document.data or {}).get("data", {}).get(data_key)
            where = os.path.relpath(project / data_file, workspace) if data_file else shown
            details = "; ".join(
                f"{f.column or '-'} {f.check}: {f.count} ({', '.join(f.examples[:3])})"
                for f in check.failures[:5]
            )
            workflow.error(
                f"data check {check.name} ({check.dataset}): {check.detail} {details}".strip(),
                file=where,
            )
    for name, stage in record.stages.items():
        if stage.status == Status.FAILED and name not in ("gates", "data_tests"):
            workflow.error(f"{name}: {stage.reason}", title=f"mlci {name} failed")


def _bound_to_checkout(decision: Decision, project: Path) -> Decision:
    """An approval ships only the commit it was given on: the checkout must be that commit, or
    GitHub's merge preview of it (``refs/pull/N/merge``, whose second parent is the head)."""
    approved = decision.approved_commit
    if not decision.push or approved is None:
        return decision
    root = git.repo_root(project)
    head = git.head(root) if root else None
    if head is not None and (
        head == approved or approved in git.parents(root or project, head)[1:]
    ):
        return decision
    return Decision(
        False,
        f"the approvals are for {approved[:12]}, but the checkout is {(head or 'unknown')[:12]}: "
        "a commit nobody approved is never pushed",
    )


def _deploy_options(inputs: ActionInputs, event: Event, config: Config) -> dict[str, Any]:
    """Tags by event, and the baseline of a deploying push.

    Moving tags (deploy.tags) move only from the default branch or deploy.policy.on_push_to
    (a push, or a dispatch on it); an approved pull request gets ``pr-N``; a push compares with
    the model behind the first moving tag now, or, before there is one, the first parent."""
    pr = event.pull_request
    branches = {*config.deploy.policy.on_push_to, *filter(None, [event.default_branch])}
    deploy_branch = event.branch in branches and event.name in ("push", "workflow_dispatch")
    options: dict[str, Any] = {
        "moving_tags": tuple(config.deploy.tags) if deploy_branch else (),
        "extra_tags": (f"pr-{pr.number}",) if pr is not None else (),
    }
    if event.name == "push" and not inputs.baseline and config.deploy.registry:
        options["registry_tag"] = (config.deploy.tags or [config.deploy.champion_tag])[0]
        options["fallback_base"] = "HEAD^1"
    return options


def _outputs(workflow: Workflow, record: RunRecord, report: Path, workspace: Path) -> None:
    workflow.set_output("verdict", record.verdict)
    # a path the runner's later steps can open: relative to the workspace they share
    workflow.set_output("report", os.path.relpath(report, workspace))
    workflow.set_output(
        "metrics",
        json.dumps({name: m.model_dump(mode="json") for name, m in record.metrics.items()}),
    )
    deployment, image = record.deployment, record.image
    reference = ""
    if deployment is not None and deployment.pushed and deployment.repository:
        reference = f"{deployment.repository}@{deployment.digest}"
    elif image is not None:
        reference = image.tag
    workflow.set_output("image", reference)
    pushed = deployment is not None and deployment.pushed
    workflow.set_output(
        "repository", (deployment.repository or "") if pushed and deployment else ""
    )
    workflow.set_output("digest", deployment.digest if deployment and deployment.digest else "")
    # the in-toto statement, for a following actions/attest step to sign (keyless)
    attested = "attestation.intoto.json" in record.artifacts
    workflow.set_output(
        "attestation",
        os.path.relpath(report.parent / "attestation.intoto.json", workspace) if attested else "",
    )


def _post(
    workflow: Workflow, api: GitHubAPI | None, inputs: ActionInputs, event: Event, record: RunRecord
) -> None:
    from mlci_action.github.api import GitHubError

    if api is None:
        workflow.warning(
            "no github-token: no PR comment and no check run (the report is in the job summary)"
        )
        return
    pr = event.pull_request
    sha = pr.head_sha if pr is not None else event.sha
    body = render_limited(record, marker=marker(record.name))
    if pr is not None and inputs.comment:
        try:
            posted = api.upsert_comment(pr.number, marker(record.name), body)
            print(
                f"{'posted' if posted.created else 'updated'} the PR comment: {posted.url}",
                file=workflow.out,
            )
        except GitHubError as exc:
            workflow.warning(
                f"could not post the PR comment ({exc.message}); the report is in the job summary"
            )
    if sha:
        try:
            kind = api.report_check(
                sha,
                f"mlci · {record.name}",
                "success" if record.verdict == "pass" else "failure",
                record.summary[:1000],
                render_markdown(record, details=False),
            )
            print(f"reported the verdict as a {kind}", file=workflow.out)
        except GitHubError as exc:
            workflow.warning(f"could not report the check ({exc.message})")


def _deployment(
    workflow: Workflow,
    api: GitHubAPI | None,
    environment: str,
    sha: str,
    payload: dict[str, Any],
    ok: bool,
    description: str,
) -> None:
    """A GitHub Deployment of ``sha`` to ``environment`` with its outcome, so the repository's
    Environments page shows which model serves where. Logged, never fatal."""
    from mlci_action.github.api import GitHubError

    if api is None or not sha:
        return
    try:
        made = api.create_deployment(sha, environment, payload, description)
        api.set_deployment_status(made, "success" if ok else "failure", description)
        print(f"recorded deployment {made} to {environment}", file=workflow.out)
    except GitHubError as exc:
        workflow.warning(f"could not record the deployment to {environment} ({exc.message})")


def _promote(
    workflow: Workflow,
    event: Event,
    config: Config,
    registry: Registry,
    decision: Decision,
    mode: str,
    api: GitHubAPI | None = None,
) -> int:
    digest = event.dispatch_inputs.get("digest", "").strip()
    tag = event.dispatch_inputs.get("tag", "").strip() or config.deploy.champion_tag
    repository = config.deploy.repository(config.name)
    if not decision.push:
        workflow.error(f"{mode} refused: {decision.reason}")
        return 1
    if mode == "rollback" and not digest and api is not None:
        previous = api.previous_successful(tag)  # the last good model of that environment
        digest = (previous.digest or "") if previous is not None else ""
        if not digest:
            raise InputError(
                f"rollback: no earlier successful deployment to {tag} to roll back to",
                hint="give the dispatch input `digest` (sha256:...)",
            )
        print(f"rollback: the previous deployment to {tag} shipped {digest}", file=workflow.out)
    if not digest.startswith("sha256:") or repository is None:
        raise ConfigError(
            f"{mode}: needs the dispatch input `digest` (sha256:...) and deploy.registry in mlci.yaml"
        )
    from mlci_action.images import attestation
    from mlci_action.images.oci import OciClient

    with OciClient(registry.credentials) as client:
        verification = attestation.verify(client, f"{repository}@{digest}")
    if not verification.ok:  # only what passed its gates (its attestation says so) ships
        failed = "; ".join(f"{c.name}: {c.detail}" for c in verification.checks if not c.passed)
        workflow.error(f"{mode} refused: {repository}@{digest} does not verify: {failed}")
        _deployment(workflow, api, tag, event.sha, {"digest": digest}, False, f"{mode} refused")
        return 1
    moved = registry.promote(
        f"{repository}@{digest}", tag, lambda line: print(line, file=workflow.out)
    )
    _deployment(
        workflow,
        api,
        tag,
        event.sha,
        {"digest": moved, "image": f"{repository}@{moved}", "action": mode},
        True,
        f"{mode}: {tag} -> {moved[:19]}",
    )
    workflow.set_output("image", f"{repository}@{moved}")
    workflow.set_output("digest", moved)
    workflow.set_output("verdict", "pass")
    workflow.summary(
        f"## mlci · {config.name}: {mode}\n\n`{repository}:{tag}` now points at `{moved}`.\n"
    )
    return 0


def main(environ: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> int:
    workflow = Workflow(environ, out)
    try:
        return _main(workflow, environ)
    except MlciError as exc:
        workflow.error(str(exc), title="mlci")
        return exc.exit_code


def _main(workflow: Workflow, environ: Mapping[str, str]) -> int:
    inputs = load_inputs(environ)
    token = inputs.github_token.get_secret_value() if inputs.github_token else None
    password = inputs.registry_password.get_secret_value() if inputs.registry_password else None
    workflow.mask(token)
    workflow.mask(password)
    event = load_event(environ)
    workspace = Path(environ.get("GITHUB_WORKSPACE", ".")).resolve()
    git.trust(workspace)  # checked out by the runner's user; this container runs as root
    project = _project(workspace, inputs.config)
    config, trust_report, environ = trusted_settings(load_config(project), project, event, environ)
    if runs_on_ray(event, config, environ):
        from mlci_action.github.own_env import RAY, own_environment

        own = own_environment(RAY, environ, workflow.out)
        if own is not None:  # no Ray Client in the image: the action again, in the Ray env
            # (which reads the inputs, the event and the trusted settings again)
            return own.run(["-m", "mlci_action.github"])
    if trust_report is not None and trust_report.ignored:
        keys = ", ".join(change.key for change in trust_report.ignored)
        workflow.warning(
            f"mlci.yaml: the pull request changes settings that take effect after merge "
            f"({keys}); this run uses those of {trust_report.base}"
        )
    if inputs.registry:
        config = config.model_copy(
            update={"deploy": config.deploy.model_copy(update={"registry": inputs.registry})}
        )

    api = None
    if token:
        from mlci_action.github.api import GitHubAPI

        api = GitHubAPI(
            token,
            event.repository,
            base_url=environ.get("GITHUB_API_URL", "https://api.github.com"),
            app_slug=inputs.app_slug,
        )
    if _monitors(event, config):
        from mlci_action.github.monitor import (
            reference_for,
            run_monitor,
            runner,
            trusted_monitoring,
        )
        from mlci_action.images.registry import Credentials

        trusted_monitoring(config, event)  # before anything is pulled
        credentials = None
        if inputs.registry_username and password:
            credentials = Credentials(inputs.registry_username, password)
        reference = reference_for(workflow, config, project, credentials)
        return run_monitor(
            workflow,
            api,
            event,
            config,
            project,
            workspace,
            environ,
            runner=runner(environ, workflow.out),
            reference=reference,
        )
    try:
        decision = decide(event, config.deploy.policy, inputs, api)
    except MlciError as exc:  # the API could not tell: the safe answer is no push
        decision = Decision(False, f"approval could not be checked: {exc.message}")
    decision = _bound_to_checkout(decision, project)
    print(
        f"push decision: {'yes' if decision.push else 'no'}: {decision.reason}", file=workflow.out
    )

    docker = registry = None
    mode = (
        event.dispatch_inputs.get("action") or "retrain"
        if event.name == "workflow_dispatch"
        else "run"
    )
    if mode not in ("run", *DISPATCH_ACTIONS):
        raise InputError(
            f"workflow_dispatch input `action` is {mode!r}",
            hint=f"use one of: {', '.join(DISPATCH_ACTIONS)}",
        )
    reason = event.dispatch_inputs.get("reason", "").strip()
    if mode == "retrain" and reason:
        with workflow.fenced():  # whoever dispatched wrote it
            print(f"retraining: {sanitize_reason(reason)}", file=workflow.out)
    prepare = trusted_event(event) and config.data.prepare is not None
    if config.data.prepare is not None and not prepare:
        print(
            f"data.prepare is not run on this event ({event.name} on "
            f"{event.branch or event.ref or 'no branch'}): only on the default branch's own "
            "push, schedule and workflow_dispatch",
            file=workflow.out,
        )
    # the nightly run (and a dispatched "evaluate") re-scores the champion, trains nothing
    champion = event.name == "schedule" or mode == "evaluate"
    wants_images = (
        decision.push
        or champion
        or mode in ("promote", "rollback")
        or (config.deploy.registry is not None and event.name == "pull_request")
    )
    if wants_images:
        from mlci_action.images.docker_api import Docker, connect
        from mlci_action.images.registry import Credentials, Registry

        try:
            docker = Docker(connect())
        except MlciError:
            if decision.push or champion or mode in ("promote", "rollback"):
                raise
            docker = None  # only wanted for the champion baseline: go on without it
        # a fork PR never gets the registry credentials; other runs use them to pull the
        # champion, and push only when the decision above says so
        fork = event.pull_request is not None and event.pull_request.is_fork
        credentials = None
        if not fork and inputs.registry_username and password:
            credentials = Credentials(inputs.registry_username, password)
        registry = Registry(docker, credentials) if docker is not None else None
    if mode in ("promote", "rollback"):
        assert registry is not None
        return _promote(workflow, event, config, registry, decision, mode, api)

    from mlci_action.commands.run import execute

    options = Options(
        project=project,
        out=project / ".mlci" / "out",
        cache_dir=Path(environ["MLCI_CACHE_DIR"])
        if environ.get("MLCI_CACHE_DIR")
        else default_cache_dir(),
        base=None if champion else _baseline(inputs, event, project, config),
        base_name=event.pull_request.base_ref
        if event.pull_request is not None and not inputs.baseline
        else None,
        package=decision.push and not champion,
        push=decision.push and not champion,
        champion=champion,
        prepare=prepare and not champion,
        **_deploy_options(inputs, event, config),
        reuse_approved=event.name == "push",
        approved_commit=decision.approved_commit if decision.push else None,
        approvers=decision.approvers if decision.push else (),
        source_url=f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{event.repository}",
        run_url=f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{event.repository}"
        f"/actions/runs/{environ['GITHUB_RUN_ID']}"
        if environ.get("GITHUB_RUN_ID")
        else None,
        trust=trust_report,
    )
    outcome = execute(
        options, GitHubProgress(workflow), docker, registry, config=config, environ=environ
    )
    record = outcome.record
    _outputs(workflow, record, outcome.report, workspace)
    if options.push and options.moving_tags and config.deploy.environments:
        # a push from the deploy branch is a deployment to the first stage, shipped or not
        shipped = record.deployment is not None and record.deployment.pushed
        digest = record.deployment.digest if record.deployment and shipped else None
        _deployment(
            workflow,
            api,
            config.deploy.environments[0],
            record.candidate.sha or event.sha,
            {
                "digest": digest,
                "verdict": record.verdict,
                "metrics": {n: m.candidate for n, m in record.metrics.items()},
            },
            shipped,
            f"{record.verdict}: {record.summary}"[:140],
        )
    workflow.summary(render_markdown(record))
    _annotations(workflow, record, project, workspace)
    if event.name in (
        "pull_request",
        "pull_request_target",
        "pull_request_review",
        "push",
        "workflow_dispatch",
    ):
        _post(workflow, api, inputs, event, record)
    with workflow.fenced():
        print(f"verdict: {record.verdict}: {record.summary}", file=workflow.out)
    return 0 if record.verdict == "pass" else 1
