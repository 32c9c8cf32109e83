"""What the lifespan builds and every route reads (`request.state`)."""

from __future__ import annotations

from typing import TypedDict

from herald_core.settings import Settings
from herald_core.store import Store
from herald_gateway.keyring import KeyRing
from herald_gateway.metrics import Metrics
from herald_gateway.routing_cache import RoutingCache
from herald_gateway.worker import Worker


class State(TypedDict):
    settings: Settings
    store: Store
    keyring: KeyRing
    metrics: Metrics
    worker: Worker | None
    routing: RoutingCache
