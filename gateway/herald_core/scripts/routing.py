"""Typed calls of the routing scripts (layout in herald_core.keys;
herald_core/lua/routing_<name>.lua states each one's KEYS, ARGV and reply).

Every change bumps the version key and announces the table's id on the pub/sub channel, in
the same script, so a gateway that hears nothing still sees the new version on its next
periodic read. The operator's scripts (sync_table, put_entry, sync_tokens) compare before
they write: a re-assert of what Redis holds already runs only read commands, bumps no
version and announces nothing, so a quiet cluster costs Redis and the gateways nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from herald_core.keys import RoutingKeys
from herald_core.scripts.lua import ScriptCall, load

_PUT_TABLE = load("routing_put_table")
_DROP_TABLE = load("routing_drop_table")
_PUT_ENTRY = load("routing_put_entry")
_SYNC_TABLE = load("routing_sync_table")
_SYNC_TOKENS = load("routing_sync_tokens")

#: A hash field and its value.
Field = tuple[str, bytes | str]


def _table_keys(keys: RoutingKeys, topic_id: str) -> tuple[str, str, str]:
    return (keys.table(topic_id), keys.topics, keys.version)


def put_table(
    keys: RoutingKeys,
    topic_id: str,
    fields: Iterable[Field],
    *,
    replace: bool,
    guard: str,
    remove: Sequence[str],
) -> ScriptCall:
    """Write `fields` (after deleting `remove`; the whole table first with `replace`).
    `guard`: "" none, "-" no table yet, else the topic field it must hold.
    Reply: the new version, or -1 when the guard failed."""
    pairs = [v for field in fields for v in field]
    args = (keys.channel, topic_id, "replace" if replace else "merge", guard, len(remove),
            *remove, *pairs)  # fmt: skip
    return _PUT_TABLE.call(_table_keys(keys, topic_id), args)


def drop_table(keys: RoutingKeys, topic_id: str, *, guard: str, owner: str) -> ScriptCall:
    """Reply: the new version, or -1 when the guard or the owner ("" any) did not hold."""
    return _DROP_TABLE.call(_table_keys(keys, topic_id), (keys.channel, topic_id, guard, owner))


def put_entry(keys: RoutingKeys, topic_id: str, field: str, value: bytes | str) -> ScriptCall:
    """Write one entry (`value` "" removes it). Reply: 0 no table, 1 unchanged, 2 written."""
    args = (keys.channel, topic_id, field, value)
    return _PUT_ENTRY.call((keys.table(topic_id), keys.version), args)


def sync_table(
    keys: RoutingKeys, topic_id: str, topic: bytes | str, entries: Iterable[Field]
) -> ScriptCall:
    """Reply: [version (0: nothing changed), 1 if the topic changed, fields written...]."""
    pairs = [v for field in entries for v in field]
    return _SYNC_TABLE.call(_table_keys(keys, topic_id), (keys.channel, topic_id, topic, *pairs))


def sync_tokens(keys: RoutingKeys, owner: str, hashes: Iterable[str]) -> ScriptCall:
    """Reply: 0 when nothing changed, else the new version."""
    return _SYNC_TOKENS.call((keys.tokens, keys.version), (keys.channel, owner, *hashes))
