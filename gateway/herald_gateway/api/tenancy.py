"""Who is calling: an admin token (the gateway's settings) may act in every namespace; a
read-only token (the settings too) may read what an admin reads and do nothing else; a
namespace token (a Secret labelled `herald.dev/token`, synced by the operator as a hash)
only in its own namespace (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from herald_core.errors import Forbidden, Unauthorized
from herald_core.models import Message
from herald_gateway.api.auth import presented_token, settings_token
from herald_gateway.state import State


@dataclass(frozen=True, slots=True)
class Caller:
    #: The namespace a bare topic name refers to.
    namespace: str
    admin: bool
    #: A read-only token: sees what an admin sees; its writes were refused (403) already.
    readonly: bool = False


async def authenticate(request: Request, st: State) -> Caller:
    token = presented_token(request)
    if token is None:
        raise Unauthorized("missing token: send Authorization: Bearer <token>")
    settings = st["settings"]
    kind = settings_token(request, token, settings)
    if kind is not None:
        return Caller(settings.default_namespace, admin=True, readonly=kind == "readonly")
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


def message_namespace(message: Message) -> str | None:
    """The namespace of a topic subscription's message (from its flow-control key
    `sub:<namespace>/<topic>/<subscription>`), else None (a URL, queue or schedule
    message: admins only)."""
    key = message.flow_key or ""
    return key[4:].split("/", 1)[0] if key.startswith("sub:") else None


def visible(caller: Caller, namespace: str | None) -> bool:
    """May `caller` see what belongs to `namespace` (None: to no namespace)?"""
    return caller.admin or (namespace is not None and namespace == caller.namespace)
