"""A real HTTP receiver for delivery tests: an aiohttp server in a thread that records every
request and answers as a test scripts it (status, headers, body, stall)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from herald_gateway.dev.embedded import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    #: Seconds to stall before answering.
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.time()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Condition()
        self._received: dict[str, list[Received]] = defaultdict(list)
        self._scripts: dict[str, list[Answer]] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        stalled = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        entry = Received(
            request.method,
            request.path,
            request.rel_url.raw_query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            time.time(),
        )
        with self._lock:
            self._received[request.path].append(entry)
            script = self._scripts.get(request.path)
            answer = script.pop(0) if script else Answer()
            self._lock.notify_all()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    # -- test API -------------------------------------------------------------------------

    def new_path(self, *answers: Answer) -> str:
        """A fresh path; its first requests get `answers`, later ones 200."""
        path = f"/hook/{uuid.uuid4().hex}"
        with self._lock:
            self._scripts[path] = list(answers)
        return path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str) -> list[Received]:
        with self._lock:
            return list(self._received[path])

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `path` got at least `count` requests; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received[path]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = len(self._received[path])
                    raise AssertionError(f"{path}: {got} of {count} requests in {timeout}s")
                self._lock.wait(remaining)
            return list(self._received[path])
