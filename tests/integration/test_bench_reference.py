"""The benchmarks' Node reference pipeline (bench/reference: fastify → BullMQ → undici) runs in
`bench.pipeline`'s stack and delivers: messages published through its ingest reach the
counting sink once each, retried by BullMQ after the sink's 500, and the harness sees the
queue settle. A smoke test of the harness, not a benchmark: nothing here is timed.

The pipeline is pinned in bench/reference/package-lock.json and installed with `npm ci` the
first time (as tests/js for the JavaScript SDK); without node and npm the test is skipped.
"""

from __future__ import annotations

import asyncio

import pytest
from bench import reference_pipeline
from bench.pipeline import Publisher, PublishLog, headers_for, match, probe_for, stack

pytestmark = pytest.mark.integration

MESSAGES = 3


@pytest.fixture(scope="module")
def node() -> str:
    try:
        return reference_pipeline.install()
    except reference_pipeline.NodeMissing as exc:
        pytest.skip(str(exc))


def test_reference_pipeline_delivers_and_retries(node: str) -> None:
    with stack({}, fail_first=True, ready_timeout=30.0, system="reference") as st:

        async def run() -> tuple[PublishLog, list[list[object]], bool]:
            async with probe_for(st, MESSAGES) as probe:
                publisher = Publisher(probe.session, st.publish_url, headers_for(st))
                log = PublishLog()
                for _ in range(MESSAGES):
                    await publisher.one(log)
                assert log.errors == 0, log.first_error
                assert await probe.wait_delivered(MESSAGES, timeout=30.0)
                settled = await probe.wait_settled(0, timeout=30.0)
                return log, await probe.sink_get("/records"), settled

        log, records, settled = asyncio.run(run())
    assert settled
    got = match(log.sent, records)
    assert (got.delivered, got.duplicates, got.attempts) == (MESSAGES, 0, 2 * MESSAGES)
    # each message: first attempt answered 500, BullMQ's retry carries the attempts made
    assert sorted((m, retried, status) for m, _, retried, status in records) == sorted(
        [(m, 0, 500) for m in log.sent] + [(m, 1, 200) for m in log.sent]
    )
