"""The fields of Herald's stored hashes and log rows, and their decoding into records.

The Lua scripts (herald_core.scripts) write these fields; this module is the one place in
Python that names and reads them, so no one above the store sees a raw field:

    message hash  herald:{s}:m:<id>   m metadata JSON (`Message.to_json`), b body bytes,
                                      r retries done, t timeout (ms), k flow-control key,
                                      q queue name, qh queue slot holder, w the workflow
                                      run of a step's message (herald_core.workflows)
    dead letter   herald:{s}:d:<dlq>  the message hash (renamed on failure), plus
                                      x the last attempt JSON, f failed at (ms)
    log row       herald:{s}:log      s state, id message id, m metadata JSON, b body (CREATED
                  (stream entry)      only, when small), r retries done, n next delivery (ms),
                                      x attempt JSON; the entry id's ms part is its time
    attempt JSON  (x)                 error, status, headers {name: [value]}, body (base64),
                                      as herald_gateway.delivery.attempts.event writes it
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from herald_core.models import Message
from herald_core.records import Attempt, DeadLetter, LogEntry, StoredMessage

#: Message hash fields the read side asks Redis for (HMGET / HGET).
META, BODY = "m", "b"
_META, _BODY, _RETRIED, _STATE, _NEXT, _ATTEMPT = b"m", b"b", b"r", b"s", b"n", b"x"
_RUN = b"w"

Raw = Mapping[bytes, bytes]


def stored_message(meta: bytes | None, body: bytes | None) -> StoredMessage | None:
    """A message from its hash's `m` and `b` (None when the hash is gone)."""
    return None if meta is None else StoredMessage(Message.from_json(meta), body or b"")


def metadata(meta: bytes | None) -> Message | None:
    """A message's metadata from its hash's `m` (None when the hash is gone)."""
    return None if meta is None else Message.from_json(meta)


def attempt(raw: bytes | None) -> Attempt:
    """An attempt from its JSON (`x`); an empty one when there is none."""
    event: dict[str, Any] = orjson.loads(raw or b"{}")
    return Attempt(
        error=event.get("error") or None,
        status=event.get("status"),
        headers=event.get("headers", {}),
        body=base64.b64decode(event.get("body", "")),
    )


def log_entry(entry_id: bytes, fields: Raw) -> LogEntry:
    """A log row from its stream entry."""
    next_delivery = fields.get(_NEXT)
    return LogEntry(
        time=int(entry_id.split(b"-")[0]),
        state=fields[_STATE].decode(),
        message=Message.from_json(fields[_META]),
        retried=int(fields.get(_RETRIED, b"0")),
        body=fields.get(_BODY),
        next_delivery=None if next_delivery is None else int(next_delivery),
        attempt=attempt(fields.get(_ATTEMPT)),
    )


def dead_letter(dlq_id: str, fields: Raw) -> DeadLetter:
    """A dead letter from its hash."""
    return DeadLetter(
        dlq_id=dlq_id,
        message=Message.from_json(fields[_META]),
        body=fields.get(_BODY, b""),
        attempt=attempt(fields.get(_ATTEMPT)),
        run_id=fields[_RUN].decode() if _RUN in fields else None,
        retried=int(fields.get(_RETRIED) or 0),
    )
