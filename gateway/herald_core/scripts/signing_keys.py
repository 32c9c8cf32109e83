"""Typed calls of the signing-key scripts: LOAD_KEYS, ROTATE_KEYS
(herald_core/lua/<name>.lua states each one's KEYS, ARGV and reply)."""

from __future__ import annotations

from herald_core.keys import Keys
from herald_core.scripts.lua import ScriptCall, load

_LOAD_KEYS = load("load_keys")
_ROTATE_KEYS = load("rotate_keys")


def load_keys(keys: Keys, seed: str, current: str, next_: str) -> ScriptCall:
    """Reply: [current, next] as stored."""
    return _LOAD_KEYS.call((keys.signing_keys,), (seed, current, next_))


def rotate_keys(keys: Keys, fresh: str) -> ScriptCall:
    """Reply: [current, next] after the rotation."""
    return _ROTATE_KEYS.call((keys.signing_keys,), (fresh,))
