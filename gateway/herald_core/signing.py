"""Upstash-Signature: the HS256 JWT every delivery carries (reference §5).

Hand-rolled rather than PyJWT: it is three base64 pieces and one HMAC, and it runs once per
delivery attempt on the hot path. `qstash.Receiver` (PyJWT) verifies it in the tests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

import orjson

_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
TOKEN_LIFETIME = 300
_KEY_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # base58


def body_hash(body: bytes) -> str:
    """base64url SHA-256 of the body, padded (as QStash's Go encoder writes it)."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


def sign(key: str, *, url: str, body_digest: str, now: int) -> str:
    """A JWT for one delivery of a body (given by its `body_hash`) to `url`."""
    claims = {
        "iss": "Upstash",
        "sub": url,
        "exp": now + TOKEN_LIFETIME,
        "nbf": now,
        "iat": now,
        "jti": "jwt_" + secrets.token_hex(12),
        "body": body_digest,
    }
    payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
    signing_input = _HEADER + b"." + payload
    mac = _keyed(key).copy()
    mac.update(signing_input)
    digest = mac.digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(digest).rstrip(b"=")).decode()


@functools.lru_cache(maxsize=8)
def _keyed(key: str) -> hmac.HMAC:
    """The HMAC state after absorbing `key`; copied per signature instead of rebuilt."""
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def new_signing_key() -> str:
    """A fresh key shaped like QStash's: `sig_` + 28 base58 characters (32 bytes)."""
    return "sig_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(28))
