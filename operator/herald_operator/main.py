"""`herald operator`: run kopf with Herald's handlers (herald_operator.handlers).

Watches every namespace unless `--namespace` narrows it; finds the cluster through the
in-cluster service account or $KUBECONFIG (kopf's login handlers), and Redis through
HERALD_REDIS_URL. One replica runs `--standalone` (the default); several run active/standby
with `--peering NAME` (a KopfPeering object, as kopf documents). Features that read Secrets
are registered only when their setting is on (HERALD_NAMESPACE_TOKENS), so the operator
needs RBAC on Secrets only then. Prometheus metrics on HERALD_METRICS_PORT
(herald_operator.metrics).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence

import kopf

from herald_core.settings import Settings

logger = logging.getLogger(__name__)
#: Random peering priorities are drawn from [1, this).
PRIORITY_RANGE = 2**31


def peering_priority(priority: int | None) -> int:
    """The given priority, else a random one. kopf pauses *every* operator of a peering
    when two share the highest priority ("Possibly conflicting operators with the same
    priority"), so replicas of one Deployment, which all get the same arguments, must not
    share one: kopf's peering docs suggest a random priority per process."""
    return priority if priority is not None else 1 + secrets.randbelow(PRIORITY_RANGE - 1)


def run(
    settings: Settings,
    *,
    namespaces: Sequence[str] = (),
    peering: str | None = None,
    priority: int | None = None,
    liveness: str = "http://0.0.0.0:8081/healthz",
) -> None:
    import herald_operator.handlers  # registers the handlers
    import herald_operator.metrics  # noqa: F401  (after them: it wraps them at start-up)
    from herald_operator import tokens

    if not settings.namespace_tokens:
        tokens.unregister(kopf.get_default_registry())  # then no Secret is listed or watched
    chosen = None
    if peering is not None:
        chosen = peering_priority(priority)
        logger.info("peering %r with priority %d", peering, chosen)
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            standalone=peering is None,
            peering_name=peering,
            priority=chosen,
            liveness_endpoint=liveness,
            memo=kopf.Memo(herald=settings, namespaces=tuple(namespaces)),
        )
    )
