"""The lean HTTP/1.1 client (herald_gateway.delivery.h1_sender) against real local servers:
a raw asyncio server answering with exactly the bytes each test scripts (chunked,
close-delimited, oversized, slow, partial and garbage answers), the aiohttp receiver, and a
TLS server with a self-signed certificate."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from herald_gateway.delivery import h1_connection
from herald_gateway.delivery.h1_sender import H1Sender
from herald_gateway.delivery.sender import MAX_RESPONSE_BODY, Failure, Reply
from tests.support.receiver import Answer, Receiver

pytestmark = pytest.mark.integration

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

#: Reads one request (head and Content-Length body) and answers it; None ends the connection.
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Raw"], Awaitable[bool]]


@dataclass
class Raw:
    """A raw HTTP server in the test's own loop: counts connections, keeps request heads."""

    port: int = 0
    connections: int = 0
    open: int = 0
    most_open: int = 0
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


async def read_request(reader: asyncio.StreamReader, raw: Raw) -> bool:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    raw.heads.append(head)
    raw.bodies.append(await reader.readexactly(length))
    return True


def answering(*answers: bytes, then_close: bool = False, delay: float = 0.0) -> Script:
    """Answer each request with the next of `answers` (the last one repeats)."""
    sent = [0]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> bool:
        if not await read_request(reader, raw):
            return False
        if delay:
            await asyncio.sleep(delay)
        writer.write(answers[min(sent[0], len(answers) - 1)])
        sent[0] += 1
        await writer.drain()
        return not then_close

    return script


@asynccontextmanager
async def raw_server(script: Script, host: str = "127.0.0.1") -> AsyncIterator[Raw]:
    raw = Raw()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw.connections += 1
        raw.open += 1
        raw.most_open = max(raw.most_open, raw.open)
        try:
            while await script(reader, writer, raw):
                pass
        except ConnectionError:
            pass
        finally:
            raw.open -= 1
            writer.close()
            raw.closed.set()

    server = await asyncio.start_server(handle, host, 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()


@pytest.fixture
async def sender() -> AsyncIterator[H1Sender]:
    s = H1Sender(max_connections=8)
    yield s
    await s.aclose()


async def test_keep_alive_reuses_one_connection(sender: H1Sender) -> None:
    async with raw_server(answering(OK)) as raw:
        for _ in range(3):
            answer = await sender.send("POST", raw.url("/p"), {"X-A": "1"}, b"abc", 5)
            assert answer == Reply(200, {"Content-Length": "2"}, b"ok")
        assert raw.connections == 1
        assert raw.bodies == [b"abc"] * 3


async def test_the_url_is_sent_exactly_as_given(sender: H1Sender) -> None:
    async with raw_server(answering(OK)) as raw:
        url = raw.url("/a%2Fb/%7Ec?x=%20y&z=%C3%A9&&#fragment")
        assert isinstance(await sender.send("GET", url, {}, b"", 5), Reply)
        request_line, *lines = raw.heads[0].decode().split("\r\n")
        assert request_line == "GET /a%2Fb/%7Ec?x=%20y&z=%C3%A9&& HTTP/1.1"
        assert f"Host: 127.0.0.1:{raw.port}" in lines and "Content-Length: 0" in lines


async def test_chunked_body(sender: H1Sender) -> None:
    chunked = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-R: 1\r\n\r\n"
               b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")  # fmt: skip
    async with raw_server(answering(chunked)) as raw:
        for _ in range(2):
            answer = await sender.send("POST", raw.url(), {}, b"", 5)
            assert isinstance(answer, Reply) and (answer.status, answer.body) == (201, b"abcdefg")
            assert answer.headers["X-R"] == "1"
        assert raw.connections == 1


async def test_close_delimited_body_ends_with_the_connection(sender: H1Sender) -> None:
    answer_ = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    async with raw_server(answering(answer_, then_close=True)) as raw:
        for _ in range(2):
            answer = await sender.send("POST", raw.url(), {}, b"", 5)
            assert isinstance(answer, Reply) and answer.body == b"until the end"
        assert raw.connections == 2


async def test_connection_close_is_honoured(sender: H1Sender) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with raw_server(answering(closing)) as raw:  # the server would keep it open
        for _ in range(2):
            assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2


async def test_http10_without_keep_alive_is_not_reused(sender: H1Sender) -> None:
    async with raw_server(answering(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")) as raw:
        for _ in range(2):
            assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2


async def test_an_oversized_body_is_cut_and_its_connection_closed(sender: H1Sender) -> None:
    size = 3 * MAX_RESPONSE_BODY
    big = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    async with raw_server(answering(big)) as raw:
        answer = await sender.send("POST", raw.url(), {}, b"", 5)
        assert isinstance(answer, Reply) and answer.body == b"x" * MAX_RESPONSE_BODY
        await asyncio.wait_for(raw.closed.wait(), 5)  # not drained: closed
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2


async def test_a_body_of_exactly_the_limit_is_kept_whole(sender: H1Sender) -> None:
    size = MAX_RESPONSE_BODY
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % size
               + b"y" * size + b"\r\n0\r\n\r\n")  # fmt: skip
    async with raw_server(answering(chunked)) as raw:
        for _ in range(2):
            answer = await sender.send("POST", raw.url(), {}, b"", 5)
            assert isinstance(answer, Reply) and answer.body == b"y" * size
        assert raw.connections == 1


async def test_a_slow_answer_times_out_and_its_connection_is_dropped(sender: H1Sender) -> None:
    async with raw_server(answering(OK, delay=0.5)) as raw:
        answer = await sender.send("POST", raw.url(), {}, b"", 0.1)
        assert answer == Failure("timeout after 0.1s", timed_out=True)
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2  # the late answer never lands on a reused connection


async def test_a_partial_body_fails_and_is_not_reused(sender: H1Sender) -> None:
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    async with raw_server(answering(partial, OK, then_close=True)) as raw:
        answer = await sender.send("POST", raw.url(), {}, b"", 5)
        assert isinstance(answer, Failure) and answer.retryable and not answer.timed_out
        assert "closed in the answer" in answer.error
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)


@pytest.mark.parametrize(
    "garbage",
    [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
)  # fmt: skip
async def test_garbage_is_a_retryable_failure(sender: H1Sender, garbage: bytes) -> None:
    async with raw_server(answering(garbage, OK)) as raw:
        answer = await sender.send("POST", raw.url(), {}, b"", 5)
        assert isinstance(answer, Failure) and answer.retryable
        assert "invalid HTTP response" in answer.error
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2


async def test_bytes_after_the_answer_are_not_trusted(sender: H1Sender) -> None:
    two = OK + b"HTTP/1.1 500 Oops\r\nX-Late: 1\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(answering(two, OK)) as raw:
        answer = await sender.send("POST", raw.url(), {}, b"", 5)
        assert answer == Reply(200, {"Content-Length": "2"}, b"ok")
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2


async def test_interim_answers_and_a_head_body(sender: H1Sender) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # HEAD: announced, never sent
    async with raw_server(answering(interim, head)) as raw:
        answer = await sender.send("POST", raw.url(), {}, b"", 5)
        assert isinstance(answer, Reply) and (answer.status, answer.body) == (202, b"ok")
        answer = await sender.send("HEAD", raw.url(), {}, b"", 5)
        assert isinstance(answer, Reply) and (answer.status, answer.body) == (200, b"")
        assert answer.headers == {"Content-Length": "1000"}


async def test_an_idle_connection_the_server_closed_is_replaced(sender: H1Sender) -> None:
    async with raw_server(answering(OK, then_close=True)) as raw:  # answers, then hangs up
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        await asyncio.wait_for(raw.closed.wait(), 5)
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.connections == 2 and len(raw.bodies) == 2


async def test_an_answer_after_a_reused_connection_closes_unanswered_is_sent_again() -> None:
    """A server closing a keep-alive connection just as the next request is written: the
    request goes out once more on a new connection (at-least-once allows the duplicate)."""
    served = [0]

    async def once_per_connection(reader, writer, raw: Raw) -> bool:
        if not await read_request(reader, raw):
            return False
        served[0] += 1
        if served[0] == 2:
            return False  # read the request, close without an answer
        writer.write(OK)
        await writer.drain()
        return True

    sender = H1Sender(max_connections=2)
    try:
        async with raw_server(once_per_connection) as raw:
            assert isinstance(await sender.send("POST", raw.url(), {}, b"1", 5), Reply)
            assert isinstance(await sender.send("POST", raw.url(), {}, b"2", 5), Reply)
            assert raw.bodies == [b"1", b"2", b"2"] and raw.connections == 2
    finally:
        await sender.aclose()


async def test_open_connections_are_bounded_by_max_connections() -> None:
    sender = H1Sender(max_connections=2)
    try:
        async with raw_server(answering(OK, delay=0.05)) as raw:
            answers = await asyncio.gather(
                *(sender.send("POST", raw.url(), {}, b"", 5) for _ in range(10))
            )
            assert all(isinstance(a, Reply) for a in answers)
            assert raw.most_open == 2 and raw.connections == 2
            async with raw_server(answering(OK)) as other:  # another origin takes an idle slot
                assert isinstance(await sender.send("POST", other.url(), {}, b"", 5), Reply)
            assert raw.connections == 2
    finally:
        await sender.aclose()


async def test_connections_idle_too_long_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host not sent to again does not keep its connection (here every idle one is too old)."""
    monkeypatch.setattr(h1_connection, "IDLE_TIMEOUT", 0.0)
    sender = H1Sender(max_connections=4)
    try:
        async with raw_server(answering(OK)) as raw:
            assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
            await asyncio.wait_for(raw.closed.wait(), 5)
            assert raw.open == 0
    finally:
        await sender.aclose()


async def test_waiting_for_a_slot_counts_in_the_timeout() -> None:
    sender = H1Sender(max_connections=1)
    try:
        async with raw_server(answering(OK, delay=0.5)) as raw:
            slow = asyncio.ensure_future(sender.send("POST", raw.url(), {}, b"", 5))
            await asyncio.sleep(0)
            answer = await sender.send("POST", raw.url(), {}, b"", 0.1)
            assert answer == Failure("timeout after 0.1s", timed_out=True)
            assert isinstance(await slow, Reply)
    finally:
        await sender.aclose()


async def test_aclose_closes_pooled_connections() -> None:
    sender = H1Sender(max_connections=2)
    async with raw_server(answering(OK)) as raw:
        assert isinstance(await sender.send("POST", raw.url(), {}, b"", 5), Reply)
        assert raw.open == 1
        await sender.aclose()
        await asyncio.wait_for(raw.closed.wait(), 5)
        assert raw.open == 0
        answer = await sender.send("POST", raw.url(), {}, b"", 5)
        assert isinstance(answer, Failure)


async def test_connection_refused_is_retryable(sender: H1Sender) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening
        answer = await sender.send("POST", f"http://127.0.0.1:{port}/", {}, b"", 5)
    assert isinstance(answer, Failure) and answer.retryable and not answer.timed_out
    assert f"cannot connect to 127.0.0.1:{port}" in answer.error


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_literal(sender: H1Sender) -> None:
    async with raw_server(answering(OK), host="::1") as raw:
        answer = await sender.send("POST", f"http://[::1]:{raw.port}/v6", {}, b"", 5)
        assert isinstance(answer, Reply) and answer.status == 200
        assert f"Host: [::1]:{raw.port}".encode() in raw.heads[0]


async def test_against_the_aiohttp_receiver(sender: H1Sender) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        path = receiver.new_path(Answer(503, {"Retry-After": "7"}, b"busy"), Answer(200))
        first = await sender.send("PUT", receiver.url(path) + "?k=v", {"X-K": "v"}, b"data", 5)
        assert isinstance(first, Reply) and (first.status, first.body) == (503, b"busy")
        assert first.headers["Retry-After"] == "7"
        second = await sender.send("PUT", receiver.url(path), {}, b"", 5)
        assert isinstance(second, Reply) and second.status == 200
        got = receiver.received(path)[0]
        assert (got.method, got.query, got.body, got.header("x-k")) == ("PUT", "k=v", b"data", "v")
    finally:
        receiver.stop()


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for `localhost` and 127.0.0.1 (openssl; neither trustme nor
    cryptography is a dependency)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl on PATH to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    yield cert, key


@asynccontextmanager
async def tls_server(cert: Path, key: Path) -> AsyncIterator[Raw]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    raw = Raw()
    script = answering(OK)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw.connections += 1
        try:
            while await script(reader, writer, raw):
                pass
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()


async def test_https_with_a_trusted_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    trusting = ssl.create_default_context(cafile=str(cert))
    sender = H1Sender(max_connections=2, ssl_context=trusting)
    try:
        async with tls_server(cert, key) as raw:
            for host in ("localhost", "127.0.0.1"):
                url = f"https://{host}:{raw.port}/secure?x=1"
                answer = await sender.send("POST", url, {}, b"tls", 5)
                assert isinstance(answer, Reply) and answer.status == 200, answer
            answer = await sender.send("POST", f"https://localhost:{raw.port}/", {}, b"", 5)
            assert isinstance(answer, Reply)
            assert raw.bodies == [b"tls", b"tls", b""]
            assert raw.connections == 2  # one per origin, reused
    finally:
        await sender.aclose()


async def test_https_refuses_an_untrusted_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    sender = H1Sender(max_connections=2)  # the system's trust store
    try:
        async with tls_server(cert, key) as raw:
            answer = await sender.send("POST", f"https://localhost:{raw.port}/", {}, b"", 5)
            assert isinstance(answer, Failure) and answer.retryable
            assert "CERTIFICATE_VERIFY_FAILED" in answer.error
            assert raw.bodies == []
    finally:
        await sender.aclose()
