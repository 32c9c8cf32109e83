"""QStash URL groups (`/v2/topics`, reference §2.5), kept as routing tables the API manages.

A URL group is stored exactly like a `Topic`'s table (herald_core.routing_store) but marked
`managed = "api"`, so a publish to its name fans out through the same code as a Topic.

Names map onto namespaces the way publish destinations do: `name` is the group in the
caller's namespace (an admin token's is `HERALD_DEFAULT_NAMESPACE`, a namespace token's its
own), `namespace/name` names the namespace. The gateway's routes (herald_gateway.api.routes.
topics) check who may touch which namespace; this module never sees a token.

A table the operator manages (a `Topic` object) is never changed here: every write raises
`Conflict`. Writes are optimistic: read the table, compute the new one with the pure
functions below, and write it only if its `topic` entry still holds what was read (its
`updatedAt` moves on every write), else read again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from herald_core.errors import Conflict, InvalidField, NotFound, StoreError
from herald_core.routing import (
    UNNAMED,
    RoutingTable,
    SubscriptionRoute,
    TopicRoute,
    topic_id,
)
from herald_core.routing_store import RoutingStore

#: Most endpoints in one group: every publish to it stores one message per endpoint.
MAX_ENDPOINTS = 1000
#: Most default headers a group may carry.
MAX_HEADERS = 64
_ATTEMPTS = 20
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_URL = re.compile(r"^https?://[^/?#\s]+([/?#]\S*)?$", re.IGNORECASE)
_NAME_RULE = "only alphanumerics, '-', '_' and '.' (at most 200), optionally after 'namespace/'"


@dataclasses.dataclass(frozen=True, slots=True)
class EndpointRef:
    """An endpoint as a request names it: by URL, by name, or both."""

    url: str | None = None
    name: str | None = None


#: A change to a group's table (None: there is none); the new table, None to delete it.
Change = Callable[[RoutingTable | None], RoutingTable | None]
#: A change that always leaves a table.
Keep = Callable[[RoutingTable | None], RoutingTable]


# -- names ----------------------------------------------------------------------------------


def parse_group_name(raw: str, home: str) -> tuple[str, str]:
    """`name` (in namespace `home`) or `namespace/name` → (namespace, name); 400 otherwise."""
    namespace, _, name = raw.rpartition("/")
    namespace = namespace or home
    if not _NAMESPACE.match(namespace) or not _NAME.match(name) or name in (".", ".."):
        raise InvalidField("url group name", f"{raw!r}: {_NAME_RULE}")
    return namespace, name


def display_name(namespace: str, name: str, home: str) -> str:
    """The name the caller uses: bare in its own namespace, `namespace/name` elsewhere."""
    return name if namespace == home else topic_id(namespace, name)


def managed_elsewhere(topic: TopicRoute) -> Conflict:
    ref = topic_id(topic.namespace, topic.name)
    return Conflict(
        f'url group "{ref}" is the Kubernetes object Topic {ref} (herald.dev/v1alpha1), '
        "managed by the Herald operator: change it with kubectl, not through /v2/topics"
    )


# -- request bodies -------------------------------------------------------------------------


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _URL.match(value.strip()):
        raise InvalidField(where, "must be an http:// or https:// URL")
    return value.strip()


def _endpoint_name(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _NAME.match(value) or value in (".", ".."):
        raise InvalidField(where, "only alphanumerics, '-', '_' and '.' (at most 200)")
    return value


def parse_endpoints(body: Any, *, upsert: bool) -> list[EndpointRef]:
    """`{"endpoints": [{"url", "name"?}]}`: every URL is required and checked when
    upserting; removing needs a url or a name on each item."""
    items = body.get("endpoints") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise InvalidField("endpoints", 'expected {"endpoints": [{"url": ..., "name": ...}]}')
    refs = []
    for i, item in enumerate(items):
        where = f"endpoints[{i}]"
        if not isinstance(item, dict):
            raise InvalidField(where, 'expected an object {"url": ..., "name": ...}')
        name = _endpoint_name(item.get("name"), f"{where}.name")
        url = item.get("url")
        if upsert or url not in (None, ""):
            url = _url(url, f"{where}.url")
        else:
            url = None
        if url is None and name is None:
            raise InvalidField(where, "needs a url or a name")
        refs.append(EndpointRef(url, name))
    return refs


def parse_default_headers(body: Any) -> dict[str, str]:
    """`{"headers": {"Upstash-Retries": "3", "Upstash-Header-Forward": ["true"]}}` → names
    checked (`Upstash-*` only), values as strings. Whether each value is valid is for the
    publish parser to say (the gateway runs it over the result)."""
    headers = body.get("headers") if isinstance(body, dict) else None
    if not isinstance(headers, dict):
        raise InvalidField("headers", 'expected {"headers": {"Upstash-...": "value"}}')
    if len(headers) > MAX_HEADERS:
        raise InvalidField("headers", f"at most {MAX_HEADERS} default headers")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not name.lower().startswith("upstash-"):
            raise InvalidField(f"headers.{name}", "only Upstash-* headers can be group defaults")
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if not isinstance(value, str):
            raise InvalidField(f"headers.{name}", "must be a string or a list of strings")
        out["-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))] = value
    return out


# -- changes (pure) -------------------------------------------------------------------------


def unnamed_key(url: str) -> str:
    """Entry name of an endpoint added without a name: one per URL."""
    return UNNAMED + hashlib.sha256(url.encode()).hexdigest()[:24]


def with_endpoints(namespace: str, name: str, refs: Sequence[EndpointRef]) -> Keep:
    """Upsert: a named endpoint replaces the one of that name (and an unnamed one of its
    URL); an unnamed endpoint is added unless its URL is in the group already."""

    def change(table: RoutingTable | None) -> RoutingTable:
        topic = table.topic if table else TopicRoute(namespace, name, managed="api")
        subs = {s.name: s for s in (table.subscriptions if table else ())}
        for ref in refs:
            assert ref.url is not None
            if ref.name is not None:
                subs.pop(unnamed_key(ref.url), None)
                subs[ref.name] = SubscriptionRoute(ref.name, ref.url)
            elif all(s.url != ref.url for s in subs.values()):
                subs[unnamed_key(ref.url)] = SubscriptionRoute(unnamed_key(ref.url), ref.url)
        if len(subs) > MAX_ENDPOINTS:
            raise InvalidField("endpoints", f"a url group holds at most {MAX_ENDPOINTS}")
        return RoutingTable(topic, tuple(sorted(subs.values(), key=lambda s: s.name)))

    return change


def _matches(ref: EndpointRef, sub: SubscriptionRoute) -> bool:
    if ref.name is not None and ref.name != sub.name:
        return False
    return ref.url is None or ref.url == sub.url


def without_endpoints(label: str, refs: Sequence[EndpointRef]) -> Change:
    """Remove every endpoint an item matches (all the fields it gives); the group goes
    when its last endpoint does."""

    def change(table: RoutingTable | None) -> RoutingTable | None:
        if table is None:
            raise NotFound(f'url group "{label}" not found')
        kept = tuple(s for s in table.subscriptions if not any(_matches(r, s) for r in refs))
        return RoutingTable(table.topic, kept) if kept else None

    return change


def with_headers(label: str, headers: dict[str, str]) -> Keep:
    def change(table: RoutingTable | None) -> RoutingTable:
        if table is None:
            raise NotFound(f'url group "{label}" not found')
        return RoutingTable(dataclasses.replace(table.topic, headers=headers), table.subscriptions)

    return change


def deleted(table: RoutingTable | None) -> None:
    return None


# -- applying a change ----------------------------------------------------------------------


async def change_group(
    store: RoutingStore, namespace: str, name: str, change: Change, now_ms: int
) -> RoutingTable | None:
    """Apply `change` to the group's table atomically; the table as written (None: gone)."""
    tid = topic_id(namespace, name)
    for _ in range(_ATTEMPTS):
        table, guard = await store.guarded_table(tid)
        if table is not None and table.topic.managed != "api":
            raise managed_elsewhere(table.topic)
        new = change(table)
        if new is None:
            if table is None or await store.drop_table(tid, guard=guard) >= 0:
                return None
            continue
        created = table.topic.created_at if table else now_ms
        updated = max(now_ms, table.topic.updated_at + 1) if table else now_ms
        topic = dataclasses.replace(new.topic, created_at=created, updated_at=updated)
        if await store.put_table(topic, new.subscriptions, guard=guard) >= 0:
            return RoutingTable(topic, new.subscriptions)
    raise StoreError(f'url group "{tid}" changed concurrently {_ATTEMPTS} times; try again')
