"""The image, without a container engine (TESTING.md, "Containers"): hadolint passes on the
Dockerfile, and every command the chart runs in a container exists there — Herald's commands
as entry points of this package with the subcommands and flags the chart passes, Redis'
as the official image's `redis-server`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib import import_module
from pathlib import Path

import pytest

from tests.chart.conftest import CHART, CI_VALUES, Doc, Helm, pod_specs

ROOT = CHART.parents[1]
DOCKERFILE = ROOT / "Dockerfile"
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
REDIS_IMAGE = re.compile(r"^(docker\.io/)?(library/)?redis:[0-9][^@]*$")
# Binaries of the python:*-slim base image (coreutils) the chart's hooks call.
BASE_IMAGE_COMMANDS = {"sleep"}


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    pairs = []
    for line in (raw.strip() for raw in text.splitlines()):
        if line and not line.startswith("#"):
            op, _, arg = line.partition(" ")
            pairs.append((op, arg.strip()))
    return pairs


def _image_uid() -> int:
    [user] = [arg for op, arg in _instructions() if op == "USER"]
    return int(user.split(":")[0])


def test_image_installs_both_entry_points_and_runs_as_non_root() -> None:
    instructions = _instructions()
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "--extra gateway --extra operator" in runs
    # Numeric, so that the kubelet can verify runAsNonRoot.
    assert _image_uid() > 0
    [entrypoint] = [arg for op, arg in instructions if op == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["herald"]
    assert [arg for op, arg in instructions if op == "FROM"][-1] == "${PYTHON_IMAGE}"


def test_pod_user_is_the_image_user(helm: Helm) -> None:
    for name, spec in pod_specs(helm.render()).items():
        if name != "herald-redis":
            assert spec["securityContext"]["runAsUser"] == _image_uid(), name


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    assert {"!pyproject.toml", "!README.md", "!gateway/", "!operator/"} <= set(lines)


def test_project_scripts_resolve_to_callables() -> None:
    assert "herald" in SCRIPTS
    for target in SCRIPTS.values():
        module, _, function = target.partition(":")
        assert callable(getattr(import_module(module), function))


@cache
def herald_help(*subcommand: str) -> str:
    script = Path(sys.executable).with_name("herald")
    result = subprocess.run(
        [str(script), *subcommand, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def chart_containers(docs: list[Doc]) -> list[Doc]:
    specs = pod_specs(docs).values()
    return [c for spec in specs for c in spec["containers"] + spec.get("initContainers", [])]


def _options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))


@pytest.mark.parametrize("values", [pytest.param(p, id=p.stem) for p in CI_VALUES])
def test_every_command_the_chart_runs_exists(helm: Helm, values: Path) -> None:
    subcommands = re.search(r"\{([a-z,]+)\}", herald_help())
    assert subcommands, herald_help()
    for c in chart_containers(helm.render(values)):
        command = c["command"]
        if c["name"] == "redis":
            assert REDIS_IMAGE.match(c["image"]), c["image"]
            assert command == ["redis-server"]
            continue
        assert command[0] in SCRIPTS, command
        assert command[1] in subcommands[1].split(","), command
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        if pre_stop:
            assert pre_stop[0] in BASE_IMAGE_COMMANDS


@pytest.mark.parametrize("values", [pytest.param(p, id=p.stem) for p in CI_VALUES])
def test_every_flag_the_chart_passes_is_accepted(helm: Helm, values: Path) -> None:
    for c in chart_containers(helm.render(values)):
        if c["name"] == "redis":
            continue
        flags = {a for a in c.get("args", []) if a.startswith("--")}
        accepted = _options(herald_help(*c["command"][1:]))
        if flags and accepted <= {"--help"}:
            pytest.skip(f"`herald {c['command'][1]}` takes no options yet (operator: issue #4)")
        assert flags <= accepted, (c["command"], flags - accepted)
