"""GitHub's OpenAPI description of api.github.com: its operations, request and response
checks, and bodies filled from its schemas."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry
from referencing.jsonschema import DRAFT4

ROOT = Path(__file__).resolve().parents[3]
INSTALL_SCRIPT = ROOT / "scripts" / "github-openapi.sh"
DEFAULT_SPEC = (
    ROOT / ".cache/octokit-openapi/node_modules/@octokit/openapi/generated/api.github.com.json"
)
SPEC_URI = "https://mlci.invalid/api.github.com.json"
JSON = dict[str, Any]


def spec_path() -> Path:
    """The api.github.com description: ``$MLCI_GITHUB_OPENAPI``, else the pinned npm cache."""
    override = os.environ.get("MLCI_GITHUB_OPENAPI")
    if override:
        return Path(override)
    if not DEFAULT_SPEC.is_file():
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.DEVNULL)
    return DEFAULT_SPEC


# ---------------------------------------------------------------------------- the description


def _pointer(*parts: str | int) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    pointer: tuple[str, ...]  # ("paths", template, method)
    pattern: re.Pattern[str]
    literal_segments: int


class OpenAPI:
    """GitHub's description, its operations by path template, and cached schema validators."""

    def __init__(self, path: Path) -> None:
        self.spec: JSON = json.loads(path.read_text())
        self.version = self.spec["info"]["version"]
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, DRAFT4.create_resource(self.spec)
        )
        self._validators: dict[tuple[str, bool], Any] = {}
        self._lock = threading.Lock()
        ops: list[Operation] = []
        for template, item in self.spec["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
            for method in item:
                if method in ("get", "post", "put", "patch", "delete", "head"):
                    ops.append(
                        Operation(
                            method=method.upper(),
                            template=template,
                            operation_id=item[method]["operationId"],
                            pointer=("paths", template, method),
                            pattern=re.compile(f"^{regex}$"),
                            literal_segments=literal,
                        )
                    )
        # literal segments win over parameters: /check-runs/{id} before /{owner}/{repo}
        self.operations = sorted(ops, key=lambda o: -o.literal_segments)

    def at(self, *parts: str | int) -> Any:
        node: Any = self.spec
        for part in parts:
            node = node[part]
        return node

    def deref(self, node: Any, where: tuple[str | int, ...]) -> tuple[Any, tuple[str | int, ...]]:
        """Follow a non-schema ``$ref`` (a parameter, a response) to its target and its place."""
        while isinstance(node, dict) and "$ref" in node:
            where = tuple(
                p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/")
            )
            node = self.at(*where)
        return node, where

    def match(self, method: str, path: str) -> tuple[Operation, list[str]] | None:
        candidates = [o for o in self.operations if o.method == method]
        for op in candidates:
            m = op.pattern.match(path)
            if m:
                return op, [unquote(g) for g in m.groups()]
        return None

    def errors(self, where: tuple[str | int, ...], instance: Any, *, response: bool) -> list[str]:
        """Messages of ``instance`` against the schema at ``where``, refs resolved in the spec."""
        key = (_pointer(*where), response)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                cls = OAS30ReadValidator if response else OAS30WriteValidator
                validator = cls({"$ref": SPEC_URI + key[0]}, registry=self.registry)
                self._validators[key] = validator
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]

    def check_request(
        self, op: Operation, values: list[str], query: dict[str, list[str]], body: Any, raw: bytes
    ) -> list[str]:
        """What GitHub would refuse in a request: its parameters and body against the
        operation's, and the limits the description does not state (EXTRA_LIMITS)."""
        problems: list[str] = []
        operation = self.at(*op.pointer)
        declared: list[tuple[JSON, tuple[str | int, ...]]] = []
        for item_at in (("paths", op.template), op.pointer):
            for i, param in enumerate(self.at(*item_at).get("parameters", [])):
                declared.append(self.deref(param, (*item_at, "parameters", i)))
        names = re.findall(r"\{([^}]+)\}", op.template)
        path_values = dict(zip(names, values, strict=True))
        seen_query: set[str] = set()
        for param, where in declared:
            name, place = param["name"], param["in"]
            if place == "path":
                raw_value: str | None = path_values.get(name)
            elif place == "query":
                seen_query.add(name)
                raw_value = query[name][-1] if name in query else None
            else:
                continue
            if raw_value is None:
                if param.get("required"):
                    problems.append(f"missing required {place} parameter {name!r}")
                continue
            value = _coerce(raw_value, self.deref(param["schema"], ())[0])
            for message in self.errors((*where, "schema"), value, response=False):
                problems.append(f"{place} parameter {name!r}={raw_value!r}: {message}")
        for name in sorted(set(query) - seen_query):
            problems.append(f"query parameter {name!r} is not defined for this operation")
        request_body = operation.get("requestBody")
        if request_body is None:
            if raw:
                problems.append("this operation takes no request body")
            return problems
        request_body, where = self.deref(request_body, (*op.pointer, "requestBody"))
        if body is None:
            if request_body.get("required"):
                problems.append("a JSON request body is required")
            return problems
        if "application/json" in request_body.get("content", {}):
            schema_at = (*where, "content", "application/json", "schema")
            problems += self.errors(schema_at, body, response=False)
        limit = EXTRA_LIMITS.get(op.operation_id)
        too_long = limit(body) if limit else None
        if too_long:
            problems.append(too_long)
        return problems

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        """What the description does not allow in a response of ``op``."""
        responses = self.at(*op.pointer, "responses")
        key = str(status)
        if key in responses:
            response, where = self.deref(responses[key], (*op.pointer, "responses", key))
        elif status >= 400:
            # GitHub answers any operation with its error shape (403 without checks:write,
            # 401, 5xx) whether or not the description lists the status
            schema = "validation-error" if status == 422 else "basic-error"
            return self.errors(("components", "schemas", schema), body, response=True)
        else:
            return [f"status {status} is not a response of this operation"]
        content = response.get("content", {})
        if "application/json" not in content:
            return [] if body is None else ["this response has no body"]
        if body is None:
            return ["this response needs a JSON body"]
        schema_at = (*where, "content", "application/json", "schema")
        return self.errors(schema_at, body, response=True)


@functools.cache
def load_openapi(path: Path | None = None) -> OpenAPI:
    return OpenAPI(path or spec_path())


def _coerce(value: str, schema: JSON) -> Any:
    """A path or query string as the JSON value its schema types it as (unchanged if not)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "array":
        return value.split(",")
    return value


# ---------------------------------------------------------------------------- filling bodies


class SpecFiller:
    """Builds a body of a named schema: given fields as set, required others from the schema."""

    def __init__(self, api: OpenAPI, base_url: str) -> None:
        self.api = api
        self.base_url = base_url

    def fill(self, schema_name: str, given: JSON, url_prefix: str) -> JSON:
        schema = self.api.at("components", "schemas", schema_name)
        return self._object(schema, given, url_prefix)

    def _resolve(self, schema: JSON) -> JSON:
        while "$ref" in schema:
            schema = self.api.at(*schema["$ref"][2:].split("/"))
        if "allOf" in schema:
            merged: JSON = {"type": "object", "properties": {}, "required": []}
            for part in schema["allOf"]:
                part = self._resolve(part)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
            return merged
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self._resolve(schema[key][0])
        return schema

    def _object(self, schema: JSON, given: JSON, url_prefix: str) -> JSON:
        schema = self._resolve(schema)
        out = dict(given)
        for name in schema.get("required", []):
            if name not in out:
                out[name] = self._value(name, schema["properties"].get(name, {}), url_prefix)
        return out

    def _value(self, name: str, schema: JSON, url_prefix: str) -> Any:
        schema = self._resolve(schema)
        if schema.get("nullable"):
            return None
        kind = schema.get("type")
        if "enum" in schema:
            return schema["enum"][0]
        if kind == "object":
            return self._object(schema, {}, url_prefix)
        if kind == "array":
            return []
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return 0
        if schema.get("format") == "date-time" or name.endswith("_at"):
            return now()
        if name == "url":
            return url_prefix
        if name.endswith("_url") or schema.get("format") == "uri":
            return f"{url_prefix}/{name.removesuffix('_url')}"
        if name == "node_id":
            return "MDQ6VXNlcjA="
        return ""


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


EXTRA_LIMITS: dict[str, Callable[[Any], str | None]] = {
    "repos/create-commit-status": lambda b: (
        "description is too long (maximum is 140 characters)"
        if isinstance(b, dict) and len(b.get("description") or "") > 140
        else None
    ),
    "repos/create-deployment-status": lambda b: (
        "description is too long (maximum is 140 characters)"
        if isinstance(b, dict) and len(b.get("description") or "") > 140
        else None
    ),
    "issues/create-comment": lambda b: (
        "body is too long (maximum is 65536 characters)"
        if isinstance(b, dict) and len(b.get("body") or "") > 65536
        else None
    ),
    "issues/update-comment": lambda b: (
        "body is too long (maximum is 65536 characters)"
        if isinstance(b, dict) and len(b.get("body") or "") > 65536
        else None
    ),
}
