"""`GET /v2/events` and `GET /v2/logs`: every state change, newest first (reference §2.9)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import InvalidField
from herald_core.ids import shard_of
from herald_core.numbers import is_digits
from herald_core.store import Store
from herald_gateway.filters import LOGS, parse
from herald_gateway.listing import Key, newest_first
from herald_gateway.routes._common import authorized, json_response
from herald_gateway.views import log_view


def _cursor(raw: str | None, shards: int) -> Key | None:
    if not raw:
        return None
    parts = raw.split("-")
    if len(parts) != 3 or not all(map(is_digits, parts)) or int(parts[2]) >= shards:
        raise InvalidField("cursor", "not a cursor this server returned")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def _end(bound: Key | None, shard: int) -> str:
    """The XREVRANGE end of `shard` for rows ordered below `bound` = (ms, seq, shard)."""
    if bound is None:
        return "+"
    ms, seq, at = bound
    return f"{ms}-{seq}" if shard < at else f"({ms}-{seq}"


async def _page(store: Store, request: Request) -> dict[str, Any]:
    filters = parse(LOGS, request.query_params.multi_items())
    shards = store.keys.shards
    cursor = _cursor(filters.cursor, shards)
    # rows must match every id filter given: the shards of one of them hold them all
    ids = filters.get("messageIds") or filters.get("messageId")
    scope = range(shards) if ids is None else sorted(
        {s for s in (shard_of(i, shards) for i in ids) if s is not None}
    )  # fmt: skip
    bounds: dict[int, Key | None] = dict.fromkeys(scope, cursor)

    async def fetch(wanted: dict[int, Key | None], n: int) -> dict[int, list[tuple[Key, Any]]]:
        rows = await store.read_logs({s: _end(b, s) for s, b in wanted.items()}, n)
        out: dict[int, list[tuple[Key, Any]]] = {}
        for shard, entries in rows.items():
            out[shard] = []
            for entry_id, fields in entries:
                ms, seq = entry_id.split(b"-")
                out[shard].append(((int(ms), int(seq), shard), (entry_id, fields)))
        return out

    def keep(row: tuple[bytes, dict[bytes, bytes]]) -> bool:
        return filters.matches(log_view(*row))

    page = await newest_first(fetch, bounds, filters.count or 100, keep)
    body: dict[str, Any] = {"events": [log_view(*row) for row in page.rows]}
    if page.last is not None:
        body["cursor"] = "-".join(map(str, page.last))
    return body


async def events(request: Request) -> Response:
    """The SDKs' path: rows under `events`."""
    return json_response(await _page(authorized(request)["store"], request))


async def logs(request: Request) -> Response:
    """The documented path: rows under both `logs` and `events`."""
    body = await _page(authorized(request)["store"], request)
    body["logs"] = body["events"]
    return json_response(body)
