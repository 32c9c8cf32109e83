"""What the chart hands the processes: every environment variable it sets is a Herald
setting (DESIGN.md §8), secrets arrive through secretKeyRef, the generated Secret's values are
strong enough, existing Secrets replace it, and the Redis URL is built correctly."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from herald_core.settings import Settings
from tests.chart.conftest import CHART, CI_VALUES, Doc, Helm, container, env_of, find, pod_specs

VALUE_FILES = [pytest.param(path, id=path.stem) for path in CI_VALUES]
HERALD_CONTAINERS = ("herald-gateway", "herald-worker", "herald-operator")
SECRET_SETTINGS = {"HERALD_TOKEN", "HERALD_READONLY_TOKEN", "HERALD_CURRENT_SIGNING_KEY",
                   "HERALD_NEXT_SIGNING_KEY"}  # fmt: skip
# values.yaml defaults that deliberately differ from Settings: production logs are JSON.
DELIBERATE_DEFAULTS = {"logJson": True}


def herald_containers(docs: list[Doc]) -> dict[str, Doc]:
    specs = pod_specs(docs)
    return {name: container(docs, name) for name in HERALD_CONTAINERS if name in specs}


def extra_env_names(values: Path) -> set[str]:
    """Names the values file adds through `<component>.extraEnv` (the user's, not the chart's)."""
    given = yaml.safe_load(values.read_text()) or {}
    return {e["name"] for component in ("gateway", "worker", "operator")
            for e in given.get(component, {}).get("extraEnv", [])}  # fmt: skip


@pytest.mark.parametrize("values", VALUE_FILES)
def test_every_env_var_the_chart_sets_is_a_setting(helm: Helm, values: Path) -> None:
    """HERALD_* names are Settings fields; any other name only feeds a $(VAR) expansion."""
    fields = {name.upper() for name in Settings.model_fields}
    extra = extra_env_names(values)
    for name, c in herald_containers(helm.render(values)).items():
        env = c["env"]
        names = [e["name"] for e in env]
        assert len(names) == len(set(names)), f"{name}: duplicate variables"
        for position, var in enumerate(env):
            if var["name"] in extra:
                continue
            if var["name"].startswith("HERALD_"):
                assert var["name"].removeprefix("HERALD_") in fields, (name, var["name"])
                continue
            # A helper variable: used by a later variable's $(NAME), as Kubernetes requires.
            later = " ".join(e.get("value", "") for e in env[position + 1 :])
            assert f"$({var['name']})" in later, (name, var["name"])


def test_config_defaults_are_the_settings_defaults() -> None:
    config = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    for key, value in config.items():
        field = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        assert field in Settings.model_fields, key
        expected = DELIBERATE_DEFAULTS.get(key, Settings.model_fields[field].default)
        if isinstance(expected, tuple):  # a list setting: the chart gives it comma-separated
            value = tuple(item.strip() for item in value.split(",") if item.strip())
        assert value == expected, key


def test_config_values_become_env_vars_with_exact_numbers(helm: Helm) -> None:
    gateway = env_of(container(helm.render(), "herald-gateway"))
    assert gateway["HERALD_MAX_BODY_BYTES"]["value"] == "1048576"  # not 1.048576e+06
    assert gateway["HERALD_MAX_DELAY"]["value"] == "31536000"
    assert gateway["HERALD_HOST_DEFER"]["value"] == "0.05"
    assert gateway["HERALD_LOG_JSON"]["value"] == "true"
    assert gateway["HERALD_KEY_PREFIX"]["value"] == "herald"
    # The settings a process reads parse from what the chart renders.
    plain = {k: v["value"] for k, v in gateway.items() if "value" in v and "$(" not in v["value"]}
    settings = Settings(**{k.removeprefix("HERALD_").lower(): v for k, v in plain.items()})
    assert settings.max_body_bytes == 1048576 and settings.role_set == {"api", "worker"}


def test_operator_settings_defaults_are_the_settings_defaults() -> None:
    operator = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]
    fields = Settings.model_fields
    assert operator["resyncInterval"] == fields["operator_resync_interval"].default
    assert operator["watchTimeout"] == fields["operator_watch_timeout"].default


def test_operator_gets_only_the_settings_it_uses(helm: Helm) -> None:
    operator = env_of(container(helm.render(), "herald-operator"))
    assert set(operator) == {"REDIS_PASSWORD", "HERALD_REDIS_URL", "HERALD_KEY_PREFIX",
                             "HERALD_LOG_JSON", "HERALD_LOG_LEVEL", "HERALD_SHARDS",
                             "HERALD_PUBLIC_URL", "HERALD_OPERATOR_RESYNC_INTERVAL",
                             "HERALD_OPERATOR_WATCH_TIMEOUT", "HERALD_NAMESPACE_TOKENS",
                             "HERALD_SUBSCRIPTION_SECRETS", "HERALD_METRICS_PORT",
                             "HERALD_OPERATOR_REFERENCE_RECHECK",
                             "HERALD_OPERATOR_HEALTH_INTERVAL",
                             "HERALD_OPERATOR_DEGRADED_FAILURE_RATIO",
                             "HERALD_OPERATOR_DEGRADED_MIN_ATTEMPTS",
                             "HERALD_OPERATOR_DEGRADED_WINDOW",
                             "HERALD_OPERATOR_DEGRADED_STALL"}  # fmt: skip
    assert operator["HERALD_OPERATOR_WATCH_TIMEOUT"]["value"] == "300"


@pytest.mark.parametrize(
    ("sets", "url"),
    [
        ((), "http://herald.herald.svc"),
        (("gateway.service.port=8080",), "http://herald.herald.svc:8080"),
        (("operator.publicUrl=https://herald.example.com/",), "https://herald.example.com"),
    ],
)
def test_topic_addresses_use_the_public_url(helm: Helm, sets: tuple[str, ...], url: str) -> None:
    operator = env_of(container(helm.render(sets=sets), "herald-operator"))
    assert operator["HERALD_PUBLIC_URL"]["value"] == url


def secret_ref(var: Doc) -> tuple[str, str]:
    ref = var["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def test_generated_secret_holds_strong_credentials(helm: Helm) -> None:
    docs = helm.render()
    [secret] = [s for s in find(docs, "Secret") if s["metadata"]["name"] == "herald-auth"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(data) == {"token", "current-signing-key", "next-signing-key"}
    assert data["token"].startswith("herald_") and len(data["token"]) >= 40
    for key in ("current-signing-key", "next-signing-key"):
        assert data[key].startswith("sig_") and len(data[key].encode()) >= 32
    assert data["current-signing-key"] != data["next-signing-key"]
    gateway = env_of(container(docs, "herald-gateway"))
    assert secret_ref(gateway["HERALD_TOKEN"]) == ("herald-auth", "token")
    assert secret_ref(gateway["HERALD_CURRENT_SIGNING_KEY"]) == ("herald-auth",
                                                                 "current-signing-key")  # fmt: skip
    assert secret_ref(gateway["HERALD_NEXT_SIGNING_KEY"]) == ("herald-auth", "next-signing-key")


def test_a_readonly_token_is_generated_and_passed_when_enabled(helm: Helm) -> None:
    assert "HERALD_READONLY_TOKEN" not in env_of(container(helm.render(), "herald-gateway"))
    docs = helm.render(sets=("auth.readonlyToken=true",))
    [secret] = [s for s in find(docs, "Secret") if s["metadata"]["name"] == "herald-auth"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["readonly-token"].startswith("herald_ro_") and len(data["readonly-token"]) >= 40
    assert data["readonly-token"] != data["token"]
    gateway = env_of(container(docs, "herald-gateway"))
    assert secret_ref(gateway["HERALD_READONLY_TOKEN"]) == ("herald-auth", "readonly-token")
    assert "value" not in gateway["HERALD_READONLY_TOKEN"]
    existing = helm.render(CHART / "ci" / "external-redis-secret-values.yaml",
                           sets=("auth.readonlyToken=true",
                                 "auth.existingSecretReadonlyTokenKey=look"))  # fmt: skip
    gateway = env_of(container(existing, "herald-gateway"))
    assert secret_ref(gateway["HERALD_READONLY_TOKEN"]) == ("herald-credentials", "look")
    ha = helm.render(CHART / "ci" / "ha-values.yaml", sets=("auth.readonlyToken=true",))
    worker = env_of(container(ha, "herald-worker"))
    assert "HERALD_READONLY_TOKEN" not in worker


@pytest.mark.parametrize("values", VALUE_FILES)
def test_secrets_only_through_secret_key_refs(helm: Helm, values: Path) -> None:
    for name, c in herald_containers(helm.render(values)).items():
        env = env_of(c)
        for var in SECRET_SETTINGS | {"REDIS_PASSWORD"}:
            if var in env:
                assert "value" not in env[var], (name, var)
                assert env[var]["valueFrom"]["secretKeyRef"], (name, var)


def test_existing_secrets_replace_generated_ones(helm: Helm) -> None:
    docs = helm.render(CHART / "ci" / "external-redis-secret-values.yaml")
    assert not find(docs, "Secret")
    gateway = env_of(container(docs, "herald-gateway"))
    assert secret_ref(gateway["HERALD_TOKEN"]) == ("herald-credentials", "admin-token")
    assert secret_ref(gateway["HERALD_CURRENT_SIGNING_KEY"]) == ("herald-credentials",
                                                                 "signing-current")  # fmt: skip
    assert secret_ref(gateway["HERALD_NEXT_SIGNING_KEY"]) == ("herald-credentials",
                                                              "signing-next")  # fmt: skip
    for c in herald_containers(docs).values():
        assert secret_ref(env_of(c)["HERALD_REDIS_URL"]) == ("herald-redis-url", "url")


def test_workers_get_the_signing_keys_but_not_the_admin_token(helm: Helm) -> None:
    worker = env_of(container(helm.render(CHART / "ci" / "ha-values.yaml"), "herald-worker"))
    assert "HERALD_TOKEN" not in worker
    assert {"HERALD_CURRENT_SIGNING_KEY", "HERALD_NEXT_SIGNING_KEY"} <= set(worker)


def test_extra_env_is_appended(helm: Helm) -> None:
    gateway = container(helm.render(CHART / "ci" / "ha-values.yaml"), "herald-gateway")
    assert gateway["env"][-1] == {"name": "PYTHONFAULTHANDLER", "value": "1"}
