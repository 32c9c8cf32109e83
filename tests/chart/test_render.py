"""`helm lint --strict` and `helm template` of the chart with its defaults and with every
charts/herald/ci/*-values.yaml, each rendered document checked against Kubernetes' own
schemas (kubernetes-validate, offline, strict: unknown fields fail)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.conftest import CHART, CI_VALUES, Doc, Helm, find

# Custom resources have no schema in kubernetes-validate: the CRDs' own schemas (crds/) and
# the Prometheus Operator's are checked elsewhere or by their API servers.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "ClusterKopfPeering", "KopfPeering"}
# Oldest supported (Chart.yaml kubeVersion) and newest known Kubernetes.
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())

VALUE_FILES = [pytest.param(path, id=path.stem) for path in CI_VALUES]


def test_ci_values_cover_the_required_scenarios() -> None:
    names = {path.name for path in CI_VALUES}
    assert {"default-values.yaml", "external-redis-values.yaml", "ha-values.yaml"} <= names


def test_lint_strict_with_defaults(helm: Helm) -> None:
    result = helm.run("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", VALUE_FILES)
def test_lint_strict(helm: Helm, values: Path) -> None:
    result = helm.run("lint", "--strict", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stdout + result.stderr


def _validate(doc: Doc, version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(map(str, exc.path))
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {exc.message}")


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUE_FILES)
def test_every_document_passes_kubernetes_validate_strict(
    helm: Helm, values: Path, version: str
) -> None:
    docs = helm.render(values)
    checked = [d for d in docs if d["kind"] not in CUSTOM_KINDS]
    assert checked
    for doc in checked:
        _validate(doc, version)


@pytest.mark.parametrize("values", VALUE_FILES)
def test_names_are_unique_and_namespaced_objects_carry_the_namespace(
    helm: Helm, values: Path
) -> None:
    docs = helm.render(values)
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                      "ClusterKopfPeering"}  # fmt: skip
    for doc in docs:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"].get("namespace"), doc["metadata"]["name"]


@pytest.mark.parametrize("values", VALUE_FILES)
def test_labels_and_selectors(helm: Helm, values: Path) -> None:
    """Every object has the app.kubernetes.io labels; selectors never hold the chart version."""
    for doc in helm.render(values):
        if doc["kind"] == "CustomResourceDefinition":
            continue
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "herald"
        assert labels["app.kubernetes.io/name"] == "herald"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        selector = doc.get("spec", {}).get("selector")
        if isinstance(selector, dict):
            flat = yaml.safe_dump(selector)
            assert "helm.sh/chart" not in flat
            assert "app.kubernetes.io/version" not in flat


def test_common_labels_reach_every_object_but_no_selector(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "ha-values.yaml")
    for doc in docs:
        if doc["kind"] != "CustomResourceDefinition":
            assert doc["metadata"]["labels"]["team"] == "platform", doc["metadata"]["name"]
    for deployment in find(docs, "Deployment"):
        assert "team" not in deployment["spec"]["selector"]["matchLabels"]


def test_long_release_names_are_cut_to_63_characters(helm: Helm) -> None:
    docs = helm.render(sets=("fullnameOverride=" + "h" * 70,))
    for doc in docs:
        if doc["kind"] in ("Service", "Deployment", "StatefulSet"):
            assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
    names = {d["metadata"]["name"] for d in find(docs, "Deployment")}
    assert any(name.endswith("-gateway") for name in names)
    assert any(name.endswith("-operator") for name in names)


def test_chart_app_version_is_the_package_version() -> None:
    import tomllib

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())
    assert chart["appVersion"] == pyproject["project"]["version"]


def test_notes_are_actionable(helm: Helm) -> None:
    result = helm.run("install", "herald", str(CHART), "--namespace", "herald", "--dry-run=client")
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "http://herald.herald.svc/v2/publish/" in notes
    assert "get secret herald-auth" in notes
    assert "kind: Topic" in notes and "| kubectl apply -f -" in notes
    assert "kubectl apply --server-side -f crds/" in notes
    assert "--reset-then-reuse-values" in notes


def test_notes_sample_topic_is_a_valid_custom_resource(helm: Helm) -> None:
    """The Topic and Subscription that NOTES.txt tells users to apply pass the CRDs' schemas."""
    from tests.support.crds import validate

    result = helm.run("install", "herald", str(CHART), "--namespace", "herald", "--dry-run=client")
    notes = result.stdout.split("NOTES:", 1)[1]
    # Each sample is one line to copy: echo '<flow-style YAML>' | kubectl apply -f -
    lines = [line.strip() for line in notes.splitlines() if line.strip().startswith("echo '")]
    objects = [yaml.safe_load(line.split("'")[1]) for line in lines]
    assert all(line.endswith("| kubectl apply -f -") for line in lines)
    assert [o["kind"] for o in objects] == ["Topic", "Subscription"]
    for obj in objects:
        assert validate(obj) == [], obj
