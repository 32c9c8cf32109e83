"""A chaos receiver: a real aiohttp server, in the driver's event loop, that records every
request it gets and answers as the current fault mode says.

Paths say what a message is for (see tests.chaos.load): `/ok/...` answers 200, `/dead/...`
always 500 (its retries run out into the DLQ), `/flaky/...` 500 until the message's third
attempt (time for the driver to cancel it mid-retry), `/callback/...` records the failure
callback's report. The mode overrides all of them while a fault lasts: `error` answers 500,
`stall` holds the request past the per-attempt timeout, `cut` closes the connection
without an answer.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from herald_gateway.dev.embedded import free_port

#: A `/flaky/` message fails this many attempts before it is answered 200.
FLAKY_FAILURES = 2


class Mode(enum.StrEnum):
    OK = "ok"
    ERROR = "error"
    STALL = "stall"
    CUT = "cut"


@dataclass(frozen=True, slots=True)
class Hit:
    """One request as the receiver saw it."""

    message_id: str
    #: `Upstash-Retried`: attempts before this one.
    retried: int
    #: The first path segment: ok, dead, flaky or callback.
    kind: str
    #: `X-Chaos-Seq`: the publisher's sequence number (forwarded header), or -1.
    seq: int
    #: What it was answered: "ok" (200), "error" (500), "stall" or "cut".
    outcome: str
    #: time.time() when the request arrived.
    at: float


@dataclass(frozen=True, slots=True)
class Report:
    """A failure callback's report of a dead-lettered message."""

    callback_id: str
    source_id: str
    dlq_id: str


class ChaosReceiver:
    def __init__(self, stall: float, latency: float = 0.0) -> None:
        self.port = free_port()
        self.mode = Mode.OK
        #: Seconds a stalled request is held (longer than the attempt timeout), and the most
        #: an answer takes otherwise (uniformly drawn).
        self.stall, self.latency = stall, latency
        self._random = random.Random(11)
        self.hits: list[Hit] = []
        self.reports: list[Report] = []
        #: Called with every hit (the driver cancels flaky messages from here).
        self.on_hit: Callable[[Hit], None] = lambda hit: None
        self._runner: web.AppRunner | None = None

    def url(self, kind: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{name}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{kind}/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        kind = request.match_info["kind"]
        retried = int(headers.get("Upstash-Retried", "0"))
        mode = self.mode
        if mode is not Mode.OK:
            outcome = mode.value
        elif kind == "dead" or (kind == "flaky" and retried < FLAKY_FAILURES):
            outcome = "error"
        else:
            outcome = "ok"
        hit = Hit(headers.get("Upstash-Message-Id", ""), retried, kind,
                  int(headers.get("X-Chaos-Seq", "-1")), outcome, time.time())  # fmt: skip
        self.hits.append(hit)
        if outcome == "ok" and kind == "callback":
            report = orjson.loads(body)
            self.reports.append(Report(hit.message_id, report["sourceMessageId"],
                                       report.get("dlqId", "")))  # fmt: skip
        self.on_hit(hit)
        if outcome == "cut":
            assert request.transport is not None
            request.transport.close()  # no status line, no headers: the connection just ends
            raise asyncio.CancelledError
        if outcome == "stall":
            await asyncio.sleep(self.stall)  # the sender has given up by now
            return web.Response(status=200, body=b"too late")
        if self.latency:
            await asyncio.sleep(self._random.uniform(0, self.latency))
        return web.Response(status=500 if outcome == "error" else 200, body=outcome.encode())
