"""Prometheus metrics of one gateway process, on a registry of its own (so tests can build
several apps in one process)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from herald_core.store import ShardBacklog

logger = logging.getLogger(__name__)
disable_created_metrics()  # type: ignore[no-untyped-call]  # _created series double the scrape
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.publishes = Counter(
            "herald_publishes", "Messages accepted by publish.", registry=self.registry
        )
        self.deliveries = Counter(
            "herald_deliveries",
            "Delivery attempts by outcome (delivered, retry, failed) and status class.",
            ["outcome", "status_class"],
            registry=self.registry,
        )
        self.attempt_seconds = Histogram(
            "herald_attempt_duration_seconds",
            "Duration of delivery attempts.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backlog = Gauge(
            "herald_backlog",
            "Tasks per shard, waiting (due or delayed) or leased to a worker.",
            ["shard", "state"],
            registry=self.registry,
        )
        self.oldest_age = Gauge(
            "herald_backlog_oldest_age_seconds",
            "How long the most overdue task has been due (0 when none is late).",
            registry=self.registry,
        )
        self.dlq_size = Gauge(
            "herald_dlq_size", "Dead letters kept (all shards).", registry=self.registry
        )
        self.schedule_ticks = Counter(
            "herald_schedule_ticks",
            "Schedule ticks by outcome: fired, skipped (paused) or failed (a message could "
            "not be built, e.g. its topic is gone).",
            ["outcome"],
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "herald_redis_errors", "Redis operations that failed.", registry=self.registry
        )
        self.unknown_headers = Counter(
            "herald_unknown_headers",
            "Upstash-* request headers Herald does not know (accepted, ignored, not forwarded).",
            registry=self.registry,
        )
        self.routing_reloads = Counter(
            "herald_routing_reloads",
            "Reads of routing data from Redis into this gateway's cache: kind=all (every table "
            "and token, at start or when a change went unannounced), table (one changed "
            "table), tokens (the namespace tokens). Zero while nothing changes.",
            ["kind"],
            registry=self.registry,
        )
        self.leases_lost = Counter(
            "herald_leases_lost",
            "Claims whose lease ran out mid-attempt (the worker stalled or lost Redis too long); "
            "another worker may deliver those messages too.",
            registry=self.registry,
        )

    def record_unknown_headers(self, names: Sequence[str]) -> None:
        """A publish carried `Upstash-*` headers Herald does not know (accepted, ignored)."""
        if names:
            self.unknown_headers.inc(len(names))
            logger.debug("ignored unknown headers: %s", ", ".join(names))

    def record_attempt(self, outcome: str, status: int | None, seconds: float) -> None:
        status_class = f"{status // 100}xx" if status else "none"
        self.deliveries.labels(outcome, status_class).inc()
        self.attempt_seconds.observe(seconds)

    def set_backlog(self, shards: list[ShardBacklog], now_ms: int) -> None:
        for shard, counts in enumerate(shards):
            self.backlog.labels(str(shard), "waiting").set(counts.waiting)
            self.backlog.labels(str(shard), "leased").set(counts.leased)
        due = [s.oldest_due for s in shards if s.oldest_due is not None]
        self.oldest_age.set(max(0.0, (now_ms - min(due)) / 1000) if due else 0.0)
        self.dlq_size.set(sum(s.dead_letters for s in shards))

    def render(self) -> bytes:
        return generate_latest(self.registry)
