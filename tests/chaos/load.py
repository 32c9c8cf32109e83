"""The chaos load: an open loop of publishes at a fixed rate through the live gateways (raw
HTTP with the admin token, as any client would), and the cancels issued while it runs.

Every publish is one of five kinds, by its sequence number:
- `normal` (75 %): to `/ok/`, 20 retries 100 ms-1 s apart: must survive every fault;
- `delayed` (10 %): the same, due 2 s later, so Redis always holds accepted messages that
  nobody has received yet (what a Redis restart could lose);
- `dead` (5 %): to `/dead/` (always 500), 1 retry, with a failure callback: must end in the
  DLQ, with exactly one failure callback reporting it;
- `cancel` (5 %): to `/ok/` with `Upstash-Delay`, cancelled a moment after it is accepted:
  a cancel acknowledged before the message was due means it is never delivered;
- `flaky` (5 %): to `/flaky/` (500 twice, then 200), cancelled as soon as its first attempt
  arrives: once the cancel is acknowledged no new attempt may start.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.chaos.receiver import ChaosReceiver, Hit
from tests.support.gateway import TOKEN

#: Retry delay of every message that must survive the faults (ms): 100 ms growing to 1 s.
RETRY_DELAY = "min(1000, 100 * (retried + 1))"
RETRIES = 20
#: How far in the future `cancel` and `delayed` messages are due (s).
CANCEL_DELAY = 3.0
DELAY = 2.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def kind_of(seq: int) -> str:
    return {0: "dead", 1: "cancel", 2: "flaky", 3: "delayed", 4: "delayed"}.get(seq % 20, "normal")


@dataclass(slots=True)
class Publish:
    seq: int
    kind: str
    #: The phase running when the publish was sent.
    phase: str
    #: time.time() when the request was sent and when its answer came.
    sent: float
    answered: float | None = None
    #: HTTP status, or None when no answer came (refused, reset, timed out).
    status: int | None = None
    message_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.message_id is not None


@dataclass(slots=True)
class Cancel:
    message_id: str
    kind: str
    #: When the DELETE was sent, and when `{"cancelled": 1}` came back (None otherwise).
    sent: float
    acked: float | None = None
    #: HTTP status, or None when no answer came.
    status: int | None = None


def publish_request(seq: int, receiver: ChaosReceiver) -> tuple[str, dict[str, str]]:
    """The destination and headers of publish number `seq`."""
    kind = kind_of(seq)
    headers = {**AUTH, "Content-Type": "application/json", "Upstash-Forward-X-Chaos-Seq": str(seq),
               "Upstash-Retries": str(RETRIES), "Upstash-Retry-Delay": RETRY_DELAY}  # fmt: skip
    if kind == "dead":
        headers.update({
            "Upstash-Retries": "1", "Upstash-Retry-Delay": "50",
            "Upstash-Failure-Callback": receiver.url("callback", str(seq)),
            "Upstash-Failure-Callback-Retries": str(RETRIES),
            "Upstash-Failure-Callback-Retry-Delay": RETRY_DELAY,
        })  # fmt: skip
    elif kind in ("cancel", "delayed"):
        headers["Upstash-Delay"] = f"{CANCEL_DELAY if kind == 'cancel' else DELAY:g}s"
    path = kind if kind in ("dead", "flaky") else "ok"
    return receiver.url(path, str(seq)), headers


class LoadGenerator:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        gateways: Callable[[], list[str]],
        receivers: list[ChaosReceiver],
        rate: float,
        phase: Callable[[], str],
    ) -> None:
        self._session, self._gateways, self._receivers = session, gateways, receivers
        self._rate, self._phase = rate, phase
        self.publishes: dict[int, Publish] = {}
        self.cancels: dict[str, Cancel] = {}
        #: Publishes not sent because too many were already waiting for an answer.
        self.skipped = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._random = random.Random(7)
        self._turn = 0
        for receiver in receivers:
            receiver.on_hit = self._on_hit

    async def run(self, stop: asyncio.Event, max_in_flight: int = 400) -> None:
        """Publish at the rate until `stop` is set."""
        started, seq = time.monotonic(), 0
        while not stop.is_set():
            due = int((time.monotonic() - started) * self._rate)
            while seq < due:
                if len(self._tasks) < max_in_flight:
                    self._spawn(self._publish(seq))
                else:
                    self.skipped += 1
                seq += 1
            try:
                await asyncio.wait_for(stop.wait(), 0.01)
            except TimeoutError:
                pass

    async def settle(self) -> None:
        """Wait for every publish and cancel still waiting for its answer."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _gateway(self) -> str | None:
        live = self._gateways()
        if not live:
            return None
        self._turn += 1
        return live[self._turn % len(live)]

    async def _publish(self, seq: int) -> None:
        receiver = self._receivers[seq % len(self._receivers)]
        destination, headers = publish_request(seq, receiver)
        record = Publish(seq, kind_of(seq), self._phase(), time.time())
        self.publishes[seq] = record
        gateway = self._gateway()
        if gateway is None:
            return
        body = b'{"seq": %d, "pad": "%s"}' % (seq, b"x" * 64)
        try:
            async with self._session.post(f"{gateway}/v2/publish/{destination}", data=body,
                                          headers=headers) as response:  # fmt: skip
                record.status = response.status
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return
        record.answered = time.time()
        if 200 <= response.status < 300:
            record.message_id = answer["messageId"]
            if record.kind == "cancel":
                self._spawn(self._cancel(record.message_id, "cancel",
                                         self._random.uniform(0, 0.3)))  # fmt: skip

    def _on_hit(self, hit: Hit) -> None:
        if hit.kind == "flaky" and hit.message_id not in self.cancels:
            self.cancels[hit.message_id] = Cancel(hit.message_id, "flaky", time.time())
            self._spawn(self._cancel(hit.message_id, "flaky", 0.0))

    async def _cancel(self, message_id: str, kind: str, after: float) -> None:
        await asyncio.sleep(after)
        record = self.cancels.setdefault(message_id, Cancel(message_id, kind, time.time()))
        record.sent = time.time()
        gateway = self._gateway()
        if gateway is None:
            return
        try:
            async with self._session.delete(f"{gateway}/v2/messages/{message_id}",
                                            headers=AUTH) as response:  # fmt: skip
                record.status = response.status
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return
        if response.status == 200 and answer.get("cancelled") == 1:
            record.acked = time.time()
