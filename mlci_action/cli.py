"""The `mlci` command: parse arguments, call one subcommand, handle errors once."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from mlci_action import __version__
from mlci_action.errors import InputError, MlciError

if TYPE_CHECKING:
    from mlci_action.images.docker_api import Docker
    from mlci_action.images.registry import Registry

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlci", description="CI/CD for machine-learning repositories."
    )
    parser.add_argument("--version", action="version", version=f"mlci {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="train, test and compare against the baseline; write the report"
    )
    run.add_argument(
        "project", nargs="?", default=".", type=Path, help="project directory (with mlci.yaml)"
    )
    run.add_argument(
        "--base", metavar="GIT_REF", help="baseline commit, branch or tag to compare against"
    )
    run.add_argument("--out", type=Path, help="output directory (default: PROJECT/.mlci/out)")
    run.add_argument(
        "--no-cache", action="store_true", help="retrain and retest even if nothing changed"
    )
    run.add_argument(
        "--package",
        action="store_true",
        help="build the serving image and smoke-test it (needs Docker)",
    )
    run.add_argument(
        "--push",
        action="store_true",
        help="also push the image when the run passes (implies --package)",
    )
    run.add_argument(
        "--allow-dirty",
        action="store_true",
        help="with --push: push uncommitted changes as a wt- tag (never a moving tag)",
    )
    run.add_argument(
        "--champion",
        action="store_true",
        help="re-evaluate the registry's champion on the current data and tests; "
        "nothing is trained or pushed",
    )
    run.add_argument(
        "--prepare",
        action="store_true",
        help="run data.prepare of mlci.yaml first (the action does on trusted events only)",
    )

    promote = sub.add_parser(
        "promote", help="point a tag at an image already in the registry, by digest"
    )
    promote.add_argument("reference", help="IMAGE@sha256:DIGEST, as `mlci run --push` reported it")
    promote.add_argument("--tag", required=True, help="the tag to move, e.g. production")
    promote.add_argument(
        "--force",
        action="store_true",
        help="promote even without a passing attestation (the failed checks are still shown)",
    )

    verify = sub.add_parser(
        "verify",
        help="check that an image in the registry has a passing mlci attestation",
    )
    verify.add_argument("reference", help="IMAGE@sha256:DIGEST")
    verify.add_argument(
        "--json", action="store_true", help="print every check and the statement as JSON"
    )

    validate = sub.add_parser(
        "validate",
        help="run everything `mlci run` does before training: the config, the environment, "
        "the data files, the schema and the data checks; nothing is trained",
    )
    validate.add_argument(
        "project", nargs="?", default=".", type=Path, help="project directory (with mlci.yaml)"
    )
    validate.add_argument(
        "--base",
        metavar="GIT_REF",
        help="baseline commit, branch or tag (or registry), for the checks that compare",
    )

    init = sub.add_parser("init", help="scaffold mlci.yaml and a data schema into a repository")
    init.add_argument("project", nargs="?", default=".", type=Path)
    init.add_argument("--train", required=True, help="training data file (CSV or Parquet)")
    init.add_argument("--test", required=True, help="test data file")
    init.add_argument("--target", required=True, help="the column to predict")
    init.add_argument("--task", choices=["classification", "regression"], help="default: inferred")
    init.add_argument("--name", help="model name (default: the directory name)")
    init.add_argument(
        "--command",
        dest="training_command",
        metavar="COMMAND",
        help="the training command (default: `python train.py` if there is a train.py; "
        "without one, mlci fits a scikit-learn estimator)",
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.add_argument(
        "--workflow",
        action="store_true",
        help="also write .github/workflows/mlci.yml (the GitHub Action)",
    )

    monitor = sub.add_parser(
        "monitor",
        help="drift and live performance of the inference log against the reference profile",
    )
    monitor.add_argument(
        "--config", default=".", type=Path, metavar="DIR", help="project directory (mlci.yaml)"
    )
    monitor.add_argument(
        "--since", metavar="DURATION", help="the window, e.g. 24h (default: monitoring.window)"
    )
    monitor.add_argument(
        "--log",
        action="append",
        metavar="PATH_OR_URL",
        help="log files or directories (default: monitoring.log); repeatable",
    )
    monitor.add_argument("--labels", metavar="FILE", help="ground-truth labels: id, row, target")
    monitor.add_argument(
        "--reference",
        metavar="FILE_OR_IMAGE",
        help="reference.json, a run.json, or a serving image (default: .mlci/out/run.json)",
    )
    monitor.add_argument("--out", type=Path, help="output directory (default: .mlci/monitor)")

    sub.add_parser("schema", help="print the JSON Schema of mlci.yaml")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.command == "run":
            return command_run(args, environ)
        if args.command == "validate":
            return command_validate(args, environ, console)
        if args.command == "promote":
            return command_promote(args, environ, console)
        if args.command == "verify":
            return command_verify(args, environ, console)
        if args.command == "monitor":
            from mlci_action.commands.monitor import monitor

            return monitor(args, environ, console)
        if args.command == "init":
            from mlci_action.commands.init import init

            return init(args, console)
        from mlci_action.commands.schema import print_schema

        return print_schema()
    except MlciError as exc:
        console.print(f"[bold red]error:[/] {escape(exc.message)}")
        if exc.hint:
            console.print(f"  [dim]hint:[/] {escape(exc.hint)}")
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    except Exception:
        logging.getLogger("mlci").exception("mlci hit a bug; please report it with this traceback")
        return EXIT_BUG


def _project(args: argparse.Namespace) -> Path:
    project: Path = args.project.resolve()
    if not project.is_dir():
        raise MlciError(
            f"{args.project}: not a directory",
            hint="give the project directory that holds mlci.yaml",
        )
    return project


def _cache_dir(environ: Mapping[str, str]) -> Path:
    from mlci_action.cache import default_cache_dir

    return Path(environ["MLCI_CACHE_DIR"]) if environ.get("MLCI_CACHE_DIR") else default_cache_dir()


def _engines(needed: bool, environ: Mapping[str, str]) -> tuple[Docker | None, Registry | None]:
    """The Docker engine and the registry, when the command needs them."""
    if not needed:
        return None, None
    from mlci_action.images.docker_api import Docker, connect
    from mlci_action.images.registry import Registry, credentials_from_env

    docker = Docker(connect())
    return docker, Registry(docker, credentials_from_env(environ))


def command_run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from mlci_action.commands.run import execute
    from mlci_action.pipeline import Options
    from mlci_action.preflight import check_push
    from mlci_action.terminal import TerminalProgress

    project = _project(args)
    if args.champion and (args.base or args.package or args.push):
        raise InputError(
            "--champion scores the model in production alone: it takes no --base, "
            "--package or --push",
            hint="run `mlci run --champion` by itself",
        )
    if args.push:
        check_push(project, args.allow_dirty)
    options = Options(
        project=project,
        out=(args.out or project / ".mlci" / "out").resolve(),
        cache_dir=_cache_dir(environ),
        base=args.base,
        no_cache=args.no_cache,
        package=args.package or args.push,
        push=args.push,
        allow_dirty=args.allow_dirty,
        champion=args.champion,
        prepare=args.prepare,
    )
    docker, registry = _engines(
        options.package or args.base == "registry" or options.champion, environ
    )
    with TerminalProgress() as progress:
        outcome = execute(options, progress, docker, registry, environ=environ)
        progress.summary(outcome.record, str(outcome.report))
    return EXIT_PASS if outcome.record.verdict == "pass" else EXIT_FAIL


def command_validate(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from mlci_action.commands.validate import validate
    from mlci_action.pipeline import Options
    from mlci_action.terminal import TerminalProgress

    project = _project(args)
    options = Options(
        project=project,
        out=project / ".mlci" / "out",  # written by `mlci run` only
        cache_dir=_cache_dir(environ),
        base=args.base,
        data_only=True,
    )
    docker, registry = _engines(args.base == "registry", environ)
    with TerminalProgress(console) as progress:
        return validate(options, progress, docker, registry, environ=environ)


def command_promote(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from mlci_action.commands.verify import check_before_promote
    from mlci_action.images.docker_api import Docker, connect
    from mlci_action.images.oci import OciClient, parse_digest_reference
    from mlci_action.images.registry import Registry, credentials_from_env, split_reference
    from mlci_action.terminal import TerminalProgress

    parse_digest_reference(args.reference)  # exit 2 before anything is reached
    credentials = credentials_from_env(environ)
    with OciClient(credentials) as client:
        if not check_before_promote(client, args.reference, console, force=args.force):
            return EXIT_FAIL
    registry = Registry(Docker(connect()), credentials)
    with TerminalProgress(console).activity(f"promoting to {args.tag}", None) as sink:
        digest = registry.promote(args.reference, args.tag, sink)
    repository, _ = split_reference(args.reference)
    console.print(f"[green]✔[/] {escape(repository)}:{escape(args.tag)} -> {digest}")
    print(f"{repository}@{digest}")
    return EXIT_PASS


def command_verify(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    from mlci_action.commands.verify import verify_image
    from mlci_action.images.oci import OciClient
    from mlci_action.images.registry import credentials_from_env

    with OciClient(credentials_from_env(environ)) as client:
        return verify_image(client, args.reference, console, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
