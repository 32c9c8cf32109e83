"""Pure parsers of single `Upstash-*` configuration values (reference §3), shared by a
publish and by the callbacks it configures: each takes the field name to blame, so an error
names the header the value came from (`Upstash-Callback-Retries`, not `Upstash-Retries`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from herald_core.digits import is_digits
from herald_core.durations import parse_duration
from herald_core.errors import InvalidField
from herald_core.expressions import compile_expression
from herald_core.models import Redaction
from herald_core.settings import Settings

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
BAD_VALUE = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class FlowLimits:
    """`Upstash-Flow-Control-Key` and `-Value` (reference §3.4); 0 means no limit."""

    key: str
    parallelism: int = 0
    rate: int = 0
    period: float = 1.0


def flow_fields(flow: FlowLimits | None) -> dict[str, Any]:
    """The `flow_*` fields of a stored `Message` or `Callback` for these limits."""
    if flow is None:
        return {}
    return {"flow_key": flow.key, "flow_parallelism": flow.parallelism,
            "flow_rate": flow.rate, "flow_period": flow.period}  # fmt: skip


@functools.lru_cache(maxsize=1024)
def canonical_header(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: `x-my-header` → `X-My-Header`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


_MAX_PERIOD = 7 * 86400.0


def parse_flow(
    key: str | None, value: str | None, prefix: str = "Upstash-Flow-Control"
) -> FlowLimits | None:
    """`parallelism=N, rate=N, period=DURATION` (any subset with parallelism or rate);
    errors name `<prefix>-Key` or `<prefix>-Value`."""
    field_name, key_name = f"{prefix}-Value", f"{prefix}-Key"
    if key is None:
        if value is not None:
            raise InvalidField(key_name, "missing, but a value was given")
        return None
    if not key.strip() or "\t" in key or len(key) > 256:
        raise InvalidField(key_name, "must be 1 to 256 characters, no tabs")
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


def parse_labels(value: str | None, field_name: str = "Upstash-Label") -> tuple[str, ...]:
    if value is None:
        return ()
    labels = tuple(label.strip() for label in value.split(",") if label.strip())
    for label in labels:
        if len(label) > 128 or BAD_VALUE.search(label):
            raise InvalidField(field_name, "labels are at most 128 printable characters")
    return labels


_REDACT = re.compile(r"^(?:body|headers?|headers?\[([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\])$")


def parse_redaction(
    value: str | None, field_name: str = "Upstash-Redact-Fields"
) -> Redaction | None:
    if value is None:
        return None
    body, all_headers, names = False, False, []
    for token in (t.strip() for t in value.split(",") if t.strip()):
        match = _REDACT.match(token)
        if match is None:
            raise InvalidField(
                field_name, f"unknown field {token!r}: use body, header, header[Name]"
            )
        if token == "body":
            body = True
        elif match.group(1):
            names.append(match.group(1).lower())
        else:
            all_headers = True
    return Redaction(body=body, all_headers=all_headers, headers=tuple(names))


def parse_dedup_id(value: str | None) -> str | None:
    if value is None:
        return None
    if ":" in value or not value.strip() or len(value) > 512:
        raise InvalidField("Upstash-Deduplication-Id", "DeduplicationId cannot contain ':'"
                           if ":" in value else "must be 1 to 512 characters")  # fmt: skip
    return value


def check_header_value(field_name: str, value: str) -> str:
    if BAD_VALUE.search(value):
        raise InvalidField(field_name, "header values may not contain CR, LF or NUL")
    return value


def parse_boolean(field_name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise InvalidField(field_name, f"expected true or false, got {value!r}")


def parse_method(value: str | None, field_name: str = "Upstash-Method") -> str:
    if value is None:
        return "POST"
    method = value.strip().upper()
    if method not in METHODS:
        raise InvalidField(field_name, f"must be one of {', '.join(sorted(METHODS))}")
    return method


def parse_retries(
    value: str | None, settings: Settings, field_name: str = "Upstash-Retries"
) -> int:
    if value is None:
        return settings.default_retries
    text = value.strip()
    if not is_digits(text) or int(text) > settings.max_retries:
        raise InvalidField(field_name, f"must be an integer from 0 to {settings.max_retries}")
    return int(text)


def parse_retry_delay(value: str | None, field_name: str = "Upstash-Retry-Delay") -> str | None:
    if value is None:
        return None
    return compile_expression(value.strip(), field=field_name).source


def parse_timeout(
    value: str | None, settings: Settings, field_name: str = "Upstash-Timeout"
) -> float:
    if value is None:
        return settings.attempt_timeout
    seconds = parse_duration(value.strip(), field=field_name)
    if not 0 < seconds <= settings.max_timeout:
        raise InvalidField(
            field_name, f"must be more than 0s and at most {settings.max_timeout:g}s"
        )
    return seconds


def parse_delay(value: str, settings: Settings, field_name: str = "Upstash-Delay") -> float:
    seconds = parse_duration(value.strip(), field=field_name)
    if seconds > settings.max_delay:
        raise InvalidField(field_name, f"longer than the maximum {settings.max_delay:g}s")
    return seconds
