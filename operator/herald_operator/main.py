"""`herald operator`: run kopf with Herald's handlers (herald_operator.handlers).

Watches every namespace unless `--namespace` narrows it; finds the cluster through the
in-cluster service account or $KUBECONFIG (kopf's login handlers), and Redis through
HERALD_REDIS_URL. One replica runs `--standalone` (the default); several run active/standby
with `--peering NAME` (a KopfPeering object, as kopf documents).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import kopf

from herald_core.settings import Settings


def run(
    settings: Settings,
    *,
    namespaces: Sequence[str] = (),
    peering: str | None = None,
    liveness: str = "http://0.0.0.0:8081/healthz",
) -> None:
    import herald_operator.handlers  # noqa: F401  (registers the handlers)

    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            standalone=peering is None,
            peering_name=peering,
            liveness_endpoint=liveness,
            memo=kopf.Memo(herald=settings),
        )
    )
