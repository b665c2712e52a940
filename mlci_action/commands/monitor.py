"""`mlci monitor`: drift and live performance of the inference log's window, against the
reference profile; report.md and run.json (kind "monitor"); exit 0 healthy, 1 breached (or
no or not enough traffic: never a pass), 2 unusable input."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from mlci_action import __version__
from mlci_action.config import CONFIG_FILE, Config, parse_config
from mlci_action.errors import ConfigError, InputError
from mlci_action.layout import REFERENCE_IN_IMAGE
from mlci_action.monitoring.judge import judge
from mlci_action.monitoring.labels import join_labels, read_labels
from mlci_action.monitoring.live import read_log
from mlci_action.monitoring.profile import Profile
from mlci_action.monitoring.record import LabelsInfo, MonitorRecord, Window
from mlci_action.monitoring.window import parse_duration
from mlci_action.report.render import render_monitor
from mlci_action.yamlfile import YamlDocument, load_yaml


def _config(project: Path) -> tuple[Config, YamlDocument]:
    path = project / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no mlci.yaml in {project}", hint="give --config DIR")
    doc = load_yaml(path)
    return parse_config(doc), doc


def load_reference(source: str, environ: Mapping[str, str]) -> tuple[Profile, str]:
    """The reference profile from a reference.json, a run.json (its ``reference_profile``),
    or a serving image (its reference.json)."""
    path = Path(source)
    if path.is_file():
        data = path.read_bytes()
        where = str(path)
    elif ":" in source or "@" in source or "/" in source:
        from mlci_action.images.docker_api import Docker, connect

        data = Docker(connect()).read_file(source, REFERENCE_IN_IMAGE)
        where = f"{source}:{REFERENCE_IN_IMAGE}"
    else:
        raise InputError(
            f"{source}: no such reference profile",
            hint="give a reference.json, a run.json of `mlci run --package`, or a serving image",
        )
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not JSON ({exc})") from None
    if isinstance(raw, dict) and "reference_profile" in raw:
        raw = raw["reference_profile"]
        if raw is None:
            raise InputError(
                f"{where}: this run stored no reference profile",
                hint="the profile is built with the serving image: `mlci run --package`",
            )
    try:
        return Profile.model_validate(raw), where
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(
            f"{where}: not a reference profile: {field}: {first['msg']}",
            hint="expected format mlci-reference/1 (reference.json of a serving image)",
        ) from None


def _check_features(config: Config, doc: YamlDocument, profile: Profile) -> None:
    for index, name in enumerate(config.monitoring.drift.features or []):
        if name not in profile.features:
            line = doc.line_of(("monitoring", "drift", "features", index))
            where = f"{doc.path}:{line}" if line else str(doc.path)
            raise ConfigError(
                f"{where}: monitoring.drift.features: {name!r} is not a feature of the "
                f"reference profile",
                hint=f"its features: {', '.join(list(profile.features)[:20])}",
            )


def monitor(args: argparse.Namespace, environ: Mapping[str, str], console: Console) -> int:
    started = time.perf_counter()
    project = Path(args.config).resolve()
    config, doc = _config(project)
    settings = config.monitoring
    sources = list(args.log or ([settings.log] if settings.log else []))
    if not sources:
        raise ConfigError(
            f"{doc.path}: no inference log to read",
            hint="set monitoring.log in mlci.yaml, or pass --log PATH_OR_URL",
        )
    since_text = args.since or (None if args.log else settings.window)
    try:
        since = parse_duration(since_text) if since_text else None
    except ValueError as exc:
        raise InputError(f"--since: {exc}") from None
    reference_source = args.reference or str(project / ".mlci" / "out" / "run.json")
    profile, reference_where = load_reference(reference_source, environ)
    _check_features(config, doc, profile)
    labels_source = args.labels or settings.labels
    now = datetime.now(UTC)
    live = read_log(sources, profile, since=since, now=now, keep=bool(labels_source))
    labels = labels_info = None
    if labels_source and live.kept is not None:
        table = read_labels(labels_source, config.data.target)
        labels = join_labels(live.kept, table)
        labels_info = LabelsInfo(
            source=labels_source, rows=len(table), matched=int(labels.notna().sum())
        )
    judgement = judge(
        profile,
        live,
        settings,
        metrics=config.evaluation.metric_names,
        bootstrap=config.evaluation.bootstrap,
        labels=labels,
    )
    record = MonitorRecord(
        mlci_version=__version__,
        name=config.name,
        verdict=judgement.verdict,
        summary=judgement.summary,
        started_at=now.isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 3),
        sources=sources,
        reference=reference_where,
        reference_rows=profile.rows,
        window=Window(
            since=since_text,
            start=(now - since).isoformat() if since else None,
            end=now.isoformat(),
            first=live.first.isoformat() if live.first else None,
            last=live.last.isoformat() if live.last else None,
        ),
        counts=live.counts,
        min_rows=settings.min_rows,
        breaches=judgement.breaches,
        drift=judgement.drift,
        prediction_drift=judgement.prediction_drift,
        probability_drift=judgement.probability_drift,
        performance=judgement.performance,
        labels=labels_info,
        models=live.models,
    )
    out = Path(args.out).resolve() if args.out else project / ".mlci" / "monitor"
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(record.model_dump_json(indent=2), encoding="utf-8")
    (out / "report.md").write_text(render_monitor(record), encoding="utf-8")
    icon = "[green]✔[/]" if record.verdict == "healthy" else "[red]✘[/]"
    console.print(f"{icon} {escape(record.summary)}")
    for breach in record.breaches:
        console.print(f"  [red]{escape(breach.name)}[/]: {escape(breach.reason)}")
    if record.counts.malformed:
        console.print(
            f"  [yellow]{record.counts.malformed} malformed log lines skipped[/], e.g. "
            f"{escape(record.counts.malformed_examples[0])}"
        )
    console.print(f"  report: {out / 'report.md'}")
    return 0 if record.verdict == "healthy" else 1
