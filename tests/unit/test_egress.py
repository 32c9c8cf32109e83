"""The egress policy (herald_core.egress) and its enforcement in the sender at connect time."""

from __future__ import annotations

import pytest

from herald_core.egress import EgressPolicy, check_destination, legacy_ipv4, policy_for
from herald_core.errors import ConfigError, InvalidField
from herald_core.settings import Settings
from herald_gateway.delivery.attempts import Result, classify
from herald_gateway.delivery.sender import Failure


def policy(**lists: str) -> EgressPolicy:
    """The policy of these settings, spelled as in the environment (comma lists)."""
    return policy_for(Settings.model_validate({f"egress_{k}": v for k, v in lists.items()}))


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata
        "169.254.170.2",  # ECS task credentials
        "fd00:ec2::254",
        "fe80::1",
        "100.100.100.200",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_default_refuses_metadata_and_link_local(address: str) -> None:
    problem = EgressPolicy().refusal("example.com", address)
    assert problem is not None and "refused by default" in problem


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "8.8.8.8", "fd12::1"]
)
def test_default_allows_loopback_private_and_public(address: str) -> None:
    assert EgressPolicy().refusal("svc.cluster.local", address) is None


def test_deny_cidrs_refuse_and_beat_allow() -> None:
    p = policy(deny_cidrs="127.0.0.0/8, ::1", allow_cidrs="127.0.0.1/32", allow_hosts="localhost")
    assert "HERALD_EGRESS_DENY_CIDRS" in (p.refusal("localhost", "127.0.0.1") or "")
    assert p.refusal("localhost", "::1") is not None
    assert p.refusal("localhost", "::ffff:127.0.0.1") is not None  # mapped form too
    assert p.refusal("localhost", "10.0.0.1") is None


def test_allow_cidrs_open_the_default_deny() -> None:
    p = policy(allow_cidrs="169.254.10.0/24")
    assert p.refusal("x", "169.254.10.7") is None
    assert p.refusal("x", "169.254.169.254") is not None


def test_allow_hosts_open_the_default_deny_but_not_explicit_denies() -> None:
    p = policy(allow_hosts="*.metadata.internal", deny_cidrs="169.254.169.0/24")
    assert p.refusal("node.metadata.internal", "169.254.1.1") is None
    assert p.refusal("metadata.internal", "169.254.1.1") is not None  # `*.` is subdomains only
    assert p.refusal("node.metadata.internal", "169.254.169.254") is not None  # deny wins


def test_deny_hosts_match_names_and_subdomains() -> None:
    p = policy(deny_hosts="Internal.Example.com., .corp", allow_hosts="internal.example.com")
    assert p.host_refusal("internal.example.com") is not None  # deny beats allow
    assert p.host_refusal("a.corp") is not None
    assert p.host_refusal("corp") is not None  # `.name` covers the name itself
    assert p.host_refusal("example.com") is None
    assert p.refusal("a.corp", "8.8.8.8") is not None


def test_malformed_cidr_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"HERALD_EGRESS_DENY_CIDRS.*'10\.0\.0\.0/33'"):
        policy(deny_cidrs="10.0.0.0/8,10.0.0.0/33")


def test_legacy_ipv4_forms_are_judged_as_their_address() -> None:
    assert str(legacy_ipv4("2130706433")) == "127.0.0.1"
    assert str(legacy_ipv4("0x7f.1")) == "127.0.0.1"
    assert legacy_ipv4("example.com") is None
    assert EgressPolicy().literal_refusal("0xa9.0xfe.0xa9.0xfe") is not None
    assert EgressPolicy().literal_refusal("2852039166") is not None  # 169.254.169.254


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]:80/",
        "http://[fe80::1%25eth0]/",
        "http://0.0.0.0:8080/",
        "http://2852039166/",
    ],
)
def test_check_destination_refuses_refused_literals(url: str) -> None:
    with pytest.raises(InvalidField, match=r"destination url.*egress policy"):
        check_destination(url, Settings())


def test_check_destination_leaves_names_to_connect_time() -> None:
    settings = Settings(egress_deny_cidrs=("127.0.0.0/8",), egress_deny_hosts=("blocked.example",))
    assert check_destination("http://localhost:9/x", settings) == "http://localhost:9/x"
    with pytest.raises(InvalidField, match=r"127\.0\.0\.1 is in 127\.0\.0\.0/8"):
        check_destination("http://127.0.0.1:9/x", settings)
    with pytest.raises(InvalidField, match=r"Upstash-Callback.*blocked\.example is denied"):
        check_destination("https://blocked.example/cb", settings, "Upstash-Callback")


def test_a_refused_target_fails_for_good() -> None:
    outcome = classify(Failure("egress refused: ...", retryable=False), 0.0)
    assert outcome.result is Result.FAILED
    assert classify(Failure("connection refused"), 0.0).result is Result.RETRY


# -- enforcement in the sender, against a real HTTP server ----------------------------------
