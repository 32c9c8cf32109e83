"""Pick the outbound HTTP client for Herald's delivery hot path by measurement.

Measures, against a local sink (``bench.sink``, run in a separate process), how
``httpx.AsyncClient`` and ``aiohttp.ClientSession`` behave when ``concurrency``
coroutines share ONE client and POST a 1 KB body in a closed loop (each
coroutine sends its next request as soon as the previous one is answered),
over keep-alive HTTP/1.1 connections. This is the shape of the delivery
workers: many messages in flight on one shared client.

For every (client, concurrency) pair it reports:

* ``req/s``      -- completed requests per wall-clock second,
* ``p50 ms`` / ``p99 ms`` -- per-request latency percentiles,
* ``CPU-ms/req`` -- CPU time of the *benchmark* process (``time.process_time``)
  per completed request, x1000. The sink's CPU is not included.

Background: httpx's connection pool degrades badly with many requests in
flight on one ``AsyncClient`` (encode/httpx#3215, encode/httpcore#1035).
httpx's per-request CPU also depends on whether ``sniffio`` is importable:
httpcore 1.0.x retries ``import sniffio`` on every lock/semaphore setup and
anyio>=4.11 no longer installs it (encode/httpcore#1103), so the header line
records whether it is installed.

Both clients are configured fairly: a pool sized to ``concurrency``
(httpx ``max_connections``/``max_keepalive_connections``; aiohttp ``limit``/
``limit_per_host``), timeouts set, HTTP/1.1 only, no proxies from the
environment, no automatic decompression for aiohttp, and the response body is
read fully by both. Every measurement is preceded by a short warm-up on the
same client so all connections are already open. The event loop is uvloop.

Note that the sink shares the machine's cores with the benchmark, so absolute
throughput is bounded by the host; compare the clients with each other.

Run from the repository root::

    .venv/bin/python -m bench.http_clients
    .venv/bin/python -m bench.http_clients --seconds 3 --json /tmp/http_clients.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import uvloop

from bench.sink import start_sink_process, stop_sink_process

if TYPE_CHECKING:
    from herald_gateway.delivery.sender import Sender

BODY = b"x" * 1024
HEADERS = {"Content-Type": "application/octet-stream"}
REQUEST_TIMEOUT_S = 10.0
DEFAULT_CONCURRENCY = (1, 16, 64, 256)
DEFAULT_CLIENTS = ("httpx", "aiohttp")

# One request: POST BODY to the sink, read the whole response, return the status.
PostFn = Callable[[], Awaitable[int]]
ClientFactory = Callable[[str, int], AbstractAsyncContextManager[PostFn]]


@asynccontextmanager
async def httpx_client(url: str, concurrency: int) -> AsyncIterator[PostFn]:
    """One shared ``httpx.AsyncClient`` with a pool sized to ``concurrency``."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        limits=limits,
        timeout=httpx.Timeout(REQUEST_TIMEOUT_S),
        http1=True,
        http2=False,
        trust_env=False,
    ) as client:

        async def post() -> int:
            response = await client.post(url, content=BODY, headers=HEADERS)
            await response.aread()
            return response.status_code

        yield post


@asynccontextmanager
async def aiohttp_client(url: str, concurrency: int) -> AsyncIterator[PostFn]:
    """One shared ``aiohttp.ClientSession`` with a connector sized to ``concurrency``."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        auto_decompress=False,
        trust_env=False,
    ) as session:

        async def post() -> int:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()
                return response.status

        yield post


@asynccontextmanager
async def pyreqwest_client(url: str, concurrency: int) -> AsyncIterator[PostFn]:
    """One shared ``pyreqwest.client.Client`` (Rust reqwest/hyper on its own tokio runtime)
    with a pool sized to ``concurrency``. Not a dependency: put it on PYTHONPATH
    (``python3 -m pip install --target /tmp/perf-site pyreqwest``)."""
    from datetime import timedelta

    from pyreqwest.client import ClientBuilder

    builder = (
        ClientBuilder()
        .max_connections(concurrency)
        .pool_max_idle_per_host(concurrency)
        .timeout(timedelta(seconds=REQUEST_TIMEOUT_S))
        .follow_redirects(False)
        .http1_only()
        .no_proxy()
        .gzip(False)
    )
    async with builder.build() as client:

        async def post() -> int:
            response = await client.post(url).headers(HEADERS).body_bytes(BODY).build().send()
            await response.bytes()
            return int(response.status)

        yield post


@asynccontextmanager
async def _herald_sender(sender: Sender, url: str) -> AsyncIterator[PostFn]:
    """A Herald ``Sender`` through ``send``, as the delivery worker calls it."""
    from herald_gateway.delivery.sender import Reply

    try:

        async def post() -> int:
            answer = await sender.send("POST", url, HEADERS, BODY, REQUEST_TIMEOUT_S)
            if not isinstance(answer, Reply):
                raise RuntimeError(answer.error)
            return answer.status

        yield post
    finally:
        await sender.aclose()


def h1_client(url: str, concurrency: int) -> AbstractAsyncContextManager[PostFn]:
    """Herald's own lean client (``herald_gateway.delivery.h1_sender.H1Sender``: asyncio
    transports + httptools, the egress check on resolved addresses included)."""
    from herald_gateway.delivery.h1_sender import H1Sender

    return _herald_sender(H1Sender(max_connections=concurrency), url)


def aiohttp_sender_client(url: str, concurrency: int) -> AbstractAsyncContextManager[PostFn]:
    """aiohttp through Herald's ``AiohttpSender`` (the egress resolver, the bounded read)."""
    from herald_gateway.delivery.sender import AiohttpSender

    return _herald_sender(AiohttpSender(max_connections=concurrency), url)


CLIENTS: dict[str, ClientFactory] = {
    "httpx": httpx_client,
    "aiohttp": aiohttp_client,
    "aiohttp-sender": aiohttp_sender_client,
    "h1": h1_client,
    "pyreqwest": pyreqwest_client,
}


@dataclass
class LoopStats:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


@dataclass
class Result:
    client: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_req: float
    first_error: str | None = None


async def closed_loop(post: PostFn, concurrency: int, seconds: float) -> LoopStats:
    """Run ``concurrency`` workers that each send requests back-to-back until the deadline."""
    stats = LoopStats()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status = await post()
            except Exception as exc:
                stats.errors += 1
                stats.first_error = stats.first_error or repr(exc)
                continue
            if status == 200:
                stats.latencies_s.append(time.perf_counter() - started)
            else:
                stats.errors += 1
                stats.first_error = stats.first_error or f"HTTP {status}"

    # Hard bound: requests time out after REQUEST_TIMEOUT_S, so this never fires normally.
    async with asyncio.timeout(seconds + 2 * REQUEST_TIMEOUT_S):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def measure(name: str, url: str, concurrency: int, seconds: float, warmup: float) -> Result:
    """Warm up one fresh client, then measure it for ``seconds``."""
    async with CLIENTS[name](url, concurrency) as post:
        await closed_loop(post, concurrency, warmup)
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        stats = await closed_loop(post, concurrency, seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()

    lat = sorted(stats.latencies_s)
    n = len(lat)
    elapsed = wall1 - wall0
    return Result(
        client=name,
        concurrency=concurrency,
        requests=n,
        errors=stats.errors,
        seconds=elapsed,
        req_per_s=n / elapsed,
        p50_ms=percentile(lat, 50) * 1000.0,
        p99_ms=percentile(lat, 99) * 1000.0,
        cpu_ms_per_req=(cpu1 - cpu0) / n * 1000.0 if n else float("nan"),
        first_error=stats.first_error,
    )


async def run_all(
    url: str,
    clients: Sequence[str],
    concurrencies: Sequence[int],
    seconds: float,
    warmup: float,
) -> list[Result]:
    results: list[Result] = []
    for name in clients:
        for concurrency in concurrencies:
            result = await measure(name, url, concurrency, seconds, warmup)
            if result.errors:
                print(
                    f"warning: {name} c={concurrency}: {result.errors} errors "
                    f"(first: {result.first_error})",
                    file=sys.stderr,
                )
            results.append(result)
    return results


def format_table(results: Sequence[Result]) -> str:
    lines = [
        "| client | concurrency | req/s | p50 ms | p99 ms | CPU-ms/req |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.client} | {r.concurrency} | {r.req_per_s:,.0f} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.cpu_ms_per_req:.3f} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    return {
        "pyreqwest": _version("pyreqwest"),
        "python": platform.python_version(),
        "httpx": httpx.__version__,
        "aiohttp": aiohttp.__version__,
        "uvloop": importlib.metadata.version("uvloop"),
        "httpcore": importlib.metadata.version("httpcore"),
        "anyio": importlib.metadata.version("anyio"),
        # httpcore 1.0.x re-attempts ``import sniffio`` on every lock/semaphore setup; when
        # sniffio is absent (anyio>=4.11 no longer pulls it in) each attempt is a failed
        # import, which costs httpx noticeable CPU per request (encode/httpcore#1103).
        "sniffio_installed": importlib.util.find_spec("sniffio") is not None,
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured duration per run")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up duration per run")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=list(DEFAULT_CONCURRENCY),
        help="in-flight requests per run",
    )
    parser.add_argument(
        "--clients", nargs="+", choices=sorted(CLIENTS), default=list(DEFAULT_CLIENTS)
    )
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the whole set, alternating the clients' order")  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="sink port (default: a free one)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/v2/deliver"
    env = environment()

    sink = start_sink_process(port)
    try:
        results = []
        for round_ in range(args.rounds):
            k = round_ % len(args.clients)
            order = args.clients[k:] + args.clients[:k]  # alternate the clients' order
            results += uvloop.run(run_all(url, order, args.concurrency, args.seconds, args.warmup))
        results.sort(key=lambda r: (args.clients.index(r.client), r.concurrency))
    finally:
        stop_sink_process(sink)

    print(
        f"Python {env['python']}, httpx {env['httpx']}, aiohttp {env['aiohttp']}, "
        f"uvloop {env['uvloop']}, httpcore {env['httpcore']}, anyio {env['anyio']}, "
        f"sniffio {'installed' if env['sniffio_installed'] else 'NOT installed'}, "
        f"pyreqwest {env['pyreqwest'] or 'not installed'}; "
        f"{env['nproc']} CPUs ({env['cpu_model']}); "
        f"{args.seconds:g} s per run, 1 KB POST body\n"
    )
    print(format_table(results))

    if args.json is not None:
        payload = {
            "environment": env,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "body_bytes": len(BODY),
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
