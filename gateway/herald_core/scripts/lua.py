"""Loading the Lua scripts of herald_core/lua: includes, the key layout, the SHA-1.

A script file starts with a comment block stating its KEYS, ARGV and reply. A line
`-- @include <name>` stands for herald_core/lua/include/<name>.lua, put in once per script
at its first mention (an include may include others), wrapped in luacheck markers (a
script may use only part of a shared include). `-- @include layout` stands for the table
LAYOUT, generated from herald_core.keys.SHARD_LAYOUT, from which include/keys.lua builds a
shard's key names. The assembled text is what Redis runs, by EVALSHA; every script loaded
here is loaded again into a Redis that answers NOSCRIPT (herald_core.store.guarded), and
it is what luacheck lints (tests/unit/test_lua.py).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from herald_core.keys import SHARD_LAYOUT

_INCLUDE = re.compile(r"^-- @include (\S+)\s*$", re.MULTILINE)
_LAYOUT_VALUE = re.compile(r"^[a-z:]+$")


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script as Redis runs it, and its SHA-1 (what EVALSHA takes)."""

    name: str
    source: str
    sha: str

    def call(self, keys: tuple[str, ...], args: tuple[Any, ...]) -> ScriptCall:
        return ScriptCall(self, keys, args)


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One run of a script, its KEYS and ARGV built by a typed wrapper."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[Any, ...]

    def queue(self, pipe: Any) -> None:
        """Queue the call on a pipeline (replies come with the pipeline's)."""
        pipe.evalsha(self.script.sha, len(self.keys), *self.keys, *self.args)

    async def run(self, redis: Any) -> Any:
        """Run it on a client; NOSCRIPT is the caller's (herald_core.store.guarded)."""
        return await redis.evalsha(self.script.sha, len(self.keys), *self.keys, *self.args)


_REGISTRY: dict[str, Script] = {}


def load(name: str) -> Script:
    """The script of herald_core/lua/<name>.lua, assembled; `registered()` lists it."""
    source = assemble(name)
    script = Script(name, source, hashlib.sha1(source.encode()).hexdigest())
    return _REGISTRY.setdefault(name, script)


def registered() -> tuple[Script, ...]:
    """Every script in use: what a Redis that lost its script cache is given again."""
    return tuple(_REGISTRY.values())


def script_names() -> list[str]:
    """Every script file (includes not counted), by name."""
    return sorted(f.name.removesuffix(".lua") for f in _lua_dir().iterdir()
                  if f.name.endswith(".lua"))  # fmt: skip


def include_names() -> list[str]:
    return sorted(f.name.removesuffix(".lua") for f in (_lua_dir() / "include").iterdir()
                  if f.name.endswith(".lua"))  # fmt: skip


def file_text(name: str) -> str:
    """The text of a script file (`name`) or of an include (`include/<name>`)."""
    text: str = (_lua_dir() / f"{name}.lua").read_text(encoding="utf-8")
    return text


def assemble(name: str) -> str:
    """A script's text with its includes put in (each once, at its first mention)."""
    seen: set[str] = set()

    def expand(text: str) -> str:
        return _INCLUDE.sub(lambda m: include(m.group(1)), text)

    def include(include_name: str) -> str:
        if include_name in seen:
            return f"-- (include/{include_name}.lua: above)"
        seen.add(include_name)
        body = layout() if include_name == "layout" else file_text(f"include/{include_name}")
        return (f"-- luacheck: push ignore 211\n-- begin include/{include_name}.lua\n"
                f"{expand(body).rstrip()}\n-- end include/{include_name}.lua\n"
                "-- luacheck: pop")  # fmt: skip

    return expand(file_text(name))


@functools.cache
def layout() -> str:
    """LAYOUT, the Lua table of herald_core.keys.SHARD_LAYOUT."""
    for value in SHARD_LAYOUT.values():
        if not _LAYOUT_VALUE.match(value):  # no quoting needed, none done
            raise ValueError(f"key layout value {value!r} is not a plain name")
    fields = "".join(f"  {field} = '{value}',\n" for field, value in SHARD_LAYOUT.items())
    return f"-- generated from herald_core.keys.SHARD_LAYOUT\nlocal LAYOUT = {{\n{fields}}}\n"


def _lua_dir() -> Any:
    return resources.files("herald_core") / "lua"
