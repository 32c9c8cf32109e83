"""Property tests over hostile input: whatever a client sends, the parsers answer with a value
or an `InvalidRequest` naming the field (a 4xx), never another exception (a 500), and never
spend unbounded CPU or memory. Profiles: tests/support/fuzzing.py."""

from __future__ import annotations

import hmac
import math
from typing import Any

import pytest
from hypothesis import example, given, strategies as st
from pydantic import SecretStr
from starlette.datastructures import QueryParams
from starlette.requests import Request

import tests.support.fuzzing  # noqa: F401 - loads the hypothesis profile
from herald_core.durations import parse_duration, parse_retry_after
from herald_core.errors import ConfigError, Forbidden, InvalidField, InvalidRequest, Unauthorized
from herald_core.event_log import parse_cursor
from herald_core.expressions import (
    MAX_DELAY_MS,
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    compile_expression,
)
from herald_core.settings import Settings
from herald_gateway.api import auth, tenancy
from herald_gateway.api.filters import DLQ, LOGS, MESSAGES, parse
from herald_gateway.app import check_settings
from herald_gateway.publish.destinations import Endpoint
from herald_gateway.publish.publishing import parse_publish

SETTINGS = Settings()
#: Every character class a header or query can smuggle in: digits of other scripts ("²",
#: "٣"), signs, units, controls, surrogate-free unicode.
hostile_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80
) | st.sampled_from(["²", "٣", "1²", "--5", "-0", "9" * 5000, "1e309", "nan", "inf", "0x10"])

# -- durations -------------------------------------------------------------------------------


@given(hostile_text)
@example("9" * 64 + "h")
@example("1" + "0" * 400 + "d")
def test_parse_duration_returns_a_finite_non_negative_number_or_names_the_field(
    text: str,
) -> None:
    try:
        seconds = parse_duration(text, field="Upstash-Delay")
    except InvalidField as exc:
        assert exc.field == "Upstash-Delay"
        return
    assert math.isfinite(seconds) and seconds >= 0


@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(["ns", "us", "ms", "s", "m", "h", "d"])),
        min_size=1,
        max_size=5,
    )
)
def test_parse_duration_adds_up_its_terms(terms: list[tuple[int, str]]) -> None:
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{u}" for n, u in terms)
    expected = sum(n * unit[u] for n, u in terms)
    assert parse_duration(text, field="f") == pytest.approx(expected)


@given(hostile_text, st.floats(0, 4e9))
def test_parse_retry_after_never_raises(text: str, now: float) -> None:
    delay = parse_retry_after(text, now)
    assert delay is None or (math.isfinite(delay) and delay >= 0)


# -- retry-delay expressions -----------------------------------------------------------------

_NUMBERS = st.integers(0, 10**12).map(str) | st.sampled_from(["0.5", ".5", "1e3"])


def _expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["retried", "1000", "0", "2", "99999999", "0.5"])

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from("+-*/"), inner).map(" ".join)
        unary = inner.map(lambda e: f"-{e}")
        group = inner.map(lambda e: f"({e})")
        one = st.tuples(st.sampled_from(["exp", "sqrt", "abs", "floor", "ceil", "round"]), inner)
        call1 = one.map(lambda t: f"{t[0]}({t[1]})")
        power = st.tuples(inner, inner).map(lambda t: f"pow({t[0]}, {t[1]})")
        extreme = st.tuples(
            st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=4)
        )
        call_n = extreme.map(lambda t: f"{t[0]}({', '.join(t[1])})")
        return binary | unary | group | call1 | power | call_n

    return st.recursive(leaf, grow, max_leaves=25)


@given(_expressions(), st.integers(0, 10**9))
@example("pow(2, 99999999)", 0)
@example("pow(retried, retried) * exp(retried)", 10**9)
@example("pow(-2, 99999999)", 1)
@example("sqrt(-1) + pow(0, -1)", 0)
def test_valid_expressions_evaluate_within_a_day(text: str, retried: int) -> None:
    try:
        expression = compile_expression(text)
    except InvalidField as exc:  # valid syntax: only the length or depth limit refuses it
        assert exc.problem.startswith(("expression longer than", "expression nested deeper"))
        return
    delay = expression.evaluate(retried)
    assert 0.0 <= delay <= MAX_DELAY_MS


@given(hostile_text | st.text("()+-*/,0123456789.retidpowxsqabflcnmu ", max_size=300))
@example("2^99999999")
@example("(" * 200 + "1" + ")" * 200)
@example("-" * 255 + "1")
@example("1" * 256)
@example("min(" * 40 + "1" + ", 1)" * 40)
def test_any_expression_compiles_bounded_or_names_the_field(text: str) -> None:
    try:
        expression = compile_expression(text)
    except InvalidField as exc:
        assert exc.field == "Upstash-Retry-Delay"
        return
    assert len(text) <= MAX_EXPRESSION_LENGTH
    assert 0.0 <= expression.evaluate(7) <= MAX_DELAY_MS


def test_limits_reject_long_and_deep_input_before_parsing() -> None:
    with pytest.raises(InvalidField, match="longer than"):
        compile_expression("1+" * 10**6 + "1")  # a megabyte: refused on its length alone
    with pytest.raises(InvalidField, match="deeper than"):
        compile_expression("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert compile_expression("pow(2, 99999999)").evaluate(0) == MAX_DELAY_MS


# -- publish headers and query ---------------------------------------------------------------

_UPSTASH = st.sampled_from(
    [
        "method",
        "delay",
        "not-before",
        "retries",
        "retry-delay",
        "timeout",
        "header-forward",
        "label",
        "redact-fields",
        "deduplication-id",
        "content-based-deduplication",
        "flow-control-key",
        "flow-control-value",
        "callback",
        "failure-callback",
        "callback-retries",
        "callback-timeout",
        "failure-callback-delay",
        "forward-x-a",
        "callback-forward-x-b",
        "telemetry-sdk",
        "retires",
        "forward-",
        "callback-method",
    ]
).map(lambda s: f"Upstash-{s}") | st.text("abcXYZ-_ \x00:é", max_size=12).map("upstash-{}".format)
#: Header values as a server decodes them (latin-1), including every byte.
_VALUES = hostile_text | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
_DESTINATIONS = st.sampled_from(
    ["http://127.0.0.1:9/x", "https://example.com/a?b=c", "http%3A%2F%2Fexample.com", "orders"]
) | st.text(max_size=40).map("http://{}".format)


@given(
    st.lists(st.tuples(_UPSTASH, _VALUES), max_size=8),
    st.lists(st.tuples(st.text(max_size=10), _VALUES), max_size=3),
    _DESTINATIONS,
    st.text(max_size=60),
)
@example([("Upstash-Retries", "²")], [], "http://127.0.0.1:9/x", "")
@example([("Upstash-Retries", "9" * 5000)], [], "http://127.0.0.1:9/x", "")
@example([("Upstash-Not-Before", "9" * 5000)], [], "http://127.0.0.1:9/x", "")
@example([("Upstash-Flow-Control-Value", "parallelism=²")], [], "http://127.0.0.1:9/x", "")
def test_parse_publish_raises_only_invalid_request(
    upstash: list[tuple[str, str]], plain: list[tuple[str, str]], destination: str, query: str
) -> None:
    if not destination.lower().startswith("http"):
        destination = "http://127.0.0.1:9/" + destination
    try:
        spec = parse_publish(
            destination, query, [*upstash, *plain], b"", SETTINGS, 1_700_000_000_000
        )
    except InvalidRequest:
        return
    assert isinstance(spec.destination, Endpoint)
    assert spec.destination.url.startswith(("http://", "https://"))
    assert 0 <= spec.max_retries <= SETTINGS.max_retries


# -- listing query strings -------------------------------------------------------------------

_QUERY_KEYS = st.sampled_from(
    ["count", "cursor", "state", "fromDate", "toDate", "messageId", "messageIds", "url", "label",
     "topicName", "callerIp", "host", "path", "responseStatus", "dlqIds", "x"]
)  # fmt: skip


@given(st.lists(st.tuples(_QUERY_KEYS, _VALUES), max_size=8))
@example([("count", "²")])
@example([("fromDate", "9" * 5000)])
@example([("count", "--5")])
@example([("cursor", "1²-0-0")])
def test_listing_queries_raise_only_invalid_field(pairs: list[tuple[str, str]]) -> None:
    query = QueryParams(pairs)
    view = {"messageId": "msg_1", "url": "http://a/b", "time": 5, "labels": ["x"]}
    for route in (LOGS, DLQ, MESSAGES):
        try:
            parse(route, query.multi_items()).matches(view)
            parse_cursor(query.get("cursor"), 16)
        except InvalidField:
            pass


# -- tokens ----------------------------------------------------------------------------------


def _request(authorization: str, method: str = "GET") -> Request:
    headers = [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": method, "headers": headers, "query_string": b""})


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every configured token (admin, then read-only) goes through hmac.compare_digest, even
    after a match; the gateway's checks (auth and tenancy) all use auth.matches."""
    calls: list[tuple[Any, Any]] = []
    compare = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    settings = Settings(
        token=SecretStr("first-token,second-token"), readonly_token=SecretStr("look-token")
    )
    auth.require_admin(_request("Bearer first-token"), settings)
    with pytest.raises(Unauthorized):
        auth.require_admin(_request("Bearer first-tokeX"), settings)
    assert calls == [
        (b"first-token", b"first-token"),
        (b"first-token", b"second-token"),
        (b"first-tokeX", b"first-token"),
        (b"first-tokeX", b"second-token"),
        (b"first-tokeX", b"look-token"),
    ]
    assert not hasattr(tenancy, "hmac")  # no comparison of its own


def test_a_readonly_token_reads_and_is_refused_writes() -> None:
    settings = Settings(token=SecretStr("admin-token"), readonly_token=SecretStr("look-1, look-2"))
    for method in ("GET", "HEAD"):
        auth.require_admin(_request("Bearer look-2", method), settings)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(Forbidden, match="read-only token"):
            auth.require_admin(_request("Bearer look-1", method), settings)
        auth.require_admin(_request("Bearer admin-token", method), settings)


def test_a_token_cannot_be_both_admin_and_readonly() -> None:
    def settings(readonly: str) -> Settings:
        return Settings(token=SecretStr("a, b"), readonly_token=SecretStr(readonly),
                        current_signing_key=SecretStr("c" * 32),
                        next_signing_key=SecretStr("n" * 32))  # fmt: skip

    check_settings(settings("c"))
    with pytest.raises(ConfigError, match="both"):
        check_settings(settings("c, b"))
