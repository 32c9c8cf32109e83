"""Time for the real operator (kopf, KopfRunner) to bring N Subscriptions of one Topic to
Ready against the emulated API server (tests.support.kube) and a real Redis.

Loopback only, bounded. Run: `python -m bench.operator_ready [--subs 1000]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import kubernetes.config.kube_config
import redis
from kopf.testing import KopfRunner
from tests.support.gateway import wait_until
from tests.support.kube import GROUP, KubeServer

from herald_core.keys import Keys
from herald_gateway.embedded import RedisServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis", appendfsync=None)
        server.start()
        kube = KubeServer().start()
        config = kube.kubeconfig(Path(tmp) / "kubeconfig")
        os.environ.update(KUBECONFIG=str(config), HERALD_REDIS_URL=server.url, HERALD_SHARDS="4",
                          HERALD_OPERATOR_RESYNC_INTERVAL="600")  # fmt: skip
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(config)
        client = redis.Redis.from_url(server.url)
        table = Keys("herald", 4).routing.table("shop/orders")
        try:
            argv = ["run", "--standalone", "-A", "-m", "herald_operator.handlers", "--quiet"]
            with KopfRunner(argv, timeout=600):
                start = time.perf_counter()
                kube.create(GROUP, "topics", {"apiVersion": GROUP, "kind": "Topic",
                            "metadata": {"name": "orders", "namespace": "shop"}})  # fmt: skip
                for i in range(args.subs):
                    kube.create(GROUP, "subscriptions", {
                        "apiVersion": GROUP, "kind": "Subscription",
                        "metadata": {"name": f"s{i:04d}", "namespace": "shop"},
                        "spec": {"topic": "orders",
                                 "endpoint": {"url": f"http://s{i}/h"}}})  # fmt: skip
                created = time.perf_counter() - start

                def ready() -> bool:
                    items = kube.client.get(
                        f"/apis/{GROUP}/namespaces/shop/subscriptions").json()["items"]  # fmt: skip
                    return bool(sum(any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in i.get("status", {}).get("conditions", []))
                               for i in items) == args.subs)  # fmt: skip

                wait_until(ready, timeout=900, interval=0.5)
                took = time.perf_counter() - start
                entries = client.hlen(table) - 1
                print(
                    f"{args.subs} Subscriptions created in {created:.1f}s; all Ready after "
                    f"{took:.1f}s ({args.subs / took:.0f}/s); {entries} routing entries"
                )
        finally:
            client.close()
            kube.stop()
            server.stop()


if __name__ == "__main__":
    main()
