"""The outbound HTTP client behind one small interface: the delivery hot path.

aiohttp's pooled client is used because it sustained far more concurrent requests per CPU
than httpx's on this workload (docs/benchmarks.md, "Outbound HTTP client"); tests and
benchmarks can pass any other `Sender`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from yarl import URL

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
    """No answer: connection refused or reset, DNS failure, or the timeout passed."""

    error: str
    timed_out: bool = False


class Sender(Protocol):
    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Reply | Failure: ...

    async def aclose(self) -> None: ...


class AiohttpSender:
    """One pooled keep-alive aiohttp session per worker process; redirects are not followed."""

    def __init__(self, *, max_connections: int) -> None:
        connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, ttl_dns_cache=10)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Reply | Failure:
        skip = () if "Content-Type" in headers else ("Content-Type",)
        try:
            async with self._session.request(
                method,
                URL(url, encoded=True),  # deliver the URL exactly as signed
                data=body,
                headers=headers,
                skip_auto_headers=skip,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                content = await response.content.read(MAX_RESPONSE_BODY)
                headers = {str(name): value for name, value in response.headers.items()}
                return Reply(response.status, headers, content)
        except TimeoutError:
            return Failure(f"timeout after {timeout:g}s", timed_out=True)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Failure(f"{exc.__class__.__name__}: {exc}" if str(exc) else repr(exc))

    async def aclose(self) -> None:
        await self._session.close()
        await asyncio.sleep(0)  # let the connector close its transports
