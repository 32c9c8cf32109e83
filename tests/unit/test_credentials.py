"""Credentials from Secrets (herald_core.credentials): what headers a Subscription's Secrets
give, what refuses to resolve (naming Secrets and keys, never values), and URL redaction."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from herald_core.credentials import decode_secret, redact_url, secret_headers, secret_names
from herald_core.errors import UnresolvedReference
from herald_core.routing import SubscriptionRoute, decode_subscription, encode_subscription
from herald_core.specs import parse_subscription_spec

BASE = {"topic": "orders", "endpoint": {"url": "http://billing/h"}}


def spec(**extra: Any) -> Any:
    return parse_subscription_spec({**BASE, **extra})


def test_token_basic_and_header_lines() -> None:
    ref = spec(secretRef={"name": "creds"})
    assert secret_headers(ref, {"creds": {"token": "t0k\n"}}) == {"Authorization": "Bearer t0k"}
    basic = secret_headers(ref, {"creds": {"username": "u", "password": "p w"}})
    assert basic == {"Authorization": "Basic " + base64.b64encode(b"u:p w").decode()}
    lines = "X-Api-Key: k1\n# a comment\n\nX-Tenant: 'acme'\n"
    assert secret_headers(ref, {"creds": {"headers": lines}}) == {
        "X-Api-Key": "k1", "X-Tenant": "acme"}  # fmt: skip


def test_headers_from_keys_and_names() -> None:
    header = {"name": "X-Key", "secretKeyRef": {"name": "b", "key": "api"}}
    s = spec(secretRef={"name": "a"}, headersFrom=[header])
    assert secret_names(s) == ("a", "b")
    assert secret_headers(s, {"a": {"token": "x"}, "b": {"api": "y"}}) == {
        "Authorization": "Bearer x", "X-Key": "y"}  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "secrets", "reason"),
    [
        ({"secretRef": {"name": "a"}}, {"a": None}, "SecretNotFound"),
        ({"secretRef": {"name": "a"}}, {"a": {"other": "v"}}, "SecretKeyNotFound"),
        ({"secretRef": {"name": "a"}}, {"a": {"token": "val-9f3", "username": "usr-7a1"}},
         "InvalidSecret"),
        ({"secretRef": {"name": "a"}}, {"a": {"username": "usr-7a1"}}, "InvalidSecret"),
        ({"secretRef": {"name": "a"}}, {"a": {"headers": "Host: evil"}}, "InvalidSecret"),
        ({"secretRef": {"name": "a"}}, {"a": {"headers": "no colon"}}, "InvalidSecret"),
        ({"headersFrom": [{"name": "X", "secretKeyRef": {"name": "a", "key": "k"}}]},
         {"a": {}}, "SecretKeyNotFound"),
        ({"headersFrom": [{"name": "X", "secretKeyRef": {"name": "a", "key": "k"}}]},
         {"a": {"k": "line1\nline2"}}, "InvalidSecret"),
        ({"secretRef": {"name": "a"},
          "headersFrom": [{"name": "authorization", "secretKeyRef": {"name": "a", "key": "k"}}]},
         {"a": {"token": "tok-5c2", "k": "val-9f3"}}, "InvalidSecret"),
    ],
)  # fmt: skip
def test_unresolvable_references_name_secrets_never_values(
    extra: dict[str, Any], secrets: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnresolvedReference) as caught:
        secret_headers(spec(**extra), secrets)
    assert caught.value.reason == reason
    for data in secrets.values():
        for value in (data or {}).values():
            assert value not in str(caught.value)


def test_decode_secret_skips_undecodable_keys() -> None:
    data = {"token": base64.b64encode(b"abc").decode(), "bad": "%%%", "bin": "/w=="}
    assert decode_secret(data) == {"token": "abc"}
    assert decode_secret(None) == {}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://billing:8080/h?x=1", "http://billing:8080/h?x=1"),
        ("https://user:pa55@hooks.example.com/h", "https://REDACTED@hooks.example.com/h"),
        ("https://hooks.example.com/h?api_key=s3cr3t&team=a",
         "https://hooks.example.com/h?api_key=REDACTED&team=a"),
        ("https://h/x?token=a&sig=b&accessToken=c",
         "https://h/x?token=REDACTED&sig=REDACTED&accessToken=REDACTED"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_secret_headers_travel_in_the_entry_but_not_in_its_repr() -> None:
    route = SubscriptionRoute("billing", "http://b/h", {"X-Team": "b"},
                              secret_headers={"Authorization": "Bearer s3cr3t"})  # fmt: skip
    assert "s3cr3t" not in repr(route)
    assert decode_subscription(encode_subscription(route)) == route
    assert route.delivery_headers() == {"X-Team": "b", "Authorization": "Bearer s3cr3t"}
    plain = SubscriptionRoute("billing", "http://b/h")
    assert b"secretHeaders" not in encode_subscription(plain)  # unchanged entries stay equal
