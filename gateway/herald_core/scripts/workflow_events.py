"""Typed calls of the workflow waiter scripts of one shard: WORKFLOW_WAIT, WORKFLOW_MAIL,
WORKFLOW_RESUME (herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from herald_core.keys import ShardKeys
from herald_core.scripts.lua import ScriptCall, load
from herald_core.scripts.messages import NewMessageArgs

_WAIT = load("workflow_wait")
_RESUME = load("workflow_resume")
_MAIL = load("workflow_mail")


def workflow_wait(
    sk: ShardKeys,
    run_id: str,
    event_id: str,
    waiter: bytes,
    deadline_ms: int,
    member: bytes,
    step_id: int,
) -> ScriptCall:
    """Reply: [b"ok"], [b"ok", kept event], [b"none"], [b"ended", state] or [b"dup"]."""
    keys = (sk.run(run_id), sk.run_waiters(run_id), sk.waiters_due, sk.mailbox(run_id, event_id))
    return _WAIT.call(keys, (event_id, waiter, deadline_ms, member, step_id))


def workflow_mail(
    sk: ShardKeys, run_id: str, event_id: str, data: bytes, keep_ms: int
) -> ScriptCall:
    """Reply: [b"waiting"], [b"kept"], [b"none"] or [b"ended", state]."""
    keys = (sk.run(run_id), sk.run_waiters(run_id), sk.mailbox(run_id, event_id))
    return _MAIL.call(keys, (event_id, data, keep_ms))


def workflow_resume(
    sk: ShardKeys,
    log_max_rows: int,
    run_id: str,
    event_id: str,
    member: bytes,
    waiter: bytes,
    step_id: int,
    element: bytes,
    expected: int,
    kept: bytes,
    message: NewMessageArgs,
) -> ScriptCall:
    """Reply: [b"ok"], [b"gone"], [b"none"], [b"ended", state], [b"dup", id] or
    [b"stale", n]."""
    keys = (sk.due, sk.log, sk.run(run_id), sk.run_steps(run_id), sk.run_waiters(run_id),
            sk.waiters_due, sk.mailbox(run_id, event_id))  # fmt: skip
    args = (sk.base, log_max_rows, event_id, member, waiter, step_id, element, expected, kept,
            *message.argv())  # fmt: skip
    return _RESUME.call(keys, args)
