"""The egress policy inside the delivery client: a real aiohttp sender against a real receiver,
with a static resolver standing in for DNS (names that resolve to refused addresses)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from herald_core.egress import EgressPolicy, parse_policy
from herald_gateway.delivery.attempts import Result, classify
from herald_gateway.delivery.sender import AiohttpSender, Failure, Reply
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


@pytest.fixture(scope="module")
def server() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


async def test_resolved_addresses_are_filtered_before_connecting(server: Receiver) -> None:
    dns = StaticResolver(
        {
            "mixed.test": ["169.254.169.254", "127.0.0.1"],  # only the allowed one is dialled
            "rebound.test": ["169.254.169.254"],
            "hex.test": ["127.0.0.1"],
        }
    )
    sender = AiohttpSender(max_connections=4, egress=EgressPolicy(), resolver=dns)
    try:
        path = server.new_path()
        answer = await sender.send("POST", f"http://mixed.test:{server.port}{path}", {}, b"x", 5)
        assert isinstance(answer, Reply) and answer.status == 200
        refused = await sender.send("POST", f"http://rebound.test:{server.port}/", {}, b"", 5)
        assert isinstance(refused, Failure) and not refused.retryable
        assert "egress refused" in refused.error and "169.254.169.254" in refused.error
    finally:
        await sender.aclose()


async def test_literals_and_denied_names_never_reach_the_resolver(server: Receiver) -> None:
    dns = StaticResolver({"localhost": ["127.0.0.1"]})
    egress = parse_policy((), ("127.0.0.0/8",), (), ("blocked.test",))  # allow/deny CIDRs, hosts
    sender = AiohttpSender(max_connections=4, egress=egress, resolver=dns)
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


async def test_redirects_are_not_followed(server: Receiver) -> None:
    target = server.new_path()
    path = server.new_path(Answer(302, {"Location": server.url(target)}, b""))
    sender = AiohttpSender(max_connections=4)
    try:
        answer = await sender.send("POST", server.url(path), {}, b"", 5)
        assert isinstance(answer, Reply) and answer.status == 302
        assert classify(answer, 0.0).result is Result.RETRY
        assert server.received(target) == []
    finally:
        await sender.aclose()
