"""Model files: skops only, never pickle, with one trust policy for every load.

A skops file names the types it holds. Types from scikit-learn, numpy and scipy, and Python's
builtin types, are trusted; any other type must be listed under ``evaluation.trusted_types``.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import skops.io

from mlci_action.errors import StageFailure

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
_SAVE_HINT = "save the model with skops.io.dump(model, path)"
_UNREADABLE = (
    zipfile.BadZipFile,
    KeyError,
    ValueError,  # json.JSONDecodeError is one
    TypeError,
    EOFError,
    OSError,
)


def save_model(model: object, path: str | Path) -> Path:
    """Write ``model`` with skops; readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        skops.io.dump(model, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def is_auto_trusted(type_name: str) -> bool:
    """scikit-learn, numpy and scipy types, and builtin *types* (not functions like eval)."""
    if type_name.startswith(TRUSTED_PREFIXES):
        return True
    module, _, name = type_name.rpartition(".")
    return module == "builtins" and isinstance(getattr(builtins, name, None), type)


def untrusted_types(
    path: str | Path, trusted_types: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """(types the file holds beyond skops' defaults, those of them the policy refuses)."""
    path = Path(path)
    _check_file(path)
    try:
        found = skops.io.get_untrusted_types(file=path)
    except _UNREADABLE as exc:
        raise _unreadable(path, exc) from None
    allowed = set(trusted_types)
    refused = [name for name in found if not is_auto_trusted(name) and name not in allowed]
    return found, refused


def load_model(path: str | Path, trusted_types: Sequence[str] = ()) -> object:
    path = Path(path)
    found, refused = untrusted_types(path, trusted_types)
    if refused:
        raise StageFailure(
            f"{path}: the model file holds types mlci does not trust: {', '.join(refused)}",
            hint="if you trust them, list them under evaluation.trusted_types in mlci.yaml",
        )
    try:
        return skops.io.load(path, trusted=found)
    except (*_UNREADABLE, ImportError, AttributeError) as exc:
        raise _unreadable(path, exc) from None


def _check_file(path: Path) -> None:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise StageFailure(f"{path}: model file {what}", hint=_SAVE_HINT)


def _unreadable(path: Path, exc: BaseException) -> StageFailure:
    hint = _SAVE_HINT
    try:
        with path.open("rb") as handle:
            if handle.read(1) == b"\x80":
                hint = (
                    "this looks like a pickle (or joblib) file; mlci loads skops files only: "
                    + hint
                )
    except OSError:
        pass
    detail = str(exc).strip() or exc.__class__.__name__
    if isinstance(exc, json.JSONDecodeError):
        detail = f"schema.json is not valid JSON ({exc.msg})"
    return StageFailure(
        f"{path}: cannot read the model file as skops: {exc.__class__.__name__}: {detail}",
        hint=hint,
    )
