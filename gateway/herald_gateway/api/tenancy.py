"""Who is calling: an admin token (the gateway's settings) may act in every namespace; a
namespace token (a Secret labelled `herald.dev/token`, synced by the operator as a hash)
only in its own namespace (DESIGN §4)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from herald_core.errors import Forbidden, Unauthorized
from herald_gateway.api.auth import presented_token
from herald_gateway.state import State


@dataclass(frozen=True, slots=True)
class Caller:
    #: The namespace a bare topic name refers to.
    namespace: str
    admin: bool


def _is_admin(token: str, tokens: tuple[str, ...]) -> bool:
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(token.encode(), candidate.encode())
    return matched


async def authenticate(request: Request, st: State) -> Caller:
    token = presented_token(request)
    if token is None:
        raise Unauthorized("missing token: send Authorization: Bearer <token>")
    settings = st["settings"]
    if _is_admin(token, settings.tokens()):
        return Caller(settings.default_namespace, admin=True)
    namespace = await st["routing"].token_namespace(token)
    if namespace is None:
        raise Unauthorized("invalid token")
    return Caller(namespace, admin=False)


def require_namespace(caller: Caller, namespace: str) -> None:
    if not caller.admin and caller.namespace != namespace:
        raise Forbidden(
            f'a token of namespace "{caller.namespace}" cannot use namespace "{namespace}"'
        )


def require_admin_caller(caller: Caller, what: str) -> None:
    if not caller.admin:
        raise Forbidden(f"namespace tokens cannot {what}; use an admin token")
