"""The pure publish model: destinations, query splitting, every configuration header."""

from __future__ import annotations

import dataclasses

import pytest

from herald_core.errors import InvalidField
from herald_core.ids import queue_shard, shard_for_key
from herald_core.models import Message
from herald_core.settings import Settings
from herald_core.store import placement
from herald_gateway.publish.destinations import (
    Endpoint,
    is_url_destination,
    parse_destination,
    split_query,
)
from herald_gateway.publish.header_values import canonical_header
from herald_gateway.publish.publishing import PublishRequest, parse_publish
from herald_gateway.publish.staging import build_message

SETTINGS = Settings(default_retries=3, max_retries=20, default_timeout=30, max_delay=86400)
NOW = 1_700_000_000_000


def parse(headers: dict[str, str] | None = None, query: str = "", dest: str = "https://a.b/c"):
    return parse_publish(dest, query, (headers or {}).items(), b"", SETTINGS, NOW)


def test_defaults() -> None:
    spec = parse()
    assert (spec.destination, spec.method, spec.max_retries, spec.timeout) == (
        Endpoint("https://a.b/c"),
        "POST",
        3,
        30,
    )
    assert spec.not_before == NOW and spec.retry_delay is None and spec.headers == {}


@pytest.mark.parametrize(
    ("raw", "query", "url"),
    [
        ("https://a.b/c", "", "https://a.b/c"),
        ("https://a.b/c", "x=1&y=%20", "https://a.b/c?x=1&y=%20"),
        ("https://a.b/c?in=path", "x=1", "https://a.b/c?in=path&x=1"),
        ("https:/a.b/c", "", "https://a.b/c"),
        ("https%3A%2F%2Fa.b%2Fc", "", "https://a.b/c"),
        ("http://127.0.0.1:8080/a%20b", "", "http://127.0.0.1:8080/a%20b"),
    ],
)
def test_destination(raw: str, query: str, url: str) -> None:
    assert parse_destination(raw, query) == url


@pytest.mark.parametrize("raw", ["ftp://x/y", "http://", "https:///p", "http://a b/c"])
def test_bad_destination(raw: str) -> None:
    with pytest.raises(InvalidField, match="destination url"):
        parse_destination(raw, "")


@pytest.mark.parametrize(
    ("raw", "is_url"),
    [("https://x", True), ("HTTP://x", True), ("orders", False), ("shop/orders", False),
     ("shop%2Forders", False)],  # as an OpenAPI client encodes the path parameter
)  # fmt: skip
def test_url_or_topic(raw: str, is_url: bool) -> None:
    assert is_url_destination(raw) is is_url


@pytest.mark.parametrize("raw", ["shop%2F", "shop%2Forders%0A", "a%20b", "%2Forders"])
def test_encoded_non_topics_are_refused(raw: str) -> None:
    with pytest.raises(InvalidField, match="destination url"):
        is_url_destination(raw)


def test_split_query_keeps_destination_query_raw() -> None:
    config, token, kept = split_query(
        "a=1&Upstash-Retries=2&qstash_token=t%2B&b=x%20y&upstash-delay=1s"
    )
    assert config == [("upstash-retries", "2"), ("upstash-delay", "1s")]
    assert token == "t+"
    assert kept == "a=1&b=x%20y"


def test_forwarded_headers_lose_their_prefix_and_are_canonical() -> None:
    spec = parse(
        {"upstash-forward-x-my-header": "v", "content-type": "text/plain", "x-other": "no"}
    )
    assert spec.headers == {"X-My-Header": "v", "Content-Type": "text/plain"}


def test_header_forward_skips_credentials_and_hop_by_hop() -> None:
    spec = parse(
        {"upstash-header-forward": "true", "authorization": "Bearer t", "host": "h",
         "connection": "keep-alive", "x-hook": "1"}
    )  # fmt: skip
    assert spec.headers == {"X-Hook": "1"}


def test_workflow_headers_pass_through_and_telemetry_is_ignored() -> None:
    spec = parse({"upstash-workflow-runid": "r1", "upstash-telemetry-sdk": "py"})
    assert spec.headers == {"Upstash-Workflow-Runid": "r1"}


def test_query_configuration_and_header_precedence() -> None:
    spec = parse({"upstash-retries": "5"}, query="upstash-retries=1&upstash-method=put")
    assert spec.max_retries == 5 and spec.method == "PUT"


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"upstash-retries": "21"}, "Upstash-Retries"),
        ({"upstash-retries": "1.5"}, "Upstash-Retries"),
        ({"upstash-method": "CONNECT"}, "Upstash-Method"),
        ({"upstash-delay": "2d"}, "Upstash-Delay"),
        ({"upstash-delay": "1"}, "Upstash-Delay"),
        ({"upstash-not-before": "-1"}, "Upstash-Not-Before"),
        ({"upstash-not-before": str(NOW // 1000 + 2 * 86400)}, "Upstash-Not-Before"),
        ({"upstash-timeout": "3h"}, "Upstash-Timeout"),
        ({"upstash-retry-delay": "pow(2)"}, "Upstash-Retry-Delay"),
        ({"upstash-forward-x": "a\r\nb"}, "Upstash-Forward-X"),
        ({"upstash-forward-": "a"}, "Upstash-Forward-"),
        ({"upstash-forward-a b": "a"}, "Upstash-Forward-A b"),
        ({"upstash-callback-method": "GET"}, "Upstash-Callback"),
        ({"upstash-callback": "ftp://x"}, "Upstash-Callback"),
        (
            {"upstash-callback": "https://x", "upstash-callback-retries": "x"},
            "Upstash-Callback-Retries",
        ),
        ({"upstash-failure-callback-timeout": "1s"}, "Upstash-Failure-Callback"),
        ({"upstash-deduplication-id": "a:b"}, "Upstash-Deduplication-Id"),
        ({"upstash-content-based-deduplication": "yes"}, "Upstash-Content-Based-Deduplication"),
        ({"upstash-redact-fields": "body,cookies"}, "Upstash-Redact-Fields"),
        ({"upstash-flow-control-key": "k"}, "Upstash-Flow-Control-Value"),
        ({"upstash-flow-control-value": "rate=1"}, "Upstash-Flow-Control-Key"),
        (
            {"upstash-flow-control-key": "k", "upstash-flow-control-value": "rate=0"},
            "Upstash-Flow-Control-Value",
        ),
        (
            {"upstash-flow-control-key": "k", "upstash-flow-control-value": "speed=3"},
            "Upstash-Flow-Control-Value",
        ),
        (
            {"upstash-flow-control-key": "k", "upstash-flow-control-value": "rate=1, period=8d"},
            "Upstash-Flow-Control-Value",
        ),
        # a known header's malformed value is still refused, in a callback's config too
        (
            {"upstash-callback": "https://cb", "upstash-callback-label": "a\x00"},
            "Upstash-Callback-Label",
        ),
        (
            {"upstash-callback": "https://cb", "upstash-callback-flow-control-key": "k"},
            "Upstash-Callback-Flow-Control-Value",
        ),
        (
            {"upstash-callback": "https://cb", "upstash-callback-failure-callback": "ftp://x"},
            "Upstash-Callback-Failure-Callback",
        ),
        (
            {
                "upstash-callback": "https://cb",
                "upstash-callback-failure-callback-retries": "x",
                "upstash-callback-failure-callback": "https://f",
            },
            "Upstash-Callback-Failure-Callback-Retries",
        ),
        (
            {"upstash-callback": "https://cb", "upstash-callback-forward-": "x"},
            "Upstash-Callback-Forward-",
        ),
        (
            {"upstash-callback": "https://cb", "upstash-callback-deduplication-id": "d"},
            "Upstash-Callback-Deduplication-Id",
        ),
        ({"upstash-callback-label": "l"}, "Upstash-Callback"),
    ],
)
def test_invalid_values_name_their_field(headers: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse(headers)
    assert info.value.field == field


def test_delay_and_not_before() -> None:
    assert parse({"upstash-delay": "1m30s"}).not_before == NOW + 90_000
    nb = NOW // 1000 + 60
    assert parse({"upstash-not-before": str(nb), "upstash-delay": "10s"}).not_before == nb * 1000
    assert parse({"upstash-not-before": "1"}).not_before == NOW  # in the past: now


def test_retry_delay_and_timeout_are_kept() -> None:
    spec = parse({"upstash-retry-delay": " pow(2, retried) * 1000 ", "upstash-timeout": "1.5s"})
    assert spec.retry_delay == "pow(2, retried) * 1000" and spec.timeout == 1.5


def test_canonical_header() -> None:
    assert canonical_header("x-my-HEADER") == "X-My-Header"


def test_flow_control_value() -> None:
    value = "parallelism=2, rate=10,period=1h30m3s"
    spec = parse({"upstash-flow-control-key": " k1 ", "upstash-flow-control-value": value})
    assert spec.flow is not None
    assert (spec.flow.key, spec.flow.parallelism, spec.flow.rate) == ("k1", 2, 10)
    assert spec.flow.period == 5403
    only = parse({"upstash-flow-control-key": "k", "upstash-flow-control-value": "rate=5"}).flow
    assert only is not None and (only.parallelism, only.rate, only.period) == (0, 5, 1.0)


def test_unknown_upstash_headers_are_accepted_not_forwarded_and_reported() -> None:
    """A newer SDK's headers (the Workflow SDKs send Upstash-Feature-Set on every publish)
    must not break publishing; Herald does not forward what it does not understand."""
    spec = parse(
        {"upstash-feature-set": "LazyFetch,InitialBody", "Upstash-Brand-New": "1",
         "upstash-telemetry-sdk": "py", "upstash-forward-x-a": "1"},
        query="upstash-from-query=2",
    )  # fmt: skip
    assert spec.headers == {"X-A": "1"}
    # Upstash-Feature-Set (the Workflow SDKs') is known: neither forwarded nor reported
    assert sorted(spec.ignored) == ["Upstash-Brand-New", "Upstash-From-Query"]


def test_timeout_defaults_to_the_maximum_unless_configured() -> None:
    qstash_like = Settings(max_timeout=900)
    assert parse_publish("https://a.b/c", "", [], b"", qstash_like, NOW).timeout == 900
    assert SETTINGS.attempt_timeout == 30  # an explicit default still applies
    assert Settings(default_timeout=5000, max_timeout=900).attempt_timeout == 900


def test_callback_headers_configure_the_callback_message_as_a_publish() -> None:
    spec = parse(
        {
            "upstash-callback": "https://cb.example/done",
            "upstash-callback-forward-x-cb": "yes",
            "upstash-callback-workflow-runid": "wfr_1",
            "upstash-callback-label": "cb-label",
            "upstash-callback-retries": "7",
            "upstash-callback-timeout": "2m",
            "upstash-callback-flow-control-key": "cbkey",
            "upstash-callback-flow-control-value": "parallelism=2",
            "upstash-callback-redact-fields": "body",
            "upstash-callback-feature-set": "LazyFetch",
            "upstash-callback-x-team": "python-sdk-style",
            "upstash-callback-failure-callback": "https://cb.example/failed",
            "upstash-callback-failure-callback-forward-x-f": "1",
            "upstash-callback-failure-callback-retries": "0",
        }
    )
    cb = spec.callback
    assert cb is not None and cb.url == "https://cb.example/done"
    assert cb.headers == {"X-Cb": "yes", "Upstash-Workflow-Runid": "wfr_1"}
    assert (cb.labels, cb.retries, cb.timeout) == (("cb-label",), 7, 120)
    assert (cb.flow_key, cb.flow_parallelism) == ("cbkey", 2)
    assert cb.redact is not None and cb.redact.body
    nested = cb.failure_callback
    assert nested is not None and nested.url == "https://cb.example/failed"
    assert (nested.headers, nested.retries) == ({"X-F": "1"}, 0)
    assert cb.callback is None and spec.failure_callback is None
    # unknown suffixes configure nothing and are not forwarded (QStash docs); reported
    assert sorted(spec.ignored) == ["Upstash-Callback-X-Team"]
    # the callback's flow-control key decides the source's shard (its callback is stored
    # there), unless the source has a key of its own
    assert _placed(spec) == shard_for_key("cbkey", 16)
    own = parse({"upstash-flow-control-key": "mine", "upstash-flow-control-value": "rate=1",
                 "upstash-callback": "https://cb", "upstash-callback-flow-control-key": "cbkey",
                 "upstash-callback-flow-control-value": "rate=1"})  # fmt: skip
    assert _placed(own) == shard_for_key("mine", 16)


def _placed(spec: PublishRequest) -> int | None:
    """The shard the store puts the message of `spec` in (of 16)."""
    return placement(build_message(spec, Endpoint("https://a.b/c"), "", NOW, None), "", 16)


def test_the_store_places_messages_by_queue_flow_key_then_dedup_key() -> None:
    queued = parse({"upstash-flow-control-key": "k", "upstash-flow-control-value": "rate=1"})
    message = build_message(queued, Endpoint("https://a.b/c"), "", NOW, None)
    assert placement(message, "d", 16) == shard_for_key("k", 16)
    plain = build_message(parse(), Endpoint("https://a.b/c"), "", NOW, None)
    assert placement(plain, "d", 16) == shard_for_key("d", 16)
    assert placement(plain, "", 16) is None  # the submission's shard, whichever it is
    in_queue = dataclasses.replace(message, queue_name="q")
    assert placement(in_queue, "d", 16) == queue_shard("q", 16)


def test_stored_callback_configuration_round_trips() -> None:
    spec = parse({"upstash-failure-callback": "https://f", "upstash-failure-callback-label": "x",
                  "upstash-failure-callback-callback": "https://g",
                  "upstash-failure-callback-callback-redact-fields": "header[A]"})  # fmt: skip
    message = build_message(spec, Endpoint("https://a.b/c"), "msg_1", NOW, None)
    assert Message.from_json(message.to_json()) == message
