"""Fixtures for the chart tests: a real `helm` (downloaded once, see helm.py) and the rendered
chart as Python objects, cached per set of values so each combination renders once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import helm_binary, helm_env

CHART = Path(__file__).resolve().parents[2] / "charts" / "herald"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "herald"
NAMESPACE = "herald"

Doc = dict[str, Any]


class Helm:
    """Runs the real helm binary with its state kept in a temporary directory."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        self.env = helm_env(home)
        self._cache: dict[tuple[str, ...], list[Doc]] = {}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run_with_env(self.env, *args)

    def run_with_env(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=env, timeout=60
        )

    def template_args(self, values: tuple[str, ...], sets: tuple[str, ...]) -> list[str]:
        """`sets` are `--set` assignments; those starting with `json:` go to `--set-json`."""
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
        for path in values:
            args += ["-f", path]
        for assignment in sets:
            if assignment.startswith("json:"):
                args += ["--set-json", assignment.removeprefix("json:")]
            else:
                args += ["--set", assignment]
        return args

    def render(self, *values: str | Path, sets: tuple[str, ...] = ()) -> list[Doc]:
        """`helm template` → the rendered documents (fails the test if helm fails)."""
        key = (*map(str, values), "--", *sets)
        if key not in self._cache:
            result = self.run(*self.template_args(tuple(map(str, values)), sets))
            assert result.returncode == 0, result.stderr
            self._cache[key] = [d for d in yaml.safe_load_all(result.stdout) if d]
        return self._cache[key]

    def render_error(self, *values: str | Path, sets: tuple[str, ...] = ()) -> str:
        """`helm template` that must fail → its error output."""
        result = self.run(*self.template_args(tuple(map(str, values)), sets))
        assert result.returncode != 0, f"helm template succeeded with {sets}"
        return result.stderr


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Helm]:
    yield Helm(helm_binary(), tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def render(helm: Helm) -> Callable[..., list[Doc]]:
    return helm.render


def find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    """Documents of a kind (and name)."""
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    [doc] = find(docs, kind, name)
    return doc


def pod_specs(docs: list[Doc]) -> dict[str, Doc]:
    """Workload name → its pod spec (Deployments and StatefulSets)."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def container(docs: list[Doc], workload: str) -> Doc:
    """The one container of a workload."""
    [only] = pod_specs(docs)[workload]["containers"]
    result: Doc = only
    return result


def env_of(c: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in c.get("env", [])}
