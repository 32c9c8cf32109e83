"""values.schema.json is hand-written and strict: Helm refuses a misspelt key or a wrong type
at install time; values.yaml and every ci file conform; schema and values.yaml list the same
keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.conftest import CHART, CI_VALUES, Helm
from tests.chart.values_doc import OBJECT_KEYS

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
HELM_KEYS = {"global", "kopf-peering"}  # added by Helm for parent charts and the subchart


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("gatway.replicaCount=2", "additional properties 'gatway' not allowed"),
        ("gateway.replicaCont=2", "additional properties 'replicaCont' not allowed"),
        ("redis.bundled.persistance.size=1Gi", "additional properties 'persistance'"),
        ("metrics.serviceMonitor.enable=true", "additional properties 'enable' not allowed"),
    ],
)
def test_misspelt_keys_are_refused(helm: Helm, assignment: str, complaint: str) -> None:
    assert complaint in helm.render_error(sets=(assignment,))


@pytest.mark.parametrize(
    ("assignment", "where"),
    [
        ("gateway.replicaCount=two", "/gateway/replicaCount"),
        ("config.logJson=yes", "/config/logJson"),
        ("redis.mode=sentinel", "/redis/mode"),
        ("config.shards=63", "/config/shards"),
        ("operator.watchNamespaces=Not_A_Namespace", "/operator/watchNamespaces"),
    ],
)
def test_wrong_types_and_values_are_refused(helm: Helm, assignment: str, where: str) -> None:
    assert where in helm.render_error(sets=(assignment,))


def test_values_yaml_conforms_to_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(VALUES, SCHEMA)


@pytest.mark.parametrize("values", [pytest.param(p, id=p.stem) for p in CI_VALUES])
def test_ci_values_conform_to_the_schema(values: Path) -> None:
    jsonschema.validate(yaml.safe_load(values.read_text()) or {}, SCHEMA)


def _schema_node(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _schema_node(SCHEMA["definitions"][ref.rsplit("/", 1)[1]])
    return node


def _keys_match(values: dict[str, Any], schema: dict[str, Any], path: str) -> None:
    schema = _schema_node(schema)
    assert schema.get("additionalProperties") is False, f"{path or 'root'} accepts any key"
    properties = schema["properties"]
    documented = set(properties) - (HELM_KEYS if not path else set())
    assert set(values) == documented, path
    for key, value in values.items():
        child = _schema_node(properties[key])
        if value and isinstance(value, dict) and key not in OBJECT_KEYS and "properties" in child:
            _keys_match(value, child, f"{path}.{key}")


def test_schema_and_values_list_the_same_keys() -> None:
    """Every section refuses unknown keys, and lists exactly the keys values.yaml has."""
    _keys_match(VALUES, SCHEMA, "")
