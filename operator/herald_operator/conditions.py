"""Kubernetes status conditions, pure, after the API conventions
(https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#typical-status-properties):
each carries `observedGeneration`; `lastTransitionTime` moves only when `status` changes;
reasons are CamelCase; a condition not yet determined is `Unknown`.

Several writers share one list (the sync handlers own Ready/TopicFound/EndpointResolved/
SecretsResolved, the health timers own Degraded): each merges only the types it owns and
keeps the others as they are. A JSON merge patch replaces a list whole, so `patch_status`
hands the list to kopf as a patch function instead: kopf applies it to the freshest body and
sends a JSON patch guarded by the resourceVersion, so two writers never undo each other.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

Condition = dict[str, Any]
_REASON = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True, slots=True)
class Want:
    """A condition as a reconcile decides it; `ok` None is Unknown."""

    type: str
    ok: bool | None
    reason: str
    message: str

    def __post_init__(self) -> None:
        if not _REASON.match(self.reason):
            raise ValueError(f"condition reasons are CamelCase: {self.reason!r}")

    @property
    def status(self) -> str:
        return "Unknown" if self.ok is None else "True" if self.ok else "False"


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    previous: Iterable[Mapping[str, Any]],
    wanted: Iterable[Want],
    generation: int,
    now: str,
    owned: Collection[str] | None = None,
) -> list[Condition]:
    """The new condition list: each wanted one keeps its transition time unless its status
    changed; of the previous ones, those of types in `owned` (default: every type) and not
    wanted are dropped, the others are kept unchanged, in their place."""
    wanted = list(wanted)
    old = {c.get("type"): c for c in previous}
    new: dict[str, Condition] = {}
    for want in wanted:
        before = old.get(want.type, {})
        same = before.get("status") == want.status
        since = before.get("lastTransitionTime") if same else None
        new[want.type] = {"type": want.type, "status": want.status, "reason": want.reason,
                          "message": want.message, "observedGeneration": generation,
                          "lastTransitionTime": since or now}  # fmt: skip
    out: list[Condition] = []
    for type_, cond in old.items():
        if type_ in new:
            out.append(new.pop(type_))
        elif owned is not None and type_ not in owned:
            out.append(dict(cond))
    return out + list(new.values())


#: Condition types whose True is the bad news (Degraded); for the others False is.
ABNORMAL_WHEN_TRUE = frozenset({"Degraded"})


def event_type(cond: Mapping[str, Any]) -> str:
    """Warning for a transition into a bad state, Normal otherwise (Unknown included)."""
    bad = "True" if cond.get("type") in ABNORMAL_WHEN_TRUE else "False"
    return "Warning" if cond.get("status") == bad else "Normal"


def changed(previous: Iterable[Mapping[str, Any]], new: Iterable[Condition]) -> list[Condition]:
    """The conditions whose status or reason differ from before: the transitions to report."""
    old = {c.get("type"): (c.get("status"), c.get("reason")) for c in previous}
    return [c for c in new if old.get(c["type"]) != (c["status"], c["reason"])]


def status_changes(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `new` that differ from `current`: a status patch that is empty (and
    not sent) when nothing a reader could see changed."""
    return {key: value for key, value in new.items() if current.get(key) != value}


def summary(conditions: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """`health` and `reason` for the printer columns: NotReady (and Ready's reason) unless
    Ready, else Degraded, Healthy or Unknown (and Degraded's reason)."""
    by_type = {c.get("type"): c for c in conditions}
    ready, degraded = by_type.get("Ready", {}), by_type.get("Degraded", {})
    if ready.get("status") != "True":
        return {"health": "NotReady" if ready else "Unknown", "reason": ready.get("reason", "")}
    health = {"True": "Degraded", "False": "Healthy"}.get(degraded.get("status", ""), "Unknown")
    return {"health": health, "reason": degraded.get("reason", "")}


def put_conditions(
    fresh: Iterable[Mapping[str, Any]],
    ours: Iterable[Condition],
    owned: Collection[str],
    if_absent: Collection[str] = (),
) -> list[Condition]:
    """`fresh` (the list as stored now) with our conditions put in: of the types we own,
    ours replace theirs (keeping their transition time when the status is the same) and
    those we do not set are dropped; `if_absent` types are placeholders, set only when the
    list has none (Degraded=Unknown before the health timer measured it)."""
    current = {c.get("type"): c for c in fresh}
    mine: dict[str, Condition] = {}
    for cond in ours:
        before = current.get(cond["type"])
        if cond["type"] in if_absent and before is not None:
            continue
        if before is not None and before.get("status") == cond["status"]:
            cond = {**cond, "lastTransitionTime": before.get("lastTransitionTime")
                    or cond["lastTransitionTime"]}  # fmt: skip
        mine[cond["type"]] = cond
    out: list[Condition] = []
    for type_, theirs in current.items():
        if type_ in mine:
            out.append(mine.pop(type_))
        elif type_ not in owned or type_ in if_absent:
            out.append(dict(theirs))
    return out + list(mine.values())


def patch_status(
    patch: Any,
    current: Mapping[str, Any],
    new: Mapping[str, Any],
    owned: Collection[str],
    if_absent: Collection[str] = (),
) -> None:
    """Patch what changed of `new` (a status a reconcile built from the `current` snapshot),
    fields and conditions (and the summary derived from them) alike, as one function of the
    freshest body (kopf `Patch.fns`): one JSON patch guarded by the resourceVersion. A
    snapshot that was stale (a second run before the first one's write came back) loses that
    guard and is recomputed on the fresh body, where it changes nothing: no second write."""
    derived = ("conditions", "health", "reason")
    fields = status_changes(current, {k: v for k, v in new.items() if k not in derived})
    ours = list(new.get("conditions") or [])
    now = list(current.get("conditions") or [])
    merged_now = put_conditions(now, ours, owned, if_absent) if "conditions" in new else now
    if (not fields and merged_now == now
            and all(current.get(k) == v for k, v in summary(merged_now).items())):  # fmt: skip
        return  # nothing to change: no PATCH (a quiet resync writes nothing)

    def apply(body: MutableMapping[str, Any]) -> None:
        status = body.setdefault("status", {})
        for key, value in fields.items():
            if value is None:
                status.pop(key, None)
            else:
                status[key] = value
        if "conditions" in new:
            merged = put_conditions(status.get("conditions") or [], ours, owned, if_absent)
            status["conditions"] = merged
            status.update(summary(merged))

    patch.fns.append(apply)
