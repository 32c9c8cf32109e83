"""The outbound HTTP client behind one small interface (`Sender`): the delivery hot path.

Two implementations, chosen by `HERALD_HTTP_CLIENT`: `h1_sender.H1Sender` (the default: a
lean HTTP/1.1 client on asyncio transports and httptools, about a third of aiohttp's CPU per
request and a quarter less CPU per delivered message in the whole gateway, docs/benchmarks.md
"A lean HTTP/1.1 client") and `AiohttpSender` here (aiohttp's pooled client, which sustained
far more concurrent requests per CPU than httpx's, "Outbound HTTP client"); tests and
benchmarks can pass any other `Sender`. Both enforce the egress policy (herald_core.egress)
at connect time, on the addresses actually dialled; here `EgressResolver` filters what DNS
answers (so a name re-pointed at a metadata address is caught), and IP-literal hosts, which
aiohttp never hands to a resolver, are judged before the request. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from herald_core.egress import EgressPolicy
from herald_core.errors import EgressRefused

#: Most response-body bytes kept for logs, the DLQ and callbacks.
MAX_RESPONSE_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """What the destination answered."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Failure:
    """No answer: connection refused or reset, DNS failure, or the timeout passed.

    `retryable` is False when trying again cannot help: the egress policy refused the target.
    """

    error: str
    timed_out: bool = False
    retryable: bool = True


class Sender(Protocol):
    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Reply | Failure: ...

    async def aclose(self) -> None: ...


class EgressResolver(AbstractResolver):
    """Wraps a resolver and drops every address the egress policy refuses.

    aiohttp connects only to the addresses a resolver returns (and caches them as returned),
    so the check and the connection see the same addresses: resolve-then-pin.
    """

    def __init__(self, policy: EgressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        problem = self._policy.host_refusal(host)  # a denied name is not even looked up
        if problem is not None:
            raise EgressRefused(problem)
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._policy.refusal(host, r["host"]) is None]
        if not allowed:
            reasons = sorted({str(self._policy.refusal(host, r["host"])) for r in results})
            raise EgressRefused(f"{host} resolves only to refused addresses: {'; '.join(reasons)}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _looks_like_ip(host: str) -> bool:
    """aiohttp's own test for "an address, do not resolve" (aiohttp.helpers.is_ip_address)."""
    return ":" in host or host.replace(".", "").isdigit()


class AiohttpSender:
    """One pooled keep-alive aiohttp session per worker process; redirects are not followed."""

    def __init__(
        self,
        *,
        max_connections: int,
        egress: EgressPolicy | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._egress = egress if egress is not None else EgressPolicy()
        #: Verdicts on IP-literal hosts (the policy is fixed for the life of the sender).
        self._literals: dict[str, str | None] = {}
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            limit_per_host=0,
            ttl_dns_cache=10,
            resolver=EgressResolver(self._egress, resolver),
        )
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )

    def _literal_refusal(self, target: URL) -> str | None:
        host = target.raw_host or ""
        if not _looks_like_ip(host):
            return None  # a name: EgressResolver judges what it resolves to
        if host not in self._literals:
            if len(self._literals) > 4096:
                self._literals.clear()
            self._literals[host] = self._egress.literal_refusal(host)
        return self._literals[host]

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Reply | Failure:
        skip = () if "Content-Type" in headers else ("Content-Type",)
        try:
            target = URL(url, encoded=True)  # deliver the URL exactly as signed
            problem = self._literal_refusal(target)
            if problem is not None:
                return Failure(f"egress refused: {problem}", retryable=False)
            async with self._session.request(
                method,
                target,
                data=body,
                headers=headers,
                skip_auto_headers=skip,
                allow_redirects=False,  # a 3xx is the destination's answer (a failure)
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                content = await response.content.read(MAX_RESPONSE_BODY)
                headers = {str(name): value for name, value in response.headers.items()}
                return Reply(response.status, headers, content)
        except TimeoutError:
            return Failure(f"timeout after {timeout:g}s", timed_out=True)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, EgressRefused):
                return Failure(f"egress refused: {exc.os_error}", retryable=False)
            return Failure(f"{exc.__class__.__name__}: {exc}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Failure(f"{exc.__class__.__name__}: {exc}" if str(exc) else repr(exc))

    async def aclose(self) -> None:
        await self._session.close()
        await asyncio.sleep(0)  # let the connector close its transports
