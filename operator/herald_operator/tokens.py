"""kopf wiring of namespace tokens: Secrets labelled `herald.dev/token` become token hashes
in Redis (herald_operator.reconcile.tokens decides what changes).

An index and event handlers only, never kopf's changing handlers (create/update/resume/
delete): those make kopf add its finalizer and annotations, and users' Secrets are not the
operator's to patch (the chart grants list/watch on Secrets, nothing more; the operator
never writes to one). Without a finalizer, a Secret deleted while no operator runs is
noticed afterwards: `reconcile_tokens` drops the owners the index no longer holds. It runs
after every Secret event, on the namespace listing every start makes (kopf calls handlers
only once all indexes are filled, so the index is complete by then), and from the
Topic/Subscription resync timers.

`HERALD_NAMESPACE_TOKENS=false` switches the feature off: `unregister` takes the Secret
handlers out of kopf's registry before the operator starts (kopf then never lists or
watches a Secret for them), and `reconcile_tokens`, handed no index, revokes every
namespace token stored earlier.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from herald_core.errors import StoreError
from herald_core.routing_store import RoutingStore
from herald_operator.pacing import shared
from herald_operator.reconcile.tokens import namespace_scope, token_changes, token_hashes

TOKEN_LABEL = "herald.dev/token"
_LABELS = {TOKEN_LABEL: kopf.PRESENT}
_LAST_RUN = "tokens-reconciled-at"
logger = logging.getLogger(__name__)


def watch_token_secrets_only(settings: kopf.OperatorSettings) -> None:
    """Let the API server filter Secrets by label (kopf ≥ 1.45 sends `labelSelector` on
    the list and watch requests of the resources a selector names), so the operator never
    receives the cluster's other Secrets. The handlers' `labels=` filter repeats it on the
    client side for an API server that ignores the selector (the test emulator does)."""
    settings.watching.label_selectors["", "v1", "secrets"] = TOKEN_LABEL


def _store(memo: kopf.Memo) -> RoutingStore:
    return memo["routing"]  # type: ignore[no-any-return]


@kopf.index("", "v1", "secrets", labels=_LABELS)
def token_secrets(name: str, namespace: str, body: Any, meta: Any, **_: Any) -> Any:
    if meta.get("deletionTimestamp"):
        return {}  # not None: kopf would keep the previous value (herald_operator.handlers)
    return {f"{namespace}/{name}": frozenset(token_hashes(body.get("data")))}


@kopf.on.event("", "v1", "secrets", labels=_LABELS)
async def token_event(event: Any, name: str, namespace: str, body: Any, meta: Any,
                      memo: kopf.Memo, token_secrets: kopf.Index[str, Any],
                      **_: Any) -> None:  # fmt: skip
    """A namespace token: its SHA-256 goes to Redis, the token itself never does."""
    owner = f"{namespace}/{name}"
    gone = event.get("type") == "DELETED" or bool(meta.get("deletionTimestamp"))
    hashes = set() if gone else token_hashes(body.get("data"))
    await _until_stored(lambda: _store(memo).sync_token_hashes(owner, hashes), owner)
    await reconcile_tokens(memo, token_secrets, force=True)


@kopf.on.event("", "v1", "namespaces")
async def namespace_event(memo: kopf.Memo, token_secrets: kopf.Index[str, Any] | None = None,
                          **_: Any) -> None:  # fmt: skip
    """Every start lists the namespaces (there always are some) once the Secret index is
    complete: the moment to revoke tokens of Secrets deleted while no operator ran (or all
    of them, when namespace tokens are switched off)."""
    await reconcile_tokens(memo, token_secrets)


def unregister(registry: kopf.OperatorRegistry) -> None:
    """Namespace tokens off: remove the Secret index and event handler from the registry,
    before the operator starts, so that kopf neither lists nor watches Secrets (the chart
    then grants no access to them). kopf has no public call to remove a handler; this edits
    its registries' handler lists (kopf 1.45; tests/control_plane/test_tokens.py proves
    that no Secret is requested)."""
    ours: set[Any] = {token_secrets, token_event}
    indexing, watching = registry._indexing, registry._watching
    indexing._handlers[:] = [h for h in indexing._handlers if h.fn not in ours]
    watching._handlers[:] = [h for h in watching._handlers if h.fn not in ours]


async def _until_stored(write: Callable[[], Awaitable[None]], owner: str) -> None:
    """Event handlers are not retried by kopf: retry here, with backoff, until Redis is back
    (later events of the same Secret wait, and kopf hands over only the latest)."""
    delay = 1.0
    while True:
        try:
            await write()
            return
        except StoreError as exc:
            logger.warning("token %s not stored, retrying in %.0fs: %s", owner, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def reconcile_tokens(
    memo: kopf.Memo, index: kopf.Index[str, Any] | None, *, force: bool = False
) -> None:
    """Make Redis hold the token of every indexed Secret and none of a vanished one; at most
    once per resync interval unless forced. A Redis failure is logged and tried next time.
    No index (namespace tokens off): every stored namespace token in scope is revoked."""
    now, last_run = time.monotonic(), shared(memo).last_run  # operator-wide, not per object
    interval = memo["herald"].operator_resync_interval
    if not force and now - last_run.get(_LAST_RUN, -math.inf) < interval:
        return
    last_run[_LAST_RUN] = now
    live = {owner: set().union(*values) for owner, values in (index or {}).items()}
    in_scope = namespace_scope(memo.get("namespaces") or ())
    store = _store(memo)
    try:
        for owner, hashes in token_changes(await store.token_owners(), live, in_scope).items():
            logger.info("tokens of %s: %s", owner, "stored" if hashes else "revoked")
            await store.sync_token_hashes(owner, hashes)
    except StoreError as exc:
        last_run[_LAST_RUN] = -math.inf
        logger.warning("tokens not reconciled: %s", exc)
