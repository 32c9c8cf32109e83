"""Pure parsing of a publish request into what to store (reference §1.6, §2.1, §3).

`parse_publish` takes the destination as it stood in the raw path, the raw query string and
the request headers, and returns a `PublishSpec` or raises `InvalidField` naming the header
or query key at fault. No I/O here: the route reads the request and stores the result.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from herald_core.egress import check_destination
from herald_core.errors import InvalidField
from herald_core.ids import shard_for_key
from herald_core.models import Callback, Message, Redaction
from herald_core.numbers import is_digits
from herald_core.queues import queue_shard
from herald_core.settings import Settings
from herald_core.signing import body_hash
from herald_gateway.header_values import (
    BAD_VALUE,
    TOKEN,
    FlowLimits as FlowLimits,
    canonical_header as canonical_header,
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
_DESTINATION_ERROR = "endpoint has invalid scheme, add http:// or https://"


@dataclass(frozen=True, slots=True)
class PublishSpec:
    """A validated publish request, ready to become a stored message."""

    url: str
    method: str
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
    #: `Upstash-*` headers accepted but not understood (not forwarded), for the metric.
    ignored: tuple[str, ...] = ()


def split_query(raw_query: str) -> tuple[list[tuple[str, str]], str | None, str]:
    """Split a raw query into (Upstash config pairs, qstash_token, the destination's own query).

    The destination's part is kept byte for byte, percent-encoding included.
    """
    config: list[tuple[str, str]] = []
    token: str | None = None
    kept: list[str] = []
    for part in raw_query.split("&") if raw_query else ():
        raw_key, _, raw_value = part.partition("=")
        key = _query_key(raw_key)
        if key == "qstash_token":
            token = unquote(raw_value.replace("+", " "))
        elif key.startswith("upstash-"):
            config.append((key, unquote(raw_value.replace("+", " "))))
        else:
            kept.append(part)
    return config, token, "&".join(kept)


def without_token(raw_query: str) -> str:
    """The raw query without `qstash_token` (what may be stored and replayed)."""
    parts = raw_query.split("&") if raw_query else []
    return "&".join(p for p in parts if p and _query_key(p.partition("=")[0]) != "qstash_token")


def _query_key(raw_key: str) -> str:
    return unquote(raw_key.replace("+", " ")).lower()


_TOPIC = re.compile(r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z0-9._-]+$")


def is_url_destination(raw: str) -> bool:
    """True for a URL destination, False for a topic name (`namespace/name` also as an
    OpenAPI client sends it, `namespace%2Fname`: read it with `unquote`); 400 otherwise."""
    if raw[:8].lower().startswith(("http:", "https:", "http%3a", "https%3a")):
        return True
    if _TOPIC.match(raw) or _TOPIC.fullmatch(unquote(raw)):
        return False
    raise InvalidField("destination url", _DESTINATION_ERROR)


def parse_destination(raw: str, own_query: str, field_name: str = "destination url") -> str:
    """The destination URL from the raw path segment(s) after `/v2/publish/`."""
    if raw[:7].lower() in ("http%3a", "https%3"):
        raw = unquote(raw)  # a fully URL-encoded destination
    if not raw.startswith(("http://", "https://")):  # proxies collapse // into /
        raw = re.sub(r"^(https?):/(?!/)", r"\1://", raw, flags=re.IGNORECASE)
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidField(field_name, str(exc)) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidField(field_name, _DESTINATION_ERROR)
    if BAD_VALUE.search(raw) or " " in raw:
        raise InvalidField(field_name, "contains whitespace or control characters")
    if own_query:
        raw = f"{raw}{'&' if parts.query else '?'}{own_query}"
    return raw


def parse_publish(
    destination: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    settings: Settings,
    now_ms: int,
    queue: str | None = None,
) -> PublishSpec:
    """Validate everything about a publish (or an enqueue into `queue`) but its body and
    credentials."""
    config, _token, own_query = split_query(raw_query)
    url = check_destination(parse_destination(destination, own_query), settings)
    upstash: dict[str, str] = dict(config)  # query keys first; headers override
    plain: list[tuple[str, str]] = []
    for name, value in headers:
        lname = name.lower()
        if lname.startswith("upstash-"):
            upstash[lname] = value
        else:
            plain.append((lname, value))
    ignored: list[str] = []
    forwarded = _forwarded_headers(upstash, plain, ignored)
    if queue is not None:
        _check_enqueue(upstash)
    return PublishSpec(
        url=url,
        method=parse_method(upstash.get("upstash-method")),
        headers=forwarded,
        max_retries=parse_retries(upstash.get("upstash-retries"), settings),
        retry_delay=parse_retry_delay(upstash.get("upstash-retry-delay")),
        timeout=parse_timeout(upstash.get("upstash-timeout"), settings),
        not_before=_not_before(upstash, settings, now_ms),
        labels=parse_labels(upstash.get("upstash-label")),
        callback=_callback("upstash-callback", upstash, settings, ignored),
        failure_callback=_callback("upstash-failure-callback", upstash, settings, ignored),
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
        ignored=tuple(ignored),
    )


def _check_enqueue(upstash: dict[str, str]) -> None:
    """A queue decides when its messages start: no delay, no flow-control key of their own
    (QStash documents neither for enqueue; the SDKs do not send them)."""
    for lname in ("upstash-delay", "upstash-not-before", "upstash-flow-control-key"):
        value = upstash.get(lname)
        if value is not None and not (lname == "upstash-delay" and value.strip() in ("0", "0s")):
            raise InvalidField(canonical_header(lname), "not supported for queued messages")


#: Configuration headers of a publish (`Upstash-<suffix>`), each parsed where it applies.
_CONFIG = frozenset(
    {"method", "delay", "not-before", "retries", "retry-delay", "timeout", "header-forward",
     "label", "redact-fields", "deduplication-id", "content-based-deduplication",
     "flow-control-key", "flow-control-value"}
)  # fmt: skip
#: Of those, what a callback message cannot take: it answers no request of its own, and is
#: stored by the script that settles its source's attempt (no deduplication there).
_NOT_FOR_CALLBACKS = frozenset(
    {"header-forward", "deduplication-id", "content-based-deduplication", "not-before"}
)
#: Callbacks of callbacks (`Upstash-Callback-Failure-Callback-...`) nest this deep at most.
_MAX_NESTING = 4


def _kind(suffix: str) -> str:
    """What `Upstash-<suffix>` is: forward, workflow (forwarded as it is), config, callback
    (its URL or its configuration), telemetry (SDK metadata, dropped) or unknown."""
    if suffix.startswith("forward-"):
        return "forward"
    if suffix.startswith("workflow-"):
        return "workflow"
    if suffix in _CONFIG:
        return "config"
    if suffix in ("callback", "failure-callback") or suffix.startswith(
        ("callback-", "failure-callback-")
    ):
        return "callback"
    return "telemetry" if suffix.startswith("telemetry-") else "unknown"


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
    out.update(_upstash_headers(upstash, "Upstash", ignored))
    return out


def _upstash_headers(upstash: dict[str, str], label: str, ignored: list[str]) -> dict[str, str]:
    """`Upstash-Forward-<Name>` (prefix removed) and `Upstash-Workflow-*` (as they are) of
    one message; unknown names go to `ignored` as the client spelled them under `label`."""
    out: dict[str, str] = {}
    for lname, value in upstash.items():
        suffix = lname[len("upstash-") :]
        field_name = f"{label}-{canonical_header(suffix)}"
        kind = _kind(suffix)
        if kind == "forward":
            name = suffix[len("forward-") :]
            if not name or not TOKEN.match(name):
                raise InvalidField(field_name, "not a valid header name")
            out[canonical_header(name)] = check_header_value(field_name, value)
        elif kind == "workflow":
            out[canonical_header(lname)] = check_header_value(field_name, value)
        elif kind == "unknown":
            ignored.append(field_name)
    return out


def _callback(
    prefix: str,
    upstash: dict[str, str],
    settings: Settings,
    ignored: list[str],
    label: str = "",
    depth: int = 0,
) -> Callback | None:
    """`<prefix>` (`upstash-callback` or `upstash-failure-callback`) and its
    `<prefix>-<Publish-Header>` headers: the callback message configured as a publish with
    those headers would be — forwarded headers, method, timeout, retries, retry delay,
    delay, labels, redaction, flow control, and callbacks of its own (QStash docs,
    features/callbacks "Configuring Callbacks"). `label` is the header name it was given
    under, for errors (`Upstash-Callback-Failure-Callback` when nested)."""
    label = label or canonical_header(prefix)
    sub = {"upstash-" + lname[len(prefix) + 1 :]: value
           for lname, value in upstash.items() if lname.startswith(prefix + "-")}  # fmt: skip
    url = upstash.get(prefix)
    if url is None:
        if any(_kind(n[len("upstash-") :]) not in ("unknown", "telemetry") for n in sub):
            raise InvalidField(label, f"missing, but {label}-* options were given")
        ignored += (f"{label}-{canonical_header(n[len('upstash-') :])}" for n in sub
                    if _kind(n[len("upstash-") :]) == "unknown")  # fmt: skip
        return None
    if depth >= _MAX_NESTING:
        raise InvalidField(label, f"callbacks nest at most {_MAX_NESTING} deep")

    def name(suffix: str) -> str:
        return f"{label}-{canonical_header(suffix)}"

    for suffix in _NOT_FOR_CALLBACKS:
        if "upstash-" + suffix in sub:
            raise InvalidField(name(suffix), "not supported for callbacks")
    options = {n[len("upstash-") :]: v for n, v in sub.items()}
    flow = parse_flow(options.get("flow-control-key"), options.get("flow-control-value"),
                      name("flow-control"))  # fmt: skip
    return Callback(
        url=check_destination(parse_destination(url.strip(), "", label), settings, label),
        method=parse_method(options.get("method"), name("method")),
        headers=_upstash_headers(sub, label, ignored),
        timeout=None if "timeout" not in options else parse_timeout(
            options["timeout"], settings, name("timeout")),
        retries=None if "retries" not in options else parse_retries(
            options["retries"], settings, name("retries")),
        retry_delay=parse_retry_delay(options.get("retry-delay"), name("retry-delay")),
        delay=0.0 if "delay" not in options else parse_delay(
            options["delay"], settings, name("delay")),
        labels=None if "label" not in options else parse_labels(options["label"], name("label")),
        redact=parse_redaction(options.get("redact-fields"), name("redact-fields")),
        **flow_fields(flow),
        callback=_callback("upstash-callback", sub, settings, ignored,
                           name("callback"), depth + 1),
        failure_callback=_callback("upstash-failure-callback", sub, settings, ignored,
                                   name("failure-callback"), depth + 1),
    )  # fmt: skip


def _not_before(upstash: dict[str, str], settings: Settings, now_ms: int) -> int:
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


def build_message(
    spec: PublishSpec, message_id: str, body: bytes, now_ms: int, caller_ip: str | None
) -> Message:
    """The stored message for a validated publish."""
    return Message(
        id=message_id,
        url=spec.url,
        method=spec.method,
        headers=spec.headers,
        max_retries=spec.max_retries,
        timeout=spec.timeout,
        created_at=now_ms,
        not_before=spec.not_before,
        retry_delay=spec.retry_delay,
        caller_ip=caller_ip,
        body_hash=body_hash(body),
        labels=spec.labels,
        callback=spec.callback,
        failure_callback=spec.failure_callback,
        redact=spec.redact,
        dedup_id=spec.dedup_id,
        queue_name=spec.queue,
        **flow_fields(spec.flow),
    )


def flow_fields(flow: FlowLimits | None) -> dict[str, Any]:
    if flow is None:
        return {}
    return {"flow_key": flow.key, "flow_parallelism": flow.parallelism,
            "flow_rate": flow.rate, "flow_period": flow.period}  # fmt: skip


def choose_shard(spec: PublishSpec, dedup: str, shards: int, default: int) -> int:
    """Messages of one queue or flow-control key, and duplicates, must meet in one shard."""
    if spec.queue is not None:
        return queue_shard(spec.queue, shards)
    if spec.flow is not None:
        return shard_for_key(spec.flow.key, shards)
    # A callback is stored in its source's shard (by the script that settles the attempt),
    # so a callback's flow-control key places the source where the key lives. (With a queue
    # or a key of its own the source stays there, and its callbacks' limits hold among the
    # messages of that shard only: README "Callbacks".)
    key = next(_callback_flow_keys(spec.callback, spec.failure_callback), None)
    if key is not None:
        return shard_for_key(key, shards)
    return shard_for_key(dedup, shards) if dedup else default


def _callback_flow_keys(*callbacks: Callback | None) -> Iterator[str]:
    for callback in callbacks:
        if callback is not None:
            if callback.flow_key is not None:
                yield callback.flow_key
            yield from _callback_flow_keys(callback.callback, callback.failure_callback)


def dedup_key(spec: PublishSpec, body: bytes) -> str:
    """The deduplication key of a publish, per destination ('' when it has none).

    Content-based deduplication hashes the destination, body, content type and forwarded
    headers; an explicit id is scoped to the destination.
    """
    digest = hashlib.sha256(spec.url.encode())
    if spec.dedup_id is not None:
        digest.update(b"\0id\0" + spec.dedup_id.encode())
    elif spec.content_dedup:
        digest.update(b"\0content\0" + body)
        for name, value in sorted(spec.headers.items()):
            digest.update(f"\0{name}\0{value}".encode())
    else:
        return ""
    return digest.hexdigest()


def redelivery(
    original: Message,
    message_id: str,
    headers: Iterable[tuple[str, str]],
    settings: Settings,
    now_ms: int,
) -> Message:
    """A dead letter sent again: a new message with the original's configuration, where
    the request's `Upstash-*` headers (retries, retry delay, timeout, method, delay,
    forwarded headers) override it."""
    upstash = {n.lower(): v for n, v in headers if n.lower().startswith("upstash-")}
    forwarded = {
        canonical_header(n[len("upstash-forward-") :]): check_header_value(canonical_header(n), v)
        for n, v in upstash.items()
        if n.startswith("upstash-forward-")
    }
    return replace(
        original,
        id=message_id,
        created_at=now_ms,
        not_before=_not_before(upstash, settings, now_ms),
        headers={**original.headers, **forwarded},
        max_retries=parse_retries(upstash.get("upstash-retries"), settings)
        if "upstash-retries" in upstash else original.max_retries,
        retry_delay=parse_retry_delay(upstash.get("upstash-retry-delay"))
        if "upstash-retry-delay" in upstash else original.retry_delay,
        timeout=parse_timeout(upstash.get("upstash-timeout"), settings)
        if "upstash-timeout" in upstash else original.timeout,
        method=parse_method(upstash.get("upstash-method")) if "upstash-method" in upstash
        else original.method,
        dedup_id=None,
    )  # fmt: skip
