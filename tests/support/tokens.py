"""Namespace tokens as the operator stores them (a token Secret's hash in the routing
tables), for tests that sign in with one without running the operator."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore


def add_namespace_token(redis_url: str, namespace: str, token: str) -> None:
    async def add() -> None:
        redis = Redis.from_url(redis_url)
        try:
            await RoutingStore(redis, Keys("herald", 16)).sync_tokens(f"{namespace}/t", [token])
        finally:
            await redis.aclose()

    asyncio.run(add())
