"""Validate custom objects as the API server would: the CRD's structural schema (through
jsonschema) and its `x-kubernetes-validations` CEL rules (through cel-python).

The API server prunes unknown fields silently; here every object schema gets
`additionalProperties: false` instead, so a typo in an example fails the test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import jsonschema  # type: ignore[import-untyped]
import yaml
from celpy import json_to_cel  # type: ignore[attr-defined]

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"


def load_crds() -> dict[str, dict[str, Any]]:
    """kind → the openAPIV3Schema of its served version."""
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        [version] = crd["spec"]["versions"]
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
        if schema.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if schema.get("nullable"):
            out["type"] = [out["type"], "null"] if "type" in out else None
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def json_schema(root: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = _strict(copy.deepcopy(root))
    schema["properties"] |= {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    return schema


def _rules(
    schema: dict[str, Any], value: Any, old: Any
) -> Iterator[tuple[dict[str, Any], Any, Any]]:
    """Every (rule, self, oldSelf) that applies to `value` under `schema`."""
    for rule in schema.get("x-kubernetes-validations", ()):
        yield rule, value, old
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                old_child = old.get(key) if isinstance(old, dict) else None
                yield from _rules(sub, child, old_child)
    elif isinstance(value, list) and "items" in schema:
        for child in value:
            yield from _rules(schema["items"], child, None)


def _cel(rule: str, value: Any, old: Any) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(rule))
    activation = {"self": json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = json_to_cel(old)
    return bool(program.evaluate(activation))


def validate(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """The error messages the API server would answer with; empty when `obj` is accepted."""
    root = load_crds()[obj["kind"]]
    errors = [e.message for e in jsonschema.Draft7Validator(json_schema(root)).iter_errors(obj)]
    if errors:
        return errors
    for rule, value, old_value in _rules(root, obj, old):
        if "oldSelf" in rule["rule"] and old_value is None:
            continue  # transition rules only run on updates
        if not _cel(rule["rule"], value, old_value):
            errors.append(rule.get("message", rule["rule"]))
    return errors
