"""The real operator (kopf, in-process through KopfRunner) against the emulated API server
(tests.support.kube) and a real Redis."""

from __future__ import annotations

import contextlib
import gc
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import kubernetes.config.kube_config
import pytest
import redis
from kopf.testing import KopfRunner

from tests.support.kube import KubeServer

RESYNC = 0.5


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeServer]:
    server = KubeServer().start()
    config = server.kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(config))
    # the kubernetes client read $KUBECONFIG once, at import
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config))
    yield server
    server.stop()
    _collect_leftovers()


def _collect_leftovers() -> None:
    """kopf, stopped from another thread by KopfRunner, leaves its API session and the
    operator's Redis pool to the garbage collector: collect them now, quietly, rather than
    as unraisable ResourceWarnings in whichever test runs next."""
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, ResourceWarning):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    finally:
        sys.unraisablehook = previous


@pytest.fixture
def operator_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HERALD_REDIS_URL", redis_url)
    monkeypatch.setenv("HERALD_OPERATOR_RESYNC_INTERVAL", str(RESYNC))
    monkeypatch.setenv("HERALD_PUBLIC_URL", "http://herald.test")
    monkeypatch.setenv("HERALD_SHARDS", "4")
    monkeypatch.setenv("HERALD_METRICS_PORT", "0")  # several operators may run side by side
    return redis_url


@pytest.fixture
def run_operator(
    kube: KubeServer, operator_env: str
) -> Callable[[], AbstractContextManager[KopfRunner]]:
    """`with run_operator():` runs the operator until the block ends (restartable)."""

    @contextlib.contextmanager
    def start() -> Iterator[KopfRunner]:
        args = ["run", "--standalone", "--all-namespaces", "-m", "herald_operator.handlers"]
        with KopfRunner(args, timeout=30) as runner:
            yield runner
        _collect_leftovers()

    return start


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
