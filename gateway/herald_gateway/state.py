"""What the lifespan builds and every route reads (`request.state`)."""

from __future__ import annotations

from typing import TypedDict

from herald_core.clock import Clock
from herald_core.settings import Settings
from herald_core.store import Store
from herald_gateway.keyring import KeyRing
from herald_gateway.metrics import Metrics
from herald_gateway.routing_cache import RoutingCache


class State(TypedDict):
    settings: Settings
    clock: Clock
    store: Store
    keyring: KeyRing
    metrics: Metrics
    routing: RoutingCache
