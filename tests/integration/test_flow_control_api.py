"""The flow-control API through the official SDK (sync and async), limits shared by several
gateways, and the global parallelism cap."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from qstash import AsyncQStash, QStash

from tests.integration.test_flow_control import flow, max_in_flight
from tests.support.gateway import TOKEN, Gateway, wait_until
from tests.support.receiver import Answer, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def test_key_info_pin_unpin_and_reset(sdk: QStash, gateway: Gateway, receiver: Receiver) -> None:
    path = receiver.new_path()
    gateway.publish(receiver.url(path), b"x", **flow("api-key", "parallelism=2, rate=9"))
    info = sdk.flow_control.get("api-key")  # visible as soon as a message used it
    assert (info.key, info.parallelism_max, info.rate_max, info.rate_period) == (
        "api-key", 2, 9, 1)  # fmt: skip
    receiver.wait_for(path, 1)
    wait_until(lambda: sdk.flow_control.get("api-key").rate_count == 1)
    sdk.flow_control.pin("api-key", {"parallelism": 3, "rate": 20, "period": 120})
    info = sdk.flow_control.get("api-key")
    assert (info.parallelism_max, info.rate_max, info.rate_period) == (3, 20, 120)
    assert info.is_pinned_parallelism and info.is_pinned_rate
    assert info.rate_count == 0  # pinning starts a fresh period
    # a message with other limits does not change pinned ones
    gateway.publish(receiver.url(path), b"y", **flow("api-key", "parallelism=1"))
    assert sdk.flow_control.get("api-key").parallelism_max == 3
    sdk.flow_control.unpin("api-key", {"parallelism": True, "rate": False})
    info = sdk.flow_control.get("api-key")
    assert (info.is_pinned_parallelism, info.is_pinned_rate, info.parallelism_max) == (
        False, True, 3)  # fmt: skip
    receiver.wait_for(path, 2)
    wait_until(lambda: sdk.flow_control.get("api-key").rate_count == 1)
    sdk.flow_control.reset_rate("api-key")
    assert sdk.flow_control.get("api-key").rate_count == 0
    listed = gateway.client.get("/v2/flowControl", params={"search": "api"}).json()
    assert [k["flowControlKey"] for k in listed] == ["api-key"]
    assert gateway.client.get("/v2/flowControl", params={"search": "zzz"}).json() == []


def test_paused_key_waitlists_until_resumed(
    sdk: QStash, gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    gateway.publish(receiver.url(path), b"0", **flow("pausable", "parallelism=5"))
    receiver.wait_for(path, 1)
    sdk.flow_control.pause("pausable")
    for i in range(1, 4):
        gateway.publish(receiver.url(path), b"%d" % i, **flow("pausable", "parallelism=5"))
    wait_until(lambda: sdk.flow_control.get("pausable").wait_list_size == 3)
    info = sdk.flow_control.get("pausable")
    assert info.is_paused and len(receiver.received(path)) == 1
    sdk.flow_control.resume("pausable")
    assert sorted(r.body for r in receiver.wait_for(path, 4)) == [b"0", b"1", b"2", b"3"]
    assert sdk.flow_control.get("pausable").wait_list_size == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v2/flowControl/unknown-key/pause", 404),
        ("/v2/flowControl/k/pin?parallelism=0", 400),
        ("/v2/flowControl/k/pin?period=forever", 400),
        ("/v2/flowControl/k/unpin?rate=maybe", 400),
        ("/v2/flowControl/k/explode", 404),
    ],
)
def test_bad_flow_control_calls(
    gateway: Gateway, receiver: Receiver, path: str, status: int
) -> None:
    gateway.publish(receiver.url(receiver.new_path()), b"x", **flow("k", "rate=100"))
    response = gateway.client.post(path)
    assert response.status_code == status
    assert "error" in response.json()
    assert gateway.client.get("/v2/flowControl/unknown-key").status_code == 404


@pytest.mark.in_process(False)  # gateway processes coordinating through Redis
def test_parallelism_holds_across_two_gateways(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateways = [make_gateway(), make_gateway()]
    stall = 0.15
    path = receiver.new_path(*[Answer(200, delay=stall)] * 8)
    for i in range(8):  # published through both, delivered by both
        gateways[i % 2].publish(receiver.url(path), b"%d" % i, **flow("shared", "parallelism=1"))
    requests = receiver.wait_for(path, 8)
    assert max_in_flight(requests, stall - 0.01) == 1


@pytest.mark.in_process(False)  # gateway processes coordinating through Redis
def test_global_parallelism_caps_every_gateway_together(
    make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateways = [make_gateway(global_parallelism=3, poll_interval=0.05) for _ in range(2)]
    stall = 0.3
    path = receiver.new_path(*[Answer(200, delay=stall)] * 12)
    for i in range(12):
        gateways[i % 2].publish(receiver.url(path), b"%d" % i)
    requests = receiver.wait_for(path, 12, timeout=20)
    assert max_in_flight(requests, stall - 0.01) == 3
    sdk = QStash(TOKEN, base_url=gateways[0].url, retry=False)
    info = sdk.flow_control.get_global_parallelism()
    assert info.parallelism_max == 3
    sdk.http._client.close()


async def test_async_client(gateway: Gateway, receiver: Receiver) -> None:
    client = AsyncQStash(TOKEN, base_url=gateway.url, retry=False)
    gateway.publish(receiver.url(receiver.new_path()), b"x", **flow("async-key", "rate=3"))
    info = await client.flow_control.get("async-key")
    assert (info.key, info.rate_max) == ("async-key", 3)
    await client.flow_control.pause("async-key")
    assert (await client.flow_control.get("async-key")).is_paused
    await client.flow_control.resume("async-key")
    assert (await client.flow_control.get_global_parallelism()).parallelism_max == 0
    await client.http._client.aclose()
