"""Redis traffic of a system with nothing to do: commands per second, per process kind.

Each kind gets a fresh stack of ``bench.pipeline`` (Redis with AOF everysec, the sink, the
system) and no publishes: a ``herald gateway`` with ``HERALD_ROLES=api``, one with
``HERALD_ROLES=worker``, one with both (the default), and the Node reference (ingest and
worker, for comparison). After ``--settle`` seconds (start-up done), ``INFO commandstats``
is read twice ``--window`` seconds apart; commands/s is the delta of every command's
``calls`` (EVALSHA counted once and each command its script ran once more, as Redis counts
them) over the window, without this benchmark's own INFO calls.

Run: ``.venv/bin/python -m bench.idle [--window 20] [--settle 3]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from bench.pipeline import stack

#: Process kind → (stack system, extra gateway environment).
KINDS: dict[str, tuple[str, dict[str, str]]] = {
    "Herald API only": ("herald", {"HERALD_ROLES": "api"}),
    "Herald worker only": ("herald", {"HERALD_ROLES": "worker"}),
    "Herald API + worker (one process)": ("herald", {}),
    "reference (ingest + worker)": ("reference", {}),
}


@dataclass
class Idle:
    kind: str
    window_s: float
    commands_per_s: float
    #: The busiest commands, calls per second.
    top: dict[str, float]


def _calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()
            if k != "cmdstat_info"}  # fmt: skip


def measure(kind: str, window: float, settle: float) -> Idle:
    system, env = KINDS[kind]
    with stack(env, system=system) as st:
        client = redis.Redis.from_url(st.redis.url)
        try:
            time.sleep(settle)  # start-up traffic (script loads, first reads) left out
            before = _calls(client)
            started = time.monotonic()
            time.sleep(window)
            after = _calls(client)
            elapsed = time.monotonic() - started
        finally:
            client.close()
    delta = {k: v - before.get(k, 0) for k, v in after.items()}
    rates = sorted(((v / elapsed, k) for k, v in delta.items() if v), reverse=True)
    return Idle(kind, elapsed, sum(r for r, _ in rates), {k: r for r, k in rates[:5]})


def format_table(results: Sequence[Idle]) -> str:
    lines = ["| idle, nothing published | Redis commands/s | busiest commands (/s) |",
             "|---|---:|---|"]  # fmt: skip
    for r in results:
        top = ", ".join(f"{k} {v:,.1f}" for k, v in r.top.items()) or "none"
        lines.append(f"| {r.kind} | {r.commands_per_s:,.1f} | {top} |")
    return "\n".join(lines)


def run(window: float, settle: float, kinds: Sequence[str] = tuple(KINDS)) -> list[Idle]:
    return [measure(kind, window, settle) for kind in kinds]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--window", type=float, default=20.0, help="measured window (s)")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after start-up (s)")
    args = parser.parse_args(argv)
    print(format_table(run(args.window, args.settle)))


if __name__ == "__main__":
    main()
