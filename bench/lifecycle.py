"""What lifecycle logging costs in Redis memory, and whether retention keeps it flat.

Run: `.venv/bin/python -m bench.lifecycle [--sustain 600] [--rate 300]`. Uses the stack of
`bench.pipeline` (Redis with AOF everysec, one `herald gateway`, the counting sink).

1. Bytes per log row: publish `--messages` 1 KB messages, wait until all are delivered,
   then sum `MEMORY USAGE <log stream> SAMPLES 0` over the shards and divide by the rows
   (three per delivered message: CREATED, ACTIVE, DELIVERED). Bodies up to
   HERALD_LOG_BODY_MAX (8 KiB) are kept in the CREATED row, so 1 KB bodies are included.
2. Bytes per dead letter: the same with a sink failing every first attempt and
   `Upstash-Retries: 0`, summing the dead-letter hashes and the DLQ index.
3. Sustained run: an open loop of `--rate` msg/s for `--sustain` s with log and DLQ
   retention set to 60 s; Redis `used_memory` is sampled every 30 s. Flat once the
   retention window is full means retention works.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import redis

from bench.pipeline import Publisher, quiet_gc, stack, wait_until

SHARDS = 16


def _memory(client: redis.Redis, pattern: str) -> tuple[int, int]:
    """(bytes, keys) of the keys matching `pattern`."""
    total = keys = 0
    for key in client.scan_iter(match=pattern, count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
        keys += 1
    return total, keys


async def _publish(url: str, token: str, count: int, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as session:
        publisher = Publisher(session, url, {"Authorization": f"Bearer {token}", **headers})
        await publisher.counted(count, 32, {})


def log_rows(messages: int) -> dict[str, float]:
    with stack({}) as st:
        client = redis.Redis.from_url(st.redis.url)
        asyncio.run(_publish(st.publish_url, st.token, messages, {}))

        def rows() -> int:
            return sum(int(client.xlen(f"herald:{{{s}}}:log")) for s in range(SHARDS))

        wait_until(lambda: rows() >= 3 * messages)
        size, _ = _memory(client, "herald:*:log")
        return {"rows": rows(), "bytes_per_row": size / rows()}


def dead_letters(messages: int) -> dict[str, float]:
    with stack({}, fail_first=True) as st:
        client = redis.Redis.from_url(st.redis.url)
        asyncio.run(_publish(st.publish_url, st.token, messages, {"Upstash-Retries": "0"}))

        def count() -> int:
            return sum(int(client.zcard(f"herald:{{{s}}}:dlq")) for s in range(SHARDS))

        wait_until(lambda: count() >= messages)
        hashes, _ = _memory(client, "herald:*:d:*")
        index, _ = _memory(client, "herald:*:dlq")
        return {"dead_letters": count(), "bytes_per_dead_letter": (hashes + index) / count()}


def sustained(rate: float, seconds: float) -> list[tuple[int, float]]:
    env = {"HERALD_LOG_RETENTION": "60", "HERALD_DLQ_RETENTION": "60"}
    samples: list[tuple[int, float]] = []
    with stack(env) as st:
        client = redis.Redis.from_url(st.redis.url)

        async def run() -> None:
            async with aiohttp.ClientSession() as session:
                auth = {"Authorization": f"Bearer {st.token}"}
                publisher = Publisher(session, st.publish_url, auth)
                started = time.monotonic()
                while (elapsed := time.monotonic() - started) < seconds:
                    await publisher.open_loop(rate, 30)
                    used = int(client.info("memory")["used_memory"]) / 2**20
                    samples.append((round(elapsed + 30), used))
                    print(f"  t={samples[-1][0]:>4}s redis used_memory {used:7.1f} MiB",
                          flush=True)  # fmt: skip

        asyncio.run(run())
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--sustain", type=float, default=600)
    args = parser.parse_args()
    quiet_gc()
    print("log rows:", log_rows(args.messages))
    print("dead letters:", dead_letters(args.messages))
    if args.sustain:
        print(f"sustained {args.rate:g} msg/s for {args.sustain:g}s, retention 60 s:")
        sustained(args.rate, args.sustain)


if __name__ == "__main__":
    main()
