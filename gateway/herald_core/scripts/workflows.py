"""Typed calls of the workflow scripts of one shard: WORKFLOW_START, WORKFLOW_STEP,
WORKFLOW_CALL, WORKFLOW_END (herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from herald_core.keys import ShardKeys
from herald_core.scripts.lua import ScriptCall, load
from herald_core.scripts.messages import NewMessageArgs

_START = load("workflow_start")
_STEP = load("workflow_step")
_END = load("workflow_end")
_CALL = load("workflow_call")


def workflow_start(
    sk: ShardKeys,
    log_max_rows: int,
    run_id: str,
    url: str,
    created_ms: int,
    initial: bytes,
    message: NewMessageArgs,
) -> ScriptCall:
    """Reply: b"" (started) or the id of the run's first message (it existed)."""
    keys = (sk.due, sk.log, sk.run(run_id), sk.run_steps(run_id), sk.runs_running)
    return _START.call(keys, (sk.base, log_max_rows, url, created_ms, initial, *message.argv()))


def workflow_step(
    sk: ShardKeys,
    log_max_rows: int,
    run_id: str,
    step_key: str | int,
    element: bytes,
    expected: int,
    message: NewMessageArgs,
) -> ScriptCall:
    """Reply: [b"ok"], [b"dup", id], [b"none"], [b"ended", state] or [b"stale", n]."""
    keys = (sk.due, sk.log, sk.run(run_id), sk.run_steps(run_id))
    args = (sk.base, log_max_rows, step_key, element, expected, *message.argv())
    return _STEP.call(keys, args)


def workflow_end(sk: ShardKeys, run_id: str, state: str, retention_ms: int) -> ScriptCall:
    """Reply: [] (no such run), [state] (ended already), or [b"", message ids...]."""
    keys = (sk.run(run_id), sk.run_steps(run_id), sk.runs_running)
    return _END.call(keys, (state, retention_ms, run_id))


def workflow_call(
    sk: ShardKeys, log_max_rows: int, run_id: str, call_key: str, message: NewMessageArgs
) -> ScriptCall:
    """Reply: [b"ok"], [b"dup", id], [b"none"] or [b"ended", state]."""
    keys = (sk.due, sk.log, sk.run(run_id))
    return _CALL.call(keys, (sk.base, log_max_rows, call_key, *message.argv()))
