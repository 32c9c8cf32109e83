"""The publish model: one pure function turns a publish's destination, query, headers and
body into a `PublishRequest` (reference §1.6, §2.1, §3).

Every way in builds on it: `POST /v2/publish` and `/v2/enqueue`, each item of `/v2/batch`,
a schedule (checked when created, parsed again from its stored headers at every tick), a
topic fan-out (one request, then one per subscriber: herald_gateway.publish.fanout), URL-group
default headers (checked by parsing them as the defaults they are) and a DLQ retry (its
override headers: `parse_overrides`). Errors are `InvalidField` naming the header or query
key at fault. No I/O here: herald_gateway.publish.staging turns a request into messages to store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from herald_core.digits import is_digits
from herald_core.egress import check_destination
from herald_core.errors import InvalidField
from herald_core.models import Callback, Redaction
from herald_core.routing import Delivery
from herald_core.settings import Settings
from herald_gateway.publish.callback_headers import (
    forwarded_name,
    parse_callback,
    upstash_headers,
)
from herald_gateway.publish.destinations import Endpoint, TopicRef, parse_destination, split_query
from herald_gateway.publish.header_values import (
    FlowLimits,
    canonical_header,
    check_header_value,
    parse_boolean,
    parse_dedup_id,
    parse_delay,
    parse_flow,
    parse_labels,
    parse_method,
    parse_redaction,
    parse_retries,
    parse_retry_delay,
    parse_timeout,
)

#: Request headers never forwarded, even with `Upstash-Header-Forward: true`: hop-by-hop
#: headers, what the HTTP client sets itself, and Herald's own credentials.
NOT_FORWARDED = frozenset(
    {
        "authorization", "host", "content-length", "transfer-encoding", "connection",
        "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection",
        "expect", "accept-encoding", "user-agent",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """A validated publish: where it goes and everything about the message but its id."""

    #: A checked URL (with the query it keeps), or a topic to fan out to.
    destination: Endpoint | TopicRef
    body: bytes
    method: str
    #: The headers the destination gets.
    headers: dict[str, str]
    max_retries: int
    retry_delay: str | None
    timeout: float
    #: Unix ms of the earliest first delivery.
    not_before: int
    labels: tuple[str, ...] = ()
    callback: Callback | None = None
    failure_callback: Callback | None = None
    redact: Redaction | None = None
    dedup_id: str | None = None
    content_dedup: bool = False
    flow: FlowLimits | None = None
    #: `POST /v2/enqueue/{queue}/...`: the queue the message waits in.
    queue: str | None = None
    #: The delivery settings the publish set itself (a header, a query key or a URL-group
    #: default); None where it did not, so a topic's subscriptions fill them in.
    explicit: Delivery = field(default_factory=Delivery)
    #: `Upstash-*` headers accepted but not understood (not forwarded), for the metric.
    ignored: tuple[str, ...] = ()
    #: `Upstash-Feature-Set` (the Workflow SDKs'): what the sender can handle, e.g.
    #: `LazyFetch` (herald_gateway.publish.workflows). Not forwarded.
    features: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a DLQ retry's `Upstash-*` headers change in the dead letter sent again."""

    #: None where the original's setting stays.
    delivery: Delivery
    not_before: int
    #: `Upstash-Forward-*`, added to the original's headers.
    headers: dict[str, str]


def parse_publish(
    destination: str | TopicRef,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    settings: Settings,
    now_ms: int,
    *,
    queue: str | None = None,
    defaults: Mapping[str, str] | None = None,
) -> PublishRequest:
    """Validate everything about a publish (or an enqueue into `queue`) but its credentials.

    `destination` is the raw path segment of a URL destination (read with the query's own
    part), or a topic. `defaults` are a URL group's default `Upstash-*` headers: the query
    overrides them and the request's headers override both.
    """
    config, _token, own_query = split_query(raw_query)
    target: Endpoint | TopicRef = (
        destination
        if isinstance(destination, TopicRef)
        else Endpoint(check_destination(parse_destination(destination, own_query), settings))
    )
    upstash, plain = _split_headers(config, headers, defaults or {})
    ignored: list[str] = []
    if "upstash-workflow-runid" in upstash:
        _drop_callback_options_without_url(upstash, ignored)
    forwarded = _forwarded_headers(upstash, plain, ignored)
    if queue is not None:
        _check_enqueue(upstash)
    explicit = _explicit(upstash, settings)
    return PublishRequest(
        destination=target,
        body=body,
        method=explicit.method or "POST",
        headers=forwarded,
        max_retries=settings.default_retries if explicit.retries is None else explicit.retries,
        retry_delay=explicit.retry_delay,
        timeout=settings.attempt_timeout if explicit.timeout is None else explicit.timeout,
        not_before=_not_before(upstash, settings, now_ms),
        labels=parse_labels(upstash.get("upstash-label")),
        callback=parse_callback("upstash-callback", upstash, settings, ignored),
        failure_callback=parse_callback("upstash-failure-callback", upstash, settings, ignored),
        redact=parse_redaction(upstash.get("upstash-redact-fields")),
        dedup_id=parse_dedup_id(upstash.get("upstash-deduplication-id")),
        content_dedup=parse_boolean(
            "Upstash-Content-Based-Deduplication",
            upstash.get("upstash-content-based-deduplication"),
        ),
        flow=parse_flow(
            upstash.get("upstash-flow-control-key"), upstash.get("upstash-flow-control-value")
        ),
        queue=queue,
        explicit=explicit,
        ignored=tuple(ignored),
        features=_features(upstash.get("upstash-feature-set", "")),
    )


def _features(value: str) -> frozenset[str]:
    """`Upstash-Feature-Set`: comma-separated names."""
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def parse_overrides(
    headers: Iterable[tuple[str, str]], settings: Settings, now_ms: int
) -> Overrides:
    """A DLQ retry's headers: delay, retries, retry delay, timeout, method and forwarded
    headers override the dead letter's (read as a publish reads them)."""
    upstash = {n.lower(): v for n, v in headers if n.lower().startswith("upstash-")}
    not_before = _not_before(upstash, settings, now_ms)
    forwarded = {}
    for lname, value in upstash.items():
        if lname.startswith("upstash-forward-"):
            field_name = canonical_header(lname)
            name = forwarded_name(lname[len("upstash-") :], field_name)
            forwarded[name] = check_header_value(field_name, value)
    return Overrides(_explicit(upstash, settings), not_before, forwarded)


def _split_headers(
    config: list[tuple[str, str]], headers: Iterable[tuple[str, str]], defaults: Mapping[str, str]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(`Upstash-*` settings by lower-case name, the other headers): query keys first, then
    the defaults neither the query nor the headers set, then the headers."""
    upstash: dict[str, str] = dict(config)
    given: list[tuple[str, str]] = []
    plain: list[tuple[str, str]] = []
    for name, value in headers:
        lname = name.lower()
        (given if lname.startswith("upstash-") else plain).append((lname, value))
    names = {lname for lname, _ in given}
    for name, value in defaults.items():
        if name.lower() not in names and name.lower() not in upstash:
            upstash[name.lower()] = value
    upstash.update(given)
    return upstash, plain


def _explicit(upstash: Mapping[str, str], settings: Settings) -> Delivery:
    """The delivery settings among `upstash`; None for those not given."""
    method = upstash.get("upstash-method")
    retries = upstash.get("upstash-retries")
    timeout = upstash.get("upstash-timeout")
    return Delivery(
        method=None if method is None else parse_method(method),
        retries=None if retries is None else parse_retries(retries, settings),
        retry_delay=parse_retry_delay(upstash.get("upstash-retry-delay")),
        timeout=None if timeout is None else parse_timeout(timeout, settings),
    )


def _drop_callback_options_without_url(upstash: dict[str, str], ignored: list[str]) -> None:
    """A workflow step's `Upstash-Failure-Callback-Forward-*` (and `-Retries`) come with
    every step the Workflow SDKs send, a failure URL or not, and the Python SDK's
    `context.call` configures its callback's failure callback the same way
    (`Upstash-Callback-Failure-Callback-*`): without the URL they configure nothing and are
    dropped (an ordinary publish is refused for them)."""
    for prefix in ("upstash-callback", "upstash-failure-callback",
                   "upstash-callback-failure-callback"):  # fmt: skip
        if prefix not in upstash:
            for lname in [n for n in upstash if n.startswith(prefix + "-")]:
                del upstash[lname]
                ignored.append(canonical_header(lname))


def _check_enqueue(upstash: dict[str, str]) -> None:
    """A queue decides when its messages start: no delay, no flow-control key of their own
    (QStash documents neither for enqueue; the SDKs do not send them)."""
    for lname in ("upstash-delay", "upstash-not-before", "upstash-flow-control-key"):
        value = upstash.get(lname)
        if value is not None and not (lname == "upstash-delay" and value.strip() in ("0", "0s")):
            raise InvalidField(canonical_header(lname), "not supported for queued messages")


def _forwarded_headers(
    upstash: dict[str, str], plain: list[tuple[str, str]], ignored: list[str]
) -> dict[str, str]:
    """The headers the destination gets. `Upstash-*` headers Herald does not know are
    accepted (a newer SDK must not break publishing) but not forwarded: their names go to
    `ignored`."""
    out: dict[str, str] = {}
    forward_all = parse_boolean("Upstash-Header-Forward", upstash.get("upstash-header-forward"))
    for lname, value in plain:
        if lname == "content-type" or (forward_all and lname not in NOT_FORWARDED):
            out[canonical_header(lname)] = check_header_value(canonical_header(lname), value)
    out.update(upstash_headers(upstash, "Upstash", ignored))
    return out


def _not_before(upstash: Mapping[str, str], settings: Settings, now_ms: int) -> int:
    not_before = upstash.get("upstash-not-before")
    delay = upstash.get("upstash-delay")
    due = now_ms
    if delay is not None:
        due = now_ms + int(parse_delay(delay, settings) * 1000)
    if not_before is not None:  # wins over Upstash-Delay
        text = not_before.strip()
        if not is_digits(text):
            raise InvalidField("Upstash-Not-Before", "must be a Unix time in seconds")
        due = max(now_ms, int(text) * 1000)
        if (due - now_ms) / 1000 > settings.max_delay:
            raise InvalidField("Upstash-Not-Before", "further away than the maximum delay")
    return due
