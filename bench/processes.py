"""How many processes per pod, and what one Redis takes per message (issue 15, items 3 and 5).

Runs scenario 1 of ``bench.pipeline`` (closed loop, 64 publishers, 1 KB bodies, Redis with
AOF everysec, the counting sink, this process as load generator) against several process
layouts of Herald on one Redis, alternating the layouts round by round, and reports per
layout the medians (and spread) of:

* delivered msgs/s, CPU-ms per delivered message of all Herald processes and of Redis;
* Redis commands per delivered message (``INFO commandstats``, script-inner commands too);
* Redis busy: Redis CPU-ms per message times msgs/s, i.e. the share of one core Redis used.
  1 / (Redis CPU-ms per message) is what one Redis core could carry if nothing else were
  the bottleneck (Redis runs commands on one thread).

Layouts (``--layouts``): ``1`` one gateway with both roles; ``2x`` two gateways with both
roles (publishes alternate between them); ``1+1`` an API process and a worker process (the
chart's split); ``1+2`` one API and two workers; ``2+2`` two of each. With ``--open`` the
open loop at ``--rate`` runs too (end-to-end latency).

Run: ``.venv/bin/python -m bench.processes [--rounds 2] [--seconds 6]``.
"""

from __future__ import annotations

import argparse
import math
import signal
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from bench.pipeline import environment, result_line, run_scenario

LAYOUTS: dict[str, tuple[str, int, int, int]] = {
    # name → (system, gateways, apis, workers)
    "1": ("herald", 1, 1, 1),
    "2x": ("herald", 2, 1, 1),
    "1+1": ("herald-split", 1, 1, 1),
    "1+2": ("herald-split", 1, 1, 2),
    "2+2": ("herald-split", 1, 2, 2),
}


def figures(result: Any) -> dict[str, float]:
    c = result.cost
    out = {"cpu_ms": c.cpu_ms["system"], "redis_cpu_ms": c.cpu_ms["redis"],
           "redis_cmds": c.commandstats}  # fmt: skip
    if result.scenario == "open":
        return out | {"publish_p99_ms": result.publish_p99_ms, "e2e_p50_ms": result.e2e_p50_ms,
                      "e2e_p99_ms": result.e2e_p99_ms}  # fmt: skip
    api = sum(v for k, v in c.cpu_ms.items() if k.startswith("api"))
    worker = sum(v for k, v in c.cpu_ms.items() if k.startswith("worker"))
    return out | {"msgs_per_s": result.msgs_per_s,
                  "redis_busy": c.cpu_ms["redis"] * result.msgs_per_s / 1000.0,
                  "api_cpu_ms": api or math.nan, "worker_cpu_ms": worker or math.nan,
                  "publish": c.per_command.get("publish", 0.0)}  # fmt: skip


ROWS = (("closed", "msgs_per_s", "closed loop: delivered msgs/s", "{:,.0f}"),
        ("closed", "cpu_ms", "closed loop: Herald CPU-ms per msg", "{:.3f}"),
        ("closed", "redis_cpu_ms", "closed loop: Redis CPU-ms per msg", "{:.4f}"),
        ("closed", "redis_cmds", "closed loop: Redis commands per msg", "{:.2f}"),
        ("closed", "redis_busy", "closed loop: Redis busy (cores)", "{:.2f}"),
        ("closed", "api_cpu_ms", "closed loop: of which API processes, CPU-ms per msg", "{:.3f}"),
        ("closed", "worker_cpu_ms", "closed loop: of which workers, CPU-ms per msg", "{:.3f}"),
        ("closed", "publish", "closed loop: wake-up PUBLISH per msg", "{:.3f}"),
        ("open", "publish_p99_ms", "open loop: publish p99 ms", "{:.1f}"),
        ("open", "e2e_p50_ms", "open loop: end-to-end p50 ms", "{:.1f}"),
        ("open", "e2e_p99_ms", "open loop: end-to-end p99 ms", "{:.1f}"))  # fmt: skip


def table(results: dict[tuple[str, str], list[dict[str, float]]], layouts: list[str]) -> str:
    lines = ["| figure | " + " | ".join(layouts) + " |", "|---|" + "---:|" * len(layouts)]
    for scenario, key, label, fmt in ROWS:
        if (layouts[0], scenario) not in results:
            continue
        cells = []
        for layout in layouts:
            values = [r[key] for r in results[(layout, scenario)]]
            cell = fmt.format(statistics.median(values))
            if len(values) > 1:
                cell += f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--layouts", nargs="+", choices=list(LAYOUTS),
                        default=["1", "2x", "1+1", "1+2"])  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--open", action="store_true", help="also the open loop at --rate")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    args.gateway_env = []
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    env = environment()
    redis = env["redis_server"].split(" sha")[0]
    print(f"{env['nproc']} CPUs ({env['cpu_model']}), load {env['loadavg_at_start']}; "
          f"{redis}; {args.seconds:g} s windows", flush=True)  # fmt: skip
    scenarios = ["closed", "open"] if args.open else ["closed"]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        k = round_ % len(args.layouts)
        for layout in args.layouts[k:] + args.layouts[:k]:
            system, gateways, apis, workers = LAYOUTS[layout]
            for scenario in scenarios:
                run_args = argparse.Namespace(**vars(args), system=system, gateways=gateways,
                                              apis=apis, workers=workers)  # fmt: skip
                result = run_scenario(scenario, run_args)
                print(f"round {round_ + 1} layout {layout}: {result_line(result)}", flush=True)
                if result.publish_errors or not result.drained:
                    print(f"  warning: {result.publish_errors} publish errors, "
                          f"drained={result.drained}", file=sys.stderr)  # fmt: skip
                results.setdefault((layout, scenario), []).append(figures(result))
    print()
    print(table(results, args.layouts))


if __name__ == "__main__":
    main()
