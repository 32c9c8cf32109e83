"""Bearer-token checks: `Authorization: Bearer <token>` or `?qstash_token=`."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from starlette.requests import Request

from herald_core.errors import Unauthorized


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


def require_admin(request: Request, tokens: tuple[str, ...]) -> None:
    """Raise Unauthorized unless the request carries one of `tokens` (constant-time)."""
    token = presented_token(request)
    if token is None:
        raise Unauthorized("missing token: send Authorization: Bearer <token>")
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(token.encode(), candidate.encode())
    if not matched:
        raise Unauthorized("invalid token")
