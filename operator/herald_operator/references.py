"""What Subscriptions refer to in their namespace, read from the Kubernetes API: Secrets
(delivery credentials, herald_core.credentials) and Services (EndpointResolved).

Read by name with `get` (the only verb this needs), never watched: kopf allows one watch
per resource, the operator's Secret watch is label-filtered to namespace tokens
(herald_operator.tokens), and a cluster-wide Secret cache would hold every Secret's value
in the operator's memory. Instead each read is cached for `HERALD_OPERATOR_REFERENCE_RECHECK`
seconds and re-read by a timer at that interval, so a rotated Secret or a Service created
later is picked up within it. Values are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from herald_core.credentials import SecretData, decode_secret, secret_headers, secret_names
from herald_core.errors import InvalidField, UnresolvedReference
from herald_core.specs import SubscriptionSpec, parse_subscription_spec
from herald_operator.conditions import Want
from herald_operator.reconcile.status import UNREADABLE

logger = logging.getLogger(__name__)


class ReferenceUnreadable(Exception):
    """The API server did not answer a read (not a 404): retry later."""


def _client() -> Any:
    import kubernetes

    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient())


class References:
    """Secrets and Service ports by (namespace, name), each cached for `ttl` seconds."""

    def __init__(
        self, ttl: float, client: Callable[[], Any] = _client, *, secrets: bool = True
    ) -> None:
        # the client logs whole response bodies (Secret values) at DEBUG: never let it
        logging.getLogger("kubernetes.client.rest").setLevel(logging.INFO)
        self.ttl = ttl
        #: Secret-sourced headers on (HERALD_SUBSCRIPTION_SECRETS): off, no Secret is read.
        self.secrets = secrets
        self._make_client = client
        self._api: Any = None
        self._cache: dict[tuple[str, str, str], tuple[float, Any]] = {}

    def close(self) -> None:
        if self._api is not None:
            self._api.api_client.close()

    async def secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None:
        """The Secret's data, decoded; None when it does not exist."""
        obj = await self._read("secret", namespace, name, fresh)
        if obj is None:
            return None
        return decode_secret(getattr(obj, "data", None))

    async def service_ports(self, namespace: str, name: str, *, fresh: bool = False) -> Any:
        """The Service's port numbers; None when it does not exist; UNREADABLE on errors."""
        try:
            obj = await self._read("service", namespace, name, fresh)
        except ReferenceUnreadable:
            return UNREADABLE
        if obj is None:
            return None
        return frozenset(int(p.port) for p in (obj.spec.ports or []))

    async def _read(self, kind: str, namespace: str, name: str, fresh: bool) -> Any:
        key = (kind, namespace, name)
        cached = self._cache.get(key)
        if cached is not None and not fresh and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        obj = await asyncio.to_thread(self._get, kind, namespace, name)
        self._cache[key] = (time.monotonic(), obj)
        return obj

    def _get(self, kind: str, namespace: str, name: str) -> Any:
        import kubernetes

        if self._api is None:
            self._api = self._make_client()
        read = (self._api.read_namespaced_secret if kind == "secret"
                else self._api.read_namespaced_service)  # fmt: skip
        try:
            return read(name, namespace)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            # the exception's body may hold the object: log only the status
            logger.warning("reading %s %s/%s failed: HTTP %s", kind, namespace, name, exc.status)
            raise ReferenceUnreadable(f"{kind} {namespace}/{name}: HTTP {exc.status}") from None
        except Exception as exc:  # urllib3/connection errors: the API server is unreachable
            logger.warning("reading %s %s/%s failed: %s", kind, namespace, name,
                           type(exc).__name__)  # fmt: skip
            raise ReferenceUnreadable(f"{kind} {namespace}/{name}: {type(exc).__name__}") from None


async def secret_headers_of(
    refs: References, namespace: str, spec: SubscriptionSpec, *, fresh: bool = False
) -> tuple[dict[str, str] | None, Want | None]:
    """The Subscription's Secret-sourced headers and its SecretsResolved condition: ({},
    None) without references, (None, a False condition) when they cannot be resolved.
    Raises ReferenceUnreadable when the API server could not be asked."""
    names = secret_names(spec)
    if not names:
        return {}, None
    if not refs.secrets:
        off = (
            "headers from Secrets are off in this installation "
            "(HERALD_SUBSCRIPTION_SECRETS, chart subscriptionSecrets.enabled)"
        )
        return None, Want("SecretsResolved", False, "SecretsDisabled", off)
    found = {name: await refs.secret(namespace, name, fresh=fresh) for name in names}
    try:
        headers = secret_headers(spec, found)
    except UnresolvedReference as exc:
        return None, Want("SecretsResolved", False, exc.reason, str(exc))
    listed = ", ".join(sorted(headers))
    return headers, Want("SecretsResolved", True, "SecretsResolved",
                         f"headers from Secrets: {listed}")  # fmt: skip


async def resolve_topic_credentials(
    refs: References, namespace: str, subscriptions: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, Mapping[str, Any]], dict[str, dict[str, str]], dict[str, str]]:
    """For a Topic's sync: (the subscriptions to route, their Secret headers, and those
    left out because their Secrets cannot be resolved: name → why)."""
    routed: dict[str, Mapping[str, Any]] = {}
    headers: dict[str, dict[str, str]] = {}
    refused: dict[str, str] = {}
    for name, raw in subscriptions.items():
        try:
            spec = parse_subscription_spec(raw)
        except InvalidField:
            routed[name] = raw  # sync_topic refuses it, with the reason
            continue
        found, want = await secret_headers_of(refs, namespace, spec)
        if found is None:
            refused[name] = want.message if want is not None else "unresolved"
            continue
        routed[name] = raw
        if found:
            headers[name] = found
    return routed, headers, refused
