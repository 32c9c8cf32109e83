"""Figures for the QStash API surface (issue 6): schedule firing lag, batch versus single
publishes, and one flow-control key's throughput.

Run: `.venv/bin/python -m bench.api [--schedules 1000] [--rounds 4]`. Uses the stack of
`bench.pipeline` (Redis with AOF everysec, one `herald gateway`).

1. Schedule firing lag: `--schedules` schedules with `* * * * *`, all due at the same
   instant (the worst case), with HERALD_CRON_MINUTE=5 so a cron minute lasts 5 s.
   Lag = when the tick's message was stored (its CREATED log row's stream id, Redis
   time) minus the tick (the message's createdAt). `--rounds` ticks are measured.
2. Batch: one `POST /v2/batch` of 100 messages versus 100 `POST /v2/publish` one after
   another on one keep-alive connection, and 100 at once; 30 repetitions each.
3. Flow control: 2,000 messages on one key with `parallelism=10` to an endpoint that
   answers after 50 ms; delivered messages per second at the endpoint (the ceiling is
   10 / 0.05 s = 200 msg/s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp
import orjson
import redis
from aiohttp import web

from bench.pipeline import percentile, quiet_gc, stack, wait_until
from bench.sink import serve
from herald_gateway.dev.embedded import free_port

SHARDS = 16


def schedule_lag(schedules: int, rounds: int) -> dict[str, float]:
    minute = 5.0
    env = {"HERALD_CRON_MINUTE": str(minute), "HERALD_SCHEDULE_POLL": "1"}
    with stack(env) as st:
        base = f"http://127.0.0.1:{st.gateway_port}"
        headers = {"Authorization": f"Bearer {st.token}", "Upstash-Cron": "* * * * *"}

        async def create() -> None:
            async with aiohttp.ClientSession() as session:
                for i in range(schedules):
                    url = f"{base}/v2/schedules/{st.sink_url}/s{i}"
                    async with session.post(url, headers=headers) as response:
                        assert response.status == 200, await response.text()

        asyncio.run(create())
        client = redis.Redis.from_url(st.redis.url)

        def lags() -> list[float]:
            out = []
            for shard in range(SHARDS):
                rows: list[tuple[bytes, dict[bytes, bytes]]]
                rows = client.xrange(f"herald:{{{shard}}}:log")  # type: ignore[assignment]
                for entry_id, fields in rows:
                    if fields[b"s"] != b"CREATED":
                        continue
                    meta = orjson.loads(fields[b"m"])
                    if "schedule_id" in meta:
                        stored = int(entry_id.split(b"-")[0])
                        out.append(float(stored - meta["created_at"]))
            return out

        wait_until(lambda: len(lags()) >= schedules * rounds, timeout=rounds * minute * 3 + 60)
        found = sorted(lags())
        return {"schedules": schedules, "ticks_measured": len(found),
                "lag_p50_ms": percentile(found, 50), "lag_p99_ms": percentile(found, 99),
                "lag_max_ms": found[-1]}  # fmt: skip


def batch_versus_single(repetitions: int = 30) -> dict[str, float]:
    with stack({}) as st:
        base = f"http://127.0.0.1:{st.gateway_port}"
        auth = {"Authorization": f"Bearer {st.token}"}
        items = [{"destination": f"{st.sink_url}/b", "body": "x" * 1024} for _ in range(100)]
        payload = orjson.dumps(items)
        body = b"x" * 1024

        async def run() -> dict[str, float]:
            async with aiohttp.ClientSession() as session:
                batch, sequential, concurrent = [], [], []

                async def single() -> None:
                    url = f"{base}/v2/publish/{st.sink_url}/s"
                    async with session.post(url, data=body, headers=auth) as response:
                        assert response.status == 200

                for _ in range(repetitions):
                    started = time.perf_counter()
                    async with session.post(f"{base}/v2/batch", data=payload,
                                            headers={**auth, "Content-Type": "application/json"}
                                            ) as response:  # fmt: skip
                        assert response.status == 200
                        assert len(await response.json()) == 100
                    batch.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    for _ in range(100):
                        await single()
                    sequential.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    await asyncio.gather(*(single() for _ in range(100)))
                    concurrent.append(time.perf_counter() - started)
            out = {}
            for name, values in (("batch", batch), ("sequential", sequential),
                                 ("concurrent", concurrent)):  # fmt: skip
                p50 = statistics.median(values)
                out[f"{name}_p50_ms"] = p50 * 1000
                out[f"{name}_p99_ms"] = percentile(sorted(values), 99) * 1000
                out[f"{name}_msgs_per_s"] = 100 / p50
            return out

        return asyncio.run(run())


def flow_control_throughput(messages: int = 2000) -> dict[str, float]:
    with stack({}) as st:
        base = f"http://127.0.0.1:{st.gateway_port}"
        port = free_port()
        arrivals: list[float] = []
        in_flight = peak = 0
        all_arrived = asyncio.Event()

        async def slow(request: web.BaseRequest) -> web.StreamResponse:
            nonlocal in_flight, peak
            await request.read()
            arrivals.append(time.perf_counter())
            if len(arrivals) >= messages:
                all_arrived.set()
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1
            return web.Response(status=200)

        async def run() -> dict[str, float]:
            server = asyncio.create_task(serve("127.0.0.1", port, slow))
            headers = {"Authorization": f"Bearer {st.token}",
                       "Upstash-Flow-Control-Key": "bench",
                       "Upstash-Flow-Control-Value": "parallelism=10"}  # fmt: skip
            url = f"{base}/v2/publish/http://127.0.0.1:{port}/slow"
            async with aiohttp.ClientSession() as session:

                async def one() -> None:
                    async with session.post(url, data=b"x", headers=headers) as response:
                        assert response.status == 200

                for start in range(0, messages, 200):
                    await asyncio.gather(*(one() for _ in range(min(200, messages - start))))
            await asyncio.wait_for(all_arrived.wait(), 120)
            server.cancel()
            # the steady state: between the 10th and the last arrival
            span = arrivals[-1] - arrivals[9]
            return {"messages": len(arrivals), "delivered_per_s": (len(arrivals) - 10) / span,
                    "peak_in_flight": peak}  # fmt: skip

        return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only", nargs="*", default=["schedules", "batch", "flow"])
    args = parser.parse_args()
    quiet_gc()
    if "schedules" in args.only:
        print("schedule lag:", schedule_lag(args.schedules, args.rounds), flush=True)
    if "batch" in args.only:
        print("batch vs single:", batch_versus_single(), flush=True)
    if "flow" in args.only:
        print("flow control:", flow_control_throughput(), flush=True)


if __name__ == "__main__":
    main()
