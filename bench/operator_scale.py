"""The operator at scale (issue 13): S Subscriptions over T Topics against the emulated API
server, then a quiet steady state, then one change.

Measures, for the code under `--code` (default: this checkout; point it at another
checkout to compare, it is only read):
- time from the operator's start until every Subscription is Ready (objects created first);
- the operator process's CPU seconds and peak RSS;
- over `--intervals` resync intervals in which nothing changes: API writes/min (what the
  emulator served: status PATCHes, Events, ...), Redis writes/min (write commands, those
  inside Lua scripts included, and PUBLISH; `INFO commandstats`), and routing reloads/min
  of a gateway (its `herald_routing_reloads_total`, where the code has it; and, for any
  code, the routing version key's moves per gateway refresh window, which is what makes a
  gateway of the old code re-read every table and token);
- the cost of one change (one Subscription's URL edited): writes caused, and the time until
  a gateway routes by it (probed with publishes delayed by an hour, so nothing is sent).

The emulator runs in a process of its own (bench.operator_ready), the operator and the
gateway (API role only: a worker's own housekeeping writes to Redis by design) are real
processes. Run: `python -m bench.operator_scale [--subscriptions 10000] [--topics 100]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis
from tests.support import redis_stats
from tests.support.gateway import CURRENT_KEY, NEXT_KEY, TOKEN
from tests.support.kube import GROUP

from bench.operator_ready import kubeconfig as write_kubeconfig
from herald_core.keys import Keys
from herald_gateway.dev.embedded import RedisServer, free_port

HERE = Path(__file__).resolve().parents[1]
NS = "/apis/herald.dev/v1alpha1/namespaces/shop"


def emulator() -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, "-m", "bench.operator_ready", "--serve-emulator"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def api_writes(child: subprocess.Popen[str]) -> Counter[str]:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("writes\n")
    child.stdin.flush()
    return Counter(json.loads(child.stdout.readline()))


def create_objects(client: httpx.Client, topics: int, subs: int) -> None:
    for t in range(topics):
        client.post(f"{NS}/topics", json={"apiVersion": GROUP, "kind": "Topic",
                    "metadata": {"name": f"t{t:03d}"}, "spec": {}}).raise_for_status()  # fmt: skip
    for i in range(subs):
        body = {
            "apiVersion": GROUP,
            "kind": "Subscription",
            "metadata": {"name": f"s{i:05d}"},
            "spec": {"topic": f"t{i % topics:03d}", "endpoint": {"url": f"http://s{i}.svc/h"}},
        }
        client.post(f"{NS}/subscriptions", json=body).raise_for_status()


def ready(client: httpx.Client) -> int:
    items = client.get(f"{NS}/subscriptions", timeout=300).json()["items"]
    return sum(any(c["type"] == "Ready" and c["status"] == "True"
                   for c in (i.get("status") or {}).get("conditions", []))
               for i in items)  # fmt: skip


def process_env(code: Path, redis_url: str, kubeconfig: Path, resync: float) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{code / 'gateway'}{os.pathsep}{code / 'operator'}",
            "PYTHONDONTWRITEBYTECODE": "1", "KUBECONFIG": str(kubeconfig),
            "HERALD_REDIS_URL": redis_url, "HERALD_SHARDS": "4",
            "HERALD_OPERATOR_RESYNC_INTERVAL": str(resync)}  # fmt: skip


def usage(pid: int) -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return cpu, int(peak.group(1)) / 1024 if peak else 0.0


class VersionWatch(threading.Thread):
    """Samples the routing version key; counts the gateway refresh windows in which it
    moved (each makes a gateway that reloads on any move re-read everything)."""

    def __init__(self, r: redis.Redis, refresh: float) -> None:
        super().__init__(daemon=True)
        self.r, self.refresh, self.moves, self.stop = r, refresh, 0, threading.Event()
        self.key = Keys("herald", 4).routing.version

    def run(self) -> None:
        last = self.r.get(self.key)
        while not self.stop.wait(self.refresh):
            now = self.r.get(self.key)
            self.moves += now != last
            last = now


#: The gateway's metrics listener (HERALD_METRICS_PORT); code older than that listener
#: (`--code` checkouts) serves /metrics on the API port instead.
METRICS_PORT = free_port()


def reloads(gateway: httpx.Client) -> Counter[str]:
    try:
        text = httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10).text
    except httpx.HTTPError:
        text = gateway.get("/metrics").text
    found = re.findall(r'herald_routing_reloads_total\{kind="(\w+)"\} ([0-9.]+)', text)
    return Counter({k: int(float(n)) for k, n in found})


def probe(gateway: httpx.Client, topic: str) -> set[str]:
    answer = gateway.post(f"/v2/publish/shop/{topic}", content=b"p",
                          headers={"Upstash-Delay": "1h"})  # fmt: skip
    return {m["url"] for m in answer.json()} if answer.status_code == 200 else set()


def steady(args: argparse.Namespace, child: subprocess.Popen[str], r: redis.Redis,
           gateway: httpx.Client) -> dict[str, Any]:  # fmt: skip
    window = args.intervals * args.resync
    redis_stats.reset(r)
    api0, reloads0 = api_writes(child), reloads(gateway)
    watch = VersionWatch(r, args.refresh)
    watch.start()
    time.sleep(window)  # a benchmark, not a test: it measures a fixed window
    watch.stop.set()
    api = api_writes(child) - api0
    per_min = 60 / window
    return {
        "window_s": window,
        "api_writes_per_min": round(sum(api.values()) * per_min, 1),
        "api_writes": dict(api),
        "redis_writes_per_min": round(sum(redis_stats.writes(r).values()) * per_min, 1),
        "redis_writes": redis_stats.writes(r),
        "gateway_reloads_per_min": {k: round(v * per_min, 1)
                                    for k, v in (reloads(gateway) - reloads0).items()},
        "version_moves_per_refresh_window": f"{watch.moves}/{int(window / args.refresh)}",
    }  # fmt: skip


def one_change(args: argparse.Namespace, child: subprocess.Popen[str], r: redis.Redis,
               client: httpx.Client, gateway: httpx.Client) -> dict[str, Any]:  # fmt: skip
    redis_stats.reset(r)
    api0, reloads0 = api_writes(child), reloads(gateway)
    url = "http://edited.svc/h"
    start = time.perf_counter()
    client.patch(
        f"{NS}/subscriptions/s00000",
        json={"spec": {"endpoint": {"url": url}}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    routed = None
    while time.perf_counter() - start < 120:
        if url in probe(gateway, "t000"):
            routed = time.perf_counter() - start
            break
        time.sleep(0.05)
    time.sleep(args.resync)  # and one resync interval after it
    written = redis_stats.writes(r)
    return {
        "routed_after_s": None if routed is None else round(routed, 2),
        "api_writes": dict(api_writes(child) - api0),
        "redis_writes (incl. the probes' own message writes)": written,
        "gateway_reloads": dict(reloads(gateway) - reloads0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--resync", type=float, default=60.0, help="resync interval (s)")
    parser.add_argument("--intervals", type=int, default=3, help="steady-state window")
    parser.add_argument("--refresh", type=float, default=5.0, help="gateway routing refresh")
    parser.add_argument("--code", type=Path, default=HERE, help="checkout whose code runs")
    parser.add_argument("--gateway-code", type=Path, default=None,
                        help="checkout of the gateway's code (default: --code)")  # fmt: skip
    parser.add_argument("--deadline", type=float, default=3600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis", appendfsync=None)
        server.start()
        child, url = emulator()
        kubeconfig = write_kubeconfig(url, Path(tmp) / "kubeconfig")
        client = httpx.Client(base_url=url, timeout=120)
        r = redis.Redis.from_url(server.url)
        env = process_env(args.code, server.url, kubeconfig, args.resync)
        processes: list[subprocess.Popen[bytes]] = []
        out: dict[str, Any] = {"code": str(args.code), "gateway_code": str(args.gateway_code),
                               "subscriptions": args.subscriptions,
                               "topics": args.topics, "resync_s": args.resync}  # fmt: skip
        try:
            t0 = time.perf_counter()
            create_objects(client, args.topics, args.subscriptions)
            out["created_in_s"] = round(time.perf_counter() - t0, 1)
            log = open(Path(tmp) / "operator.log", "wb")
            operator = subprocess.Popen(
                [sys.executable, "-m", "herald_gateway.cli", "operator", "--standalone",
                 "--liveness", f"http://127.0.0.1:{free_port()}/healthz"],
                env=env, stdout=log, stderr=log)  # fmt: skip
            processes.append(operator)
            start = time.perf_counter()
            count = 0
            while time.perf_counter() - start < args.deadline:
                count = ready(client)
                if count >= args.subscriptions:
                    break
                time.sleep(2)
            out["all_ready_s"] = round(time.perf_counter() - start, 1)
            out["ready"] = count
            cpu, rss = usage(operator.pid)
            out["operator_cpu_to_ready_s"], out["operator_peak_rss_mib"] = round(cpu, 1), rss
            port = free_port()
            gateway_code = args.gateway_code or args.code
            gw_env = {**process_env(gateway_code, server.url, kubeconfig, args.resync),
                      "HERALD_PORT": str(port), "HERALD_HOST": "127.0.0.1",
                      "HERALD_TOKEN": TOKEN, "HERALD_CURRENT_SIGNING_KEY": CURRENT_KEY,
                      "HERALD_NEXT_SIGNING_KEY": NEXT_KEY, "HERALD_ROLES": "api",
                      "HERALD_ROUTING_REFRESH": str(args.refresh),
                      "HERALD_METRICS_PORT": str(METRICS_PORT)}  # fmt: skip
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "herald_gateway.cli", "gateway"],
                    env=gw_env,
                    stdout=log,
                    stderr=log,
                )
            )
            gateway = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                   headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
            while not probe_ok(gateway):
                if processes[-1].poll() is not None:
                    raise SystemExit(f"the gateway exited; see {Path(tmp) / 'operator.log'}")
                time.sleep(0.2)
            time.sleep(args.resync)  # let every timer fire once after Ready
            cpu0 = usage(operator.pid)[0]
            out["steady"] = steady(args, child, r, gateway)
            cpu1, rss = usage(operator.pid)
            per_min = (cpu1 - cpu0) * 60 / out["steady"]["window_s"]
            out["steady"]["operator_cpu_s_per_min"] = round(per_min, 2)
            out["operator_peak_rss_mib"] = rss
            out["one_change"] = one_change(args, child, r, client, gateway)
            gateway.close()
        finally:
            for process in processes:
                process.kill()
                process.wait()
            client.close()
            r.close()
            assert child.stdin is not None and child.stdout is not None
            child.stdin.close()
            out["emulator_cpu_s"] = child.stdout.readline().strip()
            child.wait(30)
            server.stop()
            print(json.dumps(out, indent=2), flush=True)


def probe_ok(gateway: httpx.Client) -> bool:
    try:
        return bool(probe(gateway, "t000"))
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
