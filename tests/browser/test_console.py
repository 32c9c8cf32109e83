"""The console as a person uses it: sign in, look at each page, act (retry a dead letter,
pause a queue), and see only what the token allows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import MISSING, Console, install_examples
from tests.support.gateway import Gateway, wait_until
from tests.support.receiver import Answer, Receiver
from tests.support.tokens import add_namespace_token

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from selenium.webdriver.common.by import By

pytestmark = pytest.mark.integration


def test_a_wrong_token_is_refused(console: Console) -> None:
    console.sign_in("not-a-token")
    console.wait_text(By.ID, "signin-error", "refused")
    console.screenshot("sign-in")
    assert not console.driver.find_elements(By.ID, "nav-overview")


def test_topics_publish_and_live_tail(
    console: Console, gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path()
    install_examples(gateway.redis_url, receiver, path)
    console.sign_in()
    console.wait_text(By.ID, "who", "admin")
    console.go("#/topics")
    console.wait_for(By.CSS_SELECTOR, "[data-topic='shop/orders']")
    topic = console.driver.find_element(By.CSS_SELECTOR, "[data-topic='shop/orders']").text
    assert "billing" in topic and "shipping" in topic and "sample" in topic
    assert "example-billing-token" not in console.driver.page_source

    console.go("#/messages")
    console.wait_text(By.ID, "tail-status", "live")
    [published] = [m for m in gateway.publish("shop/orders", b'{"order": 1}').json()
                   if m["url"] == receiver.url(path)]  # fmt: skip
    receiver.wait_for(path, 1)
    message = published["messageId"]
    console.wait_for(
        By.CSS_SELECTOR, f"#tail-rows tr[data-message='{message}'][data-state='DELIVERED']"
    )
    console.screenshot("messages")

    console.driver.find_element(
        By.CSS_SELECTOR, f"#tail-rows tr[data-message='{message}'] a"
    ).click()
    console.wait_for(By.CSS_SELECTOR, ".history-row[data-state='DELIVERED']")
    assert '{"order": 1}' in console.driver.find_element(By.TAG_NAME, "main").text
    console.screenshot("message")

    console.go("#/overview")
    console.wait_text(By.ID, "card-CREATED", "in window")
    console.screenshot("overview")


def test_a_dead_letter_is_retried_from_the_console(
    console: Console, gateway: Gateway, receiver: Receiver
) -> None:
    path = receiver.new_path(Answer(500, body=b"receiver down"))  # then 200
    response = gateway.publish(receiver.url(path), b"\x00\xffbinary", **{"Upstash-Retries": "0"})
    message = response.json()["messageId"]
    wait_until(lambda: gateway.client.get("/v2/dlq").json()["messages"], what="a dead letter")
    console.sign_in()
    console.go("#/dlq")
    row = console.wait_for(By.CSS_SELECTOR, f".dlq-row[data-message='{message}']")
    console.screenshot("dead-letters")
    row.find_element(By.CSS_SELECTOR, "a").click()
    console.wait_text(By.TAG_NAME, "main", "binary, 8 bytes")  # not UTF-8: base64, with size
    assert "receiver down" in console.driver.find_element(By.TAG_NAME, "main").text
    console.screenshot("dead-letter")

    console.driver.find_element(By.ID, "retry-one").click()
    console.accept_confirmation()
    receiver.wait_for(path, 2)  # the retry is a new message, delivered
    assert gateway.client.get("/v2/dlq").json()["messages"] == []
    console.wait_for(By.CSS_SELECTOR, ".history-row[data-state='DELIVERED']")


def test_a_queue_is_paused_and_resumed(console: Console, gateway: Gateway) -> None:
    gateway.client.post("/v2/queues", json={"queueName": "emails", "parallelism": 2})
    gateway.client.post(
        "/v2/schedules/http://127.0.0.1:9/tick", headers={"Upstash-Cron": "*/5 * * * *"}
    )
    console.sign_in()
    console.go("#/schedules")
    console.wait_for(By.CSS_SELECTOR, ".queue-row[data-queue='emails'][data-paused='false']")
    console.wait_for(By.CSS_SELECTOR, ".schedule-row")
    console.driver.find_element(By.CSS_SELECTOR, ".queue-row[data-queue='emails'] .toggle").click()
    console.wait_for(By.CSS_SELECTOR, ".queue-row[data-queue='emails'][data-paused='true']")
    assert gateway.client.get("/v2/queues/emails").json()["paused"] is True
    console.screenshot("schedules")
    console.driver.find_element(By.CSS_SELECTOR, ".queue-row[data-queue='emails'] .toggle").click()
    console.wait_for(By.CSS_SELECTOR, ".queue-row[data-queue='emails'][data-paused='false']")
    assert gateway.client.get("/v2/queues/emails").json()["paused"] is False

    console.go("#/keys")
    current = console.wait_for(By.ID, "key-current").text
    assert "•" in current and gateway.client.get("/v2/keys").json()["current"] not in current
    console.screenshot("keys")


def test_a_namespace_token_sees_only_its_namespace(
    console: Console, gateway: Gateway, receiver: Receiver
) -> None:
    install_examples(gateway.redis_url, receiver, receiver.new_path())
    endpoints = {"endpoints": [{"url": receiver.url(receiver.new_path())}]}
    gateway.client.post("/v2/topics/other/alerts/endpoints", json=endpoints)
    add_namespace_token(gateway.redis_url, "shop", "shop-token-0123456789")
    console.sign_in("shop-token-0123456789")
    console.wait_text(By.ID, "who", "namespace shop")
    console.go("#/topics")
    console.wait_for(By.CSS_SELECTOR, "[data-topic='shop/orders']")
    assert not console.driver.find_elements(By.CSS_SELECTOR, "[data-topic='other/alerts']")
    assert not console.driver.find_elements(By.ID, "nav-dlq")  # admin pages are not offered
    console.screenshot("topics-namespace")
    [mine] = gateway.publish("shop/orders", b"{}", **{"Upstash-Delay": "1h"}).json()[:1]
    [theirs] = gateway.publish("other/alerts", b"{}", **{"Upstash-Delay": "1h"}).json()
    logged = {mine["messageId"], theirs["messageId"]}
    wait_until(lambda: logged <= {r["messageId"] for r in gateway.client.get("/v2/logs").json()
                                  ["logs"]}, what="both messages logged")  # fmt: skip
    console.go("#/messages")
    console.wait_for(By.CSS_SELECTOR, f"#log-rows tr[data-message='{mine['messageId']}']")
    assert not console.driver.find_elements(
        By.CSS_SELECTOR, f"#log-rows tr[data-message='{theirs['messageId']}']"
    )
    console.sign_in()  # the admin sees both
    console.go("#/topics")
    console.wait_for(By.CSS_SELECTOR, "[data-topic='other/alerts']")
    console.wait_for(By.CSS_SELECTOR, "[data-topic='shop/orders']")
    console.screenshot("topics")


def test_a_readonly_token_looks_but_cannot_act(
    driver: Any, make_gateway: Callable[..., Gateway], receiver: Receiver
) -> None:
    look = "look-token-0123456789"
    gateway = make_gateway(readonly_token=look)
    console = Console(driver, gateway)
    install_examples(gateway.redis_url, receiver, receiver.new_path())
    gateway.client.post("/v2/queues", json={"queueName": "emails", "parallelism": 2})
    path = receiver.new_path(Answer(500))
    failed = gateway.publish(receiver.url(path), b"x", **{"Upstash-Retries": "0"})
    message = failed.json()["messageId"]
    wait_until(lambda: gateway.client.get("/v2/dlq").json()["messages"], what="a dead letter")

    console.sign_in(look)
    console.wait_text(By.ID, "who", "read-only")
    console.go("#/topics")
    console.wait_for(By.CSS_SELECTOR, "[data-topic='shop/orders']")
    console.go("#/dlq")
    row = console.wait_for(By.CSS_SELECTOR, f".dlq-row[data-message='{message}']")
    assert not row.find_element(By.CSS_SELECTOR, ".retry").is_displayed()
    assert not console.driver.find_element(By.ID, "retry-all").is_displayed()
    console.screenshot("dead-letters-readonly")
    console.go("#/schedules")
    queue = console.wait_for(By.CSS_SELECTOR, ".queue-row[data-queue='emails']")
    assert not queue.find_element(By.CSS_SELECTOR, ".toggle").is_displayed()
    console.go("#/keys")  # the signing keys are for admin tokens only
    console.wait_for(By.ID, "keys-refused")
    assert not console.driver.find_elements(By.ID, "rotate")

    # the page's own way to the API, as a hidden button would call it: refused, nothing done
    refused = console.driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import("./js/api.js").then(({ api }) => api("/v2/queues/emails/pause", { method: "POST" }))
          .then(() => done("accepted"), (e) => done(`${e.status} ${e.message}`));"""
    )
    assert refused == "403 read-only token"
    assert gateway.client.get("/v2/queues/emails").json()["paused"] is False
    assert gateway.client.get("/v2/dlq").json()["messages"]
