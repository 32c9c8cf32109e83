"""The one settings object: every `HERALD_*` environment variable, read once at start.

`herald gateway`, `herald dev` and the operator build a `Settings()` in their entry point
and pass it down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _comma_list(value: object) -> object:
    """`a, b,,c` -> ("a", "b", "c"): how the environment (and the chart) spells a list."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


#: A list setting, given in the environment as one comma-separated string (not JSON).
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]


class Settings(BaseSettings):
    """Herald's configuration (environment prefix `HERALD_`)."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", frozen=True, extra="ignore")

    #: Redis to keep all state in (`redis://`, `rediss://` or `unix://`).
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Redis topology (herald_core.redis_client): `standalone` (redis_url is the server),
    #: `cluster` (redis_url is any seed node; its password and TLS apply to every node) or
    #: `sentinel` (the master is found through redis_sentinels; redis_url gives only the
    #: password, username, database and TLS of the master, its host is ignored).
    redis_mode: Literal["standalone", "cluster", "sentinel"] = "standalone"
    #: Cluster: more seed nodes beside redis_url's (comma-separated host:port), so a start
    #: works while one seed is down.
    redis_cluster_nodes: CommaList = ()
    #: Sentinel: the Sentinels (comma-separated host:port), the name of the master they
    #: monitor, and their own password when they require one (the master's is in redis_url).
    redis_sentinels: CommaList = ()
    redis_master_name: str = "mymaster"
    redis_sentinel_password: SecretStr = SecretStr("")
    #: Replicas that must hold a publish before it is acknowledged (Redis WAIT, after the
    #: write, on the same connection); 0 = don't wait. Fewer within redis_wait_timeout: 503.
    redis_wait_replicas: int = Field(default=0, ge=0)
    redis_wait_timeout: float = Field(default=1.0, gt=0)
    #: Prefix of every Redis key, so several Herald installs can share one Redis.
    key_prefix: str = "herald"
    #: Number of hash-tagged shards work is spread over (1-62). Fixed for the life of the data.
    shards: int = Field(default=16, ge=1, le=62)

    #: Address and port the gateway listens on.
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    #: Port of the gateway's metrics listener: `/metrics` (Prometheus, unauthenticated) is
    #: served there and only there, never on `port`; 0 serves no metrics at all.
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    #: What this process runs: `api`, `worker` or both (comma-separated).
    roles: CommaList = ("api", "worker")
    #: Admin tokens accepted as `Authorization: Bearer ...` (comma-separated for several).
    token: SecretStr = SecretStr("")
    #: Read-only tokens (comma-separated for several): like an admin token for every read
    #: (GET/HEAD: the API, the console and its live tail); any write answers 403.
    readonly_token: SecretStr = SecretStr("")
    #: HS256 keys signing deliveries (>= 32 bytes). Rotation through the API is kept in Redis.
    current_signing_key: SecretStr = SecretStr("")
    next_signing_key: SecretStr = SecretStr("")

    #: Largest accepted message body in bytes (413 above).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    #: A workflow run's steps array larger than this (bytes) is not the body of its
    #: deliveries when the Workflow SDK announced `LazyFetch`: they are sent with an empty
    #: body, and the SDK fetches the steps (`GET /v2/workflows/runs/{id}`), as QStash does
    #: for large runs.
    workflow_lazy_fetch_bytes: int = Field(default=1024 * 1024, ge=0)
    #: Retries after the first attempt when `Upstash-Retries` is absent, and the largest allowed.
    default_retries: int = Field(default=3, ge=0)
    max_retries: int = Field(default=20, ge=0)
    #: Per-attempt HTTP timeout (s) when `Upstash-Timeout` is absent, and the largest allowed.
    #: 0 (the default) means max_timeout, as QStash's default is the plan's maximum: an
    #: endpoint that takes minutes is not cut off and delivered twice.
    default_timeout: float = Field(default=0.0, ge=0)
    max_timeout: float = Field(default=2 * 3600.0, gt=0)
    #: Longest `Upstash-Delay` / `Upstash-Not-Before` distance in seconds (default one year).
    max_delay: float = Field(default=365 * 86400.0, gt=0)

    #: Deliveries in flight per worker process, and per destination host within it.
    concurrency: int = Field(default=256, ge=1)
    host_concurrency: int = Field(default=64, ge=1)
    #: The delivery HTTP client (herald_gateway.delivery): `h1`, Herald's own lean HTTP/1.1
    #: client on asyncio transports and httptools, or `aiohttp`'s (docs/benchmarks.md, "A
    #: lean HTTP/1.1 client"). Both check the egress policy on the addresses they dial.
    http_client: Literal["h1", "aiohttp"] = "h1"
    #: How long a deferred task waits when its host is at its cap, in seconds.
    host_defer: float = Field(default=0.05, ge=0)
    #: Most tasks claimed from one shard in one round trip.
    claim_batch: int = Field(default=128, ge=1)
    #: Seconds a claimed task stays leased without a renewal. Workers renew the leases of
    #: the tasks they hold every third of it (one script per shard), so a crashed worker's
    #: tasks come back after at most this long, whatever their timeout.
    lease_duration: float = Field(default=15.0, gt=0)
    #: How often an idle worker looks at every shard although no wake-up note came
    #: (herald_core.wake; seconds): the safety net for notes lost while it was
    #: disconnected. New work wakes workers at once, in any process.
    poll_interval: float = Field(default=30.0, gt=0)
    #: On SIGTERM, how long in-flight deliveries may take before they are handed back.
    shutdown_grace: float = Field(default=20.0, ge=0)
    #: Longest back-off between Redis reconnection attempts (seconds).
    redis_backoff_max: float = Field(default=2.0, gt=0)
    #: `Upstash-Region` sent with every delivery (e.g. `EU-CENTRAL-1`, `US-EAST-1`: the
    #: SDKs' receivers then pick that region's signing keys); empty sends none.
    region: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")

    #: How long log rows (`/v2/logs`) are kept (s), and at most how many per shard.
    log_retention: float = Field(default=3 * 86400.0, gt=0)
    log_max_rows: int = Field(default=20_000, ge=100)
    #: Bodies up to this size (bytes) are kept in the CREATED log row; larger ones are not.
    log_body_max: int = Field(default=8192, ge=0)
    #: How long dead letters are kept (s).
    dlq_retention: float = Field(default=7 * 86400.0, gt=0)
    #: Deduplication window (s): a repeated deduplication id within it is not stored again.
    dedup_window: float = Field(default=600.0, gt=0)

    #: Egress policy (herald_core.egress, README "Security"): comma lists of addresses/CIDRs
    #: and host names (`*.example.com` for subdomains) deliveries may or may not reach.
    #: Explicit deny beats everything; allow beats the built-in deny of link-local and
    #: cloud-metadata ranges; everything else (loopback and private too) is allowed.
    egress_allow_cidrs: CommaList = ()
    egress_deny_cidrs: CommaList = ()
    egress_allow_hosts: CommaList = ()
    egress_deny_hosts: CommaList = ()
    #: Most header fields a request may carry (431 above).
    max_headers: int = Field(default=100, ge=1)
    #: Seconds a client has to send a whole request body once its headers are in (408 and
    #: the connection is closed after that: slow-loris protection).
    read_timeout: float = Field(default=30.0, gt=0)

    #: Schedules: how often idle workers look for due ticks at the latest (s; they also
    #: wake at the next known tick and when a schedule is created), how long a claimed tick
    #: stays with its gateway before another may take it (s), and the length of a cron
    #: minute in seconds (60; tests shrink it so per-minute schedules tick quickly).
    schedule_poll: float = Field(default=30.0, gt=0)
    schedule_lease: float = Field(default=30.0, gt=0)
    cron_minute: float = Field(default=60.0, gt=0)
    #: The safety net of workflow wait timeouts (s; herald_gateway.scheduling.waiters): each
    #: worker process also looks for waits past their timeout this often. A wait's deadline
    #: is announced when it is registered, so timeouts fire on time without it.
    workflow_wait_poll: float = Field(default=30.0, gt=0)
    #: Deliveries in flight across every gateway together (GET /v2/globalParallelism);
    #: 0 = no cap beyond each worker's `concurrency`.
    global_parallelism: int = Field(default=0, ge=0)

    #: Topics: the namespace of a topic named without one by an admin token.
    default_namespace: str = "default"
    #: Seconds between a gateway's checks that its cached routing tables are current
    #: (changes are also announced at once over pub/sub).
    routing_refresh: float = Field(default=5.0, gt=0)
    #: Base URL publishers reach the gateway at; Topic status.address is built from it.
    public_url: str = "http://herald.herald.svc"
    #: Operator: seconds between re-assertions of every routing table (heals a flushed or
    #: failed-over Redis); delivery counts are refreshed by operator_health_interval.
    operator_resync_interval: float = Field(default=60.0, gt=0)
    #: Operator: seconds between reads of each Subscription's delivery counters (one Redis
    #: round trip per Subscription); status is patched only when what it shows changed.
    operator_health_interval: float = Field(default=15.0, gt=0)
    #: Operator: a Subscription is Degraded when, within the last `operator_degraded_window`
    #: seconds, at least `operator_degraded_min_attempts` attempts ended and at least this
    #: share of them failed, or when an attempt has been in flight with none ending for
    #: `operator_degraded_stall` seconds (a hung endpoint).
    operator_degraded_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    operator_degraded_min_attempts: int = Field(default=5, ge=1)
    operator_degraded_window: float = Field(default=300.0, gt=0)
    operator_degraded_stall: float = Field(default=600.0, gt=0)
    #: Operator: seconds between re-reads of the Secrets and Services Subscriptions refer to
    #: (credential rotation and Services created later are picked up within this).
    operator_reference_recheck: float = Field(default=30.0, gt=0)
    #: Operator: the longest wait (s) between retries while Redis is unavailable (the wait
    #: doubles from 1 s up to this, with jitter).
    operator_retry_max: float = Field(default=60.0, gt=0)
    #: Operator: server-side timeout of Kubernetes watch requests (s); the client gives up
    #: a little later, so a silently dropped connection is noticed.
    operator_watch_timeout: int = Field(default=300, ge=10)
    #: Operator: sync namespace tokens (Secrets labelled `herald.dev/token`) into Redis.
    #: Off, the operator lists and watches no Secret for them and revokes those it stored.
    namespace_tokens: bool = True
    #: Operator: Subscription headers may be read from Secrets in the Subscription's
    #: namespace (`secretRef`, `headersFrom`). Off, the operator reads no Secret for them
    #: and such Subscriptions are not routed (SecretsResolved=False, SecretsDisabled).
    subscription_secrets: bool = True

    #: Serve the web console at `/console` (README "Console"): a static page calling the
    #: API with the user's own token, plus its read endpoints under `/console/api/`.
    console: bool = True

    #: Log as JSON lines instead of text; and the level.
    log_json: bool = False
    log_level: str = "INFO"

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        roles = set(value)
        unknown = roles - {"api", "worker"}
        if unknown or not roles:
            raise ValueError(f"roles must be a list of api, worker; got {','.join(value)!r}")
        return tuple(sorted(roles))

    @property
    def attempt_timeout(self) -> float:
        """The per-attempt timeout (s) of a message that names none."""
        return min(self.default_timeout or self.max_timeout, self.max_timeout)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles)

    def tokens(self) -> tuple[str, ...]:
        """The admin tokens, empty strings dropped."""
        raw = self.token.get_secret_value()
        return tuple(t.strip() for t in raw.split(",") if t.strip())

    def readonly_tokens(self) -> tuple[str, ...]:
        """The read-only tokens, empty strings dropped."""
        raw = self.readonly_token.get_secret_value()
        return tuple(t.strip() for t in raw.split(",") if t.strip())
