"""The chart ships byte-identical copies of the CRDs in the repository's crds/, their single
source of truth (STYLE rules 35 and 42)."""

from __future__ import annotations

import yaml

from tests.chart.conftest import CHART, Helm, find

SOURCE = CHART.parents[1] / "crds"
COPY = CHART / "crds"


def test_chart_crds_are_identical_to_crds_dir() -> None:
    source = {p.name: p.read_bytes() for p in SOURCE.iterdir() if p.is_file()}
    copy = {p.name: p.read_bytes() for p in COPY.iterdir() if p.is_file()}
    assert sorted(copy) == sorted(source), "re-copy: cp crds/* charts/herald/crds/"
    for name, content in source.items():
        assert copy[name] == content, f"charts/herald/crds/{name} differs from crds/{name}"


def test_chart_installs_every_crd(helm: Helm) -> None:
    rendered = {d["metadata"]["name"] for d in find(helm.render(), "CustomResourceDefinition")}
    for path in sorted(SOURCE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "CustomResourceDefinition":
                assert doc["metadata"]["name"] in rendered
