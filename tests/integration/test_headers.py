"""Issue 12, part 3 — headers as QStash has them, end to end through real gateways:
unknown `Upstash-*` headers accepted (not forwarded, counted), callbacks configured with any
publish header, the default timeout at the configured maximum, leases kept alive by a
heartbeat (a SIGKILLed worker's 10-minute attempt comes back within about a lease), and
`Upstash-Region` on deliveries."""

from __future__ import annotations

import itertools
import re
import signal
import time
import uuid

import orjson
import pytest
from qstash import QStash

from herald_core.keys import Keys
from herald_core.models import Message
from herald_core.redis_client import connect
from herald_core.settings import Settings
from herald_core.store import NewMessage, Store, StoreLimits
from tests.support.gateway import TOKEN, Gateway
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def _metric(gateway: Gateway, name: str) -> float:
    text = gateway.metrics()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_unknown_upstash_headers_are_accepted_counted_and_not_forwarded(
    gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    # what the Upstash Workflow SDKs send on every publish (without a run id: a publish that
    # names a run is a step of it, tests/integration/test_workflow.py), and a header of
    # some future SDK
    response = gateway.publish(
        receiver.url(path), b"step",
        **{"Upstash-Feature-Set": "LazyFetch,InitialBody,WF_DetectTrigger",
           "Upstash-Workflow-Url": "http://app/wf", "Upstash-Telemetry-Sdk": "upstash-workflow@1",
           "Upstash-Future-Option": "on", "Upstash-Forward-X-Kept": "1"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [request] = receiver.wait_for(path, 1)
    assert request.header("Upstash-Workflow-Url") == "http://app/wf"  # Workflow-* pass through
    assert request.header("X-Kept") == "1"
    for dropped in ("Upstash-Feature-Set", "Upstash-Future-Option", "Upstash-Telemetry-Sdk"):
        assert request.header(dropped) is None
    assert request.header("Upstash-Region") is None  # no region configured
    # Upstash-Feature-Set is known (accepted, not forwarded): only the future option counts
    assert _metric(gateway, "herald_unknown_headers_total") == 1
    # a malformed value of a known header is still refused
    refused = gateway.publish(receiver.url(path), b"", **{"Upstash-Retries": "many",
                                                          "Upstash-Feature-Set": "x"})  # fmt: skip
    assert refused.status_code == 400 and "Upstash-Retries" in refused.json()["error"]


def test_callback_is_configured_like_a_publish_nested_failure_callback_included(
    gateway: Gateway, receiver: Receiver
) -> None:
    target = receiver.new_path()
    callback = receiver.new_path(Answer(500), Answer(503))  # the callback fails for good
    failed = receiver.new_path()
    response = gateway.publish(
        receiver.url(target), b"job",
        **{
            "Upstash-Retries": "0",
            "Upstash-Callback": receiver.url(callback),
            "Upstash-Callback-Forward-X-Cb": "yes",
            "Upstash-Callback-X-Team": "not-a-forward",  # the Python SDK's spelling
            "Upstash-Callback-Workflow-RunId": "wfr_2",
            "Upstash-Callback-Feature-Set": "LazyFetch",
            "Upstash-Callback-Retries": "1",
            "Upstash-Callback-Retry-Delay": "0",
            "Upstash-Callback-Label": "cb-label",
            "Upstash-Callback-Failure-Callback": receiver.url(failed),
            "Upstash-Callback-Failure-Callback-Forward-X-F": "1",
        },
    )  # fmt: skip
    assert response.status_code == 200, response.text
    attempts = receiver.wait_for(callback, 2)
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1"]  # its own retries
    for attempt in attempts:
        assert attempt.header("X-Cb") == "yes"
        assert attempt.header("Upstash-Workflow-RunId") == "wfr_2"
        assert attempt.header("X-Team") is None and attempt.header("Upstash-Feature-Set") is None
    [report] = receiver.wait_for(failed, 1)
    assert report.header("X-F") == "1"
    payload = orjson.loads(report.body)
    callback_id = attempts[0].header("Upstash-Message-Id")
    assert payload["sourceMessageId"] == callback_id and payload["retried"] == 1
    assert payload["url"] == receiver.url(callback) and payload["dlqId"]
    dead = gateway.client.get(f"/v2/dlq/{payload['dlqId']}").json()
    assert dead["messageId"] == callback_id and "cb-label" in dead["labels"]
    assert _metric(gateway, "herald_unknown_headers_total") == 1  # X-Team (Feature-Set: known)


def test_callback_flow_control_key_limits_the_callbacks(
    gateway: Gateway, receiver: Receiver
) -> None:
    target = receiver.new_path()
    callback = receiver.new_path(*[Answer(200, delay=0.4)] * 3)
    key = f"cb-{uuid.uuid4().hex}"
    sdk = QStash(TOKEN, base_url=gateway.url, retry=False)  # the official SDK's headers
    try:
        for i in range(3):
            sdk.message.publish(
                url=receiver.url(target), body=f"{i}", callback=receiver.url(callback),
                callback_headers={"Upstash-Callback-Flow-Control-Key": key,
                                  "Upstash-Callback-Flow-Control-Value": "parallelism=1"},
            )  # fmt: skip
    finally:
        sdk.http._client.close()
    starts = sorted(r.at for r in receiver.wait_for(callback, 3))
    # one at a time: each starts once the previous one's 0.4 s answer is in
    assert all(b - a >= 0.35 for a, b in itertools.pairwise(starts)), starts
    state = gateway.client.get(f"/v2/flowControl/{key}")
    assert state.status_code == 200, state.text


def test_default_timeout_is_the_configured_maximum(make_gateway, receiver: Receiver) -> None:
    gateway = make_gateway(max_timeout=1)  # no HERALD_DEFAULT_TIMEOUT: the maximum applies
    slow = receiver.new_path(Answer(200, delay=3))
    failed = receiver.new_path()
    gateway.publish(
        receiver.url(slow),
        b"",
        **{"Upstash-Retries": "0", "Upstash-Failure-Callback": receiver.url(failed)},
    )
    [attempt] = receiver.wait_for(slow, 1)
    [report] = receiver.wait_for(failed, 1, timeout=10)
    assert report.at - attempt.at < 2.5  # cut off at 1 s, not after the endpoint's 3 s
    assert "error" in orjson.loads(report.body)


def test_region_header_on_deliveries(make_gateway, receiver: Receiver) -> None:
    gateway = make_gateway(region="US-EAST-1")
    path = receiver.new_path()
    gateway.publish(receiver.url(path), b"x")
    [request] = receiver.wait_for(path, 1)
    assert request.header("Upstash-Region") == "US-EAST-1"


@pytest.mark.slow
@pytest.mark.in_process(False)  # a worker process killed, another takes over
def test_sigkilled_worker_mid_ten_minute_attempt_is_redelivered_within_a_lease(
    make_gateway, receiver: Receiver
) -> None:
    lease = 1.0
    settings = {"lease_duration": lease, "max_timeout": 3600}
    path = receiver.new_path(Answer(200, delay=600))  # the first attempt never answers
    first = make_gateway(**settings)
    message_id = first.publish(receiver.url(path), b"long", **{"Upstash-Timeout": "10m"}).json()[
        "messageId"
    ]
    receiver.wait_for(path, 1)
    second = make_gateway(redis_url=first.redis_url, **settings)
    # While the first worker lives, its heartbeat keeps the lease: three leases go by and
    # the second worker does not take the attempt over.
    with pytest.raises(AssertionError):
        receiver.wait_for(path, 2, timeout=3 * lease)
    killed_at = time.time()
    first.stop(signal.SIGKILL)
    retry = receiver.wait_for(path, 2, timeout=10 * lease)[1]
    recovery = retry.at - killed_at
    print(f"redelivered {recovery:.2f}s after SIGKILL (lease {lease}s, timeout 10m)")
    assert recovery < lease + 1.5
    assert retry.header("Upstash-Message-Id") == message_id
    assert second.process is not None and second.process.poll() is None


async def test_renewal_never_takes_back_a_lease_another_worker_holds(redis_url: str) -> None:
    keys = Keys("herald", 1)  # one shard: the message is in shard 0
    store = Store(connect(Settings(redis_url=redis_url)), keys, StoreLimits(lease_ms=1000))
    try:
        now = 1_700_000_000_000
        new = Message(id="", url="http://127.0.0.1:9/x", method="POST", headers={},
                      max_retries=0, timeout=600, created_at=now, not_before=now)  # fmt: skip
        await store.enqueue(NewMessage(new, b"", now))
        [mine] = (await store.claim({0: 10}, now)).tasks
        message = mine.message
        assert mine.lease_until == now + 1000
        # renewed while it is ours
        renewed = await store.renew({0: [(message.id, mine.lease_until)]}, now + 1500)
        assert renewed == {0: {message.id}}
        # this worker stalls past its lease; another claims the message
        [theirs] = (await store.claim({0: 10}, now + 1600)).tasks
        assert theirs.message.id == message.id and theirs.lease_until == now + 2600
        stale = await store.renew({0: [(message.id, now + 1500)]}, now + 3000)
        assert stale == {0: set()}
        lease = await store.redis.zscore(keys.shard(0).lease, message.id)
        assert lease == now + 2600  # untouched: still the other worker's
    finally:
        await store.aclose()
