"""The publish path under two HTTP servers: uvicorn + httptools (what ``herald gateway``
runs) against granian (Rust, ASGI), serving Herald's real app.

Each run starts a fresh Redis (AOF everysec) and one server process with
``HERALD_ROLES=api`` (nothing is delivered, so the figures are the publish path alone:
HTTP parsing, auth, the publish route, the group-committed ENQUEUE pipeline), then:

* a closed loop of ``--concurrency`` (64) publishers of 1 KB bodies for ``--seconds``:
  publishes/s, publish p50/p99, CPU-ms per publish of the server (all its processes and
  threads: granian runs a supervisor and a worker process with Rust threads) and of Redis;
* an open loop at ``--rate`` (500) publishes/s: publish p50/p99.

Servers (``--servers``): ``uvicorn`` is ``python -m herald_gateway.cli gateway`` as
deployed (uvloop, httptools with the slow-client deadline); ``granian`` is
``granian --interface asgi --factory bench.server_app:app --loop uvloop --workers 1``
(one worker: the same one core of Python as uvicorn); ``granian-st`` adds
``--runtime-mode st``. granian is not a dependency: install it beside the venv
(``python3 -m pip install --target /tmp/perf-site granian``) and pass ``--site
/tmp/perf-site``. The rounds alternate the servers; figures are medians with the spread.

Run: ``.venv/bin/python -m bench.servers --site /tmp/perf-site [--rounds 3] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.pipeline import (
    BODY,
    REQUEST_TIMEOUT_S,
    Publisher,
    _gateway_env,
    _stop,
    cpu_seconds,
    environment,
    free_port,
    ms,
    quiet_gc,
)
from bench.sink import REPO_ROOT, wait_http
from herald_core.signing import new_signing_key
from herald_gateway.dev.embedded import RedisServer

SERVERS = ("uvicorn", "granian", "granian-st")


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (granian's workers are children of its supervisor)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_cpu(pid: int) -> float:
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


def command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "herald_gateway.cli", "gateway"]
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
           "--loop", "uvloop", "--workers", "1", "--no-ws", "--log-level", "warning",
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    if server == "granian-st":
        cmd += ["--runtime-mode", "st"]
    return [*cmd, "bench.server_app:app"]


@contextlib.contextmanager
def server_stack(server: str, site: str | None) -> Iterator[tuple[str, int, int, str]]:
    """(publish URL, server pid, redis pid, token); everything stopped on the way out."""
    token = "herald_" + secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="herald-servers-") as tmp:
        redis = RedisServer(Path(tmp) / "redis", appendfsync="everysec")
        proc = None
        try:
            redis.start()
            port = free_port()
            keys = (new_signing_key(), new_signing_key())
            env = _gateway_env(redis.url, port, token, keys, {"HERALD_ROLES": "api"})
            if site:
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [site, str(REPO_ROOT)]))
            log = Path(tmp) / "server.log"
            with log.open("ab") as out:
                proc = subprocess.Popen(command(server, port), env=env, cwd=REPO_ROOT,
                                        stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
            try:
                wait_http(f"http://127.0.0.1:{port}/readyz", proc, 30.0, server)
            except (RuntimeError, TimeoutError):
                sys.stderr.write(log.read_text()[-4000:])
                raise
            assert redis.process is not None
            url = f"http://127.0.0.1:{port}/v2/publish/http://127.0.0.1:{free_port()}/hook"
            yield url, proc.pid, redis.process.pid, token
        finally:
            _stop(proc)
            redis.stop()


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = string.rep("x", %d)
wrk.headers["Authorization"] = "Bearer %s"
wrk.headers["Content-Type"] = "application/octet-stream"
"""


def wrk_measure(url: str, token: str, pids: tuple[int, int], args: argparse.Namespace
                ) -> dict[str, Any]:  # fmt: skip
    """The closed loop driven by wrk (C, one thread), so the server, not the load
    generator, is what saturates; latencies are wrk's (p50/p99 of its distribution)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % (len(BODY), token))
        script.flush()

        def run(seconds: float) -> str:
            cmd = ["wrk", "-t1", f"-c{args.concurrency}", f"-d{max(1, round(seconds))}s",
                   "--latency", "-s", script.name, url]  # fmt: skip
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

        run(args.warmup)
        cpu0 = (tree_cpu(pids[0]), cpu_seconds(pids[1]))
        out = run(args.seconds)
        cpu1 = (tree_cpu(pids[0]), cpu_seconds(pids[1]))
    fields: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            fields["rps"] = float(parts[1])
        elif parts and parts[0] in ("50%", "99%"):
            value = parts[1]
            scale = 1000.0 if value.endswith("us") else (1.0 if value.endswith("ms") else 0.0)
            number = float(value.rstrip("usm"))
            fields[parts[0]] = (
                number / scale if scale == 1000.0 else (number if scale else number * 1000.0)
            )
        elif "Non-2xx" in line:
            fields["errors"] = float(parts[-1])
    n = fields["rps"] * args.seconds
    return {
        "publishes_per_s": fields["rps"], "errors": int(fields.get("errors", 0)),
        "first_error": None, "p50_ms": fields["50%"], "p99_ms": fields["99%"],
        "server_cpu_ms": (cpu1[0] - cpu0[0]) * 1000 / n,
        "redis_cpu_ms": (cpu1[1] - cpu0[1]) * 1000 / n,
        "open_p50_ms": float("nan"), "open_p99_ms": float("nan"),
    }  # fmt: skip


async def measure(url: str, token: str, pids: tuple[int, int], args: argparse.Namespace
                  ) -> dict[str, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    connector = aiohttp.TCPConnector(limit=1024, limit_per_host=1024)
    async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                                     ) as session:  # fmt: skip
        publisher = Publisher(session, url, headers)
        await publisher.closed_loop(args.concurrency, args.warmup)
        quiet_gc()
        cpu0 = (tree_cpu(pids[0]), cpu_seconds(pids[1]))
        closed = await publisher.closed_loop(args.concurrency, args.seconds)
        cpu1 = (tree_cpu(pids[0]), cpu_seconds(pids[1]))
        n = len(closed.sent) or 1
        opened = await publisher.open_loop(args.rate, args.seconds)
    lat, olat = sorted(closed.latencies_s), sorted(opened.latencies_s)
    return {
        "publishes_per_s": len(closed.sent) / closed.elapsed_s,
        "errors": closed.errors + opened.errors,
        "first_error": closed.first_error or opened.first_error,
        "p50_ms": ms(lat, 50), "p99_ms": ms(lat, 99),
        "server_cpu_ms": (cpu1[0] - cpu0[0]) * 1000 / n,
        "redis_cpu_ms": (cpu1[1] - cpu0[1]) * 1000 / n,
        "open_p50_ms": ms(olat, 50), "open_p99_ms": ms(olat, 99),
    }  # fmt: skip


FIGURES = (("publishes_per_s", "closed loop publishes/s", "{:,.0f}"),
           ("server_cpu_ms", "server CPU-ms per publish", "{:.3f}"),
           ("redis_cpu_ms", "Redis CPU-ms per publish", "{:.3f}"),
           ("p50_ms", "closed loop publish p50 ms", "{:.1f}"),
           ("p99_ms", "closed loop publish p99 ms", "{:.1f}"),
           ("open_p50_ms", "open loop publish p50 ms", "{:.2f}"),
           ("open_p99_ms", "open loop publish p99 ms", "{:.2f}"))  # fmt: skip


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    servers = list(results)
    lines = ["| figure | " + " | ".join(servers) + " |", "|---|" + "---:|" * len(servers)]
    for key, label, fmt in FIGURES:
        cells = []
        base = statistics.median(r[key] for r in results[servers[0]])
        for s in servers:
            values = [r[key] for r in results[s]]
            med = statistics.median(values)
            cell = fmt.format(med) + f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
            if s != servers[0]:
                cell += f" {med / base:.2f}x"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=["uvicorn", "granian"])
    parser.add_argument("--site", help="a directory holding granian (put on PYTHONPATH)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--loadgen", choices=("python", "wrk"), default="python",
                        help="wrk (apt-get install wrk): a load generator that is not "
                             "the bottleneck; closed loop only")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    env = environment()
    print(f"{env['nproc']} CPUs ({env['cpu_model']}), load {env['loadavg_at_start']}; "
          f"{args.seconds:g} s windows, {len(BODY)} B bodies", flush=True)  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in args.servers}
    for round_ in range(args.rounds):
        k = round_ % len(args.servers)
        for server in args.servers[k:] + args.servers[:k]:
            with server_stack(server, args.site) as (url, pid, redis_pid, token):
                started = time.monotonic()
                if args.loadgen == "wrk":
                    result = wrk_measure(url, token, (pid, redis_pid), args)
                else:
                    result = uvloop.run(measure(url, token, (pid, redis_pid), args))
            results[server].append(result)
            print(f"round {round_ + 1} {server} ({time.monotonic() - started:.0f} s): "
                  + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in result.items()), flush=True)  # fmt: skip
    print()
    print(table(results))


if __name__ == "__main__":
    main()
