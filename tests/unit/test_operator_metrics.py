"""herald_operator.metrics, pure: handler outcomes as labels, the wrapping of kopf's
registered Topic/Subscription handlers (and nothing else), objects counted by condition."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf
import pytest

from herald_operator.metrics import GROUP, VERSION, OperatorMetrics, instrument, outcome_of


def registry_with_handlers() -> tuple[kopf.OperatorRegistry, dict[str, Any]]:
    registry = kopf.OperatorRegistry()
    calls: dict[str, Any] = {}

    @kopf.on.create(GROUP, VERSION, "topics", registry=registry)
    async def topic_sync(**kwargs: Any) -> None:
        calls["topic"] = kwargs
        if kwargs.get("fail"):
            raise kwargs["fail"]

    @kopf.timer(GROUP, VERSION, "subscriptions", interval=60, registry=registry)
    def subscription_resync(**_: Any) -> str:
        return "done"

    @kopf.on.create("", "v1", "configmaps", registry=registry)
    async def not_ours(**_: Any) -> None:
        return None

    return registry, calls


def fns(registry: kopf.OperatorRegistry) -> dict[str, Any]:
    handlers = [*registry._changing.get_all_handlers(), *registry._spawning.get_all_handlers()]
    return {h.fn.__name__: h.fn for h in handlers}


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [(None, "ok"), (kopf.TemporaryError("later", delay=1), "retry"),
     (kopf.PermanentError("bad"), "failed"), (ValueError("x"), "error"),
     (asyncio.CancelledError(), "cancelled")],
)  # fmt: skip
def test_outcome_labels(exc: BaseException | None, outcome: str) -> None:
    assert outcome_of(exc) == outcome


def test_instrument_wraps_herald_handlers_once_and_records_them() -> None:
    registry, calls = registry_with_handlers()
    assert instrument(registry) == 2
    assert instrument(registry) == 0  # idempotent: a restarted operator wraps nothing twice
    wrapped = fns(registry)
    assert getattr(wrapped["topic_sync"], "__herald_observed__", False)
    assert getattr(wrapped["subscription_resync"], "__herald_observed__", False)
    assert not getattr(wrapped["not_ours"], "__herald_observed__", False)

    metrics = OperatorMetrics()
    memo = kopf.Memo({"operator-metrics": metrics})
    asyncio.run(wrapped["topic_sync"](memo=memo, name="orders"))
    assert calls["topic"]["name"] == "orders"  # kwargs reach the handler unchanged
    with pytest.raises(kopf.TemporaryError):
        asyncio.run(wrapped["topic_sync"](memo=memo, fail=kopf.TemporaryError("x", delay=1)))
    assert wrapped["subscription_resync"](memo=memo) == "done"
    text = metrics.render().decode()
    assert (
        'herald_operator_reconciles_total{handler="topic_sync",kind="Topic",outcome="ok"} 1.0'
        in text
    )
    assert (
        'herald_operator_reconciles_total{handler="topic_sync",kind="Topic",outcome="retry"} 1.0'
        in text
    )
    assert (
        'herald_operator_reconciles_total{handler="subscription_resync",kind="Subscription",'
        'outcome="ok"} 1.0'
    ) in text
    assert 'herald_operator_reconcile_duration_seconds_count{kind="Topic"} 2.0' in text


def test_objects_counted_by_condition_type_and_status() -> None:
    metrics = OperatorMetrics()
    ready = {"type": "Ready", "status": "True"}
    degraded = {"type": "Degraded", "status": "True"}
    metrics.observe("Topic", "shop", "a", {"conditions": [ready]})
    metrics.observe("Topic", "shop", "b", {"conditions": [{**ready, "status": "False"}]})
    metrics.observe("Subscription", "shop", "s", {"conditions": [ready, degraded]})
    metrics.observe("Subscription", "shop", "t", {"conditions": [ready]})
    metrics.observe("Subscription", "shop", "t", None, deleted=True)
    metrics.observe("Topic", "shop", "new", {})  # no status yet: counted nowhere
    text = metrics.render().decode()
    for line in (
        'herald_operator_objects{condition="Ready",kind="Topic",status="True"} 1.0',
        'herald_operator_objects{condition="Ready",kind="Topic",status="False"} 1.0',
        'herald_operator_objects{condition="Ready",kind="Subscription",status="True"} 1.0',
        'herald_operator_objects{condition="Degraded",kind="Subscription",status="True"} 1.0',
    ):
        assert line in text, line
