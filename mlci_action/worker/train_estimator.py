"""Worker task "train-estimator": fit ``training.estimator`` on the train file, save it with skops.

With ``training.preprocess: auto`` the estimator is fitted inside the Pipeline of
:mod:`mlci_action.worker.preprocess` when the train file has text or missing values.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
from importlib import import_module
from typing import Any

from mlci_action.errors import InputError, StageFailure
from mlci_action.worker.frames import read_table, split_xy
from mlci_action.worker.modelio import save_model
from mlci_action.worker.preprocess import needs_preprocessing, with_preprocessing

_IMPORT_HINT = (
    "give the full import path of an estimator class, e.g. sklearn.ensemble.RandomForestClassifier; "
    "its package must be in the project's requirements"
)


def run(request: dict[str, Any]) -> dict[str, Any]:
    path = str(request["estimator"])
    params = dict(request.get("params") or {})
    estimator = _import_class(path)
    model = _instantiate(estimator, path, params)
    accepted = _accepted(model, estimator)
    if "random_state" in accepted and "random_state" not in params:
        model.set_params(random_state=int(request["seed"]))
    train_path = request["train_path"]
    features, target = split_xy(
        read_table(train_path, what="train file"), request["target"], train_path
    )
    if request.get("preprocess", "auto") == "auto" and needs_preprocessing(features):
        model = with_preprocessing(model, features)
    with _threads(request.get("threads")):
        _fit(model, features, target, path)
    saved = save_model(model, request["model_path"])
    return {"model_path": str(saved), "rows": len(features), "estimator": str(model)}


def _threads(limit: int | None) -> contextlib.AbstractContextManager[object]:
    """OpenMP and BLAS pools capped at ``limit`` threads for the fit (this process started
    before the limit was known, so the variables would come too late)."""
    if not limit:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; another library may not
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(limit))


def _import_class(path: str) -> type:
    module_name, _, name = path.rpartition(".")
    try:
        found = getattr(import_module(module_name), name) if module_name else None
    except (ImportError, AttributeError) as exc:
        raise InputError(
            f"training.estimator: cannot import {path}: {exc}", hint=_IMPORT_HINT
        ) from None
    if found is None:
        raise InputError(f"training.estimator: cannot import {path}", hint=_IMPORT_HINT)
    if not isinstance(found, type) or not hasattr(found, "fit"):
        raise InputError(
            f"training.estimator: {path} is not an estimator class (a class with a fit method)",
            hint=_IMPORT_HINT,
        )
    return found


def _accepted(model: Any, estimator: type) -> set[str]:
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        return set(get_params(deep=False))
    return set(inspect.signature(estimator).parameters)


def _instantiate(estimator: type, path: str, params: dict[str, Any]) -> Any:
    try:
        return estimator(**params)
    except TypeError as exc:
        try:
            signature = inspect.signature(estimator)
        except (TypeError, ValueError):
            signature = None
        takes_any = signature is None or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
        )
        known = [] if signature is None else [n for n in signature.parameters if n != "self"]
        unknown = [] if takes_any else [name for name in params if name not in known]
        if not unknown:
            raise InputError(f"training.params: {path}({_shown(params)}) failed: {exc}") from None
        close = [m for name in unknown for m in difflib.get_close_matches(name, known, n=1)]
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise InputError(
            f"training.params: {estimator.__name__} has no parameter "
            f"{', '.join(map(repr, unknown))}",
            hint=hint + f"its parameters: {', '.join(known)}",
        ) from None


def _fit(model: Any, features: Any, target: Any, path: str) -> None:
    try:
        model.fit(features, target)
    except (ValueError, TypeError) as exc:
        # scikit-learn's InvalidParameterError (a bad parameter value) is both.
        if type(exc).__name__ == "InvalidParameterError":
            raise InputError(f"training.params: {exc}") from None
        raise StageFailure(
            f"fitting {path} on the train file failed: {exc.__class__.__name__}: {exc}",
            hint="the estimator gets every column of the train file except the target; "
            "training.preprocess: auto encodes text and imputes missing values, or train with "
            "training.command and a Pipeline of your own",
        ) from None


def _shown(params: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in params.items())
