"""`herald dev` as `make dev` runs it: embedded Redis, credentials printed and kept, a
delivered message, and SIGTERM stopping the embedded Redis too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald_gateway.dev.embedded import free_port
from tests.support.gateway import REPO, wait_until
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def redis_children(parent: int) -> list[int]:
    """Pids of the redis-server processes `parent` started (Redis rewrites its command
    line, so they are found by parent pid)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        name, _, rest = stat.rpartition(")")[0], None, stat.rpartition(")")[2]
        if "redis-server" in name and int(rest.split()[1]) == parent:
            pids.append(int(proc.name))
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_dev_delivers_and_stops_its_redis(tmp_path: Path, receiver: Receiver) -> None:
    port, data_dir = free_port(), tmp_path / "data"
    command = [sys.executable, "-m", "herald_gateway.cli", "dev", "--port", str(port),
               "--data-dir", str(data_dir)]  # fmt: skip
    with (tmp_path / "dev.log").open("wb") as log:
        dev = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base), 20, what=f"herald dev on {base}")
        lines = (tmp_path / "dev.log").read_text().splitlines()
        token = next(line.split("=", 1)[1] for line in lines if line.startswith("HERALD_TOKEN="))
        path = receiver.new_path()
        response = httpx.post(f"{base}/v2/publish/{receiver.url(path)}", content=b"hello",
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert response.status_code == 200
        assert receiver.wait_for(path, 1)[0].body == b"hello"
        [redis_pid] = redis_children(dev.pid)
        dev.terminate()
        assert dev.wait(timeout=30) == 0
        assert not alive(redis_pid)  # the embedded Redis went with it
        aof = list((data_dir / "redis").glob("appendonly*"))
        assert aof, "the AOF is kept"  # appendonly.aof (Redis 6) or appendonlydir (7+)
    finally:
        dev.kill()
        dev.wait()


def _sample(client: httpx.Client) -> dict[str, Any]:
    """The `sample` Subscription of shop/orders as the console shows it."""
    topics = client.get("/console/api/topics")
    assert topics.status_code == 200, topics.text
    for topic in topics.json():
        for sub in topic["subscriptions"]:
            if (topic["id"], sub["name"]) == ("shop/orders", "sample"):
                return dict(sub)
    return {}


def _sample_dead_letters(client: httpx.Client) -> list[dict[str, Any]]:
    return [m for m in client.get("/v2/dlq").json()["messages"]
            if m.get("endpointName") == "sample"]  # fmt: skip


def test_dev_sample_receiver_delivers_and_dead_letters(tmp_path: Path) -> None:
    """The example topic's `sample` Subscription reaches the built-in receiver; a body
    asking it to fail ends in the DLQ, as a newcomer sees in the console."""
    port = free_port()
    command = [sys.executable, "-m", "herald_gateway.cli", "dev", "--port", str(port),
               "--data-dir", str(tmp_path / "data")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'gateway'}{os.pathsep}{REPO / 'operator'}"}
    with (tmp_path / "dev.log").open("wb") as log:
        dev = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base), 20, what=f"herald dev on {base}")
        lines = (tmp_path / "dev.log").read_text().splitlines()
        token = next(line.split("=", 1)[1] for line in lines if line.startswith("HERALD_TOKEN="))
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            wait_until(lambda: _sample(client), 20, what="the sample Subscription")
            assert client.post("/v2/publish/shop/orders", json={"order": 1}).status_code == 200
            wait_until(lambda: _sample(client).get("delivered") == 1, 20, what="a delivery")
            assert client.post("/v2/publish/shop/orders", json={"fail": True}).status_code == 200
            wait_until(lambda: _sample_dead_letters(client), 30, what="a dead letter")
    finally:
        dev.terminate()
        dev.wait(timeout=30)
