"""Subscriber credentials, pure: the delivery headers a Subscription takes from Secrets of
its namespace, and the redaction of credentials in the URLs Herald shows.

Two ways to name them (crds/subscriptions.herald.dev.yaml), after Flux's notification
`Provider.spec.secretRef` and Kubernetes' `env[].valueFrom.secretKeyRef`:
- `secretRef: {name}`: the Secret's `token` key becomes `Authorization: Bearer <token>`,
  `username` + `password` become `Authorization: Basic ...`, and `headers` (one
  `Name: value` per line, a flat YAML map) adds any header;
- `headersFrom: [{name, secretKeyRef: {name, key}}]`: one header per Secret key.

The operator reads the Secrets (herald_operator.references) and hands their decoded data
here; errors name Secrets and keys, never values. Where the values go is README "Subscriber
credentials".
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from herald_core.errors import UnresolvedReference
from herald_core.specs import SubscriptionSpec

SecretData = Mapping[str, str]
REDACTED = "REDACTED"
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_RESERVED = re.compile(r"(?i)^(upstash-.*|content-length|host)$")
#: Query keys whose values are redacted wherever a URL is shown (substring, any case).
_SECRET_QUERY = re.compile(r"(?i)(token|secret|pass|pwd|key|sig|auth|credential|session|code)")


def secret_names(spec: SubscriptionSpec) -> tuple[str, ...]:
    """The Secrets a Subscription reads, sorted, each once."""
    names = {ref.secret_key_ref.name for ref in spec.headers_from}
    if spec.secret_ref is not None:
        names.add(spec.secret_ref.name)
    return tuple(sorted(names))


def decode_secret(data: Mapping[str, str] | None) -> dict[str, str]:
    """A Secret's `data` (base64 values) as text; a key that is not base64 UTF-8 is left out
    (and is then reported missing by `secret_headers`)."""
    out: dict[str, str] = {}
    for key, raw in (data or {}).items():
        try:
            out[key] = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, TypeError):
            continue
    return out


def secret_headers(
    spec: SubscriptionSpec, secrets: Mapping[str, SecretData | None]
) -> dict[str, str]:
    """The headers the Subscription's Secrets give (`secrets`: name → decoded data, None for
    a Secret that does not exist). Raises UnresolvedReference with a CamelCase reason."""
    headers: dict[str, str] = {}
    if spec.secret_ref is not None:
        name = spec.secret_ref.name
        for header, value in _from_secret_ref(name, _secret(secrets, name)):
            _add(headers, header, value, f'Secret "{name}"')
    for ref in spec.headers_from:
        src = ref.secret_key_ref
        data = _secret(secrets, src.name)
        if src.key not in data:
            raise UnresolvedReference(
                "SecretKeyNotFound", f'Secret "{src.name}" has no key "{src.key}"'
            )
        _add(headers, ref.name, data[src.key], f'Secret "{src.name}" key "{src.key}"')
    return headers


def _secret(secrets: Mapping[str, SecretData | None], name: str) -> SecretData:
    data = secrets.get(name)
    if data is None:
        raise UnresolvedReference("SecretNotFound", f'Secret "{name}" not found')
    return data


def _from_secret_ref(name: str, data: SecretData) -> list[tuple[str, str]]:
    out = [_header_line(name, line) for line in data.get("headers", "").splitlines()]
    out = [pair for pair in out if pair is not None]
    token, user, password = data.get("token"), data.get("username"), data.get("password")
    if token is not None and (user is not None or password is not None):
        raise UnresolvedReference(
            "InvalidSecret", f'Secret "{name}" has both token and username/password'
        )
    if (user is None) != (password is None):
        raise UnresolvedReference(
            "InvalidSecret", f'Secret "{name}" needs both username and password'
        )
    if token is not None:
        out.append(("Authorization", "Bearer " + token.strip()))
    elif user is not None and password is not None:
        pair = f"{user.strip()}:{password.strip()}".encode()
        out.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
    if not out:
        raise UnresolvedReference(
            "SecretKeyNotFound",
            f'Secret "{name}" has none of the keys token, username and password, headers',
        )
    return out  # type: ignore[return-value]


def _header_line(name: str, line: str) -> tuple[str, str] | None:
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    header, sep, value = line.partition(":")
    if not sep:
        raise UnresolvedReference(
            "InvalidSecret", f'Secret "{name}" key "headers": lines must be "Name: value"'
        )
    return header.strip(), value.strip().strip("\"'")


def _add(headers: dict[str, str], name: str, value: str, where: str) -> None:
    value = value.rstrip("\r\n")  # files read into Secrets often end with one
    if not _TOKEN.match(name) or _RESERVED.match(name):
        raise UnresolvedReference(
            "InvalidSecret", f"{where}: {name!r} is not a header Herald may send"
        )
    if "\r" in value or "\n" in value or "\0" in value:
        raise UnresolvedReference("InvalidSecret", f"{where}: the value of {name} spans lines")
    if any(existing.lower() == name.lower() for existing in headers):
        raise UnresolvedReference("InvalidSecret", f"{where}: header {name} is given twice")
    headers[name] = value


def redact_url(url: str) -> str:
    """`url` as it may be shown (status, printer columns, API views): `user:password@` and
    the values of secret-looking query keys replaced by REDACTED."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_QUERY.search(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if _SECRET_QUERY.search(k) else v) for k, v in pairs])
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
