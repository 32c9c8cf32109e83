"""Herald's one error tree; the edges (HTTP handlers, kopf handlers) translate it.

    HeraldError
    ├── ConfigError                 bad settings at start-up
    ├── StoreError                  Redis failed or is unreachable        → 503
    ├── Unauthorized                missing or wrong token                → 401
    ├── Forbidden                   a namespace token outside its namespace → 403
    ├── NotFound                    unknown message, key, topic ...       → 404
    ├── Conflict                    the object is managed elsewhere (CRD) → 409
    ├── UnresolvedReference         a Secret (key) a Subscription names is missing (operator)
    ├── InvalidRequest              the client sent something we refuse   → 400
    │   ├── InvalidField            one named header, query key or JSON field
    │   ├── PayloadTooLarge         body over the configured maximum      → 413
    │   ├── RequestTimeout          body not sent within `read_timeout`   → 408
    │   └── TooManyHeaders          more header fields than `max_headers` → 431
    └── EgressRefused               a delivery target the egress policy refuses (also an
                                    OSError, so the HTTP client reports it as a DNS failure)

Delivery outcomes are not exceptions: `herald_gateway.delivery.attempts.classify` returns them.
"""

from __future__ import annotations


class HeraldError(Exception):
    """Root of every error Herald raises on purpose."""

    status_code = 500


class ConfigError(HeraldError):
    """A setting is missing or inconsistent."""


class StoreError(HeraldError):
    """Redis could not complete the operation (down, timed out, failed over)."""

    status_code = 503


class Unauthorized(HeraldError):
    """The request carries no valid token."""

    status_code = 401


class Forbidden(HeraldError):
    """The token is valid but may not do this (a namespace token outside its namespace)."""

    status_code = 403


class NotFound(HeraldError):
    """The addressed object does not exist."""

    status_code = 404


class Conflict(HeraldError):
    """The object is managed by something else (a Kubernetes Topic) and cannot change here."""

    status_code = 409


class UnresolvedReference(HeraldError):
    """A Secret or Secret key a Subscription refers to is missing or unusable; `reason` is
    the CamelCase condition reason the operator reports."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidRequest(HeraldError):
    """The request is malformed; nothing was stored."""

    status_code = 400


class InvalidField(InvalidRequest):
    """One field (header, query key, JSON key) has a value we refuse."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid {field}: {problem}")


class PayloadTooLarge(InvalidRequest):
    """The body is larger than `max_body_bytes`."""

    status_code = 413


class RequestTimeout(InvalidRequest):
    """The request body did not arrive within `read_timeout` (a slow or stalled client)."""

    status_code = 408


class TooManyHeaders(InvalidRequest):
    """The request carries more header fields than `max_headers`."""

    status_code = 431


class EgressRefused(HeraldError, OSError):
    """The egress policy refuses every address of a delivery target (herald_core.egress)."""
