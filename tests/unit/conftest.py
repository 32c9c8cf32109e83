"""The unit tier stays fast: pure logic, no servers. A unit test that opens a network
connection or listens on a port fails here, and belongs in tests/integration."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

_INET = (socket.AF_INET, socket.AF_INET6)


def _refuse(what: str, original: Any) -> Any:
    def guarded(self: socket.socket, *args: Any) -> Any:
        if self.family in _INET:
            raise AssertionError(
                f"a unit test tried to {what} a network socket: it belongs in tests/integration"
            )
        return original(self, *args)

    return guarded


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, _refuse(name, getattr(socket.socket, name)))
    yield
