"""Pure parsing of a publish request into what to store (reference §1.6, §2.1, §3).

`parse_publish` takes the destination as it stood in the raw path, the raw query string and
the request headers, and returns a `PublishSpec` or raises `InvalidField` naming the header
or query key at fault. No I/O here: the route reads the request and stores the result.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from herald_core.durations import parse_duration
from herald_core.egress import check_destination
from herald_core.errors import InvalidField
from herald_core.expressions import compile_expression
from herald_core.ids import shard_for_key
from herald_core.models import Callback, Message, Redaction
from herald_core.numbers import is_digits
from herald_core.queues import queue_shard
from herald_core.settings import Settings
from herald_core.signing import body_hash

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
#: Request headers never forwarded, even with `Upstash-Header-Forward: true`: hop-by-hop
#: headers, what the HTTP client sets itself, and Herald's own credentials.
NOT_FORWARDED = frozenset(
    {
        "authorization", "host", "content-length", "transfer-encoding", "connection",
        "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection",
        "expect", "accept-encoding", "user-agent",
    }
)  # fmt: skip
_CALLBACK_OPTIONS = ("method", "timeout", "retries", "retry-delay", "delay")
_DESTINATION_ERROR = "endpoint has invalid scheme, add http:// or https://"


@dataclass(frozen=True, slots=True)
class FlowLimits:
    """`Upstash-Flow-Control-Key` and `-Value` (reference §3.4); 0 means no limit."""

    key: str
    parallelism: int = 0
    rate: int = 0
    period: float = 1.0


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


@functools.lru_cache(maxsize=1024)
def canonical_header(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: `x-my-header` → `X-My-Header`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


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
    """True for a URL destination, False for a topic name; 400 for anything else."""
    if raw[:8].lower().startswith(("http:", "https:", "http%3a", "https%3a")):
        return True
    if _TOPIC.match(raw):
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
    if _BAD_VALUE.search(raw) or " " in raw:
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
    forwarded = _forwarded_headers(upstash, plain)
    if queue is not None:
        _check_enqueue(upstash)
    return PublishSpec(
        url=url,
        method=_method(upstash.get("upstash-method")),
        headers=forwarded,
        max_retries=_retries(upstash.get("upstash-retries"), settings),
        retry_delay=_retry_delay(upstash.get("upstash-retry-delay")),
        timeout=_timeout(upstash.get("upstash-timeout"), settings),
        not_before=_not_before(upstash, settings, now_ms),
        labels=_labels(upstash.get("upstash-label")),
        callback=_callback("upstash-callback", upstash, settings),
        failure_callback=_callback("upstash-failure-callback", upstash, settings),
        redact=_redaction(upstash.get("upstash-redact-fields")),
        dedup_id=_dedup_id(upstash.get("upstash-deduplication-id")),
        content_dedup=_boolean(
            "Upstash-Content-Based-Deduplication",
            upstash.get("upstash-content-based-deduplication"),
        ),
        flow=_flow(
            upstash.get("upstash-flow-control-key"), upstash.get("upstash-flow-control-value")
        ),
        queue=queue,
    )


def _check_enqueue(upstash: dict[str, str]) -> None:
    """A queue decides when its messages start: no delay, no flow-control key of their own
    (QStash documents neither for enqueue; the SDKs do not send them)."""
    for lname in ("upstash-delay", "upstash-not-before", "upstash-flow-control-key"):
        value = upstash.get(lname)
        if value is not None and not (lname == "upstash-delay" and value.strip() in ("0", "0s")):
            raise InvalidField(canonical_header(lname), "not supported for queued messages")


def _forwarded_headers(upstash: dict[str, str], plain: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    forward_all = _boolean("Upstash-Header-Forward", upstash.get("upstash-header-forward"))
    for lname, value in plain:
        if lname == "content-type" or (forward_all and lname not in NOT_FORWARDED):
            out[canonical_header(lname)] = _header_value(canonical_header(lname), value)
    for lname, value in upstash.items():
        suffix = lname[len("upstash-") :]
        if suffix.startswith("forward-"):
            name = lname[len("upstash-forward-") :]
            if not name or not _TOKEN.match(name):
                raise InvalidField(canonical_header(lname), "not a valid header name")
            out[canonical_header(name)] = _header_value(canonical_header(lname), value)
        elif suffix.startswith("workflow-"):
            out[canonical_header(lname)] = _header_value(canonical_header(lname), value)
        else:
            _check_config_name(lname)
    return out


_CONFIG = frozenset(
    {"method", "delay", "not-before", "retries", "retry-delay", "timeout", "header-forward",
     "label", "redact-fields", "deduplication-id", "content-based-deduplication",
     "flow-control-key", "flow-control-value"}
)  # fmt: skip


def _check_config_name(lname: str) -> None:
    suffix = lname[len("upstash-") :]
    if suffix in _CONFIG or suffix.startswith(("telemetry-", "callback", "failure-callback")):
        return
    raise InvalidField(canonical_header(lname), "unknown Upstash header")


def _callback(prefix: str, upstash: dict[str, str], settings: Settings) -> Callback | None:
    """`Upstash-Callback` (or `-Failure-Callback`) and its `-Forward-*` and option headers.

    Other `<prefix>-<Name>` headers are forwarded too: the Python SDK sends its
    `callback_headers` that way.
    """
    field_name = canonical_header(prefix)
    url = upstash.get(prefix)
    headers: dict[str, str] = {}
    options: dict[str, str] = {}
    for lname, value in upstash.items():
        if not lname.startswith(prefix + "-"):
            continue
        rest = lname[len(prefix) + 1 :]
        if rest in _CALLBACK_OPTIONS:
            options[rest] = value
            continue
        name = rest[len("forward-") :] if rest.startswith("forward-") else rest
        if not _TOKEN.match(name):
            raise InvalidField(canonical_header(lname), "not a valid header name")
        headers[canonical_header(name)] = _header_value(canonical_header(lname), value)
    if url is None:
        if headers or options:
            raise InvalidField(field_name, f"missing, but {field_name}-* options were given")
        return None
    return Callback(
        url=check_destination(parse_destination(url.strip(), "", field_name), settings, field_name),
        method=_method(options.get("method"), f"{field_name}-Method"),
        headers=headers,
        timeout=None if "timeout" not in options else _timeout(
            options["timeout"], settings, f"{field_name}-Timeout"),
        retries=None if "retries" not in options else _retries(
            options["retries"], settings, f"{field_name}-Retries"),
        retry_delay=_retry_delay(options.get("retry-delay"), f"{field_name}-Retry-Delay"),
        delay=0.0 if "delay" not in options else _delay(
            options["delay"], settings, f"{field_name}-Delay"),
    )  # fmt: skip


_MAX_PERIOD = 7 * 86400.0


def _flow(key: str | None, value: str | None) -> FlowLimits | None:
    """`parallelism=N, rate=N, period=DURATION` (any subset with parallelism or rate)."""
    field_name = "Upstash-Flow-Control-Value"
    if key is None:
        if value is not None:
            raise InvalidField("Upstash-Flow-Control-Key", "missing, but a value was given")
        return None
    if not key.strip() or "\t" in key or len(key) > 256:
        raise InvalidField("Upstash-Flow-Control-Key", "must be 1 to 256 characters, no tabs")
    limits: dict[str, str] = {}
    for part in (p.strip() for p in (value or "").split(",") if p.strip()):
        name, _, raw = part.partition("=")
        if name.strip() not in ("parallelism", "rate", "period") or not raw.strip():
            raise InvalidField(field_name, f"unknown setting {part!r}")
        limits[name.strip()] = raw.strip()
    if "parallelism" not in limits and "rate" not in limits:
        raise InvalidField(field_name, "needs parallelism or rate")
    for name in ("parallelism", "rate"):
        if name in limits and (not is_digits(limits[name]) or int(limits[name]) < 1):
            raise InvalidField(field_name, f"{name} must be a positive integer")
    period = limits.get("period", "1s")
    seconds = float(period) if is_digits(period) else parse_duration(period, field=field_name)
    if not 0 < seconds <= _MAX_PERIOD:
        raise InvalidField(field_name, "period must be more than 0s and at most 7d")
    return FlowLimits(key.strip(), int(limits.get("parallelism", 0)),
                      int(limits.get("rate", 0)), seconds)  # fmt: skip


def _labels(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    labels = tuple(label.strip() for label in value.split(",") if label.strip())
    for label in labels:
        if len(label) > 128 or _BAD_VALUE.search(label):
            raise InvalidField("Upstash-Label", "labels are at most 128 printable characters")
    return labels


_REDACT = re.compile(r"^(?:body|headers?|headers?\[([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\])$")


def _redaction(value: str | None) -> Redaction | None:
    if value is None:
        return None
    body, all_headers, names = False, False, []
    for token in (t.strip() for t in value.split(",") if t.strip()):
        match = _REDACT.match(token)
        if match is None:
            raise InvalidField(
                "Upstash-Redact-Fields", f"unknown field {token!r}: use body, header, header[Name]"
            )
        if token == "body":
            body = True
        elif match.group(1):
            names.append(match.group(1).lower())
        else:
            all_headers = True
    return Redaction(body=body, all_headers=all_headers, headers=tuple(names))


def _dedup_id(value: str | None) -> str | None:
    if value is None:
        return None
    if ":" in value or not value.strip() or len(value) > 512:
        raise InvalidField("Upstash-Deduplication-Id", "DeduplicationId cannot contain ':'"
                           if ":" in value else "must be 1 to 512 characters")  # fmt: skip
    return value


def _header_value(field_name: str, value: str) -> str:
    if _BAD_VALUE.search(value):
        raise InvalidField(field_name, "header values may not contain CR, LF or NUL")
    return value


def _boolean(field_name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise InvalidField(field_name, f"expected true or false, got {value!r}")


def _method(value: str | None, field_name: str = "Upstash-Method") -> str:
    if value is None:
        return "POST"
    method = value.strip().upper()
    if method not in METHODS:
        raise InvalidField(field_name, f"must be one of {', '.join(sorted(METHODS))}")
    return method


def _retries(value: str | None, settings: Settings, field_name: str = "Upstash-Retries") -> int:
    if value is None:
        return settings.default_retries
    text = value.strip()
    if not is_digits(text) or int(text) > settings.max_retries:
        raise InvalidField(field_name, f"must be an integer from 0 to {settings.max_retries}")
    return int(text)


def _retry_delay(value: str | None, field_name: str = "Upstash-Retry-Delay") -> str | None:
    if value is None:
        return None
    return compile_expression(value.strip(), field=field_name).source


def _timeout(value: str | None, settings: Settings, field_name: str = "Upstash-Timeout") -> float:
    if value is None:
        return settings.default_timeout
    seconds = parse_duration(value.strip(), field=field_name)
    if not 0 < seconds <= settings.max_timeout:
        raise InvalidField(
            field_name, f"must be more than 0s and at most {settings.max_timeout:g}s"
        )
    return seconds


def _delay(value: str, settings: Settings, field_name: str = "Upstash-Delay") -> float:
    seconds = parse_duration(value.strip(), field=field_name)
    if seconds > settings.max_delay:
        raise InvalidField(field_name, f"longer than the maximum {settings.max_delay:g}s")
    return seconds


def _not_before(upstash: dict[str, str], settings: Settings, now_ms: int) -> int:
    not_before = upstash.get("upstash-not-before")
    delay = upstash.get("upstash-delay")
    due = now_ms
    if delay is not None:
        due = now_ms + int(_delay(delay, settings) * 1000)
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
    return shard_for_key(dedup, shards) if dedup else default


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
        canonical_header(n[len("upstash-forward-") :]): _header_value(canonical_header(n), v)
        for n, v in upstash.items()
        if n.startswith("upstash-forward-")
    }
    return replace(
        original,
        id=message_id,
        created_at=now_ms,
        not_before=_not_before(upstash, settings, now_ms),
        headers={**original.headers, **forwarded},
        max_retries=_retries(upstash.get("upstash-retries"), settings)
        if "upstash-retries" in upstash else original.max_retries,
        retry_delay=_retry_delay(upstash.get("upstash-retry-delay"))
        if "upstash-retry-delay" in upstash else original.retry_delay,
        timeout=_timeout(upstash.get("upstash-timeout"), settings)
        if "upstash-timeout" in upstash else original.timeout,
        method=_method(upstash.get("upstash-method")) if "upstash-method" in upstash
        else original.method,
        dedup_id=None,
    )  # fmt: skip
