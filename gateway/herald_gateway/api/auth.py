"""Bearer-token checks: `Authorization: Bearer <token>` or `?qstash_token=`.

An admin token may do anything; a read-only token (`HERALD_READONLY_TOKEN`) may read what
an admin token reads (GET and HEAD) but the signing keys, and is refused every write with
403."""

from __future__ import annotations

import hmac
from typing import Literal
from urllib.parse import parse_qsl

from starlette.requests import Request

from herald_core.errors import Forbidden, Unauthorized
from herald_core.settings import Settings

#: The methods a read-only token may use: every other one changes something.
READ_METHODS = frozenset({"GET", "HEAD"})


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    query = request.scope.get("query_string", b"")
    if b"qstash_token" in query:
        for key, value in parse_qsl(query.decode("latin-1")):
            if key == "qstash_token":
                return str(value)
    return None


def matches(token: str, tokens: tuple[str, ...]) -> bool:
    """Is `token` one of `tokens`? Every candidate is compared, in constant time."""
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(token.encode(), candidate.encode())
    return matched


#: What a token from the settings is.
TokenKind = Literal["admin", "readonly"]


def settings_token(request: Request, token: str, settings: Settings) -> TokenKind | None:
    """What a token from the settings is: admin, read-only (only for a read: 403 for a
    write, before anything is done), or neither (None)."""
    if matches(token, settings.tokens()):
        return "admin"
    if matches(token, settings.readonly_tokens()):
        if request.method not in READ_METHODS:
            raise Forbidden("read-only token")
        return "readonly"
    return None


def require_admin(request: Request, settings: Settings) -> None:
    """Raise Unauthorized unless the request carries an admin token, or a read-only token
    for a read (Forbidden for a write)."""
    token = presented_token(request)
    if token is None:
        raise Unauthorized("missing token: send Authorization: Bearer <token>")
    if settings_token(request, token, settings) is None:
        raise Unauthorized("invalid token")


def require_full_admin(request: Request, settings: Settings) -> None:
    """An admin token only, whatever the method: for what gives more than a look — the
    signing keys let their holder forge deliveries that receivers trust."""
    require_admin(request, settings)
    token = presented_token(request)
    if token is None or not matches(token, settings.tokens()):
        raise Forbidden("read-only tokens may not read the signing keys")
