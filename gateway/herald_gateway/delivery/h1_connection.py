"""Keep-alive HTTP/1.1 client connections and their pool: the transport half of
`herald_gateway.delivery.h1_sender.H1Sender`.

A `Connection` is an asyncio Protocol carrying one request at a time: `exchange(request)`
writes the request bytes and waits for the answer, which httptools (llhttp) parses as it
arrives. The body is kept up to `limit` bytes; an answer longer than that is cut there and
its connection closed, never drained. A connection is reused only after a complete answer
that allows keep-alive; after an error, a timeout, a cut body or unsolicited bytes it is
closed. `Pool` keeps idle connections per origin (scheme, host, port) for up to
`IDLE_TIMEOUT` seconds and bounds the open ones, idle or busy, to `limit` in all.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

import httptools

#: (scheme, host, port): connections are pooled and reused per origin.
Origin = tuple[str, str, int]

#: An idle connection older than this is closed rather than reused: below the 5 s keep-alive
#: of common servers (Node, uvicorn), so a request rarely meets a connection being closed.
IDLE_TIMEOUT = 4.0


class ConnectionLost(Exception):
    """The connection ended before a complete answer; `answered` says if any byte came."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


class BadResponse(Exception):
    """What came back is not an HTTP/1.x response."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection(asyncio.Protocol):
    """One connection; `exchange` at most once at a time (the pool sees to it)."""

    def __init__(self, origin: Origin, limit: int) -> None:
        self.origin = origin
        self.reusable = True
        self.idle_since = 0.0
        self.counted = False  # holds one of the pool's slots
        self._limit = limit
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._head_only = False
        self._until_eof = False  # the body ends when the server closes
        self._headers_done = False
        self._answered = False

    # -- the request side ------------------------------------------------------------------

    async def exchange(self, request: bytes, head_only: bool) -> Response:
        """Write `request`; the answer (a HEAD answer has no body, whatever it announces)."""
        transport = self._transport
        if transport is None or transport.is_closing() or not self.reusable:
            raise ConnectionLost("connection closed before the request", answered=False)
        self._status, self._headers, self._body, self._size = 0, {}, [], 0
        self._head_only, self._until_eof = head_only, False
        self._headers_done = self._answered = False
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        transport.write(request)
        try:
            return await waiter
        finally:
            self._waiter = None
            if not waiter.done():  # cancelled (the timeout): the answer may still come
                self.reusable = False

    def close(self) -> None:
        self.reusable = False
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._headers_done and self._until_eof:
            self._answer()  # a close-delimited body ends here
            return
        why = f": {exc}" if exc else ""
        stage = "in the answer" if self._answered else "before an answer"
        waiter.set_exception(ConnectionLost(f"connection closed {stage}{why}",
                                            answered=self._answered))  # fmt: skip

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted again
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(BadResponse(f"invalid HTTP response: {exc!r}"))

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.reusable = False  # a second answer, in the bytes of the first
            return
        self._headers[name.decode("latin-1")] = value.decode("utf-8", "replace")

    def on_headers_complete(self) -> None:
        if self._waiter is None or self._waiter.done():
            self.reusable = False
            return
        status = self._parser.get_status_code()
        if status < 200:  # 1xx interim answer: its message ends next; the real one follows
            return
        self._status, self._headers_done = status, True
        if self._head_only:
            self.reusable = False  # llhttp would wait for the announced body: stop here
            self._answer()
            return
        names = {name.lower() for name in self._headers}
        self._until_eof = (
            "content-length" not in names and "transfer-encoding" not in names
            and status not in (204, 304)
        )  # fmt: skip

    def on_body(self, body: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            return
        room = self._limit - self._size
        if len(body) > room:  # more than we keep: cut here, the rest is never read
            self._body.append(body[:room])
            self._size = self._limit
            self.reusable = False
            self._answer()
            self.close()
            return
        self._body.append(body)
        self._size += len(body)

    def on_message_complete(self) -> None:
        if not self._headers_done:
            self._headers = {}  # after a 1xx: the final answer's headers come next
            return
        if self._waiter is None or self._waiter.done():
            self.reusable = False  # a second answer to one request
            return
        if not self._parser.should_keep_alive():
            self.reusable = False
        self._answer()

    # --------------------------------------------------------------------------------------

    def _answer(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._headers, b"".join(self._body)))

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()


class Pool:
    """Idle connections per origin; at most `limit` connections open in all.

    `acquire` hands out the most recently used idle connection of the origin, or opens a new
    one through `connect` when a slot is free (closing an idle connection of another origin
    to free one), or waits for a slot. Every acquired connection goes back through `release`
    (kept if it may be reused) or `discard` (closed).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open = 0
        self._idle: dict[Origin, list[Connection]] = {}
        self._busy: set[Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._swept = 0.0

    async def acquire(
        self, origin: Origin, connect: Callable[[], Awaitable[Connection]], fresh: bool = False
    ) -> tuple[Connection, bool]:
        """A connection to `origin` and whether it was reused."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ConnectionLost("the sender is closed", answered=False)
            conn = None if fresh else self._take_idle(origin, loop.time())
            if conn is not None:
                self._busy.add(conn)
                return conn, True
            if self._open < self._limit or self._evict_one():
                break
            await self._wait_for_slot(loop)
        self._open += 1
        try:
            conn = await connect()
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        conn.counted = True
        self._busy.add(conn)
        return conn, False

    def release(self, conn: Connection, now: float) -> None:
        self._busy.discard(conn)
        if not conn.reusable or self._closed:
            self.discard(conn)
            return
        conn.idle_since = now
        self._idle.setdefault(conn.origin, []).append(conn)
        self._wake()
        if now - self._swept > IDLE_TIMEOUT:
            self._sweep(now)

    def discard(self, conn: Connection) -> None:
        self._busy.discard(conn)
        conn.close()
        if conn.counted:
            conn.counted = False
            self._open -= 1
            self._wake()

    def close(self) -> None:
        """Close every connection, idle or busy; later acquires fail."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                self.discard(conn)
        self._idle.clear()
        for conn in list(self._busy):
            self.discard(conn)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _take_idle(self, origin: Origin, now: float) -> Connection | None:
        conns = self._idle.get(origin)
        while conns:
            conn = conns.pop()
            if conn.reusable and now - conn.idle_since < IDLE_TIMEOUT:
                return conn
            self.discard(conn)
        return None

    def _sweep(self, now: float) -> None:
        """Close the connections idle too long, of every origin (a host not sent to again
        would otherwise hold its connections until the server hangs up)."""
        self._swept = now
        for origin, conns in list(self._idle.items()):
            keep = [c for c in conns if c.reusable and now - c.idle_since < IDLE_TIMEOUT]
            for conn in conns:
                if conn not in keep:
                    self.discard(conn)
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]

    def _evict_one(self) -> bool:
        """Close one idle connection (of any origin) to free its slot."""
        for conns in self._idle.values():
            if conns:
                self.discard(conns.pop(0))  # the longest idle
                return True
        return False

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake()  # woken, then cancelled: pass the slot on
            raise
        finally:
            if not waiter.done():
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
