"""The run cache: content-addressed models and run records under the cache directory.

Layout: ``models/<side key>/model.skops`` (one trained model per code+data+params+environment)
and ``runs/<run key>/run.json`` (a whole run's record, reused when nothing changed).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlci_action import __version__
from mlci_action.hashing import value_digest
from mlci_action.record import RunRecord


def default_cache_dir() -> Path:
    if explicit := os.environ.get("MLCI_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlci"


def atomic_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def atomic_write(dest: Path, text: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dest)


class RunCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def run_key(candidate_key: str, baseline_key: str | None, executor: str) -> str:
        return value_digest([candidate_key, baseline_key, executor, __version__])

    def model(self, side_key: str) -> Path | None:
        path = self.root / "models" / side_key / "model.skops"
        return path if path.is_file() else None

    def store_model(self, side_key: str, model: Path) -> Path:
        dest = self.root / "models" / side_key / "model.skops"
        atomic_copy(model, dest)
        return dest

    def run(self, run_key: str) -> tuple[RunRecord, Path] | None:
        folder = self.root / "runs" / run_key
        try:
            record = RunRecord.model_validate_json(
                (folder / "run.json").read_text(encoding="utf-8")
            )
        except (OSError, ValueError):
            return None
        return record, folder

    def store_run(self, run_key: str, record: RunRecord, files: dict[str, Path]) -> None:
        folder = self.root / "runs" / run_key
        for name, path in files.items():
            atomic_copy(path, folder / name)
        atomic_write(folder / "run.json", record.model_dump_json(indent=2))
