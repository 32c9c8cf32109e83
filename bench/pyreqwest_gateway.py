"""`herald gateway` with deliveries through pyreqwest instead of aiohttp: a benchmark
prototype, not a product path (``python -m bench.pipeline --gateway-module
bench.pyreqwest_gateway`` with pyreqwest on PYTHONPATH).

What it keeps of `herald_gateway.delivery.sender.AiohttpSender`: one pooled client per
process, no redirects followed, a per-attempt timeout, the response body capped at
MAX_RESPONSE_BODY (here by truncating a fully read body, not by a bounded read), and the
egress check on IP-literal hosts before the request. What it does NOT do: judge the
addresses a host *name* resolves to. pyreqwest 0.15 exposes no resolver hook (only static
``ClientBuilder.resolve(domain, ip, port)`` entries), so this prototype refuses every name;
docs/benchmarks.md says what a real swap would take.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

from yarl import URL

from herald_core.egress import EgressPolicy, policy_for
from herald_core.logs import configure_logging
from herald_core.settings import Settings
from herald_gateway.delivery.sender import MAX_RESPONSE_BODY, Failure, Reply, _looks_like_ip


class PyreqwestSender:
    def __init__(self, *, max_connections: int, egress: EgressPolicy) -> None:
        from pyreqwest.client import ClientBuilder

        self._egress = egress
        self._literals: dict[str, str | None] = {}
        self._client: Any = (
            ClientBuilder()
            .max_connections(max_connections)
            .pool_max_idle_per_host(max_connections)
            .follow_redirects(False)
            .http1_only()
            .no_proxy()
            .gzip(False)
            .build()
        )

    def _refusal(self, url: str) -> str | None:
        host = URL(url, encoded=True).raw_host or ""
        if not _looks_like_ip(host):
            return "host names are not supported by this prototype (no resolver hook)"
        if host not in self._literals:
            self._literals[host] = self._egress.literal_refusal(host)
        return self._literals[host]

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Reply | Failure:
        from pyreqwest.exceptions import PyreqwestError, RequestTimeoutError

        problem = self._refusal(url)
        if problem is not None:
            return Failure(f"egress refused: {problem}", retryable=False)
        try:
            request = (self._client.request(method, url).headers(headers).body_bytes(body)
                       .timeout(timedelta(seconds=timeout)).build())  # fmt: skip
            response = await request.send()
            content = bytes(await response.bytes())[:MAX_RESPONSE_BODY]
            return Reply(int(response.status), dict(response.headers.items()), content)
        except RequestTimeoutError:
            return Failure(f"timeout after {timeout:g}s", timed_out=True)
        except (PyreqwestError, OSError, ValueError) as exc:
            return Failure(f"{exc.__class__.__name__}: {exc}")

    async def aclose(self) -> None:
        await self._client.close()


def main() -> None:
    import uvicorn

    from herald_gateway.api.limits import slow_client_protocol
    from herald_gateway.app import create_app
    from herald_gateway.cli import listen

    # pyreqwest completes requests on its own (tokio) thread, which then needs the GIL;
    # BENCH_SWITCH_INTERVAL (s) shortens how long it may wait for a busy event loop.
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)

    def sender(s: Settings) -> PyreqwestSender:
        return PyreqwestSender(max_connections=s.concurrency, egress=policy_for(s))

    app = create_app(settings, sender_factory=sender)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, loop="uvloop",
                            http=slow_client_protocol(settings.read_timeout), lifespan="on",
                            access_log=False, log_config=None)  # fmt: skip
    uvicorn.Server(config).run(sockets=[listen(settings.host, settings.port)])


if __name__ == "__main__":
    main()
