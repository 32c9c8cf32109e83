"""The chaos run: sustained load through the gateways while faults are injected in turn,
then a drain, then the invariants (tests.chaos.invariants) and the figures.

Scenarios, in this order, each followed by a recovery period under load:
`gateway-kill` (SIGKILL one gateway and start it again, repeatedly), `redis-everysec` and
`redis-always` (Redis switched to that fsync policy, SIGKILLed, restarted from its AOF),
`receiver-500`, `receiver-stall` (past the 1 s attempt timeout), `connection-cut`.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import uvloop

from tests.chaos.cluster import Cluster
from tests.chaos.invariants import DeadLetter, Findings, check, recovery
from tests.chaos.load import LoadGenerator
from tests.chaos.receiver import ChaosReceiver, Mode

MiB = 1024 * 1024
#: Memory is "flat" when Redis grew by less than this over the run (dead letters are kept,
#: so it may grow a little) and no gateway that ran throughout more than doubled.
REDIS_GROWTH_LIMIT = 32 * MiB

#: Seconds between samples of the backlog (its peak is reported).
BACKLOG_SAMPLE_PERIOD = 0.5


@dataclass(frozen=True)
class Plan:
    """How hard and how long: the CI size by default; `scaled` for longer runs."""

    rate: float = 200.0
    gateways: int = 2
    warmup: float = 3.0
    #: How long each receiver fault lasts, and the load-only recovery after every scenario.
    fault: float = 3.0
    recover: float = 2.0
    #: Gateway SIGKILL + restart cycles, and how long Redis stays down.
    kills: int = 2
    redis_down: float = 0.5
    #: How long a stalled request is held (past the 1 s attempt timeout), and the most a
    #: healthy receiver takes to answer (so deliveries are in flight when a gateway dies).
    stall: float = 1.5
    latency: float = 0.2
    #: The backlog must be empty this long after the load stops.
    drain_timeout: float = 30.0

    def scaled(self, duration: float) -> Plan:
        """A plan whose scenarios take about `duration` seconds in all."""
        factor = max(1.0, duration / self.nominal_seconds())
        # (restarts take seconds under load: at most twice the kills, the rest for the others)
        return replace(self, fault=self.fault * factor, recover=self.recover * factor,
                       kills=min(2 * self.kills, round(self.kills * factor)))  # fmt: skip

    def nominal_seconds(self) -> float:
        kill = self.kills * (self.recover + 2.0)  # a restart takes about 2 s here
        redis = 2 * (2 * self.recover + self.redis_down)
        return self.warmup + kill + redis + 3 * (self.fault + self.recover)


@dataclass
class Result:
    plan: Plan
    findings: Findings
    #: (scenario, start, end) in seconds since the load started.
    phases: list[tuple[str, float, float]] = field(default_factory=list)
    #: Per scenario: messages undelivered when its fault ended, and seconds until the last
    #: of them was delivered.
    recoveries: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: Per Redis scenario: accepted messages not delivered yet when Redis was killed (they
    #: existed only in Redis then, so they are what a restart could lose).
    at_risk: dict[str, int] = field(default_factory=dict)
    #: Per Redis scenario: Redis's `aof_delayed_fsync` count when it was killed.
    delayed_fsyncs: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    #: From the load stopping to an empty backlog (None: not within drain_timeout).
    drain_seconds: float | None = None
    backlog_peak: int = 0
    redis_memory: tuple[int, int] = (0, 0)
    gateway_rss: list[tuple[int, int]] = field(default_factory=list)
    #: Gateways (by index) SIGKILLed during the run: their RSS restarts from scratch.
    killed: frozenset[int] = frozenset()
    log_errors: int = 0
    skipped_publishes: int = 0
    machine: str = ""

    def violations(self) -> list[str]:
        out = self.findings.violations()
        for name, (_waiting, seconds) in self.recoveries.items():
            if seconds > self.plan.drain_timeout:
                out.append(f"{name}: not recovered within {self.plan.drain_timeout:g}s")
        if self.drain_seconds is None:
            out.append(f"backlog not drained within {self.plan.drain_timeout:g}s")
        start, end = self.redis_memory
        if end - start > REDIS_GROWTH_LIMIT:
            out.append(f"Redis used_memory grew from {start / MiB:.1f} to {end / MiB:.1f} MiB")
        for index, (first, last) in enumerate(self.gateway_rss):
            if index not in self.killed and last > 2 * first:
                out.append(f"gateway {index} RSS grew from {first / MiB:.0f} to "
                           f"{last / MiB:.0f} MiB")  # fmt: skip
        return out

    def render(self) -> str:
        f = self.findings
        published = f.accepted + f.refused + f.unanswered
        lines = [
            f"machine: {self.machine}",
            f"load: {published} publishes in {self.load_seconds:.0f}s "
            f"({published / max(self.load_seconds, 1e-9):.0f}/s) through {self.plan.gateways} "
            f"gateways; accepted {f.accepted}, refused {f.refused} (503), unanswered "
            f"{f.unanswered}, skipped {self.skipped_publishes}",
            f"lost: {len(f.lost)} of {f.must_deliver} that had to be delivered",
            *(f"  lost {sample}" for sample in f.lost_samples),
            f"duplicated: {f.duplicated} messages ({f.extra_deliveries} extra deliveries); "
            f"delivered though unacknowledged: {f.unacknowledged_delivered}",
            f"duplicates' attempts (retried, answer): {f.duplicate_samples}",
            f"cancels acknowledged: {f.cancels_acknowledged}, delivered after cancel: "
            f"{len(f.cancel_violations)}, attempt in flight at cancel: {f.in_flight_at_cancel}",
            f"DLQ: {f.dead_letters} dead letters for {f.dead_expected} accepted dead messages; "
            f"missing {len(f.missing_from_dlq)}, unexpected {len(f.unexpected_in_dlq)}; "
            f"failure callbacks missing {len(f.callbacks_missing)}, unexpected "
            f"{len(f.callbacks_unexpected)}, duplicated {f.duplicate_callbacks}",
            f"backlog peak {self.backlog_peak}, drained in "
            + ("NOT DRAINED" if self.drain_seconds is None else f"{self.drain_seconds:.1f}s")
            + " after the load stopped",
            f"Redis used_memory {self.redis_memory[0] / MiB:.1f} -> "
            f"{self.redis_memory[1] / MiB:.1f} MiB",
            "gateway RSS "
            + ", ".join(f"#{i}{' (killed)' if i in self.killed else ''} {a / MiB:.0f} -> "
                        f"{b / MiB:.0f} MiB" for i, (a, b) in enumerate(self.gateway_rss))
            + f"; errors logged by gateways: {self.log_errors}",
            "phase (s): accepted / lost / duplicated; after the fault: undelivered, recovered in",
        ]  # fmt: skip
        spans = {name: (start, end) for name, start, end in self.phases}
        for name, counts in self.findings.by_phase.items():
            start, end = spans.get(name, (0.0, 0.0))
            line = (f"  {name} ({start:.0f}-{end:.0f}): {counts['accepted']} / {counts['lost']} / "
                    f"{counts['duplicated']}")  # fmt: skip
            if name in self.recoveries:
                waiting, seconds = self.recoveries[name]
                line += f"; {waiting}, {seconds:.1f}s"
            if name in self.at_risk:
                line += (f" (undelivered when Redis was killed: {self.at_risk[name]}, "
                         f"aof_delayed_fsync: {self.delayed_fsyncs.get(name)})")  # fmt: skip
            lines.append(line)
        return "\n".join(lines)


def machine() -> str:
    return (f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip


class _Run:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.cluster = Cluster(workdir, plan.gateways)
        self.receivers = [ChaosReceiver(plan.stall, plan.latency) for _ in range(2)]
        self.phase = "warmup"
        self.phases: list[tuple[str, float, float]] = []
        self.started = 0.0
        self.backlog_peak = 0
        self.killed: set[int] = set()
        #: time.time() when each scenario's fault ended.
        self.fault_ends: dict[str, float] = {}
        #: time.time() when Redis was killed, per scenario.
        self.redis_kills: dict[str, float] = {}
        self.delayed_fsyncs: dict[str, int] = {}

    async def scenario(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self.phase, start = name, time.monotonic() - self.started
        await body()
        self.phases.append((name, start, time.monotonic() - self.started))

    def set_mode(self, mode: Mode) -> None:
        for receiver in self.receivers:
            receiver.mode = mode

    async def gateway_kills(self) -> None:
        for _ in range(self.plan.kills):
            self.killed.add(0)
            await self.cluster.kill_gateway(0)
            await self.cluster.restart_gateway(0)
            self.fault_ends[self.phase] = time.time()
            await asyncio.sleep(self.plan.recover)

    async def redis_restart(self, appendfsync: str) -> None:
        await self.cluster.set_appendfsync(appendfsync)
        await asyncio.sleep(self.plan.recover)  # load runs under this policy, then the crash
        self.delayed_fsyncs[self.phase] = await self.cluster.delayed_fsyncs()
        self.redis_kills[self.phase] = time.time()
        await self.cluster.kill_redis()
        await asyncio.sleep(self.plan.redis_down)
        await self.cluster.start_redis()
        self.fault_ends[self.phase] = time.time()
        await asyncio.sleep(self.plan.recover)

    async def receiver_fault(self, mode: Mode) -> None:
        self.set_mode(mode)
        await asyncio.sleep(self.plan.fault)
        self.set_mode(Mode.OK)
        self.fault_ends[self.phase] = time.time()
        await asyncio.sleep(self.plan.recover)

    async def sample_backlog(self) -> None:
        while True:
            try:
                self.backlog_peak = max(self.backlog_peak, await self.cluster.backlog(attempts=1))
            except AssertionError:  # Redis is down right now
                pass
            await asyncio.sleep(BACKLOG_SAMPLE_PERIOD)  # a sampling period, not a wait

    async def drain(self) -> float | None:
        began = time.monotonic()
        deadline = began + self.plan.drain_timeout
        while time.monotonic() < deadline:
            if await self.cluster.backlog() == 0:
                return time.monotonic() - began
            await asyncio.sleep(0.1)
        return None


async def run(plan: Plan, workdir: Path) -> Result:
    """Start everything, run the scenarios under load, drain, check; always cleans up."""
    state = _Run(plan, workdir)
    cluster = state.cluster
    for receiver in state.receivers:
        await receiver.start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5),
                                    connector=aiohttp.TCPConnector(limit=500))  # fmt: skip
    try:
        await cluster.start()
        return await _load_and_faults(state, session)
    finally:
        await session.close()
        await cluster.close()
        for receiver in state.receivers:
            await receiver.stop()


async def _load_and_faults(state: _Run, session: aiohttp.ClientSession) -> Result:
    plan, cluster = state.plan, state.cluster
    load = LoadGenerator(session, cluster.live, state.receivers, plan.rate, lambda: state.phase)
    stop = asyncio.Event()
    state.started = time.monotonic()
    loader = asyncio.create_task(load.run(stop))
    sampler = asyncio.create_task(state.sample_backlog())
    try:
        await state.scenario("warmup", lambda: asyncio.sleep(plan.warmup))
        memory_start, rss_start = await cluster.used_memory(), cluster.gateway_rss()
        await state.scenario("gateway-kill", state.gateway_kills)
        await state.scenario("redis-everysec", lambda: state.redis_restart("everysec"))
        await state.scenario("redis-always", lambda: state.redis_restart("always"))
        await state.scenario("receiver-500", lambda: state.receiver_fault(Mode.ERROR))
        await state.scenario("receiver-stall", lambda: state.receiver_fault(Mode.STALL))
        await state.scenario("connection-cut", lambda: state.receiver_fault(Mode.CUT))
        stop.set()
        await loader
        load_seconds = time.monotonic() - state.started
        state.phase = "drain"
        drain_seconds = await state.drain()
    finally:
        stop.set()
        sampler.cancel()
        await asyncio.gather(loader, sampler, return_exceptions=True)
    await load.settle()
    dead = [DeadLetter(m.id, int(m.headers.get("X-Chaos-Seq", "-1")))
            for m in await cluster.dead_letters()]  # fmt: skip
    hits = [h for r in state.receivers for h in r.hits]
    findings = check(load.publishes.values(), load.cancels, hits, dead,
                     [x for r in state.receivers for x in r.reports])  # fmt: skip
    recoveries = {name: recovery(load.publishes.values(), hits, at)
                  for name, at in state.fault_ends.items()}  # fmt: skip
    at_risk = {name: recovery(load.publishes.values(), hits, at, ("normal", "delayed"))[0]
               for name, at in state.redis_kills.items()}  # fmt: skip
    rss_end = cluster.gateway_rss()
    return Result(
        plan=plan, findings=findings, phases=state.phases, recoveries=recoveries, at_risk=at_risk,
        delayed_fsyncs=state.delayed_fsyncs,
        load_seconds=load_seconds,
        drain_seconds=drain_seconds, backlog_peak=state.backlog_peak,
        redis_memory=(memory_start, await cluster.used_memory()),
        gateway_rss=list(zip(rss_start, rss_end, strict=True)), killed=frozenset(state.killed),
        log_errors=sum(g.log_path.read_text().count("Traceback") for g in cluster.gateways),
        skipped_publishes=load.skipped, machine=machine(),
    )  # fmt: skip


def run_blocking(plan: Plan, workdir: Path) -> Result:
    """`run` on a uvloop event loop (as the gateways use): the load generator and the
    receivers share one process, and the plain loop would cost them more CPU."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run(plan, workdir))
