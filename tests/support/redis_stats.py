"""Counting what a Redis server was asked to do (INFO commandstats), for tests and
benchmarks that prove a quiet steady state: write commands, including those run inside Lua
scripts, and PUBLISH (what makes gateways reload)."""

from __future__ import annotations

from typing import Any

import redis


def reset(client: redis.Redis) -> None:
    client.config_resetstat()


def calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last reset (lower-case names; `a|b` for subcommands)."""
    stats: dict[str, Any] = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def _is_write(client: redis.Redis, command: str) -> bool:
    name = command.partition("|")[0]
    reply: Any = client.execute_command("COMMAND", "INFO", name)  # type: ignore[no-untyped-call]
    info = reply.get(name) if isinstance(reply, dict) else (reply or [None])[0]
    if not info:
        return False
    flags = info.get("flags", []) if isinstance(info, dict) else info[2]
    return any((f.decode() if isinstance(f, bytes) else f) == "write" for f in flags)


def writes(client: redis.Redis, ignore: tuple[str, ...] = ("config",)) -> dict[str, int]:
    """Write commands (and PUBLISH) called since the last reset, by command."""
    return {cmd: n for cmd, n in calls(client).items()
            if cmd.partition("|")[0] not in ignore
            and (cmd == "publish" or _is_write(client, cmd))}  # fmt: skip
