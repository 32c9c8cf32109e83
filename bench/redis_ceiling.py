"""How many messages one Redis carries: Herald's own Redis traffic without the HTTP around it.

The gateway spends ~5x more CPU per message than Redis does (``bench.processes``), so on a
small machine the gateways saturate long before Redis. To see Redis itself near its limit,
``--drivers`` processes run Herald's store calls (``herald_core.store.Store``, the same Lua
scripts, pipelines and group commit as the gateway) without HTTP: ``--publishers``
coroutines each ``enqueue`` a 1 KB message (random shard, as a publish) in a loop, and one
claimer per driver ``claim``s due tasks from all 16 shards in one pipeline and ``settle``s
them as delivered in one more (as a worker whose deliveries all succeed at once). Every
message is published, claimed, logged three times and acknowledged: the Redis work of one
delivered message.

Reported, over the window after a warm-up: settled msgs/s, Redis CPU-ms per message
(``/proc`` of ``redis-server``, AOF everysec), Redis busy (cores), and the Redis commands
and script calls per message (``INFO commandstats``).

Run: ``.venv/bin/python -m bench.redis_ceiling [--drivers 1 2 3] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis as redis_sync
import uvloop

from bench.pipeline import BODY, OWN_COMMANDS, cpu_seconds, environment
from bench.sink import REPO_ROOT
from herald_core.keys import Keys
from herald_core.models import Message
from herald_core.settings import Settings
from herald_core.store import NewMessage, Settlement, Store
from herald_gateway.dev.embedded import RedisServer

SHARDS = 16


async def drive(url: str, publishers: int, claim: int, until: float) -> dict[str, Any]:
    """Publish, claim and settle until `until` (time.time()); counts at each second mark."""
    settings = Settings(redis_url=url)
    store = Store.from_settings(settings, Keys(settings.key_prefix, settings.shards))
    settled = 0
    marks: dict[int, int] = {}
    event = b'{"status":200}'

    async def publisher() -> None:
        while time.time() < until:
            now = int(time.time() * 1000)
            message = Message(id="",  # the store gives it its shard and id
                              url="https://example.com/hook", method="POST",
                              headers={"Content-Type": "application/octet-stream"},
                              max_retries=3, timeout=30.0, created_at=now, not_before=now,
                              body_hash="x" * 43)  # fmt: skip
            await store.enqueue(NewMessage(message, BODY, now))

    async def claimer() -> None:
        nonlocal settled
        while time.time() < until:
            now = int(time.time() * 1000)
            result = await store.claim(dict.fromkeys(range(SHARDS), claim), now)
            if not result.tasks:
                await asyncio.sleep(0.001)
                continue
            batches: dict[int, list[Settlement]] = {}
            for task in result.tasks:
                batches.setdefault(task.shard, []).append(
                    Settlement.delivered(task.message.id, event, ())
                )
            await store.settle(batches, now, {})
            settled += len(result.tasks)
            marks[int(time.time())] = settled

    try:
        await asyncio.gather(claimer(), *(publisher() for _ in range(publishers)))
    finally:
        await store.aclose()
    return {"marks": marks}


def settled_between(marks: dict[str, int], start: float, end: float) -> int:
    """Messages settled from second `start` to second `end` (the last mark in each)."""

    def at(t: float) -> int:
        return max((v for k, v in marks.items() if int(k) <= t), default=0)

    return at(end) - at(start)


def calls(client: redis_sync.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"])
            for k, v in stats.items() if k not in OWN_COMMANDS}  # fmt: skip


def run(drivers: int, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="herald-ceiling-") as tmp:
        redis = RedisServer(Path(tmp) / "redis", appendfsync="everysec")
        procs: list[subprocess.Popen[bytes]] = []
        try:
            redis.start()
            assert redis.process is not None
            client = redis_sync.Redis.from_url(redis.url)
            start = time.time() + 1.5 + args.warmup  # drivers are up by then
            end = start + args.seconds
            for _ in range(drivers):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "bench.redis_ceiling", "--drive", redis.url,
                     "--until", str(end + 0.5), "--publishers", str(args.publishers),
                     "--claim", str(args.claim)],
                    cwd=REPO_ROOT, stdout=subprocess.PIPE))  # fmt: skip
            time.sleep(max(0.0, start - time.time()))
            cpu0, calls0 = cpu_seconds(redis.process.pid), calls(client)
            time.sleep(max(0.0, end - time.time()))
            cpu1, calls1 = cpu_seconds(redis.process.pid), calls(client)
            outputs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            redis.stop()
    n = sum(settled_between(o["marks"], start, end) for o in outputs) or 1
    delta = {k: v - calls0.get(k, 0) for k, v in calls1.items()}
    return {"drivers": drivers, "msgs_per_s": n / args.seconds,
            "redis_cpu_ms": (cpu1 - cpu0) * 1000 / n,
            "redis_busy": (cpu1 - cpu0) / args.seconds,
            "redis_cmds": sum(delta.values()) / n,
            "evalsha": delta.get("evalsha", 0) / n}  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--drivers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--publishers", type=int, default=64, help="per driver")
    parser.add_argument("--claim", type=int, default=16, help="per shard and claim")
    parser.add_argument("--drive", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.drive:
        out = uvloop.run(drive(args.drive, args.publishers, args.claim, args.until))
        print(json.dumps(out))
        return
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    env = environment()
    print(f"{env['nproc']} CPUs ({env['cpu_model']}), load {env['loadavg_at_start']}; "
          f"{env['redis_server'].split(' sha')[0]}, AOF everysec", flush=True)  # fmt: skip
    print("| drivers | settled msgs/s | Redis CPU-ms/msg | Redis busy (cores) | Redis cmds/msg "
          "| EVALSHA/msg |\n|---:|---:|---:|---:|---:|---:|", flush=True)  # fmt: skip
    for _ in range(args.rounds):
        for drivers in args.drivers:
            r = run(drivers, args)
            print(f"| {drivers} | {r['msgs_per_s']:,.0f} | {r['redis_cpu_ms']:.4f} | "
                  f"{r['redis_busy']:.2f} | {r['redis_cmds']:.2f} | {r['evalsha']:.3f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
