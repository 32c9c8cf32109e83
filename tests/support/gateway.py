"""A real `herald gateway` for end-to-end tests, with its own Redis database: as a child
process (`Gateway`), or served in the test process (`InProcessGateway`)."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from herald_core.settings import Settings
from herald_gateway.cli import server
from herald_gateway.dev.embedded import free_port

TOKEN = "test-token-0123456789"
CURRENT_KEY = "sig_current_0123456789abcdefghijklmn"
NEXT_KEY = "sig_next_0123456789abcdefghijklmnopqr"
REPO = Path(__file__).resolve().parents[2]


def wait_until(condition, timeout: float = 10.0, interval: float = 0.02, what: str = ""):
    """Poll `condition` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


class Gateway:
    """`herald gateway` as a child process; `client` is an httpx client authorised for it."""

    def __init__(self, redis_url: str, log_path: Path, **settings: object) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.redis_url = redis_url
        self.log_path = log_path
        self.env = {
            **os.environ,
            "HERALD_REDIS_URL": redis_url,
            "HERALD_PORT": str(self.port),
            "HERALD_METRICS_PORT": str(self.metrics_port),
            "HERALD_HOST": "127.0.0.1",
            "HERALD_TOKEN": TOKEN,
            "HERALD_CURRENT_SIGNING_KEY": CURRENT_KEY,
            "HERALD_NEXT_SIGNING_KEY": NEXT_KEY,
            "HERALD_POLL_INTERVAL": "0.05",
            "HERALD_SHUTDOWN_GRACE": "2",
            "PYTHONPATH": f"{REPO / 'gateway'}{os.pathsep}{REPO / 'operator'}",
        }
        self.env.update({f"HERALD_{k.upper()}": str(v) for k, v in settings.items()})
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Gateway:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "herald_gateway.cli", "gateway"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._ready, timeout=20, what=f"gateway on {self.port} (log {self.log_path})")
        return self

    def metrics(self) -> str:
        """The Prometheus text its metrics listener serves (never the API port)."""
        response = httpx.get(self.metrics_url, timeout=10)
        response.raise_for_status()
        return response.text

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gateway exited: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def publish(self, destination: str, body: bytes = b"", **headers: str) -> httpx.Response:
        return self.client.post(f"/v2/publish/{destination}", content=body, headers=headers)

    def close(self) -> None:
        self.stop()
        self.client.close()


class InProcessGateway(Gateway):
    """The same gateway, settings and client, served in a thread of the test process: the app
    `herald gateway` builds (herald_gateway.cli.server: same uvicorn config, protocol, limits and
    metrics port) with its lifespan, worker and scheduler, on real sockets and the test's
    Redis. It starts in a fraction of a process's time; it cannot be killed or signalled, so
    crash, signal and CLI tests keep `Gateway`. Its logs go to the test's log capture."""

    def __init__(self, redis_url: str, log_path: Path, **settings: object) -> None:
        super().__init__(redis_url, log_path, **settings)
        # the same HERALD_* variables the child process would read
        prefix = "HERALD_"
        env = {k[len(prefix) :].lower(): v for k, v in self.env.items() if k.startswith(prefix)}
        self.settings = Settings.model_validate(env)
        self.thread: threading.Thread | None = None

    def start(self) -> InProcessGateway:
        self.server, sockets = server(self.settings)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": sockets}, name=f"gateway-{self.port}"
        )
        self.thread.start()
        wait_until(self._ready, timeout=20, what=f"in-process gateway on {self.port}")
        return self

    def _ready(self) -> bool:
        assert self.thread is not None
        if not self.thread.is_alive():
            raise AssertionError(f"in-process gateway on {self.port} stopped before serving")
        return self.server.started

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """A graceful shutdown, as on SIGTERM (no other signal can reach a thread)."""
        assert sig == signal.SIGTERM, "an in-process gateway only stops gracefully"
        if self.thread is not None and self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=60)
            assert not self.thread.is_alive(), f"in-process gateway on {self.port} did not stop"
            gc.unfreeze()  # the lifespan froze the test process's objects (app.py)
        return 0
