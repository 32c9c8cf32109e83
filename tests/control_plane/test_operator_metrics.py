"""The operator's /metrics (herald_operator.metrics) through the real operator: after
reconciles it serves their counts and durations by kind and handler, and the objects by
condition as the API server holds them."""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator

import httpx
import pytest
from kopf.testing import KopfRunner

from herald_gateway.dev.embedded import free_port
from tests.control_plane.conftest import _collect_leftovers
from tests.control_plane.test_operator import TOPIC, subscription
from tests.support.gateway import wait_until
from tests.support.kube import GROUP, KubeServer

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def operator_with_metrics(port: int) -> Iterator[KopfRunner]:
    args = ["run", "--standalone", "--all-namespaces",
            "-m", "herald_operator.handlers", "-m", "herald_operator.metrics"]  # fmt: skip
    with KopfRunner(args, timeout=30) as runner:
        yield runner
    _collect_leftovers()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series of a Prometheus text page (labels matched exactly)."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if found == labels:
            return float(match[3])
    return None


def test_metrics_count_reconciles_and_objects_by_condition(
    kube: KubeServer, operator_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("HERALD_METRICS_PORT", str(port))
    monkeypatch.setenv("HERALD_HOST", "127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"
    with operator_with_metrics(port):
        kube.create(GROUP, "topics", copy.deepcopy(TOPIC))
        kube.create(GROUP, "subscriptions", subscription("billing", "http://billing/h"))
        kube.create(GROUP, "subscriptions", subscription("lost", "http://lost/h", topic="gone"))
        kube.wait_condition("subscriptions", "shop", "billing", "Ready", "True")
        kube.wait_condition("subscriptions", "shop", "lost", "Ready", "False")

        def scraped() -> str | None:
            text = httpx.get(url, timeout=5).text
            ready = sample(text, "herald_operator_objects", kind="Subscription",
                           condition="Ready", status="True")  # fmt: skip
            synced = sample(text, "herald_operator_reconciles_total", kind="Subscription",
                            handler="subscription_sync", outcome="ok")  # fmt: skip
            return text if ready == 1 and (synced or 0) >= 2 else None

        text = wait_until(scraped, what="metrics of the reconciles")
        assert httpx.get(url.replace("/metrics", "/healthz"), timeout=5).status_code == 404
    ok = sample(text, "herald_operator_reconciles_total", kind="Topic", handler="topic_sync",
                outcome="ok")  # fmt: skip
    assert ok is not None and ok >= 1
    count = sample(text, "herald_operator_reconcile_duration_seconds_count", kind="Topic")
    assert count is not None and count >= 1
    assert sample(text, "herald_operator_objects", kind="Topic", condition="Ready",
                  status="True") == 1  # fmt: skip
    assert sample(text, "herald_operator_objects", kind="Subscription", condition="Ready",
                  status="False") == 1  # fmt: skip
