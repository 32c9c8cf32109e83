"""Pure parsing of a publish request into what to store (reference §1.6, §2.1, §3).

`parse_publish` takes the destination as it stood in the raw path, the raw query string and
the request headers, and returns a `PublishSpec` or raises `InvalidField` naming the header
or query key at fault. No I/O here: the route reads the request and stores the result.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from herald_core.durations import parse_duration
from herald_core.errors import InvalidField
from herald_core.expressions import compile_expression
from herald_core.settings import Settings

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
#: Request headers never forwarded, even with `Upstash-Header-Forward: true`: hop-by-hop
#: headers, what the HTTP client sets itself, and Herald's own credentials.
_NOT_FORWARDED = frozenset(
    {
        "authorization", "host", "content-length", "transfer-encoding", "connection",
        "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection",
        "expect", "accept-encoding", "user-agent",
    }
)  # fmt: skip
#: Upstash-* headers belonging to features not built yet: refused rather than ignored, so
#: nobody believes a callback or a deduplication is in place when it is not.
_NOT_YET = ("callback", "failure-callback", "deduplication-id", "content-based-deduplication",
            "flow-control-key", "flow-control-value", "label", "redact-fields")  # fmt: skip
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
        key = unquote(raw_key.replace("+", " ")).lower()
        if key == "qstash_token":
            token = unquote(raw_value.replace("+", " "))
        elif key.startswith("upstash-"):
            config.append((key, unquote(raw_value.replace("+", " "))))
        else:
            kept.append(part)
    return config, token, "&".join(kept)


_TOPIC = re.compile(r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z0-9._-]+$")


def is_url_destination(raw: str) -> bool:
    """True for a URL destination, False for a topic name; 400 for anything else."""
    if raw[:8].lower().startswith(("http:", "https:", "http%3a", "https%3a")):
        return True
    if _TOPIC.match(raw):
        return False
    raise InvalidField("destination url", _DESTINATION_ERROR)


def parse_destination(raw: str, own_query: str) -> str:
    """The destination URL from the raw path segment(s) after `/v2/publish/`."""
    if raw[:7].lower() in ("http%3a", "https%3"):
        raw = unquote(raw)  # a fully URL-encoded destination
    if not raw.startswith(("http://", "https://")):  # proxies collapse // into /
        raw = re.sub(r"^(https?):/(?!/)", r"\1://", raw, flags=re.IGNORECASE)
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidField("destination url", str(exc)) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidField("destination url", _DESTINATION_ERROR)
    if _BAD_VALUE.search(raw) or " " in raw:
        raise InvalidField("destination url", "contains whitespace or control characters")
    if own_query:
        raw = f"{raw}{'&' if parts.query else '?'}{own_query}"
    return raw


def parse_publish(
    destination: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    settings: Settings,
    now_ms: int,
) -> PublishSpec:
    """Validate everything about a publish but its body and credentials."""
    config, _token, own_query = split_query(raw_query)
    url = parse_destination(destination, own_query)
    upstash: dict[str, str] = dict(config)  # query keys first; headers override
    plain: list[tuple[str, str]] = []
    for name, value in headers:
        lname = name.lower()
        if lname.startswith("upstash-"):
            upstash[lname] = value
        else:
            plain.append((lname, value))
    forwarded = _forwarded_headers(upstash, plain)
    return PublishSpec(
        url=url,
        method=_method(upstash.get("upstash-method")),
        headers=forwarded,
        max_retries=_retries(upstash.get("upstash-retries"), settings),
        retry_delay=_retry_delay(upstash.get("upstash-retry-delay")),
        timeout=_timeout(upstash.get("upstash-timeout"), settings),
        not_before=_not_before(upstash, settings, now_ms),
    )


def _forwarded_headers(upstash: dict[str, str], plain: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    forward_all = _boolean("Upstash-Header-Forward", upstash.get("upstash-header-forward"))
    for lname, value in plain:
        if lname == "content-type" or (forward_all and lname not in _NOT_FORWARDED):
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
    {"method", "delay", "not-before", "retries", "retry-delay", "timeout", "header-forward"}
)


def _check_config_name(lname: str) -> None:
    suffix = lname[len("upstash-") :]
    if suffix in _CONFIG or suffix.startswith("telemetry-"):
        return
    if suffix.startswith(_NOT_YET):
        raise InvalidField(canonical_header(lname), "not supported by this Herald version yet")
    raise InvalidField(canonical_header(lname), "unknown Upstash header")


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


def _method(value: str | None) -> str:
    if value is None:
        return "POST"
    method = value.strip().upper()
    if method not in METHODS:
        raise InvalidField("Upstash-Method", f"must be one of {', '.join(sorted(METHODS))}")
    return method


def _retries(value: str | None, settings: Settings) -> int:
    if value is None:
        return settings.default_retries
    text = value.strip()
    if not text.isdigit() or int(text) > settings.max_retries:
        raise InvalidField(
            "Upstash-Retries", f"must be an integer from 0 to {settings.max_retries}"
        )
    return int(text)


def _retry_delay(value: str | None) -> str | None:
    if value is None:
        return None
    return compile_expression(value.strip(), field="Upstash-Retry-Delay").source


def _timeout(value: str | None, settings: Settings) -> float:
    if value is None:
        return settings.default_timeout
    seconds = parse_duration(value.strip(), field="Upstash-Timeout")
    if not 0 < seconds <= settings.max_timeout:
        raise InvalidField(
            "Upstash-Timeout", f"must be more than 0s and at most {settings.max_timeout:g}s"
        )
    return seconds


def _not_before(upstash: dict[str, str], settings: Settings, now_ms: int) -> int:
    not_before = upstash.get("upstash-not-before")
    delay = upstash.get("upstash-delay")
    due = now_ms
    if delay is not None:
        seconds = parse_duration(delay.strip(), field="Upstash-Delay")
        if seconds > settings.max_delay:
            raise InvalidField("Upstash-Delay", f"longer than the maximum {settings.max_delay:g}s")
        due = now_ms + int(seconds * 1000)
    if not_before is not None:  # wins over Upstash-Delay
        text = not_before.strip()
        if not text.isdigit():
            raise InvalidField("Upstash-Not-Before", "must be a Unix time in seconds")
        due = max(now_ms, int(text) * 1000)
        if (due - now_ms) / 1000 > settings.max_delay:
            raise InvalidField("Upstash-Not-Before", "further away than the maximum delay")
    return due
