"""The egress policy: which addresses deliveries (and callbacks) may connect to.

Pure. `policy_for(settings)` builds an `EgressPolicy` from the four `HERALD_EGRESS_*` lists;
`EgressPolicy.refusal(host, address)` names the reason an address is refused, or None. The
sender applies it to every *resolved* address at connect time (no DNS-rebinding bypass,
`herald_gateway.delivery.sender`); the publish route refuses what is already known to be refused —
IP-literal and denied hosts — with `check_destination` (400, nothing stored).

Precedence, first match wins:
  1. the host is in `egress_deny_hosts`              → refused
  2. the address is in `egress_deny_cidrs`           → refused
  3. the host is in `egress_allow_hosts`             → allowed
  4. the address is in `egress_allow_cidrs`          → allowed
  5. the address is in `DEFAULT_DENY` (metadata, link-local, ...) → refused
  6. anything else (public, private, loopback)       → allowed
IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) addresses are also judged as
the IPv4 address they carry.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from herald_core.errors import ConfigError, InvalidField
from herald_core.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Refused unless allowed explicitly: never a webhook receiver, often a credential store.
DEFAULT_DENY: tuple[tuple[str, str], ...] = (
    ("169.254.0.0/16", "link-local, cloud metadata (169.254.169.254)"),
    ("fe80::/10", "IPv6 link-local"),
    ("fd00:ec2::254/128", "AWS metadata over IPv6"),
    ("100.100.100.200/32", "Alibaba Cloud metadata"),
    ("168.63.129.16/32", "Azure platform endpoint (WireServer)"),
    # Linux connects 0.0.0.0 to the host itself: it would bypass a loopback deny.
    ("0.0.0.0/8", "'this host' (reaches loopback)"),
    ("::/128", "IPv6 unspecified (reaches loopback)"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "IPv6 multicast"),
    ("240.0.0.0/4", "reserved, broadcast"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$")


def _networks(items: Sequence[str], setting: str) -> tuple[Network, ...]:
    out: list[Network] = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{setting}: {item!r} is not an address or CIDR") from None
    return tuple(out)


def _hosts(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(h for h in (_normal_host(part) for part in items) if h)


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".").strip("[]")


def _embedded(address: Address) -> tuple[Address, ...]:
    """The address and, for IPv6 forms that carry one, the IPv4 address inside."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return (address, address.ipv4_mapped)
        if address in _NAT64:
            return (address, ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return (address,)


def parse_address(text: str) -> Address | None:
    """An IP literal as a URL or a resolver gives it (IPv6 zone ids dropped), else None."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def legacy_ipv4(host: str) -> Address | None:
    """The address of a legacy numeric IPv4 host (`2130706433`, `127.1`, `0x7f.1`), which
    resolvers map to an address although it is no dotted quad; None for anything else."""
    if not _LEGACY_IPV4.match(host.lower()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Allow and deny lists over host names and addresses; see the module docstring."""

    allow_cidrs: tuple[Network, ...] = ()
    deny_cidrs: tuple[Network, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    default_deny: tuple[tuple[Network, str], ...] = tuple(
        (ipaddress.ip_network(cidr), why) for cidr, why in DEFAULT_DENY
    )

    def host_refusal(self, host: str) -> str | None:
        """Why `host` is refused whatever it resolves to (rule 1), or None."""
        if _matches(_normal_host(host), self.deny_hosts):
            return f"host {_normal_host(host)} is denied (HERALD_EGRESS_DENY_HOSTS)"
        return None

    def refusal(self, host: str, address: Address | str) -> str | None:
        """Why connecting to `address` (which `host` resolved to) is refused, or None."""
        problem = self.host_refusal(host)
        if problem is not None:
            return problem
        parsed = parse_address(address) if isinstance(address, str) else address
        if parsed is None:
            return f"{address!r} is not an IP address"
        candidates = _embedded(parsed)
        for net in self.deny_cidrs:
            if any(a.version == net.version and a in net for a in candidates):
                return f"address {parsed} is in {net}, denied (HERALD_EGRESS_DENY_CIDRS)"
        if _matches(_normal_host(host), self.allow_hosts):
            return None
        for net in self.allow_cidrs:
            if any(a.version == net.version and a in net for a in candidates):
                return None
        for net, why in self.default_deny:
            if any(a.version == net.version and a in net for a in candidates):
                return (
                    f"address {parsed} is in {net} ({why}), refused by default "
                    "(allow it with HERALD_EGRESS_ALLOW_CIDRS)"
                )
        return None

    def literal_refusal(self, host: str) -> str | None:
        """For a host written as an address (what `refusal` says), else only rule 1."""
        address = parse_address(host) or legacy_ipv4(host)
        if address is None:
            return self.host_refusal(host)
        return self.refusal(host, address)


def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    """`name` matches itself; `*.name` and `.name` match every name below it."""
    for pattern in patterns:
        if pattern.startswith(("*.", ".")):
            suffix = pattern[pattern.index(".") :]
            if host.endswith(suffix) or (pattern[0] == "." and host == suffix[1:]):
                return True
        elif host == pattern:
            return True
    return False


@functools.lru_cache(maxsize=8)
def parse_policy(
    allow_cidrs: tuple[str, ...],
    deny_cidrs: tuple[str, ...],
    allow_hosts: tuple[str, ...],
    deny_hosts: tuple[str, ...],
) -> EgressPolicy:
    """A policy from the lists of the four settings; ConfigError names a bad entry."""
    return EgressPolicy(
        allow_cidrs=_networks(allow_cidrs, "HERALD_EGRESS_ALLOW_CIDRS"),
        deny_cidrs=_networks(deny_cidrs, "HERALD_EGRESS_DENY_CIDRS"),
        allow_hosts=_hosts(allow_hosts),
        deny_hosts=_hosts(deny_hosts),
    )


def policy_for(settings: Settings) -> EgressPolicy:
    """The policy `settings` configure, built once per distinct configuration."""
    return parse_policy(
        settings.egress_allow_cidrs,
        settings.egress_deny_cidrs,
        settings.egress_allow_hosts,
        settings.egress_deny_hosts,
    )


def check_destination(url: str, settings: Settings, field: str = "destination url") -> str:
    """Return `url`, or raise InvalidField (400) when its host is refused at publish time:
    a denied host name, or an IP literal the policy refuses. Other host names are judged
    when they are resolved, at every delivery attempt."""
    host = urlsplit(url).hostname or ""
    problem = _verdict(settings.egress_allow_cidrs, settings.egress_deny_cidrs,
                       settings.egress_allow_hosts, settings.egress_deny_hosts, host)  # fmt: skip
    if problem is not None:
        raise InvalidField(field, f"refused by the egress policy: {problem}")
    return url


# Every publish is checked: a verdict per (configuration, host) is computed once (~2 % of
# a publish's CPU otherwise, measured with py-spy under bench.pipeline).
@functools.lru_cache(maxsize=4096)
def _verdict(
    allow_cidrs: tuple[str, ...],
    deny_cidrs: tuple[str, ...],
    allow_hosts: tuple[str, ...],
    deny_hosts: tuple[str, ...],
    host: str,
) -> str | None:
    return parse_policy(allow_cidrs, deny_cidrs, allow_hosts, deny_hosts).literal_refusal(host)
