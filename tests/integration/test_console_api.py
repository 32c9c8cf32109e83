"""The console's own endpoints (`/console/api`) through a real gateway: the tokens they
accept, what a namespace token sees, and `HERALD_CONSOLE=false` serving nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Receiver
from tests.support.tokens import add_namespace_token

pytestmark = [pytest.mark.integration, pytest.mark.in_process]


def test_session_topics_and_overview_by_token(gateway: Gateway, receiver: Receiver) -> None:
    for namespace in ("shop", "other"):
        url = receiver.url(receiver.new_path())
        response = gateway.client.post(f"/v2/topics/{namespace}/grp/endpoints",
                                       json={"endpoints": [{"url": url}]})  # fmt: skip
        assert response.status_code == 200
    add_namespace_token(gateway.redis_url, "shop", "shop-token-0123456789")
    shop = {"Authorization": "Bearer shop-token-0123456789"}
    admin = gateway.client.get("/console/api/session").json()
    assert admin == {"admin": True, "namespace": "default", "readonly": False}
    wrong = httpx.get(f"{gateway.url}/console/api/session", headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid token"}

    topics = httpx.get(f"{gateway.url}/console/api/topics", headers=shop).json()
    assert [t["id"] for t in topics] == ["shop/grp"]
    assert {t["id"] for t in gateway.client.get("/console/api/topics").json()} == {
        "shop/grp", "other/grp"}  # fmt: skip

    gateway.publish("shop/grp", b"x")
    gateway.publish("other/grp", b"y")
    wait_until(lambda: gateway.client.get("/console/api/overview").json()["activity"]["series"]
               ["DELIVERED"][-1] + gateway.client.get("/console/api/overview").json()["activity"]
               ["series"]["DELIVERED"][-2] >= 2, what="two deliveries counted")  # fmt: skip
    overview = httpx.get(f"{gateway.url}/console/api/overview", headers=shop).json()
    assert "activity" not in overview and "backlog" not in overview  # Herald-wide: admin only
    assert overview["subscriptions"]["count"] == 1
    bad = gateway.client.get("/console/api/overview", params={"window": "2y"})
    assert bad.status_code == 400 and "window" in bad.json()["error"]


def test_tail_shows_a_namespace_token_only_its_messages(
    gateway: Gateway, receiver: Receiver
) -> None:
    for namespace in ("shop", "other"):
        url = receiver.url(receiver.new_path())
        gateway.client.post(f"/v2/topics/{namespace}/grp/endpoints",
                            json={"endpoints": [{"url": url}]})  # fmt: skip
    add_namespace_token(gateway.redis_url, "shop", "shop-token-0123456789")
    shop = {"Authorization": "Bearer shop-token-0123456789"}
    with httpx.stream("GET", f"{gateway.url}/console/api/tail", headers=shop, timeout=10) as tail:
        lines = tail.iter_lines()
        assert next(lines) == "event: ready"
        [other] = gateway.publish("other/grp", b"y").json()
        [mine] = gateway.publish("shop/grp", b"x").json()
        seen = []
        for line in lines:
            if line.startswith("data: "):
                seen.append(line)
                if mine["messageId"] in line:
                    break
        assert not [line for line in seen if other["messageId"] in line]


def test_console_off_serves_nothing(make_gateway) -> None:
    gateway = make_gateway(console="false")
    assert httpx.get(f"{gateway.url}/console/").status_code == 404
    assert gateway.client.get("/console/api/session").status_code == 404
