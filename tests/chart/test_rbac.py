"""The operator's RBAC is exactly what it needs (STYLE rule 47) and nothing more; the
gateway and workers get none. Secrets are granted only to the features that read them
(namespaceTokens: list/watch; subscriptionSecrets: get/list/watch), per watched namespace
when the operator watches a list. Peering objects and their RBAC appear only with
operator.replicaCount > 1."""

from __future__ import annotations

from typing import Any

import pytest

from herald_core.settings import Settings
from tests.chart.conftest import CHART, Doc, Helm, container, env_of, find, one, pod_specs

CLUSTER_ROLE = "herald-herald-operator"
PEERING = "herald-herald-operator"

# (apiGroup, resource) → verbs
Rules = dict[tuple[str, str], set[str]]

FRAMEWORK_CLUSTER: Rules = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("", "namespaces"): {"list", "watch"},
}
CUSTOM_RESOURCES: Rules = {
    ("", "events"): {"create"},
    ("herald.dev", "topics"): {"get", "list", "watch", "patch"},
    ("herald.dev", "subscriptions"): {"get", "list", "watch", "patch"},
    ("herald.dev", "topics/status"): {"get", "patch"},
    ("herald.dev", "subscriptions/status"): {"get", "patch"},
    ("", "services"): {"get"},  # EndpointResolved of `service` endpoints
}
# The defaults: namespace tokens on, Secret-sourced headers on.
PER_NAMESPACE: Rules = CUSTOM_RESOURCES | {("", "secrets"): {"get", "list", "watch"}}
# (namespaceTokens.enabled, subscriptionSecrets.enabled) → the verbs on Secrets.
SECRET_VERBS: dict[tuple[bool, bool], set[str] | None] = {
    (True, False): {"list", "watch"},
    (True, True): {"get", "list", "watch"},
    (False, True): {"get"},
    (False, False): None,
}


def rules(role: Doc) -> Rules:
    """Flatten a role's rules; no rule may use wildcards, names or non-resource URLs."""
    flat: Rules = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert "*" not in (group, resource, *rule["verbs"])
                flat.setdefault((group, resource), set()).update(rule["verbs"])
    return flat


def binding_subject(binding: Doc) -> dict[str, Any]:
    [subject] = binding["subjects"]
    result: dict[str, Any] = subject
    return result


def test_cluster_wide_operator_rbac_is_exact(helm: Helm) -> None:
    docs = helm.render()
    assert rules(one(docs, "ClusterRole", CLUSTER_ROLE)) == FRAMEWORK_CLUSTER | PER_NAMESPACE
    assert not find(docs, "Role") and not find(docs, "RoleBinding")
    binding = one(docs, "ClusterRoleBinding", CLUSTER_ROLE)
    assert binding["roleRef"]["name"] == CLUSTER_ROLE
    assert binding_subject(binding) == {
        "kind": "ServiceAccount", "name": "herald-operator", "namespace": "herald"}  # fmt: skip


def test_namespaced_operator_gets_a_role_per_namespace(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "namespaced-operator-values.yaml")
    assert rules(one(docs, "ClusterRole", CLUSTER_ROLE)) == FRAMEWORK_CLUSTER
    roles = find(docs, "Role")
    assert {r["metadata"]["namespace"] for r in roles} == {"shop", "billing"}
    peering = {("kopf.dev", "kopfpeerings"): {"get", "list", "watch", "patch"}}
    for role in roles:
        assert rules(role) == PER_NAMESPACE | peering
    for binding in find(docs, "RoleBinding"):
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": "herald-operator"}  # fmt: skip
        assert binding_subject(binding)["namespace"] == "herald"
    args = container(docs, "herald-operator")["args"]
    assert args[:4] == ["--namespace", "shop", "--namespace", "billing"]
    kopf_peerings = find(docs, "KopfPeering")
    assert {p["metadata"]["namespace"] for p in kopf_peerings} == {"shop", "billing"}
    assert {p["metadata"]["name"] for p in kopf_peerings} == {PEERING}


def test_single_operator_is_standalone_without_peering(helm: Helm) -> None:
    docs = helm.render()
    operator = one(docs, "Deployment", "herald-operator")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    args = container(docs, "herald-operator")["args"]
    assert "--standalone" in args and "--peering" not in args
    assert not find(docs, "ClusterKopfPeering") and not find(docs, "KopfPeering")


def test_operator_replicas_run_active_standby_through_kopf_peering(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "ha-values.yaml")
    args = container(docs, "herald-operator")["args"]
    assert "--standalone" not in args
    assert args[args.index("--peering") + 1] == PEERING
    one(docs, "ClusterKopfPeering", PEERING)
    peering_rule = {("kopf.dev", "clusterkopfpeerings"): {"get", "list", "watch", "patch"}}
    expected = FRAMEWORK_CLUSTER | PER_NAMESPACE | peering_rule
    assert rules(one(docs, "ClusterRole", CLUSTER_ROLE)) == expected
    # The kinds' CRDs ship with the chart (kopf-peering subchart, installed before templates).
    crds = {d["metadata"]["name"] for d in find(docs, "CustomResourceDefinition")}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= crds


def feature_sets(tokens: bool, headers: bool) -> tuple[str, ...]:
    return (f"namespaceTokens.enabled={str(tokens).lower()}",
            f"subscriptionSecrets.enabled={str(headers).lower()}")  # fmt: skip


def expected_rules(tokens: bool, headers: bool) -> Rules:
    verbs = SECRET_VERBS[tokens, headers]
    return CUSTOM_RESOURCES | ({("", "secrets"): verbs} if verbs else {})


@pytest.mark.parametrize(("tokens", "headers"), list(SECRET_VERBS))
def test_secrets_are_granted_only_to_the_features_that_read_them(
    helm: Helm, tokens: bool, headers: bool
) -> None:
    docs = helm.render(sets=feature_sets(tokens, headers))
    expected = FRAMEWORK_CLUSTER | expected_rules(tokens, headers)
    assert rules(one(docs, "ClusterRole", CLUSTER_ROLE)) == expected
    env = env_of(container(docs, "herald-operator"))
    assert env["HERALD_NAMESPACE_TOKENS"]["value"] == str(tokens).lower()
    assert env["HERALD_SUBSCRIPTION_SECRETS"]["value"] == str(headers).lower()
    # What the operator process reads from those variables.
    settings = Settings.model_validate({
        "namespace_tokens": env["HERALD_NAMESPACE_TOKENS"]["value"],
        "subscription_secrets": env["HERALD_SUBSCRIPTION_SECRETS"]["value"]})  # fmt: skip
    assert (settings.namespace_tokens, settings.subscription_secrets) == (tokens, headers)


@pytest.mark.parametrize(("tokens", "headers"), list(SECRET_VERBS))
def test_namespaced_secret_access_stays_in_the_watched_namespaces(
    helm: Helm, tokens: bool, headers: bool
) -> None:
    docs = helm.render(CHART / "ci" / "namespaced-operator-values.yaml",
                       sets=feature_sets(tokens, headers))  # fmt: skip
    assert rules(one(docs, "ClusterRole", CLUSTER_ROLE)) == FRAMEWORK_CLUSTER
    peering = {("kopf.dev", "kopfpeerings"): {"get", "list", "watch", "patch"}}
    for role in find(docs, "Role"):
        assert rules(role) == expected_rules(tokens, headers) | peering


def test_rbac_comments_group_framework_and_application() -> None:
    text = (CHART / "templates" / "operator-rbac.yaml").read_text()
    text += (CHART / "templates" / "_operator.tpl").read_text()
    assert text.count("# Framework:") >= 3
    assert text.count("# Application:") >= 2
    assert "herald.dev/token" in text  # why the operator may read Secrets


def test_rbac_create_false_renders_no_rbac(helm: Helm) -> None:
    docs = helm.render(sets=("rbac.create=false",))
    assert not [d for d in docs if d["apiVersion"].startswith("rbac.authorization.k8s.io")]


def test_only_the_operator_mounts_a_service_account_token(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "ha-values.yaml")
    specs = pod_specs(docs)
    assert specs["herald-operator"]["automountServiceAccountToken"] is True
    for name in ("herald-gateway", "herald-worker", "herald-redis"):
        assert specs[name]["automountServiceAccountToken"] is False, name
    accounts = {sa["metadata"]["name"]: sa for sa in find(docs, "ServiceAccount")}
    assert set(accounts) == {"herald-gateway", "herald-worker", "herald-operator"}
    assert accounts["herald-gateway"]["automountServiceAccountToken"] is False
    assert accounts["herald-worker"]["automountServiceAccountToken"] is False
    assert specs["herald-gateway"]["serviceAccountName"] == "herald-gateway"
    assert specs["herald-operator"]["serviceAccountName"] == "herald-operator"


def test_operator_disabled_renders_no_operator_objects(helm: Helm) -> None:
    docs = helm.render(sets=("operator.enabled=false",))
    names = {d["metadata"]["name"] for d in docs}
    assert not [n for n in names if "operator" in n]
