"""Generated credentials survive upgrades: against an emulated API server (kmock, see
tests/support/kube.py) holding the Secrets of an earlier install, `helm template
--dry-run=server` runs the chart's `lookup` for real and must render the same values."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, NAMESPACE, RELEASE, Doc, Helm, find
from tests.support.kube import KubeServer

# Kinds the chart renders by default: Helm maps every object before a server-side dry run.
_KINDS = {
    "v1/services": ("Service", True),
    "v1/serviceaccounts": ("ServiceAccount", True),
    "apps/v1/deployments": ("Deployment", True),
    "apps/v1/statefulsets": ("StatefulSet", True),
    "rbac.authorization.k8s.io/v1/clusterroles": ("ClusterRole", False),
    "rbac.authorization.k8s.io/v1/clusterrolebindings": ("ClusterRoleBinding", False),
}
_VERBS = {"list", "watch", "get", "create", "patch", "delete"}


@pytest.fixture
def cluster() -> Iterator[KubeServer]:
    server = KubeServer()
    resources: Any = server.emulator.resources
    for path, (kind, namespaced) in _KINDS.items():
        resources[path] = {"kind": kind, "namespaced": namespaced, "verbs": _VERBS}
    server.start(namespaces=(NAMESPACE,))
    yield server
    server.stop()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def installed_secret(name: str, data: dict[str, str]) -> Doc:
    """A Secret as an earlier `helm install` of this release left it."""
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": name, "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": RELEASE,
                            "meta.helm.sh/release-namespace": NAMESPACE},
        },
        "data": {key: _b64(value) for key, value in data.items()},
    }  # fmt: skip


def render_docs(helm: Helm, cluster: KubeServer, tmp_path: Path, *args: str) -> list[Doc]:
    env = dict(helm.env, KUBECONFIG=str(cluster.kubeconfig(tmp_path / "kubeconfig")))
    result = helm.run_with_env(
        env, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--dry-run=server", "--disable-openapi-validation", *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def render_against(helm: Helm, cluster: KubeServer, tmp_path: Path) -> dict[str, dict[str, str]]:
    docs = render_docs(helm, cluster, tmp_path)
    return {
        s["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
        for s in find(docs, "Secret")
    }


def test_upgrade_keeps_generated_credentials(
    helm: Helm, cluster: KubeServer, tmp_path: Path
) -> None:
    auth = {"token": "herald_before", "current-signing-key": "sig_" + "a" * 40,
            "next-signing-key": "sig_" + "b" * 40}  # fmt: skip
    cluster.create("v1", "secrets", installed_secret("herald-auth", auth))
    cluster.create("v1", "secrets", installed_secret("herald-redis", {"redis-password": "pw0"}))
    secrets = render_against(helm, cluster, tmp_path)
    assert secrets["herald-auth"] == auth
    assert secrets["herald-redis"] == {"redis-password": "pw0"}


def test_first_install_generates_credentials(
    helm: Helm, cluster: KubeServer, tmp_path: Path
) -> None:
    secrets = render_against(helm, cluster, tmp_path)
    assert secrets["herald-auth"]["token"].startswith("herald_")
    assert len(secrets["herald-redis"]["redis-password"]) == 40


def checksums(docs: list[Doc]) -> dict[str, str]:
    """Workload → its pods' checksum/secrets annotation."""
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    return {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]
            ["checksum/secrets"] for d in workloads}  # fmt: skip


def test_pods_restart_when_an_existing_secret_rotates(
    helm: Helm, cluster: KubeServer, tmp_path: Path
) -> None:
    """An existingSecret is not the chart's, yet its rotation followed by `helm upgrade`
    changes the pods' checksum/secrets (read through `lookup`), so they roll."""
    values = ("--set", "auth.existingSecret=herald-credentials")
    credentials = {"token": "t0", "current-signing-key": "c" * 40, "next-signing-key": "n" * 40}
    cluster.create("v1", "secrets", installed_secret("herald-credentials", credentials))
    cluster.create("v1", "secrets", installed_secret("herald-redis", {"redis-password": "pw0"}))
    before = checksums(render_docs(helm, cluster, tmp_path, *values))
    assert set(before) == {"herald-gateway", "herald-operator", "herald-redis"}
    assert len(set(before.values())) == 1
    assert checksums(render_docs(helm, cluster, tmp_path, *values)) == before  # stable
    cluster.patch("v1", "secrets", NAMESPACE, "herald-credentials",
                  {"data": {"token": _b64("t1")}})  # fmt: skip
    after = checksums(render_docs(helm, cluster, tmp_path, *values))
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)


def test_generated_secrets_kept_on_upgrade_restart_nothing(
    helm: Helm, cluster: KubeServer, tmp_path: Path
) -> None:
    auth = {"token": "herald_x", "current-signing-key": "sig_" + "a" * 40,
            "next-signing-key": "sig_" + "b" * 40}  # fmt: skip
    cluster.create("v1", "secrets", installed_secret("herald-auth", auth))
    cluster.create("v1", "secrets", installed_secret("herald-redis", {"redis-password": "pw0"}))
    first = checksums(render_docs(helm, cluster, tmp_path))
    assert checksums(render_docs(helm, cluster, tmp_path)) == first
