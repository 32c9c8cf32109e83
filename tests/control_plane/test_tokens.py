"""Namespace tokens through the real operator: Secrets labelled `herald.dev/token` are read,
never written (no finalizer, no annotation), and a Secret deleted while no operator ran is
revoked at the next start."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from herald_core.keys import Keys
from herald_core.routing_store import token_hash
from herald_gateway.dev.embedded import free_port
from tests.support.gateway import REPO, wait_until
from tests.support.kube import KubeServer

pytestmark = pytest.mark.integration
ROUTES = Keys("herald", 4).routing
GROUP_API = "herald.dev/v1alpha1"


def token_secret(namespace: str, name: str, token: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"herald.dev/token": "publisher"}, **meta},
            "data": {"token": base64.b64encode(token.encode()).decode()}}  # fmt: skip


def owners(r: redis.Redis) -> dict[str, str]:
    raw: dict[bytes, bytes] = r.hgetall(ROUTES.tokens)  # type: ignore[assignment]
    return {v.decode(): k.decode() for k, v in raw.items()}


def herald_marks(obj: dict[str, Any] | None) -> list[str]:
    """Finalizers and annotations kopf (or Herald) would have left on the object."""
    meta = (obj or {}).get("metadata", {})
    marks = list(meta.get("finalizers") or [])
    marks += [a for a in meta.get("annotations") or {} if "herald" in a or "kopf" in a]
    return marks


def test_token_secrets_are_never_patched(run_operator, kube: KubeServer, rclient) -> None:
    with run_operator():
        kube.create("v1", "secrets", token_secret("shop", "publisher", "shop-token-1"))
        wait_until(lambda: owners(rclient) == {"shop/publisher": token_hash("shop-token-1")},
                   what="token stored")  # fmt: skip
        # rotate the token: the new hash replaces the old one
        kube.patch("v1", "secrets", "shop", "publisher",
                   {"data": {"token": base64.b64encode(b"shop-token-2").decode()}})  # fmt: skip
        wait_until(lambda: owners(rclient) == {"shop/publisher": token_hash("shop-token-2")},
                   what="token rotated")  # fmt: skip
        assert herald_marks(kube.get("v1", "secrets", "shop", "publisher")) == []
        # an unlabelled Secret is ignored altogether
        kube.create("v1", "secrets", {"apiVersion": "v1", "kind": "Secret",
                                      "metadata": {"name": "db", "namespace": "shop"},
                                      "data": {"token": "eA=="}})  # fmt: skip
        # delete: no finalizer holds the Secret, and its token is revoked
        kube.delete("v1", "secrets", "shop", "publisher")
        assert kube.get("v1", "secrets", "shop", "publisher") is None
        wait_until(lambda: owners(rclient) == {}, what="token revoked")
        assert herald_marks(kube.get("v1", "secrets", "shop", "db")) == []


def test_a_secret_deleted_while_no_operator_ran_is_revoked_at_start(
    run_operator, kube: KubeServer, rclient
) -> None:
    with run_operator():
        kube.create("v1", "secrets", token_secret("shop", "publisher", "shop-token"))
        wait_until(lambda: "shop/publisher" in owners(rclient), what="token stored")
    kube.delete("v1", "secrets", "shop", "publisher")  # no operator runs, no finalizer holds it
    assert "shop/publisher" in owners(rclient)
    with run_operator():  # and no token Secret is left to send an event
        wait_until(lambda: owners(rclient) == {}, what="stale token revoked")


def test_a_finalizer_left_by_an_earlier_version_is_not_touched(
    run_operator, kube: KubeServer, rclient
) -> None:
    """The operator never writes to a Secret (it has no right to): the token of a Secret an
    early version finalized is stored all the same (README, "Upgrading", removes it)."""
    legacy = token_secret("shop", "old", "old-token", finalizers=["herald.dev/finalizer"])
    kube.create("v1", "secrets", legacy)
    with run_operator():
        wait_until(lambda: "shop/old" in owners(rclient), what="token stored")


def test_namespace_tokens_off_reads_no_secret_and_revokes_stored_tokens(
    kube: KubeServer, operator_env: str, rclient, tmp_path: Path
) -> None:
    """HERALD_NAMESPACE_TOKENS=false: `herald operator` never lists or watches a Secret (the
    chart grants it none) and revokes the namespace tokens an earlier run stored."""
    rclient.hset(ROUTES.tokens, token_hash("stored-before"), "shop/publisher")
    kube.create("v1", "secrets", token_secret("shop", "publisher", "shop-token"))
    env = {**os.environ, "HERALD_NAMESPACE_TOKENS": "false",
           "PYTHONPATH": f"{REPO / 'gateway'}{os.pathsep}{REPO / 'operator'}"}  # fmt: skip
    command = [sys.executable, "-m", "herald_gateway.cli", "operator", "--standalone",
               "--liveness", f"http://127.0.0.1:{free_port()}/healthz"]  # fmt: skip
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    try:
        kube.create(GROUP_API, "topics", {"apiVersion": GROUP_API, "kind": "Topic",
                                          "metadata": {"name": "orders", "namespace": "shop"},
                                          "spec": {}})  # fmt: skip
        kube.wait_condition("topics", "shop", "orders", "Ready", "True", timeout=30)
        wait_until(lambda: owners(rclient) == {}, what="stored tokens revoked")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    # The test's own create (POST) aside, nothing asked for a Secret.
    asked = [p for p in kube.emulator.requested_paths if "secrets" in p and "POST" not in p]
    assert asked == [], asked
