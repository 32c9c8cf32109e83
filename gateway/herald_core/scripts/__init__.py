"""Herald's Redis scripts: Lua in herald_core/lua/*.lua, one typed wrapper per script here.

Every multi-key change is one atomic script, run by EVALSHA (`lua`: loading, includes,
SHA-1, the NOSCRIPT reload list). A wrapper takes typed arguments and returns a
`ScriptCall` (KEYS and ARGV in the order the script's header states), which the store
runs or queues on a pipeline; no caller counts ARGV positions.

    messages        ENQUEUE, CLAIM, SETTLE (and its outcome codes), RENEW, CANCEL
    dead_letters    DLQ_RETRY, DLQ_DELETE, JANITOR
    signing_keys    LOAD_KEYS, ROTATE_KEYS
    queues          QUEUE_SET, QUEUE_DELETE
    flow            FLOW_PAUSE, FLOW_PIN, GRANT (global parallelism)
    schedules       SCHEDULE_CLAIM, SCHEDULE_DONE, SCHEDULE_PUT, SCHEDULE_PAUSE
    routing         the routing tables' and namespace tokens' scripts
    workflows       WORKFLOW_START, WORKFLOW_STEP, WORKFLOW_END

All keys a script touches share one hash tag, so each runs on one Redis Cluster slot. The
keys of a shard not declared in KEYS are built inside the scripts from the shard's base
(herald_core.keys.ShardKeys.base) by one helper, `key()` (lua/include/keys.lua), from the
layout herald_core.keys defines.
"""

from herald_core.scripts.lua import Script, ScriptCall, registered

__all__ = ["Script", "ScriptCall", "registered"]
