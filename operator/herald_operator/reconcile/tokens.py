"""Namespace tokens, pure: what a labelled Secret holds, and how Redis must change to match
the Secrets the operator sees (herald_operator.handlers applies it)."""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from herald_core.routing_store import token_hash


def token_hashes(data: Mapping[str, Any] | None) -> set[str]:
    """The SHA-256 of the Secret's `token` key; nothing for a missing or undecodable one."""
    raw = (data or {}).get("token")
    if not raw:
        return set()
    try:
        token = base64.b64decode(raw, validate=True).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        return set()
    return {token_hash(token)} if token else set()


def namespace_scope(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Whether an owner (<ns>/<secret>) is in the namespaces the operator serves: all of
    them without patterns, else those matching a `--namespace` glob (as kopf matches them)."""
    if not patterns:
        return lambda owner: True
    return lambda owner: any(fnmatch.fnmatchcase(owner.partition("/")[0], p) for p in patterns)


def token_changes(
    stored: Mapping[str, set[str]],
    live: Mapping[str, set[str]],
    in_scope: Callable[[str], bool],
) -> dict[str, set[str]]:
    """owner → the hashes to store: Secrets missing from Redis (a flushed Redis, a write
    that failed) and, as empty sets, owners in scope whose Secret is gone (deleted while no
    operator ran). An owner present on both sides is its own event handler's business."""
    changes = {owner: hashes for owner, hashes in live.items() if owner not in stored and hashes}
    changes.update({owner: set() for owner in stored if owner not in live and in_scope(owner)})
    return changes
