"""Loading the project's pandera schema: a DataFrameModel class in a .py file, or pandera YAML.

Every way a schema file can be unusable becomes an :class:`InputError` that names the file
(and the line, where one is known) and says how to fix it; no traceback escapes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import pandera.pandas as pa
import yaml

from mlci_action.errors import InputError

_MODEL_HINT = (
    "define it as `class {name}(pa.DataFrameModel): ...` after `import pandera.pandas as pa`"
)


def load_schema(spec: dict[str, Any], project_dir: str) -> pa.DataFrameSchema:
    """The schema that ``spec`` names, relative to ``project_dir``."""
    kind = spec.get("kind")
    if kind not in ("python", "yaml") or not isinstance(spec.get("path"), str):
        raise InputError(
            f"schema: unknown schema spec {spec!r}",
            hint="data.schema is 'file.py:ClassName' or 'file.yaml'",
        )
    path = Path(project_dir) / spec["path"]
    if not path.is_file():
        raise InputError(
            f"{path}: schema file not found",
            hint="check data.schema in mlci.yaml; the path is relative to the repository root",
        )
    if kind == "yaml":
        return _load_yaml(path)
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(
            f"{path}: the schema class is not named",
            hint="write data.schema as 'file.py:ClassName'",
        )
    return _load_python(path, name)


def _load_yaml(path: Path) -> pa.DataFrameSchema:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(
            f"{where}: schema file is not valid YAML: {problem}",
            hint="check the indentation and quoting near that line",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read schema file: {exc}") from None
    if not isinstance(document, dict) or not document:
        raise InputError(
            f"{path}: schema file holds no pandera schema (got {type(document).__name__})",
            hint="write it with `schema.to_yaml()`; it needs a 'columns:' mapping",
        )
    try:
        schema = pa.DataFrameSchema.from_yaml(path)
    except Exception as exc:  # pandera raises TypeError, KeyError, AttributeError, ...
        raise InputError(
            f"{path}: not a valid pandera YAML schema: {exc.__class__.__name__}: {exc}",
            hint="check dtypes and check names (e.g. in_range, isin); "
            "`DataFrameSchema.to_yaml()` shows the expected layout",
        ) from None
    return _checked(schema, path)


def _load_python(path: Path, name: str) -> pa.DataFrameSchema:
    module = _import_file(path)
    found = getattr(module, name, None)
    if found is None:
        models = [
            key
            for key, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, pa.DataFrameModel)
            and value.__module__ == module.__name__
        ]
        hint = (
            f"DataFrameModel classes in that file: {', '.join(models)}"
            if models
            else _MODEL_HINT.format(name=name)
        )
        raise InputError(f"{path}: no class {name!r} in the schema file", hint=hint)
    if isinstance(found, pa.DataFrameSchema):
        return _checked(found, path)
    where = _where(path, found)
    if not (isinstance(found, type) and issubclass(found, pa.DataFrameModel)):
        what = f"class {found.__name__}" if isinstance(found, type) else type(found).__name__
        raise InputError(
            f"{where}: {name!r} is a {what}, not a pandera DataFrameModel",
            hint=_MODEL_HINT.format(name=name),
        )
    try:
        schema = found.to_schema()
    except Exception as exc:  # SchemaInitError, TypeError from bad annotations, ...
        raise InputError(
            f"{where}: pandera cannot build a schema from {name}: {exc.__class__.__name__}: {exc}",
            hint="each field needs a pandas type annotation, e.g. `x: Series[float]`",
        ) from None
    return _checked(schema, path)


def _import_file(path: Path) -> ModuleType:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"_mlci_schema_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # pandera resolves the annotations through sys.modules (``from __future__ import annotations``)
    sys.modules[module_name] = module
    # the schema file may import its neighbours, as it would when run from the repository
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        line = f":{exc.lineno}" if exc.lineno else ""
        raise InputError(
            f"{path}{line}: syntax error in schema file: {exc.msg}",
            hint=f"fix the line; `python -m py_compile {path}` shows the same error",
        ) from None
    except ImportError as exc:
        sys.modules.pop(module_name, None)
        missing = f"module {exc.name!r}" if exc.name else str(exc)
        raise InputError(
            f"{path}{_line_in(path, exc)}: schema file cannot import {missing}: {exc}",
            hint="add the package to the project's requirements, or fix the import",
        ) from None
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        pandera_error = isinstance(
            exc, (pa.errors.SchemaInitError, pa.errors.SchemaDefinitionError)
        )
        raise InputError(
            f"{path}{_line_in(path, exc)}: importing the schema file raised "
            f"{exc.__class__.__name__}: {exc}",
            hint="fix the pandera field or check on that line"
            if pandera_error
            else "the schema file runs on import; make it only define the schema",
        ) from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _line_in(path: Path, exc: BaseException) -> str:
    """``:LINE`` of the deepest traceback frame inside ``path``, or ``""``."""
    target = str(path.resolve())
    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == Path(target) and frame.lineno:
            line = f":{frame.lineno}"
    return line


def _where(path: Path, obj: object) -> str:
    try:
        _, line = inspect.getsourcelines(obj)  # type: ignore[arg-type]
    except (TypeError, OSError):
        return str(path)
    return f"{path}:{line}"


def _checked(schema: object, path: Path) -> pa.DataFrameSchema:
    if not isinstance(schema, pa.DataFrameSchema):
        raise InputError(
            f"{path}: the schema is a {type(schema).__name__}, not a pandas DataFrameSchema",
            hint="use pandera's pandas API: `import pandera.pandas as pa`",
        )
    return schema
