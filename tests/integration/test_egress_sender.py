"""The egress policy inside the delivery clients: each real sender (aiohttp's and the lean
HTTP/1.1 one) against a real receiver, with a static resolver standing in for DNS (names
that resolve to refused addresses)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from herald_core.egress import EgressPolicy, parse_policy
from herald_gateway.delivery.attempts import Result, classify
from herald_gateway.delivery.h1_sender import H1Sender
from herald_gateway.delivery.sender import AiohttpSender, Failure, Reply, Sender
from tests.support.receiver import Answer, Receiver

pytestmark = pytest.mark.integration


class StaticResolver(AbstractResolver):
    """A DNS stand-in: each name resolves to the addresses the test gives it."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.table.get(host, [])
        ]

    async def close(self) -> None:
        pass

    async def lookup(self, host: str, port: int) -> list[str]:
        """The same table as H1Sender's `resolve`."""
        self.asked.append(host)
        return list(self.table.get(host, []))


MakeSender = Callable[..., Sender]


@pytest.fixture(params=["aiohttp", "h1"])
def make_sender(request: pytest.FixtureRequest) -> MakeSender:
    """`make_sender(egress=..., dns=...)` → the sender under test, with `dns` as its resolver."""

    def make(egress: EgressPolicy | None = None, dns: StaticResolver | None = None) -> Sender:
        if request.param == "h1":
            return H1Sender(max_connections=4, egress=egress,
                            resolve=dns.lookup if dns is not None else None)  # fmt: skip
        return AiohttpSender(max_connections=4, egress=egress, resolver=dns)

    return make


@pytest.fixture(scope="module")
def server() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


async def test_resolved_addresses_are_filtered_before_connecting(
    server: Receiver, make_sender: MakeSender
) -> None:
    dns = StaticResolver(
        {
            "mixed.test": ["169.254.169.254", "127.0.0.1"],  # only the allowed one is dialled
            "rebound.test": ["169.254.169.254"],
            "hex.test": ["127.0.0.1"],
        }
    )
    sender = make_sender(egress=EgressPolicy(), dns=dns)
    try:
        path = server.new_path()
        answer = await sender.send("POST", f"http://mixed.test:{server.port}{path}", {}, b"x", 5)
        assert isinstance(answer, Reply) and answer.status == 200
        refused = await sender.send("POST", f"http://rebound.test:{server.port}/", {}, b"", 5)
        assert isinstance(refused, Failure) and not refused.retryable
        assert "egress refused" in refused.error and "169.254.169.254" in refused.error
    finally:
        await sender.aclose()


async def test_literals_and_denied_names_never_reach_the_resolver(
    server: Receiver, make_sender: MakeSender
) -> None:
    dns = StaticResolver({"localhost": ["127.0.0.1"]})
    egress = parse_policy((), ("127.0.0.0/8",), (), ("blocked.test",))  # allow/deny CIDRs, hosts
    sender = make_sender(egress=egress, dns=dns)
    try:
        path = server.new_path()
        for url in (
            f"http://127.0.0.1:{server.port}{path}",
            f"http://[::ffff:127.0.0.1]:{server.port}{path}",
            f"http://localhost:{server.port}{path}",
            f"http://blocked.test:{server.port}{path}",
        ):
            answer = await sender.send("POST", url, {}, b"", 5)
            assert isinstance(answer, Failure) and not answer.retryable, url
        assert dns.asked == ["localhost"]
        assert server.received(path) == []
    finally:
        await sender.aclose()


async def test_redirects_are_not_followed(server: Receiver, make_sender: MakeSender) -> None:
    target = server.new_path()
    path = server.new_path(Answer(302, {"Location": server.url(target)}, b""))
    sender = make_sender()
    try:
        answer = await sender.send("POST", server.url(path), {}, b"", 5)
        assert isinstance(answer, Reply) and answer.status == 302
        assert classify(answer, 0.0).result is Result.RETRY
        assert server.received(target) == []
    finally:
        await sender.aclose()
