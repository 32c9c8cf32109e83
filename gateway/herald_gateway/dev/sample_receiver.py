"""`herald dev`'s sample receiver: an HTTP endpoint on localhost that the example topic's
`sample` Subscription delivers to, so messages flow (and show in the console) at once.

It answers 200, except — so a newcomer can watch a message fail and dead-letter — 500 to a
path ending in `/fail` and to a body holding `"fail": true`. It logs what it got (id and
size, never the body).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

#: The Subscription `herald dev` adds beside the example manifests (Topic shop/orders).
SAMPLE = ("shop", "sample")
SAMPLE_TOPIC = "orders"


def sample_subscription(port: int) -> dict[str, Any]:
    """The spec of the `sample` Subscription: two quick retries, then the DLQ."""
    return {
        "topic": SAMPLE_TOPIC,
        "endpoint": {"url": f"http://127.0.0.1:{port}/hooks/orders"},
        "delivery": {"retries": 2, "retryDelay": "1000"},
    }


def fails(path: str, body: bytes) -> bool:
    compact = body.replace(b" ", b"")
    return path.rstrip("/").endswith("/fail") or b'"fail":true' in compact


async def _handle(request: web.Request) -> web.Response:
    body = await request.read()
    failing = fails(request.path, body)
    logger.info("sample receiver: %s %s, message %s, %d bytes -> %d", request.method,
                request.path, request.headers.get("Upstash-Message-Id", "-"), len(body),
                500 if failing else 200)  # fmt: skip
    if failing:
        return web.json_response({"error": "failing on purpose"}, status=500)
    return web.json_response({"ok": True})


def start_in_thread(port: int) -> threading.Thread:
    """Serve on 127.0.0.1:`port` from a daemon thread, for the life of the process."""
    ready = threading.Event()

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()  # until the process exits

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="herald-sample",
                              daemon=True)  # fmt: skip
    thread.start()
    ready.wait(10)
    return thread
