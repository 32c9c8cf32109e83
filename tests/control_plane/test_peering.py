"""Two `herald operator --peering` processes (as a Deployment with two replicas runs them,
same arguments) against the emulated API server: they must not tie on priority, which
would make kopf pause both, so exactly one works and Topics still become Ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from herald_gateway.dev.embedded import free_port
from herald_operator.main import PRIORITY_RANGE, peering_priority
from tests.support.gateway import REPO, wait_until
from tests.support.kube import GROUP, KubeServer

pytestmark = pytest.mark.integration
PEERING = "herald"


def test_peering_priority_is_random_unless_given() -> None:
    assert peering_priority(7) == 7
    drawn = {peering_priority(None) for _ in range(50)}
    assert len(drawn) == 50 and all(1 <= p < PRIORITY_RANGE for p in drawn)


@pytest.fixture
def start_operator(
    kube: KubeServer, operator_env: str, tmp_path: Path
) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    started: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'gateway'}{os.pathsep}{REPO / 'operator'}"}

    def start(*args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"operator-{len(started)}.log"
        liveness = f"http://127.0.0.1:{free_port()}/healthz"
        command = [sys.executable, "-m", "herald_gateway.cli", "operator", "--peering", PEERING,
                   "--liveness", liveness, *args]  # fmt: skip
        with log.open("wb") as out:
            started.append(subprocess.Popen(command, env=env, stdout=out, stderr=out))
        return started[-1], log

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peers(kube: KubeServer) -> dict[str, Any]:
    obj = kube.get("kopf.dev/v1", "clusterkopfpeerings", "", PEERING) or {}
    return dict(obj.get("status") or {})


def test_two_replicas_elect_one_active_operator(kube: KubeServer, start_operator) -> None:
    kube.create("kopf.dev/v1", "clusterkopfpeerings", {
        "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
        "metadata": {"name": PEERING}})  # fmt: skip
    first, first_log = start_operator("--priority", "5")
    second, second_log = start_operator()  # a random priority, as every chart replica gets
    wait_until(lambda: len(peers(kube)) == 2, timeout=30, what="both operators in the peering")
    priorities = sorted(p["priority"] for p in peers(kube).values())
    assert 5 in priorities and len(set(priorities)) == 2, priorities

    kube.create(GROUP, "topics", {"apiVersion": GROUP, "kind": "Topic",
                                  "metadata": {"name": "orders", "namespace": "shop"}})  # fmt: skip
    kube.wait_condition("topics", "shop", "orders", "Ready", "True", timeout=30)
    # (Whether the lower one has paused yet depends on when the emulator's watch hands it the
    # other's keepalive; what must never happen is the tie that pauses both.)
    logs = first_log.read_text() + second_log.read_text()
    assert "Pausing all operators, including self" not in logs
    assert first.poll() is None and second.poll() is None
