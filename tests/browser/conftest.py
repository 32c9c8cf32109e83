"""The console in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium, against a real `herald gateway` and real Redis.

Skipped, with the reason, where Chromium, its driver or Selenium are missing (`make test`
on a machine without the Debian packages); `.ci/run` installs them. Every test saves
screenshots of the pages it visits: into a temporary directory, or into docs/console/ (the
README's) with `HERALD_SCREENSHOTS=1` (`make screenshots`), so a test run leaves the
tracked images alone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from herald_core.keys import Keys
from herald_core.routing_store import RoutingStore
from herald_gateway.dev.manifests import apply_manifests, load_manifests
from tests.support.gateway import REPO, TOKEN, Gateway
from tests.support.receiver import Receiver

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    MISSING = "" if CHROMIUM and CHROMEDRIVER else (
        "no chromium/chromedriver on PATH (apt-get install chromium chromium-driver)")  # fmt: skip
except ImportError:
    MISSING = "selenium is not installed (the test dependency group has it)"

#: Where screenshots go: the README's with HERALD_SCREENSHOTS=1, else a temporary directory.
SHOTS = (REPO / "docs" / "console" if os.environ.get("HERALD_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / f"herald-console-shots-{os.getpid()}")  # fmt: skip
WAIT = 15.0


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    if MISSING or CHROMIUM is None:
        pytest.skip(MISSING)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser
    browser.quit()


class Console:
    """The console page of one gateway, as a person uses it."""

    def __init__(self, driver: Any, gateway: Gateway) -> None:
        self.driver = driver
        self.gateway = gateway

    def open(self, hash_: str = "") -> Console:
        self.driver.get(f"{self.gateway.url}/console/{hash_}")
        return self

    def sign_in(self, token: str = TOKEN) -> Console:
        self.open()  # each gateway has its own origin (port): a fresh session store
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.refresh()
        field = self.wait_for(By.ID, "token")
        field.send_keys(token)
        self.driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        return self

    def go(self, hash_: str) -> None:
        self.driver.execute_script("location.hash = arguments[0]", hash_)

    def wait_for(self, by: str, what: str, timeout: float = WAIT) -> Any:
        return WebDriverWait(self.driver, timeout).until(ec.presence_of_element_located((by, what)))

    def wait_text(self, by: str, what: str, text: str, timeout: float = WAIT) -> None:
        WebDriverWait(self.driver, timeout).until(
            ec.text_to_be_present_in_element((by, what), text)
        )

    def wait_until(self, condition: Callable[[Any], Any], timeout: float = WAIT) -> Any:
        return WebDriverWait(self.driver, timeout).until(condition)

    def accept_confirmation(self) -> None:
        WebDriverWait(self.driver, WAIT).until(ec.alert_is_present()).accept()

    def screenshot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))


def install_examples(redis_url: str, receiver: Receiver, path: str) -> None:
    """examples/ as `herald dev` applies them, plus a Subscription to the test's receiver."""
    topics, subs = load_manifests(REPO / "examples", "default")
    subs[("shop", "sample")] = {"topic": "orders", "endpoint": {"url": receiver.url(path)},
                                "delivery": {"retries": 0}}  # fmt: skip

    async def apply() -> None:
        redis = Redis.from_url(redis_url)
        try:
            await apply_manifests(RoutingStore(redis, Keys("herald", 16)), topics, subs, ({}, {}))
        finally:
            await redis.aclose()

    asyncio.run(apply())


@pytest.fixture
def console(driver: Any, gateway: Gateway) -> Console:
    return Console(driver, gateway)


@pytest.fixture
def screenshots() -> Path:
    return SHOTS
