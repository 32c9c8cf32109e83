"""The unit tier stays fast: pure logic, no servers. A unit test that opens a network
connection or listens on a port fails here, and belongs in tests/integration; one that runs
past `UNIT_TIMEOUT` seconds fails as hung."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
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


#: Seconds a unit test may take (pytest-timeout) before it fails as hung; the whole tier
#: takes seconds, so a test waiting on something that never comes fails fast instead of
#: holding the run for the suite-wide `timeout` in pyproject.toml.
UNIT_TIMEOUT = 5


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            # appended, so a test's own `@pytest.mark.timeout` (closer) still wins
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT))
