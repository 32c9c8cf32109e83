"""Kubernetes status conditions, pure: build them, keep `lastTransitionTime` when the status
did not change, and tell transitions apart (for Events)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Condition = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Want:
    """A condition as a reconcile decides it."""

    type: str
    ok: bool
    reason: str
    message: str


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    previous: Iterable[Mapping[str, Any]], wanted: Iterable[Want], generation: int, now: str
) -> list[Condition]:
    """The new condition list; each keeps its transition time unless its status changed."""
    old = {c.get("type"): c for c in previous}
    out: list[Condition] = []
    for want in wanted:
        status = "True" if want.ok else "False"
        before = old.get(want.type, {})
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        out.append({"type": want.type, "status": status, "reason": want.reason,
                    "message": want.message, "observedGeneration": generation,
                    "lastTransitionTime": since or now})  # fmt: skip
    return out


def changed(previous: Iterable[Mapping[str, Any]], new: Iterable[Condition]) -> list[Condition]:
    """The conditions whose status or reason differ from before: the transitions to report."""
    old = {c.get("type"): (c.get("status"), c.get("reason")) for c in previous}
    return [c for c in new if old.get(c["type"]) != (c["status"], c["reason"])]
