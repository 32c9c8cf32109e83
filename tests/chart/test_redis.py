"""Redis: the bundled StatefulSet keeps every write in an append-only file on a PVC, never
evicts, and is password-protected; an external Redis is given by URL or by a Secret, and
may be a Redis Cluster (seed nodes) or Sentinel-managed (Sentinels + master name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.chart.conftest import CHART, CI_VALUES, Helm, container, env_of, find, one, pod_specs

_K8S_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
              "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}  # fmt: skip
# redis.conf units: k/m/g are powers of 1000, kb/mb/gb powers of 1024 (case-insensitive).
_REDIS_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
                "g": 1000**3, "gb": 1024**3}  # fmt: skip


def quantity_bytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * _K8S_UNITS[unit]


def redis_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"([0-9]+)([a-z]*)", value.lower()).groups()  # type: ignore[union-attr]
    return int(number) * _REDIS_UNITS[unit]


def flags(args: list[str]) -> dict[str, str]:
    """`--name value` pairs of redis-server's command line."""
    assert len(args) % 2 == 0 and all(a.startswith("--") for a in args[::2]), args
    return dict(zip(args[::2], args[1::2], strict=True))


def test_bundled_redis_runs_aof_with_noeviction(helm: Helm) -> None:
    docs = helm.render()
    redis = container(docs, "herald-redis")
    assert redis["image"] == "docker.io/library/redis:7.4.2"
    assert redis["command"] == ["redis-server"]
    assert flags(redis["args"]) == {
        "--port": "6379",
        "--dir": "/data",
        "--appendonly": "yes",
        "--appendfsync": "everysec",
        "--maxmemory-policy": "noeviction",
        "--maxmemory": str(1024**3 * 75 // 100),  # 75 % of the default 1Gi limit
        "--save": "",
        "--requirepass": "$(REDIS_PASSWORD)",
    }
    assert {"name": "data", "mountPath": "/data"} in redis["volumeMounts"]


def test_appendfsync_always_and_maxmemory_are_selectable(helm: Helm) -> None:
    redis = container(helm.render(CHART / "ci" / "ha-values.yaml"), "herald-redis")
    args = flags(redis["args"])
    assert args["--appendfsync"] == "always"
    assert args["--maxmemory"] == "4gb"
    assert args["--maxmemory-policy"] == "noeviction"


def test_appendfsync_refuses_unsafe_values(helm: Helm) -> None:
    error = helm.render_error(sets=("redis.bundled.appendfsync=no",))
    assert "appendfsync" in error


def test_bundled_redis_keeps_its_data_on_a_pvc(helm: Helm) -> None:
    statefulset = one(helm.render(), "StatefulSet", "herald-redis")
    assert statefulset["spec"]["replicas"] == 1
    assert statefulset["spec"]["serviceName"] == "herald-redis-headless"
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim["spec"]
    ha = one(helm.render(CHART / "ci" / "ha-values.yaml"), "StatefulSet", "herald-redis")
    assert ha["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast-ssd"


def test_without_persistence_redis_uses_an_empty_dir(helm: Helm) -> None:
    docs = helm.render(sets=("redis.bundled.persistence.enabled=false",))
    statefulset = one(docs, "StatefulSet", "herald-redis")
    assert "volumeClaimTemplates" not in statefulset["spec"]
    volumes = {v["name"]: v for v in pod_specs(docs)["herald-redis"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_bundled_redis_password_reaches_server_probe_and_clients(helm: Helm) -> None:
    docs = helm.render()
    redis = env_of(container(docs, "herald-redis"))
    for var in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
        assert redis[var]["valueFrom"]["secretKeyRef"] == {"name": "herald-redis",
                                                            "key": "redis-password"}  # fmt: skip
    [secret] = [s for s in find(docs, "Secret") if s["metadata"]["name"] == "herald-redis"]
    assert set(secret["data"]) == {"redis-password"}
    for name in ("herald-gateway", "herald-operator"):
        env = container(docs, name)["env"]
        names = [e["name"] for e in env]
        # $(REDIS_PASSWORD) expands only if REDIS_PASSWORD is defined before the URL.
        assert names.index("REDIS_PASSWORD") < names.index("HERALD_REDIS_URL")
        url = env_of(container(docs, name))["HERALD_REDIS_URL"]["value"]
        assert url == "redis://:$(REDIS_PASSWORD)@herald-redis.herald.svc:6379/0"


def test_bundled_redis_password_from_an_existing_secret(helm: Helm) -> None:
    docs = helm.render(sets=("redis.bundled.auth.existingSecret=my-redis",
                             "redis.bundled.auth.existingSecretPasswordKey=pw"))  # fmt: skip
    assert "herald-redis" not in {s["metadata"]["name"] for s in find(docs, "Secret")}
    ref = env_of(container(docs, "herald-gateway"))["REDIS_PASSWORD"]["valueFrom"]
    assert ref["secretKeyRef"] == {"name": "my-redis", "key": "pw"}


def test_redis_probes_survive_a_long_aof_load(helm: Helm) -> None:
    redis = container(helm.render(), "herald-redis")
    # While loading a large AOF Redis answers PING with LOADING: liveness must not restart it.
    assert redis["livenessProbe"]["tcpSocket"] == {"port": "redis"}
    assert "PONG" in " ".join(redis["readinessProbe"]["exec"]["command"])


def test_external_redis_by_url_renders_no_redis(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "external-redis-values.yaml")
    assert not [d for d in docs if "redis" in d["metadata"]["name"]]
    for name in ("herald-gateway", "herald-operator"):
        env = env_of(container(docs, name))
        assert env["HERALD_REDIS_URL"] == {
            "name": "HERALD_REDIS_URL",
            "value": "redis://redis-master.data.svc:6379/0",
        }
        assert "REDIS_PASSWORD" not in env


def test_external_redis_needs_a_url_or_a_secret(helm: Helm) -> None:
    error = helm.render_error(sets=("redis.mode=external",))
    assert "redis.external.url or redis.external.existingSecret" in error


def test_external_redis_url_must_be_a_redis_url(helm: Helm) -> None:
    error = helm.render_error(sets=("redis.mode=external", "redis.external.url=http://x"))
    assert "/redis/external/url" in error


def test_external_cluster_by_seed_nodes(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "external-cluster-values.yaml")
    assert not [d for d in docs if "redis" in d["metadata"]["name"]]
    seeds = [f"redis-cluster-{i}.redis-cluster-headless.data.svc:6379" for i in range(3)]
    for name in ("herald-gateway", "herald-operator"):
        env = {k: v.get("value") for k, v in env_of(container(docs, name)).items()}
        assert env["HERALD_REDIS_MODE"] == "cluster"
        assert env["HERALD_REDIS_URL"] == f"redis://{seeds[0]}/0"
        assert env["HERALD_REDIS_CLUSTER_NODES"] == ",".join(seeds)
    assert env_of(container(docs, "herald-gateway"))["HERALD_REDIS_WAIT_REPLICAS"]["value"] == "1"


def test_external_sentinel_with_its_passwords_from_secrets(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "external-sentinel-values.yaml")
    for name in ("herald-gateway", "herald-operator"):
        env = env_of(container(docs, name))
        assert env["HERALD_REDIS_MODE"]["value"] == "sentinel"
        assert env["HERALD_REDIS_MASTER_NAME"]["value"] == "mymaster"
        assert env["HERALD_REDIS_SENTINELS"]["value"].count(":26379") == 3
        assert env["HERALD_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "herald-redis-url", "key": "url"}  # fmt: skip
        assert env["HERALD_REDIS_SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "herald-redis-sentinel", "key": "sentinel-password"}  # fmt: skip


def test_sentinel_without_a_url_names_the_master(helm: Helm) -> None:
    sets = ("redis.mode=external", "redis.external.topology=sentinel",
            "redis.external.sentinel.sentinels={s0:26379,s1:26379}")  # fmt: skip
    env = env_of(container(helm.render(sets=sets), "herald-gateway"))
    assert env["HERALD_REDIS_URL"]["value"] == "redis://mymaster/0"  # the host is not used
    assert env["HERALD_REDIS_SENTINELS"]["value"] == "s0:26379,s1:26379"
    assert "HERALD_REDIS_SENTINEL_PASSWORD" not in env


def test_sentinel_needs_its_sentinels(helm: Helm) -> None:
    error = helm.render_error(sets=("redis.mode=external", "redis.external.topology=sentinel"))
    assert "redis.external.sentinel.sentinels" in error


@pytest.mark.parametrize("node", ["no-port", "host:port", "http://h:6379", "h:6379/0"])
def test_topology_nodes_must_be_host_port(helm: Helm, node: str) -> None:
    sets = ("redis.mode=external", "redis.external.topology=cluster",
            f"redis.external.cluster.nodes={{{node}}}")  # fmt: skip
    assert "/redis/external/cluster/nodes/0" in helm.render_error(sets=sets)


def test_standalone_external_sets_no_topology(helm: Helm) -> None:
    env = env_of(container(helm.render(CHART / "ci" / "external-redis-values.yaml"),
                           "herald-gateway"))  # fmt: skip
    assert "HERALD_REDIS_MODE" not in env and "HERALD_REDIS_SENTINELS" not in env


BUNDLED = [pytest.param(None, id="defaults")] + [
    pytest.param(path, id=path.stem) for path in CI_VALUES if "external" not in path.name
]


@pytest.mark.parametrize("values", BUNDLED)
def test_maxmemory_stays_under_the_memory_limit(helm: Helm, values: Path | None) -> None:
    """A full Redis must refuse writes (noeviction: publishes answer 503) before the kernel
    OOM-kills it: maxmemory is set, below the container's memory limit, with headroom."""
    redis = container(helm.render(*([values] if values else [])), "herald-redis")
    args = flags(redis["args"])
    assert args["--maxmemory-policy"] == "noeviction"
    limit = quantity_bytes(redis["resources"]["limits"]["memory"])
    maxmemory = redis_bytes(args["--maxmemory"])
    assert 0 < maxmemory <= 0.9 * limit, (maxmemory, limit)
    assert redis["resources"]["requests"]["memory"] == redis["resources"]["limits"]["memory"]


@pytest.mark.parametrize(("limit", "percent", "expected"), [
    ("2Gi", 75, 2 * 1024**3 * 3 // 4), ("1500M", 80, 1_200_000_000), ("512Mi", 50, 256 * 1024**2),
])  # fmt: skip
def test_maxmemory_is_a_share_of_the_limit(
    helm: Helm, limit: str, percent: int, expected: int
) -> None:
    sets = (f"redis.bundled.resources.limits.memory={limit}",
            f"redis.bundled.resources.requests.memory={limit}",
            f"redis.bundled.maxmemoryPercent={percent}")  # fmt: skip
    args = flags(container(helm.render(sets=sets), "herald-redis")["args"])
    assert args["--maxmemory"] == str(expected)


def test_an_unbounded_redis_is_refused(helm: Helm) -> None:
    error = helm.render_error(sets=("redis.bundled.resources=null",))
    assert "resources.limits.memory or maxmemory" in error
