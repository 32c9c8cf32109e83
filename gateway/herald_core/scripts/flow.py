"""Typed calls of the flow-control scripts: FLOW_PAUSE, FLOW_PIN, and GRANT (global
parallelism) (herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from herald_core.keys import Keys, ShardKeys
from herald_core.scripts.lua import ScriptCall, load

_FLOW_PAUSE = load("flow_pause")
_FLOW_PIN = load("flow_pin")
_GRANT = load("grant")


def flow_pause(sk: ShardKeys, flow_key: str, paused: bool, now_ms: int) -> ScriptCall:
    """`sk`: the shard of `flow_key`. Reply: how many messages a resume made due."""
    keys = (sk.flow_prefix + flow_key, sk.waitlist_prefix + flow_key, sk.due)
    return _FLOW_PAUSE.call(keys, ("1" if paused else "0", now_ms))


def flow_pin(
    sk: ShardKeys, flow_key: str, parallelism: int | None, rate: int | None, period_ms: int | None
) -> ScriptCall:
    """Pin the limits given (None: leave alone). Reply: 1, or 0 when the key has no state."""
    args = tuple("" if v is None else v for v in (parallelism, rate, period_ms))
    return _FLOW_PIN.call((sk.flow_prefix + flow_key, sk.rate_prefix + flow_key), args)


def grant(
    keys: Keys, worker: str, wanted: int, in_use: int, cap: int, now_ms: int, ttl_ms: int
) -> ScriptCall:
    """Reply: [slots granted, slots in use across workers]."""
    return _GRANT.call((keys.parallelism_grants, keys.parallelism_seen),
                       (worker, wanted, in_use, cap, now_ms, ttl_ms))  # fmt: skip
