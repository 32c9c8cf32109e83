"""Time for the real operator (kopf, under KopfRunner) to bring N Subscriptions of one Topic
to Ready against the emulated API server (tests.support.kube) and a real Redis.

The emulator runs in a process of its own (`--serve-emulator`), so it and the operator do
not share one interpreter lock; each process's CPU time is reported, which shows which of
the two is the bottleneck. The clock starts once the Topic has its routing table (the operator
is up and watching) and the Subscriptions are created one by one; it stops when each reports
Ready=True (polled every `--poll` seconds) or at `--deadline`, whichever comes first. With
`--existing`, the objects are created first and the clock starts with the operator, which
takes the emulator's object creation out of the figure.

Loopback only, bounded. Run: `python -m bench.operator_ready [--subs 1000] [--existing]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import kubernetes.config.kube_config
import redis
from kopf.testing import KopfRunner
from tests.support.kube import GROUP, KubeServer

from herald_core.keys import Keys
from herald_gateway.dev.embedded import RedisServer

SUBS = f"/apis/{GROUP}/namespaces/shop/subscriptions"
TOPIC = {"apiVersion": GROUP, "kind": "Topic", "metadata": {"name": "orders", "namespace": "shop"}}


def serve_emulator() -> None:
    """Child process: the emulator until stdin closes; its URL on the first stdout line.
    Each `writes` line on stdin is answered with the writes it served so far (JSON, by
    "<action> <plural>[/<subresource>]"); at the end, its CPU seconds."""
    kube = KubeServer().start()
    print(kube.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "writes":
            print(json.dumps(dict(kube.emulator.writes)), flush=True)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{cpu.ru_utime + cpu.ru_stime:.1f}", flush=True)
    kube.stop()


def kubeconfig(url: str, path: Path) -> Path:
    server = KubeServer()
    server.url = url
    return server.kubeconfig(path)


def ready_count(client: httpx.Client) -> int:
    items = client.get(SUBS, timeout=120).json()["items"]
    return sum(any(c["type"] == "Ready" and c["status"] == "True"
                   for c in i.get("status", {}).get("conditions", []))
               for i in items)  # fmt: skip


def subscription(i: int) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "Subscription",
            "metadata": {"name": f"s{i:05d}", "namespace": "shop"},
            "spec": {"topic": "orders", "endpoint": {"url": f"http://s{i}.svc/h"}}}  # fmt: skip


def create(client: httpx.Client, count: int) -> None:
    for i in range(count):
        client.post(SUBS, json=subscription(i)).raise_for_status()


def wait_ready(
    client: httpx.Client, rclient: redis.Redis, args: argparse.Namespace, start: float
) -> str:
    """Poll until every Subscription is Ready (or the deadline); the figures as text."""
    table = Keys("herald", 4).routing.table("shop/orders")
    routed_at, ready, deadline = None, 0, start + args.deadline
    while time.perf_counter() < deadline:
        if routed_at is None and rclient.hlen(table) - 1 >= args.subs:
            routed_at = time.perf_counter() - start
        ready = ready_count(client)
        if ready >= args.subs:
            break
        time.sleep(args.poll)
    took = time.perf_counter() - start
    routed = f"{routed_at:.1f}s" if routed_at is not None else "not within the deadline"
    return (f"all routed in Redis after {routed}; {ready}/{args.subs} Ready after {took:.1f}s "
            f"({ready / took:.1f}/s)")  # fmt: skip


def measure(client: httpx.Client, rclient: redis.Redis, args: argparse.Namespace) -> str:
    """Subscriptions created while the operator runs. The figures, as one line (KopfRunner
    captures stdout while the operator runs)."""
    client.post(f"/apis/{GROUP}/namespaces/shop/topics", json=TOPIC).raise_for_status()
    table = Keys("herald", 4).routing.table("shop/orders")
    while not rclient.exists(table):  # the operator is up and has synced the Topic
        time.sleep(0.1)
    cpu0, start = time.process_time(), time.perf_counter()
    create(client, args.subs)
    created = time.perf_counter() - start
    figures = wait_ready(client, rclient, args, start)
    cpu = time.process_time() - cpu0
    return (
        f"{args.subs} Subscriptions created in {created:.1f}s one by one; {figures}; "
        f"operator process CPU {cpu:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--existing", action="store_true",
                        help="create the objects first, then start the operator")  # fmt: skip
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=1200.0)
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator()
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis", appendfsync=None)
        server.start()
        emulator = subprocess.Popen([sys.executable, "-m", "bench.operator_ready",
                                     "--serve-emulator"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert emulator.stdout is not None and emulator.stdin is not None
        url = emulator.stdout.readline().strip()
        config = kubeconfig(url, Path(tmp) / "kubeconfig")
        os.environ.update(KUBECONFIG=str(config), HERALD_REDIS_URL=server.url, HERALD_SHARDS="4",
                          HERALD_OPERATOR_RESYNC_INTERVAL="3600")  # fmt: skip
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(config)
        client = httpx.Client(base_url=url, timeout=60)
        rclient = redis.Redis.from_url(server.url)
        try:
            argv = ["run", "--standalone", "-A", "-m", "herald_operator.handlers", "--quiet"]
            if args.existing:
                client.post(f"/apis/{GROUP}/namespaces/shop/topics", json=TOPIC)
                create(client, args.subs)
            cpu0, start = time.process_time(), time.perf_counter()
            with KopfRunner(argv, timeout=args.deadline + 60):
                if args.existing:
                    figures = f"operator started on {args.subs} existing Subscriptions: "
                    figures += wait_ready(client, rclient, args, start)
                    figures += f"; operator process CPU {time.process_time() - cpu0:.1f}s"
                else:
                    figures = measure(client, rclient, args)
            print(figures, flush=True)
        finally:
            client.close()
            rclient.close()
            emulator.stdin.close()
            print(f"emulator process CPU {emulator.stdout.readline().strip()}s", flush=True)
            emulator.wait(30)
            server.stop()


if __name__ == "__main__":
    main()
