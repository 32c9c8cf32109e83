"""The chart's CRDs: files/crds/ holds byte-identical copies of the repository's crds/, their
single source of truth (STYLE rules 35 and 42), and templates/crds.yaml renders exactly them,
cert-manager style: upgraded by `helm upgrade` when crds.enabled, kept on uninstall when
crds.keep, left to the user otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.chart.conftest import CHART, Doc, Helm, find

SOURCE = CHART.parents[1] / "crds"
COPY = CHART / "files" / "crds"
HERALD_CRDS = {"topics.herald.dev", "subscriptions.herald.dev"}


def source_crds() -> dict[str, dict[str, Any]]:
    crds: dict[str, dict[str, Any]] = {}
    for path in sorted(SOURCE.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == 1, f"{path}: one CRD per file (templates/crds.yaml reads one)"
        crds[docs[0]["metadata"]["name"]] = docs[0]
    return crds


def rendered(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in find(docs, "CustomResourceDefinition")
            if d["metadata"]["name"] in HERALD_CRDS}  # fmt: skip


def test_chart_crds_are_identical_to_crds_dir() -> None:
    source = {p.name: p.read_bytes() for p in SOURCE.iterdir() if p.is_file()}
    copy = {p.name: p.read_bytes() for p in COPY.iterdir() if p.is_file()}
    assert sorted(copy) == sorted(source), "re-copy: cp crds/* charts/herald/files/crds/"
    for name, content in source.items():
        assert copy[name] == content, f"charts/herald/files/crds/{name} differs from crds/{name}"


def test_the_chart_has_no_crds_directory_for_herald() -> None:
    """Helm installs a chart's crds/ once and never upgrades it, and would collide with the
    templated CRDs: the chart must not have one (the kopf-peering subchart keeps its own)."""
    assert not (CHART / "crds").exists()


def test_rendered_crds_are_the_source_crds(helm: Helm) -> None:
    crds = rendered(helm.render())
    source = source_crds()
    assert set(crds) == set(source) == HERALD_CRDS
    for name, crd in crds.items():
        meta = crd["metadata"]
        assert meta["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        # Apart from the labels and the annotation Helm needs, exactly the source.
        stripped = {**crd, "metadata": {"name": meta["name"]}}
        assert stripped == source[name], name


def test_crds_keep_false_lets_uninstall_remove_them(helm: Helm) -> None:
    for crd in rendered(helm.render(sets=("crds.keep=false",))).values():
        assert "annotations" not in crd["metadata"]


def test_crds_enabled_false_renders_none(helm: Helm) -> None:
    assert rendered(helm.render(sets=("crds.enabled=false",))) == {}


def test_every_example_kind_has_a_crd_in_the_chart(helm: Helm) -> None:
    kinds = {crd["spec"]["names"]["kind"] for crd in rendered(helm.render()).values()}
    examples = Path(CHART.parents[1] / "examples")
    used = {d["kind"] for p in examples.glob("*.yaml") for d in yaml.safe_load_all(p.read_text())
            if d and d.get("apiVersion", "").startswith("herald.dev/")}  # fmt: skip
    assert used <= kinds
