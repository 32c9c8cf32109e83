"""Workflow endpoints written with the official Python Workflow SDK (`upstash-workflow`),
served by a local Starlette app on its own thread (the `workflow_app` fixture), and a run's
stored record."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from herald_core.keys import Keys
from herald_core.workflows import run_shard
from herald_gateway.dev.embedded import free_port
from tests.support.gateway import CURRENT_KEY, NEXT_KEY, TOKEN, wait_until

Route = Callable[[Any], Any]


@dataclass
class WorkflowApp:
    """Workflow endpoints (`serve(path, route)`) in a uvicorn server on its own thread."""

    gateway_url: str
    port: int = field(default_factory=free_port)
    routes: dict[str, Any] = field(default_factory=dict)
    clients: list[Any] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, route: Route, **options: Any) -> str:
        """Serve `route` at `path` (`options`: more of `async_serve`'s, e.g. retries)."""
        from qstash import AsyncQStash, Receiver as SignatureReceiver
        from upstash_workflow import async_serve

        client = AsyncQStash(TOKEN, base_url=self.gateway_url)
        self.clients.append(client)
        self.routes[path] = async_serve(
            route,
            qstash_client=client,
            receiver=SignatureReceiver(current_signing_key=CURRENT_KEY,
                                       next_signing_key=NEXT_KEY),
            url=self.url(path),
            env={},
            **options,
        )["handler"]  # fmt: skip
        return self.url(path)

    def start(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route as StarletteRoute

        async def endpoint(request: Request) -> Response:
            answer = await self.routes[request.url.path](request)
            return Response(answer.body, answer.status, headers=answer.headers)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            for client in self.clients:  # their connections belong to this loop
                await client.http._client.aclose()

        app = Starlette(routes=[StarletteRoute("/{path:path}", endpoint, methods=["POST"])],
                        lifespan=lifespan)  # fmt: skip
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                loop="asyncio", lifespan="on")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, what="the workflow endpoint")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def run_state(redis_url: str, run_id: str) -> dict[Any, Any]:
    """The run's stored record (herald_core.keys, `wr:<run id>`), as strings."""
    key = Keys("herald", 16).shard(run_shard(run_id, 16)).run(run_id)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return client.hgetall(key)
    finally:
        client.close()
