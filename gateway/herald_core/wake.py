"""Wake-up notes: how a process that stored work tells idle workers elsewhere, pure.

Every store of new tasks publishes one note on the `wake` channel (herald_core.keys) in the
same round trip: for each shard it wrote, the earliest due time (ms) it added; a schedule
change publishes `SCHEDULES`. A work note names the store that sent it: the worker beside
that store heard of the work directly and skips its own notes. Workers subscribe and sleep
until a note or the earliest due time they know of; their poll of every shard is only the
safety net for notes lost while they were disconnected (they poll at once when the
subscription is back). A workflow wait with a timeout publishes `waits <deadline ms>`, so
every process's timeout keeper (herald_gateway.scheduling.waiters) knows when to look.
"""

from __future__ import annotations

from collections.abc import Mapping

SCHEDULES = "schedules"
WAITS = "waits"


def encode(origin: str, due_by_shard: Mapping[int, int]) -> str:
    """The sender, then `shard:due` pairs: `a1b2c3 3:1733390000000,7:1733390000000`."""
    return origin + " " + ",".join(f"{shard}:{due}" for shard, due in due_by_shard.items())


def encode_waits(deadline_ms: int) -> str:
    """A workflow wait that times out at `deadline_ms`: `waits 1733390000000`."""
    return f"{WAITS} {deadline_ms}"


def waits_deadline(note: bytes | str) -> int | None:
    """The deadline a `waits` note announces; None for any other note."""
    text = note.decode() if isinstance(note, bytes) else note
    kind, _, deadline = text.partition(" ")
    return int(deadline) if kind == WAITS and deadline.isdigit() else None


def decode(note: bytes | str, shards: int, own: str) -> dict[int, int] | None:
    """The shards and due times of a note (empty for a note `own` sent); None for a
    schedule change. Malformed pairs (another version's note, a stray publisher) are
    skipped, never raised."""
    text = note.decode() if isinstance(note, bytes) else note
    if text == SCHEDULES:
        return None
    origin, _, pairs = text.rpartition(" ")
    out: dict[int, int] = {}
    if origin == own:
        return out
    for pair in pairs.split(","):
        shard, _, due = pair.partition(":")
        if shard.isdigit() and due.isdigit() and int(shard) < shards:
            out[int(shard)] = min(int(due), out.get(int(shard), int(due)))
    return out
