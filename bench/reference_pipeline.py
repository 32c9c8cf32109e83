"""The reference pipeline Herald is measured against, as a Node team would build it instead.

``bench/reference/``: a fastify ingest (``POST /publish/<destination>`` → BullMQ
``queue.add`` of the body and destination, 4 attempts with exponential backoff from 100 ms,
201 ``{"messageId": <job id>}`` once Redis has the job) and a BullMQ ``Worker``
(concurrency 64) that POSTs each job to its destination with undici and fails the job on a
non-2xx answer, so BullMQ retries it. One ingest process, one worker process; the Redis
(AOF everysec) is the caller's. The versions are pinned in ``bench/reference/package-lock.json``
and installed by :func:`install` (``npm ci``, again only when the lockfile changes).

``bench.pipeline.stack(..., system="reference")`` runs it beside the same sink and load
generator as Herald's benchmarks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.sink import REPO_ROOT, stop_sink_process, wait_http
from herald_gateway.dev.embedded import free_port

HERE = REPO_ROOT / "bench" / "reference"
#: undici 7 needs node >= 20.18.1.
MIN_NODE = (20, 18, 1)
QUEUE = "deliveries"
#: Jobs waiting, running, or waiting for a retry (BullMQ's lists and sorted sets); 0 = settled.
BACKLOG = """
local p = ARGV[1]
return redis.call('LLEN', p .. ':wait') + redis.call('LLEN', p .. ':active')
  + redis.call('LLEN', p .. ':paused') + redis.call('ZCARD', p .. ':delayed')
  + redis.call('ZCARD', p .. ':prioritized')
"""
BACKLOG_ARGS = (f"bull:{QUEUE}",)
BACKLOG_COMMANDS = 1 + 5  # the EVAL and the commands it runs
PUBLISH_ROUTE = "/publish/"


class NodeMissing(RuntimeError):
    """node or npm is not on PATH, or node is too old for the reference pipeline."""


def node_binary() -> str:
    """node's path; NodeMissing when node or npm is absent or older than MIN_NODE."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise NodeMissing("the reference pipeline needs node and npm on PATH")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    version = tuple(int(p) for p in out.stdout.strip().lstrip("v").split(".")[:3])
    if version < MIN_NODE:
        raise NodeMissing(f"node {out.stdout.strip()} is too old (>= {MIN_NODE})")
    return node


def install() -> str:
    """`npm ci` into bench/reference/node_modules unless this lockfile is installed; node's path.

    As tests/js is installed for the JavaScript SDK tests: a stamp named after the lockfile's
    digest says what is installed, and a file lock keeps concurrent sessions apart.
    """
    node = node_binary()
    digest = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()[:16]
    stamp = HERE / "node_modules" / f".herald-installed-{digest}"
    (REPO_ROOT / ".cache").mkdir(exist_ok=True)
    with (REPO_ROOT / ".cache" / "npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            done = subprocess.run(
                [shutil.which("npm") or "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=HERE, capture_output=True, text=True, timeout=300,
                env={**os.environ, "npm_config_update_notifier": "false"},
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"npm ci in {HERE} failed:\n{done.stdout}\n{done.stderr}")
            stamp.touch()
    return node


@dataclass
class Reference:
    """The two running node processes and where the ingest listens."""

    ingest: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    port: int
    logs: dict[str, Path]


def _wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout}s")
        time.sleep(0.05)


@contextlib.contextmanager
def running(redis_url: str, token: str, tmp: Path, timeout: float = 30.0) -> Iterator[Reference]:
    """Start the ingest and the worker against `redis_url`; wait until both are ready.

    Both are stopped (SIGTERM, then SIGKILL) on the way out; their output goes to files in
    `tmp`, named in `Reference.logs`.
    """
    node = install()
    port = free_port()
    ready = tmp / "reference-worker.ready"
    env = {"PATH": os.environ.get("PATH", ""), "REDIS_URL": redis_url, "QUEUE": QUEUE,
           "TOKEN": token, "PORT": str(port), "READY_FILE": str(ready)}  # fmt: skip
    logs = {"ingest": tmp / "reference-ingest.log", "worker": tmp / "reference-worker.log"}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, log_path in logs.items():
            with log_path.open("ab") as log:
                procs[name] = subprocess.Popen([node, f"{name}.mjs"], cwd=HERE, env=env,
                                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", procs["ingest"], timeout, "ingest")
            _wait_file(ready, procs["worker"], timeout, "reference worker")
        except (RuntimeError, TimeoutError) as exc:
            tails = {n: p.read_text()[-2000:] for n, p in logs.items() if p.exists()}
            raise RuntimeError(f"{exc}; output: {tails}") from exc
        yield Reference(procs["ingest"], procs["worker"], port, logs)
    finally:
        for proc in procs.values():
            stop_sink_process(proc, 15.0)  # SIGTERM, then SIGKILL
