"""The CRDs in crds/ accept every example and refuse invalid objects with the rule's message
(structural schema through jsonschema, CEL rules through cel-python; see TESTING.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.crds import REPO, load_crds, validate

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_both_kinds_are_defined_with_printer_columns_short_names_and_category() -> None:
    crds = {}
    for path in (REPO / "crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        crds[crd["spec"]["names"]["kind"]] = crd
    assert set(crds) == {"Topic", "Subscription"}
    for kind, crd in crds.items():
        spec = crd["spec"]
        assert crd["metadata"]["name"] == f"{spec['names']['plural']}.herald.dev"
        assert spec["scope"] == "Namespaced"
        assert spec["names"]["categories"] == ["herald"]
        assert spec["names"]["shortNames"]
        [version] = spec["versions"]
        assert version["name"] == "v1alpha1"
        assert version["subresources"] == {"status": {}}
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        wanted = ["Address", "Subscriptions", "Ready", "Health", "Reason", "Degraded", "Age"] if (
            kind == "Topic") else ["Topic", "Endpoint", "Ready", "Health", "Reason", "Delivered",
                                   "Failed", "Backlog", "Age"]  # fmt: skip
        assert columns == wanted
        # counters only under -o wide; everything a column shows is in the status schema
        wide = {c["name"] for c in version["additionalPrinterColumns"] if c.get("priority")}
        assert wide == ({"Degraded"} if kind == "Topic" else {"Delivered", "Failed", "Backlog"})
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        for column in version["additionalPrinterColumns"]:
            path = column["jsonPath"]
            if path.startswith(".status.") and "[" not in path:
                assert path.removeprefix(".status.") in status, path


def _described(schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema nodes lacking a description."""
    missing = [] if schema.get("description") else [path or "/"]
    for key, child in schema.get("properties", {}).items():
        missing += _described(child, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        missing += _described(schema["items"], f"{path}[]")
    return missing


@pytest.mark.parametrize("kind", ["Topic", "Subscription"])
def test_every_field_has_a_description(kind: str) -> None:
    assert _described(load_crds()[kind]) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_is_accepted(path: Path) -> None:
    docs = _docs(path)
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("herald.dev/"):
            assert validate(doc) == []


def test_examples_hold_a_topic_with_two_subscriptions() -> None:
    docs = [d for p in EXAMPLES for d in _docs(p)]
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    refs = {d["spec"]["secretRef"]["name"] for d in docs if "secretRef" in d.get("spec", {})}
    assert refs and refs <= secrets  # an example of credentials from a Secret
    topics = [d for d in docs if d["kind"] == "Topic"]
    subs = [d for d in docs if d["kind"] == "Subscription"]
    assert len(topics) == 1 and len(subs) == 2
    assert {s["spec"]["topic"] for s in subs} == {topics[0]["metadata"]["name"]}


TOPIC = {"apiVersion": "herald.dev/v1alpha1", "kind": "Topic",
         "metadata": {"name": "orders", "namespace": "shop"}, "spec": {}}  # fmt: skip
SUB = {"apiVersion": "herald.dev/v1alpha1", "kind": "Subscription",
       "metadata": {"name": "billing", "namespace": "shop"},
       "spec": {"topic": "orders", "endpoint": {"url": "http://billing:8080/hook"}}}  # fmt: skip


def _with(base: dict[str, Any], **spec: object) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    obj["spec"].update(spec)
    return obj


_URL_ERROR = "must be an http:// or https:// URL"
_ONE = "exactly one of endpoint.url and endpoint.service"
_TIMEOUT = "timeout must be a positive duration"
INVALID = [
    ("no endpoint", _with(SUB, endpoint={}), _ONE),
    ("url and service",
     _with(SUB, endpoint={"url": "http://a/", "service": {"name": "a", "port": 80}}), _ONE),
    ("ftp url", _with(SUB, endpoint={"url": "ftp://files/x"}), _URL_ERROR),
    ("relative url", _with(SUB, endpoint={"url": "/hooks"}), _URL_ERROR),
    ("url with space", _with(SUB, endpoint={"url": "http://a/b c"}), "without spaces"),
    ("service port 0", _with(SUB, endpoint={"service": {"name": "a", "port": 0}}), "minimum"),
    ("service path", _with(SUB, endpoint={"service": {"name": "a", "port": 80, "path": "x"}}),
     "must start with /"),
    ("service name", _with(SUB, endpoint={"service": {"name": "A_b", "port": 80}}),
     "does not match"),
    ("no topic", {**SUB, "spec": {"endpoint": {"url": "http://a/"}}}, "'topic' is a required"),
    ("bad topic", _with(SUB, topic="Orders!"), "does not match"),
    ("retries high", _with(SUB, delivery={"retries": 101}), "maximum"),
    ("retries negative", _with(TOPIC, delivery={"retries": -1}), "minimum"),
    ("timeout no unit", _with(SUB, delivery={"timeout": "10"}), _TIMEOUT),
    ("timeout zero", _with(TOPIC, delivery={"timeout": "0s"}), _TIMEOUT),
    ("timeout garbage", _with(TOPIC, delivery={"timeout": "soon"}), "timeout must be a positive"),
    ("retryDelay code", _with(TOPIC, delivery={"retryDelay": "__import__('os')"}),
     "retryDelay must be an expression"),
    ("retryDelay var", _with(SUB, delivery={"retryDelay": "1000 * attempts"}),
     "retryDelay must be an expression"),
    ("method", _with(TOPIC, delivery={"method": "TRACE"}), "is not one of"),
    ("unknown field", _with(TOPIC, deliveries={"retries": 1}), "Additional properties"),
    ("paused string", _with(TOPIC, paused="yes"), "is not of type 'boolean'"),
    ("upstash header", _with(SUB, headers={"Upstash-Retries": "9"}), "are reserved"),
    ("auth header", _with(SUB, headers={"authorization": "x"}), "are reserved"),
    ("header name", _with(SUB, headers={"X Team": "a"}), "header names must be HTTP tokens"),
    ("flow control empty", _with(SUB, flowControl={}),
     "flowControl needs parallelism, rate or both"),
    ("period without rate", _with(SUB, flowControl={"parallelism": 2, "period": "1s"}),
     "flowControl.period only applies with flowControl.rate"),
    ("period bad", _with(SUB, flowControl={"rate": 2, "period": "1 second"}),
     "flowControl.period must be a positive duration"),
    ("parallelism 0", _with(SUB, flowControl={"parallelism": 0}), "minimum"),
    ("secretRef no name", _with(SUB, secretRef={}), "'name' is a required"),
    ("secretRef bad name", _with(SUB, secretRef={"name": "Creds!"}), "does not match"),
    ("headersFrom no key",
     _with(SUB, headersFrom=[{"name": "X-Key", "secretKeyRef": {"name": "s"}}]),
     "'key' is a required"),
    ("headersFrom upstash",
     _with(SUB, headersFrom=[{"name": "Upstash-Retries",
                              "secretKeyRef": {"name": "s", "key": "k"}}]),
     "Upstash-*, Content-Length and Host headers are reserved"),
    ("headersFrom name", _with(SUB, headersFrom=[{"name": "X Key",
                                                 "secretKeyRef": {"name": "s", "key": "k"}}]),
     "header names must be HTTP tokens"),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "message"), [(o, m) for _, o, m in INVALID],
                         ids=[i for i, _, _ in INVALID])  # fmt: skip
def test_invalid_objects_are_refused_with_the_rules_message(
    obj: dict[str, Any], message: str
) -> None:
    errors = validate(obj)
    assert any(message in e for e in errors), errors


def test_topic_of_a_subscription_is_immutable() -> None:
    assert validate(_with(SUB, topic="payments"), old=SUB) == [
        "topic is immutable; create a new Subscription instead"
    ]
    assert validate(_with(SUB, paused=True), old=SUB) == []


@pytest.mark.parametrize(
    "delivery",
    [{"retryDelay": "pow(2, retried) * 1000"}, {"retryDelay": "max(1000, 7000 * retried)"},
     {"timeout": "1h30m"}, {"timeout": "500ms"}, {"retries": 0, "method": "PUT"}],
)  # fmt: skip
def test_valid_delivery_settings_pass(delivery: dict[str, Any]) -> None:
    assert validate(_with(SUB, delivery=delivery)) == []


def test_credentials_from_secrets_pass() -> None:
    """Authorization may come from a Secret, never from spec.headers."""
    headers_from = [
        {"name": "Authorization", "secretKeyRef": {"name": "vendor", "key": "auth"}},
        {"name": "X-Api-Key", "secretKeyRef": {"name": "vendor", "key": "api.key"}},
    ]
    assert validate(_with(SUB, secretRef={"name": "billing-credentials"},
                          headersFrom=headers_from)) == []  # fmt: skip
