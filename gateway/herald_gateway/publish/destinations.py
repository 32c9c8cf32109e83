"""Pure reading of where a publish goes (reference §2.1): a URL or a topic, and the query.

A publish names its destination in the raw path after `/v2/publish/` (or
`/v2/enqueue/{queue}/`, `/v2/schedules/`, a batch item's `destination`). `read_destination`
tells a URL from a topic name; `parse_destination` checks a URL and appends the query the
destination keeps; `split_query` separates Herald's `Upstash-*` query keys and the
`qstash_token` from the destination's own query, byte for byte. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from herald_core.errors import InvalidField
from herald_gateway.publish.header_values import BAD_VALUE

_DESTINATION_ERROR = "endpoint has invalid scheme, add http:// or https://"
_TOPIC = re.compile(r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z0-9._-]+$")


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A topic (URL group) destination as the publisher named it: `name` (in the caller's
    namespace) or `namespace/name`; the route resolves it to its subscriptions."""

    name: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One URL a message is delivered to: a publish's own URL, or a topic subscription's
    (then with the topic's name and the endpoint's name, shown on the message)."""

    url: str
    topic_name: str | None = None
    endpoint_name: str | None = None


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


def is_url_destination(raw: str) -> bool:
    """True for a URL destination, False for a topic name (`namespace/name` also as an
    OpenAPI client sends it, `namespace%2Fname`: read it with `unquote`); 400 otherwise."""
    if raw[:8].lower().startswith(("http:", "https:", "http%3a", "https%3a")):
        return True
    if _TOPIC.match(raw) or _TOPIC.fullmatch(unquote(raw)):
        return False
    raise InvalidField("destination url", _DESTINATION_ERROR)


def read_destination(raw: str) -> str | TopicRef:
    """The raw path segment(s) naming a destination: kept raw for a URL (`parse_destination`
    reads it with the query), a `TopicRef` for a topic; 400 for neither."""
    return raw if is_url_destination(raw) else TopicRef(unquote(raw))


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
