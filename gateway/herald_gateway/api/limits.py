"""Limits on what a client may make the gateway hold: header fields and time to send.

`RequestLimits` (a pure ASGI middleware `create_app` installs) answers 431 to a request with
more header fields than `max_headers`; the size of the header block is bounded by the HTTP
parser itself. `SlowClientProtocol` (uvicorn's httptools protocol, which `herald gateway`
serves with) gives every request `read_timeout` seconds from its first byte (or from the
connection's opening) until its last body byte; a client that trickles its headers or body
(slow loris) then gets a 408 and the connection is closed. uvicorn alone times out only idle
keep-alive connections. One sweep per `read_timeout / 4` enforces every deadline, so a
request costs no timer of its own on the hot path.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from herald_core.errors import RequestTimeout, TooManyHeaders


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_headers: int) -> None:
        self._app = app
        self._max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["headers"]) > self._max_headers:
            error = TooManyHeaders(f"more than {self._max_headers} header fields")
            body = orjson.dumps({"error": str(error)})
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": error.status_code,
                        "headers": headers})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)


class SlowClientProtocol(HttpToolsProtocol):
    """httptools' protocol with a deadline on receiving each request (see the module doc)."""

    #: Seconds a request may take to arrive (set by `slow_client_protocol`).
    read_timeout = 30.0
    #: Connections whose current request has not fully arrived, with its start time.
    _receiving: dict[SlowClientProtocol, float]
    _sweep: asyncio.TimerHandle | None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_clock()

    def data_received(self, data: bytes) -> None:
        if self not in self._receiving and (self.cycle is None or self.cycle.response_complete):
            self._start_clock()  # the first bytes of a new request on a kept-alive connection
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._receiving.pop(self, None)
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._receiving.pop(self, None)
        super().connection_lost(exc)

    def _start_clock(self) -> None:
        cls = type(self)
        cls._receiving[self] = self.loop.time()
        if cls._sweep is None:
            cls._sweep = self.loop.call_later(self.read_timeout / 4, cls._sweep_all, self.loop)

    @classmethod
    def _sweep_all(cls, loop: asyncio.AbstractEventLoop) -> None:
        cls._sweep = None
        late = loop.time() - cls.read_timeout
        for protocol, started in list(cls._receiving.items()):
            if started <= late:
                protocol._too_slow()
        if cls._receiving:
            cls._sweep = loop.call_later(cls.read_timeout / 4, cls._sweep_all, loop)

    def _too_slow(self) -> None:
        self._receiving.pop(self, None)
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            if self.cycle.response_started:
                return  # answered before reading its whole body: nothing to cut short
            what = "body"  # the route sees a disconnect (app.py answers it quietly)
        else:
            what = "headers"
        error = RequestTimeout(f"request {what} not received within {self.read_timeout:g}s")
        body = orjson.dumps({"error": str(error)})
        self.transport.write(
            b"HTTP/1.1 %d Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
            % (error.status_code, len(body), body)
        )
        self.transport.close()


def slow_client_protocol(read_timeout: float) -> type[SlowClientProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` with its own deadline and registry."""

    class Protocol(SlowClientProtocol):
        pass

    Protocol.read_timeout = read_timeout
    Protocol._receiving = {}
    Protocol._sweep = None
    return Protocol
