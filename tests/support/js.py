"""The official JavaScript SDKs under node, for the tests: `npm ci` of tests/js (pinned by
its package-lock.json), `Js` to run one tests/js script against a gateway, and
`WorkflowServer`, the workflow endpoints of tests/js/workflows served by `@upstash/workflow`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateway import CURRENT_KEY, NEXT_KEY, REPO, TOKEN, Gateway, wait_until
from tests.support.receiver import Received

JS = REPO / "tests" / "js"
MIN_NODE = 18  # the SDK needs the global fetch


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: the tests run the official "
            f"JavaScript SDKs and need Node.js >= {MIN_NODE} with npm",
            pytrace=False,
        )
    return path


def install_sdk() -> Path:
    """`npm ci` into tests/js/node_modules unless this lockfile is installed; node's path."""
    node = _tool("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    if int(version.stdout.strip().lstrip("v").split(".")[0]) < MIN_NODE:
        pytest.fail(f"node {version.stdout.strip()} is too old (>= {MIN_NODE})", pytrace=False)
    digest = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()[:16]
    stamp = JS / "node_modules" / f".herald-installed-{digest}"
    (REPO / ".cache").mkdir(exist_ok=True)
    with (REPO / ".cache" / "npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one `npm ci` at a time for concurrent sessions
        if not stamp.exists():
            done = subprocess.run(
                [_tool("npm"), "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=JS, capture_output=True, text=True, timeout=300,
                env={**os.environ, "npm_config_update_notifier": "false"},
            )  # fmt: skip
            if done.returncode != 0:
                pytest.fail(f"npm ci in {JS} failed:\n{done.stdout}\n{done.stderr}", False)
            stamp.touch()
    return Path(node)


class Js:
    """Runs tests/js scripts with the SDK configured by environment, as users configure it."""

    def __init__(self, node: Path, gateway: Gateway) -> None:
        self.node = node
        self.env = sdk_env(gateway)

    def _run(self, script: str, payload: Any, **env: str) -> tuple[int, Any]:
        done = subprocess.run(
            [str(self.node), script, json.dumps(payload)],
            cwd=JS, capture_output=True, text=True, timeout=60, env={**self.env, **env},
        )  # fmt: skip
        lines = done.stdout.strip().splitlines()
        assert lines, f"{script} printed nothing (exit {done.returncode}):\n{done.stderr}"
        return done.returncode, json.loads(lines[-1])

    def __call__(self, script: str, payload: Any = None, **env: str) -> Any:
        """The script's result; the test fails if the SDK call failed."""
        code, result = self._run(script, payload, **env)
        assert code == 0, f"{script} {payload}: {result}"
        return result

    def error(self, script: str, payload: Any = None) -> dict[str, Any]:
        """The SDK's error ({name, message, status}); the test fails if the call succeeded."""
        code, result = self._run(script, payload)
        assert code == 1 and "error" in result, f"{script} {payload} did not fail: {result}"
        error: dict[str, Any] = result["error"]
        return error

    def verify(self, delivery: Received, url: str, body: str | None = None, **keys: str) -> Any:
        """The SDK Receiver's verdict on a delivery ({valid, reason?})."""
        signature = delivery.header("Upstash-Signature")
        assert signature, "delivery is not signed"
        text = delivery.body.decode() if body is None else body
        payload = {"signature": signature, "body": text, "url": url}
        return self("verify.mjs", payload, **keys)


def sdk_env(gateway: Gateway) -> dict[str, str]:
    """The environment users configure the SDKs with, pointed at `gateway`."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "QSTASH_URL": gateway.url,
        "QSTASH_TOKEN": TOKEN,
        "QSTASH_CURRENT_SIGNING_KEY": CURRENT_KEY,
        "QSTASH_NEXT_SIGNING_KEY": NEXT_KEY,
    }


class WorkflowServer:
    """tests/js/workflow_server.mjs: every workflow of tests/js/workflows served by the SDK's
    `serve` at `url(name)`, each request's signature checked with the signing keys."""

    def __init__(self, node: Path, gateway: Gateway, script: str = "workflow_server.mjs") -> None:
        self.node = node
        self.env = sdk_env(gateway)
        #: workflow_server.mjs (`serve`), or workflow_many_server.mjs (`serveMany`).
        self.script = script
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> WorkflowServer:
        self.process = subprocess.Popen(
            [str(self.node), self.script, "0"], cwd=JS, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until it listens (or dies)
        assert line.startswith("ready "), f"{self.script} did not start: {line}"
        self.port = int(line.split()[1])
        return self

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/wf/{name}"

    def records(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """What the workflows recorded (tests/js/workflows/record.mjs), in order."""
        rows: list[dict[str, Any]] = httpx.get(f"http://127.0.0.1:{self.port}/records").json()
        return [r for r in rows if workflow is None or r["workflow"] == workflow]

    def wait_for(self, workflow: str, what: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first record `what` of `workflow`, waiting for it."""

        def found() -> dict[str, Any] | None:
            return next((r for r in self.records(workflow) if r["what"] == what), None)

        row: dict[str, Any] = wait_until(found, timeout=timeout, what=f"{workflow}: {what}")
        return row

    def stop(self) -> str:
        """Stop the server; what it printed."""
        if self.process is None:
            return ""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=10)
        return out
