"""Prometheus metrics of the operator, served on HERALD_METRICS_PORT (`/metrics` only).

kopf has no exporter of its own. Reconciles are counted by wrapping, once the operator has
started, every Topic/Subscription handler kopf has registered (create/update/resume/delete
and the resync timers, whatever herald_operator.handlers names them): their outcome (`ok`,
`retry` for a `kopf.TemporaryError`, `failed` for a `kopf.PermanentError`, `error` for any
other exception) and duration. Objects by condition are counted from what the API server
sends: an event handler keeps the `status.conditions` of every Topic and Subscription it
sees, and the gauge counts them by kind, condition type and status at scrape time, so any
condition the status code writes (Ready, Degraded, TopicFound ...) is counted without a
change here.

Registered by importing this module after herald_operator.handlers (`herald operator` does;
`kopf run -m herald_operator.handlers -m herald_operator.metrics` too).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from herald_core.settings import Settings

GROUP, VERSION = "herald.dev", "v1alpha1"
KINDS = {"topics": "Topic", "subscriptions": "Subscription"}
_MEMO_KEY = "operator-metrics"
_RUNNER_KEY = "operator-metrics-runner"
_WRAPPED = "__herald_observed__"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
logger = logging.getLogger(__name__)


class _Conditions(Collector):
    """`herald_operator_objects{kind, condition, status}` from the last status seen."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str, str], dict[str, str]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "herald_operator_objects",
            "Topics and Subscriptions by condition type and status (as last seen).",
            labels=["kind", "condition", "status"],
        )
        counts = Tally((key[0], cond, status) for key, conditions in self.seen.items()
                       for cond, status in conditions.items())  # fmt: skip
        for labels, count in sorted(counts.items()):
            family.add_metric(list(labels), count)
        yield family


class OperatorMetrics:
    """The operator's registry: reconcile counts and latency, objects by condition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "herald_operator_reconciles",
            "Handler runs by kind, handler and outcome (ok, retry, failed, error).",
            ["kind", "handler", "outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "herald_operator_reconcile_duration_seconds",
            "Duration of handler runs.",
            ["kind"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.conditions = _Conditions()
        self.registry.register(self.conditions)

    def record(self, kind: str, handler: str, outcome: str, seconds: float) -> None:
        self.reconciles.labels(kind, handler, outcome).inc()
        self.seconds.labels(kind).observe(seconds)

    def observe(self, kind: str, namespace: str, name: str, status: Mapping[str, Any] | None,
                deleted: bool = False) -> None:  # fmt: skip
        key = (kind, namespace, name)
        if deleted:
            self.conditions.seen.pop(key, None)
            return
        conditions = (status or {}).get("conditions") or []
        self.conditions.seen[key] = {str(c.get("type")): str(c.get("status"))
                                     for c in conditions if isinstance(c, Mapping)}  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


def outcome_of(exc: BaseException | None) -> str:
    """How a handler run ended, as the `outcome` label says it."""
    if exc is None:
        return "ok"
    if isinstance(exc, kopf.TemporaryError):
        return "retry"
    if isinstance(exc, kopf.PermanentError):
        return "failed"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "error"


def observed(fn: Callable[..., Any], kind: str) -> Callable[..., Any]:
    """`fn` (a kopf handler) recording each run on the OperatorMetrics in its `memo`."""
    if getattr(fn, _WRAPPED, False):
        return fn

    def record(kwargs: Mapping[str, Any], exc: BaseException | None, started: float) -> None:
        memo = kwargs.get("memo")
        metrics = memo.get(_MEMO_KEY) if memo is not None else None
        if metrics is not None:
            metrics.record(kind, fn.__name__, outcome_of(exc), time.perf_counter() - started)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            started, error = time.perf_counter(), None
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                record(kwargs, error, started)

        wrapper: Callable[..., Any] = run_async
    else:

        @functools.wraps(fn)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            started, error = time.perf_counter(), None
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                record(kwargs, error, started)

        wrapper = run_sync
    setattr(wrapper, _WRAPPED, True)
    return wrapper


def instrument(registry: kopf.OperatorRegistry) -> int:
    """Wrap every Topic/Subscription changing handler and timer of `registry` (idempotent);
    the number wrapped. kopf has no public hook around handlers, and its handler records are
    frozen dataclasses: each is replaced in its registry's list (kopf 1.45; the unit and
    control-plane tests of this module prove it)."""
    count = 0
    for handlers in (registry._changing, registry._spawning):
        entries: list[Any] = handlers._handlers
        for i, handler in enumerate(entries):
            selector = handler.selector
            # `kopf.on.create(GROUP, VERSION, "topics")` leaves the name in any_name.
            name = (selector.plural or selector.any_name or "") if selector is not None else ""
            kind = KINDS.get(name)
            if kind is None or selector.group != GROUP or getattr(handler.fn, _WRAPPED, False):
                continue
            entries[i] = dataclasses.replace(handler, fn=observed(handler.fn, kind))
            count += 1
    return count


async def _serve(metrics: OperatorMetrics, host: str, port: int) -> web.AppRunner:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


@kopf.on.startup()
async def metrics_start(memo: kopf.Memo, **_: Any) -> None:
    """After herald_operator.handlers' start-up (which registers the resync timers): wrap the
    handlers, and listen on HERALD_METRICS_PORT unless it is 0."""
    settings: Settings = memo.get("herald") or Settings()
    metrics = OperatorMetrics()
    memo[_MEMO_KEY] = metrics
    wrapped = instrument(kopf.get_default_registry())
    if settings.metrics_port:
        memo[_RUNNER_KEY] = await _serve(metrics, settings.host, settings.metrics_port)
        logger.info("metrics on %s:%d/metrics (%d handlers observed)", settings.host,
                    settings.metrics_port, wrapped)  # fmt: skip


@kopf.on.cleanup()
async def metrics_stop(memo: kopf.Memo, **_: Any) -> None:
    runner = memo.get(_RUNNER_KEY)
    if runner is not None:
        await runner.cleanup()


@kopf.on.event(GROUP, VERSION, "topics")
@kopf.on.event(GROUP, VERSION, "subscriptions")
async def metrics_conditions(event: Any, resource: Any, name: str, namespace: str | None,
                             status: Any, memo: Any, **_: Any) -> None:  # fmt: skip
    """Keep the conditions of every object seen, for `herald_operator_objects`."""
    metrics = memo.get(_MEMO_KEY)
    kind = KINDS.get(resource.plural)
    if metrics is not None and kind is not None:
        deleted = event.get("type") == "DELETED"
        metrics.observe(kind, namespace or "", name, dict(status or {}), deleted=deleted)
