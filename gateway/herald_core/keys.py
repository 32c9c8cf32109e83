"""Every Redis key Herald uses, built in one place.

Layout (prefix `herald` by default; `{s}` is the shard's hash tag, so all keys a Lua script
touches live in one Redis Cluster slot):

    herald:{s}:due          ZSET  message id -> due time (ms): waiting, delayed and retrying tasks
    herald:{s}:lease        ZSET  message id -> lease expiry (ms): tasks a worker is delivering
    herald:{s}:m:<id>       HASH  m: metadata JSON, b: body bytes, r: retries done, t: timeout ms
    herald:{s}:log          STREAM one entry per state change (written: lua/include/messages.lua;
                                  read: herald_core.fields)
    herald:{s}:dlq          ZSET  dlq id -> failed at (ms)
    herald:{s}:d:<dlq id>   HASH  a dead letter: the message hash + x: last response JSON, f
                                  (message and dead-letter fields: herald_core.fields)
    herald:{s}:dd:<key>     STRING deduplication key -> message id, expiring with the window
    herald:{s}:fc:<key>     HASH  flow-control state of a key (lua/include/slots.lua)
    herald:{s}:fcw:<key>    ZSET  the key's waitlist; herald:{s}:fck SET keys with one
    herald:{s}:fcr:<key>    ZSET  the key's starts within its rate period
    herald:{s}:fcs          SET   every flow-control key of the shard
    herald:{s}:q:<name>     HASH  a queue's settings and counters (lua/include/slots.lua)
    herald:{s}:qw:<name>    ZSET  its messages waiting for a slot, FIFO; herald:{s}:qk SET names
    herald:{s}:st:<hour>    HASH  "<state>:<10 s slot>" -> log rows written (CREATED, ERROR,
                                  DELIVERED, FAILED): the console's activity charts; 25 h TTL
    herald:{s}:wr:<run id>  HASH  a workflow run (herald_core.workflows): u URL, c created (ms),
                                  e end state ('' while it runs, DONE, CANCELED, FAILED), m its
                                  first message's id, s:<step key> the id of the message of each
                                  step (key: its stepId; `0>n` for a parallel plan step; `call:n`
                                  the context.call of step n; `cb:<id>` a callback into it), g
                                  the settings its steps take (workflow_config), x how long it is
                                  kept once FAILED (ms), d its dead letter and t when it ended
                                  (ms), fc a FAILED run's failure callback message
                                  (lua/include/runs.lua), o the run a DLQ resume or restart made
                                  it from (workflow_failures); each message of its steps names
                                  it (message hash field w)
    herald:{s}:ws:<run id>  LIST  the run's steps array elements, ready to send: the initial
                                  payload first, then one per step, in order
    herald:{s}:wa           ZSET  running workflow runs: run id -> created (ms)
    herald:{s}:wri          ZSET  run id -> created (ms): every run of the shard, for the
                                  workflow logs (herald_core.workflow_logs); ids of expired
                                  runs are dropped as listings meet them and by the retention
                                  pass
    herald:{s}:ww:<run id>  HASH  the run's waiters (herald_core.workflow_events): event id ->
                                  the waiter's JSON (context.waitForEvent, waitForWebhook)
    herald:{s}:wwd          ZSET  the shard's waiters by deadline: JSON [run id, event id] ->
                                  timeout (ms)
    herald:{s}:we:<event>   SET   run ids waiting for an event, in the shard the event id
                                  hashes to (an index: the waiter in the run's shard decides)
    herald:{s}:wm:<run, event> LIST  events sent to a run before it waited for them (a
                                  webhook call, a notify naming the run), oldest first
    herald:{s}:wi:<run id>  STRING the run's invoker (context.invoke): where its result goes
    herald:{s}:fx:<id>      STRING a failed run's failure callback message, cancelled by hand
                                  (herald_core.workflow_failures): CALLBACK_CANCELED, for
                                  the log retention
    herald:{sched}:s:<id>   HASH  a schedule (herald_core.schedules); herald:{sched}:due ZSET
                                  schedule id -> next tick (ms)
    herald:{gp}:grants      HASH  global parallelism: worker -> slots granted (+ :seen ZSET)
    herald:keys             HASH  current, next, seed: signing keys after API rotations

Routing tables (herald_core.routing_store; one `{routes}` hash tag, so every routing script
runs on one Cluster slot; tables are small and read rarely, from gateway caches):

    herald:{routes}:t:<ns>/<topic>  HASH  topic: TopicRoute JSON; s:<name>: SubscriptionRoute JSON
                                          (a Topic's, or a URL group's: managed "api", its
                                          unnamed endpoints under s:~<hash of the URL>)
    herald:{routes}:topics          SET   ids (<ns>/<topic>) of the tables that exist
    herald:{routes}:version         STRING bumped by every routing or token change
    herald:{routes}:tokens          HASH  sha256(token) hex -> <ns>/<secret name>
    herald:routes                   pub/sub channel: the id of a changed table, or "tokens"
    herald:wake                     pub/sub channel: new work for idle workers (herald_core.wake)

A message id names its shard (`herald_core.ids.shard_of`), and so does a dead letter's id
(`dlq_` + the message id's body), so lookups need no index. A workflow run's keys and all
its step messages live in the shard its run id hashes to (`herald_core.workflows`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

#: Every key of a shard, by its `ShardKeys` field: what follows the shard's base
#: `<prefix>:{<shard>}:` (a trailing ':' takes a name: a message id, a flow-control key, a
#: queue name). The Lua scripts are handed the same table (herald_core.scripts.lua, and
#: `key(base, field, name)` in herald_core/lua/include/keys.lua): a key name is spelled
#: here and nowhere else.
SHARD_LAYOUT: dict[str, str] = {
    "due": "due",
    "lease": "lease",
    "message_prefix": "m:",
    "log": "log",
    "dlq": "dlq",
    "dlq_prefix": "d:",
    "dedup_prefix": "dd:",
    "flow_prefix": "fc:",
    "waitlist_prefix": "fcw:",
    "flow_keys": "fck",
    "rate_prefix": "fcr:",
    "flow_all": "fcs",
    "queue_prefix": "q:",
    "queue_wait_prefix": "qw:",
    "queues": "qk",
    "stats_prefix": "st:",
    "run_prefix": "wr:",
    "run_steps_prefix": "ws:",
    "runs": "wri",
    "runs_running": "wa",
    "waiters_prefix": "ww:",
    "waiters_due": "wwd",
    "event_waiters_prefix": "we:",
    "mailbox_prefix": "wm:",
    "invoker_prefix": "wi:",
    "canceled_callback_prefix": "fx:",
}


@dataclass(frozen=True, slots=True)
class ShardKeys:
    """The keys of one shard (`SHARD_LAYOUT`)."""

    #: What every key of the shard starts with, its hash tag included: the scripts build
    #: the shard's keys from it.
    base: str
    due: str
    lease: str
    message_prefix: str
    log: str
    dlq: str
    dlq_prefix: str
    dedup_prefix: str
    #: Flow control (see herald_core/lua/include/slots.lua): per-key state, waitlists,
    #: and their index.
    flow_prefix: str
    waitlist_prefix: str
    flow_keys: str
    rate_prefix: str
    flow_all: str
    #: Queues: settings and counters, FIFO waitlists, and the shard's queue names.
    queue_prefix: str
    queue_wait_prefix: str
    queues: str
    #: Activity counters of one hour (herald_core.activity): prefix + hour number.
    stats_prefix: str
    #: Workflow runs (herald_core.workflows): the record and the steps array, by run id.
    run_prefix: str
    run_steps_prefix: str
    #: The shard's runs by creation (herald_core.workflow_logs).
    runs: str
    #: The shard's running workflow runs, for bulk cancel: run id -> created (ms).
    runs_running: str
    #: Workflow waiters (herald_core.workflow_events): per run, per shard by deadline, and
    #: the index of the runs waiting for an event.
    waiters_prefix: str
    waiters_due: str
    event_waiters_prefix: str
    #: Events that came for a run before its wait (lookback), per run and event.
    mailbox_prefix: str
    #: The invoker of a run started by `context.invoke`.
    invoker_prefix: str
    #: Failure callbacks of failed runs cancelled by hand, by message id.
    canceled_callback_prefix: str

    def message(self, message_id: str) -> str:
        return self.message_prefix + message_id

    def run(self, run_id: str) -> str:
        return self.run_prefix + run_id

    def run_steps(self, run_id: str) -> str:
        return self.run_steps_prefix + run_id

    def run_waiters(self, run_id: str) -> str:
        return self.waiters_prefix + run_id

    def event_waiters(self, event_id: str) -> str:
        return self.event_waiters_prefix + event_id

    def invoker(self, run_id: str) -> str:
        return self.invoker_prefix + run_id

    def canceled_callback(self, message_id: str) -> str:
        return self.canceled_callback_prefix + message_id

    def mailbox(self, run_id: str, event_id: str) -> str:
        """`wm:["<run id>","<event id>"]` (JSON: neither id can end the other)."""
        return self.mailbox_prefix + json.dumps([run_id, event_id], separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one key prefix and shard count."""

    prefix: str
    shards: int

    def shard(self, shard: int) -> ShardKeys:
        base = f"{self.prefix}:{{{shard}}}:"
        return ShardKeys(base, **{field: base + rest for field, rest in SHARD_LAYOUT.items()})

    def all_shards(self) -> list[ShardKeys]:
        return [self.shard(s) for s in range(self.shards)]

    @property
    def signing_keys(self) -> str:
        return f"{self.prefix}:keys"

    @property
    def schedule_prefix(self) -> str:
        return f"{self.prefix}:{{sched}}:s:"

    @property
    def schedules_due(self) -> str:
        return f"{self.prefix}:{{sched}}:due"

    @property
    def parallelism_grants(self) -> str:
        return f"{self.prefix}:{{gp}}:grants"

    @property
    def parallelism_seen(self) -> str:
        return f"{self.prefix}:{{gp}}:seen"

    @property
    def wake(self) -> str:
        """Pub/sub channel of wake-up notes (herald_core.wake)."""
        return f"{self.prefix}:wake"

    @property
    def routing(self) -> RoutingKeys:
        return RoutingKeys(self.prefix)


@dataclass(frozen=True, slots=True)
class RoutingKeys:
    """The keys of the routing tables and namespace tokens (one hash tag)."""

    prefix: str

    @property
    def _tag(self) -> str:
        return f"{self.prefix}:{{routes}}"

    def table(self, topic_id: str) -> str:
        return f"{self._tag}:t:{topic_id}"

    @property
    def topics(self) -> str:
        return f"{self._tag}:topics"

    @property
    def version(self) -> str:
        return f"{self._tag}:version"

    @property
    def tokens(self) -> str:
        return f"{self._tag}:tokens"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:routes"
