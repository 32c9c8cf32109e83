"""The pods: probes, security contexts (STYLE rule 46), graceful termination, roles, spread,
and the optional objects (HPA, PDB, Ingress, ServiceMonitor, PrometheusRule, NetworkPolicy)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.chart.conftest import (
    CHART,
    CI_VALUES,
    Doc,
    Helm,
    container,
    env_of,
    find,
    one,
    pod_specs,
)

HA = CHART / "ci" / "ha-values.yaml"
VALUE_FILES = [pytest.param(path, id=path.stem) for path in CI_VALUES]
OPTIONAL_KINDS = {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "ServiceMonitor",
                  "PrometheusRule", "NetworkPolicy"}  # fmt: skip


@pytest.mark.parametrize("values", VALUE_FILES)
def test_security_contexts_everywhere(helm: Helm, values: Path) -> None:
    for name, spec in pod_specs(helm.render(values)).items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert isinstance(pod["runAsUser"], int) and pod["runAsUser"] > 0, name
        for c in spec["containers"] + spec.get("initContainers", []):
            ctx = c["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name
            assert ctx["readOnlyRootFilesystem"] is True, name


def test_defaults_set_no_resources_and_no_optional_objects(helm: Helm) -> None:
    """Resources are the user's to size, except the bundled Redis': its maxmemory is
    derived from its memory limit (tests/chart/test_redis.py)."""
    docs = helm.render()
    for name, spec in pod_specs(docs).items():
        for c in spec["containers"]:
            assert ("resources" in c) == (name == "herald-redis"), name
    assert not [d for d in docs if d["kind"] in OPTIONAL_KINDS]


def test_ha_values_turn_on_every_optional_object(helm: Helm) -> None:
    kinds = {d["kind"] for d in helm.render(HA)}
    assert OPTIONAL_KINDS <= kinds


def test_gateway_probes(helm: Helm) -> None:
    gateway = container(helm.render(), "herald-gateway")
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ]
    assert env_of(gateway)["HERALD_PORT"]["value"] == "8080"
    assert env_of(gateway)["HERALD_METRICS_PORT"]["value"] == "9090"


def test_probes_can_be_turned_off(helm: Helm) -> None:
    docs = helm.render(sets=("gateway.livenessProbe.enabled=false",
                             "gateway.readinessProbe.enabled=false"))  # fmt: skip
    gateway = container(docs, "herald-gateway")
    assert "livenessProbe" not in gateway and "readinessProbe" not in gateway


def test_operator_liveness_probe_is_kopfs_endpoint(helm: Helm) -> None:
    operator = container(helm.render(), "herald-operator")
    assert operator["command"] == ["herald", "operator"]
    args = operator["args"]
    assert args[args.index("--liveness") + 1] == "http://0.0.0.0:8081/healthz"
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert operator["ports"][0] == {"name": "health", "containerPort": 8081, "protocol": "TCP"}
    assert "readinessProbe" not in operator


@pytest.mark.parametrize("grace", ["20", "45", "0.5", "300"])
def test_termination_grace_outlasts_the_shutdown_grace(helm: Helm, grace: str) -> None:
    docs = helm.render(HA, sets=(f"json:config.shutdownGrace={grace}",))
    for name in ("herald-gateway", "herald-worker"):
        spec = pod_specs(docs)[name]
        c = container(docs, name)
        assert env_of(c)["HERALD_SHUTDOWN_GRACE"]["value"] == grace
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        delay = int(pre_stop[1]) if pre_stop else 0
        # uvicorn's graceful-shutdown timeout is shutdown_grace + 5 (herald_gateway/cli.py).
        assert spec["terminationGracePeriodSeconds"] > math.ceil(float(grace)) + 5 + delay


def test_gateway_pre_stop_delay_before_sigterm(helm: Helm) -> None:
    docs = helm.render()
    gateway = container(docs, "herald-gateway")
    assert gateway["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    no_delay = helm.render(sets=("gateway.preStopDelaySeconds=0",))
    assert "lifecycle" not in container(no_delay, "herald-gateway")


def test_roles_split_between_gateway_and_workers(helm: Helm) -> None:
    together = container(helm.render(), "herald-gateway")
    assert env_of(together)["HERALD_ROLES"]["value"] == "api,worker"
    docs = helm.render(HA)
    assert env_of(container(docs, "herald-gateway"))["HERALD_ROLES"]["value"] == "api"
    worker = container(docs, "herald-worker")
    assert worker["command"] == ["herald", "gateway"]
    assert env_of(worker)["HERALD_ROLES"]["value"] == "worker"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_gateway_spreads_over_zones_and_nodes(helm: Helm) -> None:
    spec = pod_specs(helm.render())["herald-gateway"]
    constraints = spec["topologySpreadConstraints"]
    keys = [c["topologyKey"] for c in constraints]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    for c in constraints:
        assert c["whenUnsatisfiable"] == "ScheduleAnyway"
        assert c["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    off = pod_specs(helm.render(sets=("gateway.topologySpread.enabled=false",)))
    assert "topologySpreadConstraints" not in off["herald-gateway"]


def test_gateway_service_is_the_publish_address(helm: Helm) -> None:
    service = one(helm.render(), "Service", "herald")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]  # fmt: skip
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "gateway"


def test_autoscaling_replaces_the_replica_count(helm: Helm) -> None:
    docs = helm.render(HA)
    gateway = one(docs, "Deployment", "herald-gateway")
    assert "replicas" not in gateway["spec"]
    hpa = one(docs, "HorizontalPodAutoscaler", "herald-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "herald-gateway"}  # fmt: skip
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    metrics = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert metrics == {"cpu": {"type": "Utilization", "averageUtilization": 70},
                       "memory": {"type": "Utilization", "averageUtilization": 80}}  # fmt: skip
    one(docs, "HorizontalPodAutoscaler", "herald-worker")


def test_an_autoscaler_that_could_never_scale_is_refused(helm: Helm) -> None:
    """The CPU target is a share of the request, and one Herald process uses at most a core."""
    on = ("gateway.autoscaling.enabled=true",)
    assert "needs gateway.resources.requests.cpu" in helm.render_error(sets=on)
    for cpu in ("2", "1500m"):
        error = helm.render_error(sets=(*on, f"gateway.resources.requests.cpu={cpu}"))
        assert "above one core" in error and "at most 1428m" in error
    workers = ("worker.enabled=true", "worker.autoscaling.enabled=true")
    assert "worker.resources.requests.cpu" in helm.render_error(sets=workers)
    assert "cannot read the CPU quantity" in helm.render_error(
        sets=(*workers, "worker.resources.requests.cpu=lots"))  # fmt: skip
    for cpu in ("1", "0.5", "1400m"):
        docs = helm.render(sets=(*on, f"gateway.resources.requests.cpu={cpu}"))
        one(docs, "HorizontalPodAutoscaler", "herald-gateway")


def test_disruption_budgets_select_their_component(helm: Helm) -> None:
    docs = helm.render(HA)
    budgets = {p["metadata"]["name"]: p["spec"] for p in find(docs, "PodDisruptionBudget")}
    assert set(budgets) == {"herald-gateway", "herald-worker", "herald-operator"}
    assert budgets["herald-worker"]["maxUnavailable"] == "25%"
    for name, spec in budgets.items():
        component = name.removeprefix("herald-")
        assert spec["selector"]["matchLabels"]["app.kubernetes.io/component"] == component


def test_ingress_routes_the_api_port_only_never_metrics(helm: Helm) -> None:
    docs = helm.render(HA)
    ingress = one(docs, "Ingress", "herald")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "herald.example.com"
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "herald", "port": {"name": "http"}}
    # The Service behind it exposes the API port alone: /metrics lives on another port.
    service = one(docs, "Service", "herald")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert ingress["spec"]["tls"] == [{"hosts": ["herald.example.com"],
                                       "secretName": "herald-tls"}]  # fmt: skip


def test_ingress_without_hosts_is_refused(helm: Helm) -> None:
    error = helm.render_error(sets=("gateway.ingress.enabled=true",))
    assert "gateway.ingress.hosts" in error


def test_service_monitor_scrapes_the_metrics_ports(helm: Helm) -> None:
    docs = helm.render(HA)
    monitor = one(docs, "ServiceMonitor", "herald")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector["herald.dev/metrics"] == "true"
    selected = [
        s
        for s in find(docs, "Service")
        if all(s["metadata"]["labels"].get(k) == v for k, v in selector.items())
    ]
    by_component = {s["metadata"]["labels"]["app.kubernetes.io/component"]: s for s in selected}
    assert set(by_component) == {"gateway", "worker", "operator"}
    for component, service in by_component.items():
        assert service["metadata"]["name"] == f"herald-{component}-metrics"
        assert service["spec"]["clusterIP"] == "None"
        assert service["spec"]["ports"] == [
            {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
        ]
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == component
        ports = {p["name"]: p["containerPort"] for p in container(docs, f"herald-{component}")
                 ["ports"]}  # fmt: skip
        assert ports["metrics"] == 9090
        assert env_of(container(docs, f"herald-{component}"))["HERALD_METRICS_PORT"] == {
            "name": "HERALD_METRICS_PORT", "value": "9090"}  # fmt: skip


def test_prometheus_rules_cover_backlog_dlq_failures_redis_and_objects(helm: Helm) -> None:
    rule = one(helm.render(HA), "PrometheusRule", "herald")
    [group] = rule["spec"]["groups"]
    alerts: dict[str, Doc] = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"HeraldBacklogStale", "HeraldDeadLettersGrowing",
                           "HeraldDeliveryFailureRatioHigh", "HeraldRedisErrors",
                           "HeraldGatewayDown", "HeraldScheduleTicksFailing",
                           "HeraldTopicNotReady", "HeraldSubscriptionNotReady",
                           "HeraldTopicDegraded", "HeraldSubscriptionDegraded",
                           "HeraldOperatorReconcileErrors"}  # fmt: skip
    # The series come from the metrics Services the ServiceMonitor scrapes.
    assert 'service=~"herald-gateway-metrics|herald-worker-metrics"' in alerts[
        "HeraldBacklogStale"]["expr"]  # fmt: skip
    assert "herald_backlog_oldest_age_seconds" in alerts["HeraldBacklogStale"]["expr"]
    assert "herald_dlq_size" in alerts["HeraldDeadLettersGrowing"]["expr"]
    ratio = alerts["HeraldDeliveryFailureRatioHigh"]["expr"]
    assert 'outcome=~"retry|failed"' in ratio and "herald_deliveries_total" in ratio
    assert "herald_redis_errors_total" in alerts["HeraldRedisErrors"]["expr"]
    assert 'outcome="failed"' in alerts["HeraldScheduleTicksFailing"]["expr"]
    operator = 'namespace="herald", service="herald-operator-metrics"'
    for kind in ("Topic", "Subscription"):
        not_ready = alerts[f"Herald{kind}NotReady"]
        assert not_ready["expr"] == (f'max(herald_operator_objects{{{operator}, kind="{kind}", '
                                     'condition="Ready", status!="True"}) > 0')  # fmt: skip
        assert not_ready["for"] == "15m"
        degraded = alerts[f"Herald{kind}Degraded"]["expr"]
        assert f'kind="{kind}", condition="Degraded", status="True"' in degraded
    errors = alerts["HeraldOperatorReconcileErrors"]["expr"]
    assert "herald_operator_reconciles_total" in errors and 'outcome=~"error|failed"' in errors
    for name, alert in alerts.items():
        if name != "HeraldGatewayDown":
            assert 'namespace="herald"' in alert["expr"]
            assert alert["labels"]["severity"] == "critical"
            assert "{{ $value" in alert["annotations"]["description"] or name.endswith("Stale")


def test_network_policies_restrict_ingress_only(helm: Helm) -> None:
    docs = helm.render(HA)
    policies = {p["metadata"]["name"]: p["spec"] for p in find(docs, "NetworkPolicy")}
    assert set(policies) == {"herald-gateway", "herald-worker", "herald-operator", "herald-redis"}
    for spec in policies.values():
        assert spec["policyTypes"] == ["Ingress"]  # egress open: endpoints are anywhere
    [redis_rule] = policies["herald-redis"]["ingress"]
    [peer] = redis_rule["from"]
    assert peer["podSelector"]["matchExpressions"][0]["values"] == ["gateway", "worker",
                                                                    "operator"]  # fmt: skip
    api_rule, metrics_rule = policies["herald-gateway"]["ingress"]
    assert api_rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert api_rule["from"] == [{"namespaceSelector": {"matchLabels": {
        "herald.dev/publisher": "true"}}}]  # fmt: skip
    # Publishers may not scrape: the metrics port admits only networkPolicy.metricsFrom.
    monitoring = [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}}]  # fmt: skip
    assert metrics_rule == {"ports": [{"port": "metrics", "protocol": "TCP"}],
                            "from": monitoring}  # fmt: skip
    assert policies["herald-worker"]["ingress"] == [metrics_rule]
    assert policies["herald-operator"]["ingress"] == [
        {"ports": [{"port": "health", "protocol": "TCP"}]},
        metrics_rule,
    ]


def test_image_tag_defaults_to_app_version_and_digest_wins(helm: Helm) -> None:
    assert container(helm.render(), "herald-gateway")["image"] == "herald:0.1.0"
    pinned = container(helm.render(HA), "herald-gateway")["image"]
    assert pinned == "registry.example.com/herald@sha256:" + "0" * 64
    assert pod_specs(helm.render(HA))["herald-gateway"]["imagePullSecrets"] == [
        {"name": "registry-credentials"}]  # fmt: skip


def test_without_operator_no_operator_alerts_or_metrics_service(helm: Helm) -> None:
    docs = helm.render(HA, sets=("operator.enabled=false",))
    [group] = one(docs, "PrometheusRule", "herald")["spec"]["groups"]
    assert not [r for r in group["rules"] if "operator" in r["expr"]]
    assert not find(docs, "Service", "herald-operator-metrics")
