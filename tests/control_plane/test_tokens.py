"""Namespace tokens through the real operator: Secrets labelled `herald.dev/token` are read,
never written (no finalizer, no annotation), and a Secret deleted while no operator ran is
revoked at the next start."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import redis

from herald_core.keys import Keys
from herald_core.routing_store import token_hash
from tests.support.gateway import wait_until
from tests.support.kube import KubeServer

pytestmark = pytest.mark.integration
ROUTES = Keys("herald", 4).routing


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


def test_a_finalizer_left_by_an_earlier_version_is_removed(
    run_operator, kube: KubeServer, rclient
) -> None:
    legacy = token_secret("shop", "old", "old-token", finalizers=["herald.dev/finalizer"])
    kube.create("v1", "secrets", legacy)
    with run_operator():
        wait_until(lambda: herald_marks(kube.get("v1", "secrets", "shop", "old")) == [],
                   what="legacy finalizer removed")  # fmt: skip
        assert "shop/old" in owners(rclient)
