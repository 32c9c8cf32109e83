"""`H1Sender`: a lean HTTP/1.1 delivery client on asyncio transports and httptools.

It does only what a delivery needs, which is most of why it costs less CPU per request than
aiohttp's client (docs/benchmarks.md, "A lean HTTP/1.1 client"): the URL is sent exactly as
given (path and query as signed, the fragment dropped), the request is one bytes write
(request line, Host, the given headers, Content-Length, body), the answer is parsed by
httptools (`h1_connection`), redirects are not followed, and the whole attempt — waiting for a
slot, DNS, connect, TLS, request, answer — is bounded by `timeout`.

The egress policy is enforced on the addresses actually dialled: a denied name is refused
before any lookup, a name is resolved (`loop.getaddrinfo`, answers kept `DNS_TTL` seconds)
and only the addresses the policy allows are connected to, and an IP-literal host is judged
as the address it is. A refusal is a `Failure` that is not retryable.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from herald_core.egress import EgressPolicy, legacy_ipv4, parse_address
from herald_core.errors import EgressRefused
from herald_gateway.delivery.h1_connection import (
    BadResponse,
    Connection,
    ConnectionLost,
    Origin,
    Pool,
    Response,
)
from herald_gateway.delivery.sender import MAX_RESPONSE_BODY, Failure, Reply

#: Seconds a DNS answer (and the policy's verdict on it) is reused.
DNS_TTL = 10.0

#: `host, port -> addresses`: how names are resolved (tests pass a static table).
Resolve = Callable[[str, int], Awaitable[list[str]]]

#: Request headers the client writes itself; a message's own copies are dropped.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's requests go, parsed once per scheme and authority."""

    origin: Origin
    host_header: str  # the authority as written, without user info
    address: str | None  # the host when it is an IP literal (legacy forms normalised)
    authorization: str | None  # Basic credentials from user info in the URL


def parse_target(scheme_authority: str) -> Target:
    """`https://user:pw@Host:8443` → a Target; ValueError for anything else."""
    scheme, sep, authority = scheme_authority.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported URL scheme in {scheme_authority!r}")
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid host in {scheme_authority!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = hostport.partition(":")
    if not host or any(c in host for c in " \t\r\n/\\"):
        raise ValueError(f"invalid host in {scheme_authority!r}")
    port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536 or (port_text and not port_text.isdigit()):
        raise ValueError(f"invalid port in {scheme_authority!r}")
    literal = parse_address(host) or legacy_ipv4(host)
    auth = None
    if userinfo:
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        auth = f"Basic {token}"
    return Target((scheme, host.lower(), port), hostport, str(literal) if literal else None, auth)


def split_url(url: str) -> tuple[str, str]:
    """`scheme://authority` and the request target (path and query exactly as written)."""
    start = url.find("://")
    if start < 0:
        raise ValueError(f"not an absolute URL: {url!r}")
    start += 3
    end = len(url)
    for mark in "/?#":
        at = url.find(mark, start)
        if 0 <= at < end:
            end = at
    path = url[end:].partition("#")[0]
    if not path.startswith("/"):
        path = "/" + path
    return url[:end], path


def build_request(
    method: str, path: str, target: Target, headers: Mapping[str, str], body: bytes
) -> bytes:
    """The request as one bytes object; ValueError if a line break would split a header."""
    lines = [f"{method} {path} HTTP/1.1"]
    names: set[str] = set()
    for name, value in headers.items():
        low = name.lower()
        if low not in _FRAMING:
            names.add(low)
            lines.append(f"{name}: {value}")
    if "host" not in names:
        lines.append(f"Host: {target.host_header}")
    if target.authorization is not None and "authorization" not in names:
        lines.append(f"Authorization: {target.authorization}")
    lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines)
    breaks = len(lines) - 1
    if head.count("\n") != breaks or head.count("\r") != breaks or " " in path:
        raise ValueError("a line break in a header or a space in the URL")
    return b"".join((head.encode(), b"\r\n\r\n", body))


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class H1Sender:
    """Pooled keep-alive HTTP/1.1 connections per origin, at most `max_connections` open."""

    def __init__(
        self,
        *,
        max_connections: int,
        egress: EgressPolicy | None = None,
        resolve: Resolve | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._egress = egress if egress is not None else EgressPolicy()
        self._resolve = resolve if resolve is not None else _getaddrinfo
        self._ssl = ssl_context
        self._pool = Pool(max_connections)
        self._targets: dict[str, Target | str] = {}  # a Target, or why it is refused
        self._dns: dict[str, tuple[float, list[str] | str]] = {}  # addresses, or a refusal

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Reply | Failure:
        try:
            authority, path = split_url(url)
            target = self._target(authority)
            if isinstance(target, str):
                return Failure(f"egress refused: {target}", retryable=False)
            request = build_request(method, path, target, headers, body)
            async with asyncio.timeout(timeout):
                response = await self._exchange(target, request, method == "HEAD")
        except TimeoutError:
            return Failure(f"timeout after {timeout:g}s", timed_out=True)
        except EgressRefused as exc:
            return Failure(f"egress refused: {exc}", retryable=False)
        except (OSError, ConnectionLost, BadResponse, ValueError) as exc:
            return Failure(f"{exc.__class__.__name__}: {exc}" if str(exc) else repr(exc))
        return Reply(response.status, response.headers, response.body)

    async def aclose(self) -> None:
        self._pool.close()
        await asyncio.sleep(0)  # let the transports close

    def _target(self, authority: str) -> Target | str:
        """The parsed target, or the policy's reason to refuse an IP-literal or denied host."""
        found = self._targets.get(authority)
        if found is None:
            target = parse_target(authority)
            host = target.origin[1]
            if target.address is not None:
                problem = self._egress.literal_refusal(host)
            else:
                problem = self._egress.host_refusal(host)
            if len(self._targets) > 4096:
                self._targets.clear()
            found = self._targets[authority] = target if problem is None else problem
        return found

    async def _exchange(self, target: Target, request: bytes, head_only: bool) -> Response:
        loop = asyncio.get_running_loop()
        fresh = False
        while True:
            conn, reused = await self._pool.acquire(
                target.origin, lambda: self._connect(target), fresh
            )
            try:
                response = await conn.exchange(request, head_only)
            except ConnectionLost as exc:
                self._pool.discard(conn)
                if reused and not exc.answered and not fresh:
                    fresh = True  # the server closed an idle connection as we wrote: once more
                    continue
                raise
            except BaseException:
                self._pool.discard(conn)
                raise
            self._pool.release(conn, loop.time())
            return response

    async def _connect(self, target: Target) -> Connection:
        scheme, host, port = target.origin
        addresses = [target.address] if target.address else await self._addresses(host, port)
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        errors = []
        for address in addresses:
            try:
                _, conn = await loop.create_connection(
                    lambda: Connection(target.origin, MAX_RESPONSE_BODY),
                    address,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
                return conn
            except OSError as exc:
                errors.append(f"{address}: {exc.strerror or exc}")
        raise OSError(f"cannot connect to {host}:{port} ({'; '.join(errors)})")

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host` the policy allows; EgressRefused when there are none."""
        loop = asyncio.get_running_loop()
        cached = self._dns.get(host)
        if cached is None or cached[0] < loop.time():
            found = await self._resolve(host, port)
            if not found:
                raise OSError(f"{host} has no address")
            allowed = [a for a in found if self._egress.refusal(host, a) is None]
            verdict: list[str] | str = allowed
            if not allowed:
                reasons = sorted({str(self._egress.refusal(host, a)) for a in found})
                verdict = f"{host} resolves only to refused addresses: {'; '.join(reasons)}"
            if len(self._dns) > 4096:
                self._dns.clear()
            cached = self._dns[host] = (loop.time() + DNS_TTL, verdict)
        if isinstance(cached[1], str):
            raise EgressRefused(cached[1])
        return cached[1]
