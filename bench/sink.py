"""Minimal, fast HTTP sink for Herald's benchmarks.

Answers every request (any method, any path) with ``200`` and an empty body,
using aiohttp's low-level server (``aiohttp.web.Server`` + ``loop.create_server``)
on uvloop. The request body is drained before answering so keep-alive
connections stay usable.

Run standalone::

    .venv/bin/python -m bench.sink --port 9911

or start it from another benchmark with :func:`start_sink_process`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from aiohttp import web

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 9911


Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


async def _handle(request: web.BaseRequest) -> web.StreamResponse:
    # Drain the body so the connection can be reused for the next request.
    await request.read()
    return web.Response(status=200)


async def serve(host: str, port: int, handler: Handler = _handle) -> None:
    """Serve `handler` on aiohttp's low-level server until cancelled (shared by the benches)."""
    loop = asyncio.get_running_loop()
    server = web.Server(handler, access_log=None)
    srv = await loop.create_server(server, host, port, backlog=4096, reuse_address=True)
    try:
        await srv.serve_forever()
    finally:
        srv.close()
        await srv.wait_closed()
        await server.shutdown(1.0)


def run_sink(host: str, port: int) -> None:
    """Serve forever on ``host:port``, answering every request with 200 and no body."""
    uvloop.run(serve(host, port))


def _wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sink process exited early with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"sink did not accept connections on {host}:{port} within {timeout}s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    """Until `url` answers 200; RuntimeError if `proc` exits first, TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        if _http_ok(url):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready at {url} within {timeout}s")


def start_sink_process(port: int, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """Start the sink as a separate process and wait until it accepts TCP connections.

    The caller owns the returned process and must terminate it (e.g. in ``finally``).
    """
    proc: subprocess.Popen[bytes] = subprocess.Popen(
        [sys.executable, "-m", "bench.sink", "--port", str(port)],
        cwd=REPO_ROOT,
    )
    try:
        _wait_for_port("127.0.0.1", port, proc, timeout)
    except BaseException:
        stop_sink_process(proc)
        raise
    return proc


def stop_sink_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Terminate a process started by :func:`start_sink_process`, killing it if needed."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Minimal HTTP sink: 200, empty body.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    try:
        run_sink(args.host, args.port)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
