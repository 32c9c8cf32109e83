"""Every Redis key Herald uses, built in one place.

Layout (prefix `herald` by default; `{s}` is the shard's hash tag, so all keys a Lua script
touches live in one Redis Cluster slot):

    herald:{s}:due          ZSET  message id -> due time (ms): waiting, delayed and retrying tasks
    herald:{s}:lease        ZSET  message id -> lease expiry (ms): tasks a worker is delivering
    herald:{s}:m:<id>       HASH  m: metadata JSON, b: body bytes, r: retries done, t: timeout ms
    herald:{s}:log          STREAM one entry per state change (fields: herald_core.fields)
    herald:{s}:dlq          ZSET  dlq id -> failed at (ms)
    herald:{s}:d:<dlq id>   HASH  a dead letter: the message hash + x: last response JSON, f
                                  (message and dead-letter fields: herald_core.fields)
    herald:{s}:dd:<key>     STRING deduplication key -> message id, expiring with the window
    herald:{s}:fc:<key>     HASH  flow-control state of a key (herald_core.scripts)
    herald:{s}:fcw:<key>    ZSET  the key's waitlist; herald:{s}:fck SET keys with one
    herald:{s}:fcr:<key>    ZSET  the key's starts within its rate period
    herald:{s}:fcs          SET   every flow-control key of the shard
    herald:{s}:q:<name>     HASH  a queue's settings and counters (herald_core.scripts)
    herald:{s}:qw:<name>    ZSET  its messages waiting for a slot, FIFO; herald:{s}:qk SET names
    herald:{s}:st:<hour>    HASH  "<state>:<10 s slot>" -> log rows written (CREATED, ERROR,
                                  DELIVERED, FAILED): the console's activity charts; 25 h TTL
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
(`dlq_` + the message id's body), so lookups need no index.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ShardKeys:
    """The keys of one shard."""

    due: str
    lease: str
    message_prefix: str
    log: str
    dlq: str
    dlq_prefix: str
    dedup_prefix: str
    #: Flow control (see herald_core.scripts): per-key state, waitlists, and their index.
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

    def message(self, message_id: str) -> str:
        return self.message_prefix + message_id


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one key prefix and shard count."""

    prefix: str
    shards: int

    def shard(self, shard: int) -> ShardKeys:
        tag = f"{self.prefix}:{{{shard}}}"
        return ShardKeys(
            due=f"{tag}:due",
            lease=f"{tag}:lease",
            message_prefix=f"{tag}:m:",
            log=f"{tag}:log",
            dlq=f"{tag}:dlq",
            dlq_prefix=f"{tag}:d:",
            dedup_prefix=f"{tag}:dd:",
            flow_prefix=f"{tag}:fc:",
            waitlist_prefix=f"{tag}:fcw:",
            flow_keys=f"{tag}:fck",
            rate_prefix=f"{tag}:fcr:",
            flow_all=f"{tag}:fcs",
            queue_prefix=f"{tag}:q:",
            queue_wait_prefix=f"{tag}:qw:",
            queues=f"{tag}:qk",
            stats_prefix=f"{tag}:st:",
        )

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
