"""Herald against the Node reference pipeline, side by side in one run (issue 15's table).

Three systems, each on a fresh stack of ``bench.pipeline`` (Redis with AOF everysec, the
counting sink, the same load generator in this process, 1 KB bodies):

* ``reference``: fastify ingest → BullMQ → worker POSTing with undici (``bench/reference``,
  ``bench.reference_pipeline``; one ingest process, one worker process, concurrency 64);
* ``herald``: one ``herald gateway`` running the API and the workers;
* ``herald-split``: one ``herald gateway`` with ``HERALD_ROLES=api`` taking the publishes and
  one with ``HERALD_ROLES=worker`` delivering, as the chart deploys them.

Each round runs every scenario of ``bench.pipeline`` below against each system in turn (the
order of the systems rotates from round to round), and every figure is the median over the
rounds, so the ratios come from runs minutes apart on the same machine:

* closed loop, 64 publishers: delivered msgs/s (scenario 1 of ``bench.pipeline``);
* CPU-ms per delivered message in that closed loop: user + system time from ``/proc`` of
  every process of the system and of ``redis-server``;
* open loop at 500 msgs/s: publish p99 and end-to-end p50 / p99 (scenario 2);
* every first attempt fails (the sink answers 500 to ``Upstash-Retried: 0``): delivered
  msgs/s (scenario 3). Herald's publishes carry ``Upstash-Retry-Delay: 0``; the reference
  retries after BullMQ's exponential backoff (100 ms for the first retry).

Then ``bench.idle``: Redis commands/s with nothing published, per process kind.

Ratios are Herald / reference: above 1 is more throughput, or more CPU or latency.

Run: ``.venv/bin/python -m bench.compare [--rounds 2] [--seconds 10]``; ``BENCH_QUICK=1``
(or ``--quick``) runs one round of 3 s windows and a 5 s idle window, about 2 minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import idle, reference_pipeline
from bench.pipeline import environment, result_line, run_scenario

SYSTEMS = ("reference", "herald", "herald-split")
LABELS = {
    "reference": "reference (BullMQ)",
    "herald": "Herald, one process",
    "herald-split": "Herald, API + worker processes (the chart's split)",
}
SCENARIOS = ("closed", "open", "retry")
TIMES = "\N{MULTIPLICATION SIGN}"


def run_rounds(args: argparse.Namespace) -> dict[tuple[str, str], list[Any]]:
    """(system, scenario) → the results of every round, alternating systems within a round."""
    results: dict[tuple[str, str], list[Any]] = {}
    for round_ in range(args.rounds):
        order = SYSTEMS[round_ % len(SYSTEMS) :] + SYSTEMS[: round_ % len(SYSTEMS)]
        for scenario in SCENARIOS:
            for system in order:
                run_args = argparse.Namespace(**{**vars(args), "system": system})
                result = run_scenario(scenario, run_args)
                print(f"round {round_ + 1} {system}: {result_line(result)}", flush=True)
                for line in result.gateway_log:
                    print(f"  {system} log: {line}", file=sys.stderr)
                if result.publish_errors or not result.drained:
                    print(f"  warning: {result.publish_errors} publish errors "
                          f"(first: {result.first_error}), drained={result.drained}",
                          file=sys.stderr)  # fmt: skip
                results.setdefault((system, scenario), []).append(result)
    return results


Figure = Callable[[Any], float]
#: Table row → (scenario, the figure of one result, format).
ROWS: list[tuple[str, str, Figure, str]] = [
    ("closed loop, 64 publishers: delivered msgs/s", "closed",
     lambda r: r.msgs_per_s, "{:,.0f}"),
    ("CPU-ms per delivered message (all processes + Redis)", "closed",
     lambda r: r.cost.cpu_ms["system+redis"], "{:.2f}"),
    ("500 msgs/s: publish p99", "open", lambda r: r.publish_p99_ms, "{:.1f} ms"),
    ("500 msgs/s: end-to-end p50", "open", lambda r: r.e2e_p50_ms, "{:.1f} ms"),
    ("500 msgs/s: end-to-end p99", "open", lambda r: r.e2e_p99_ms, "{:.1f} ms"),
    ("every first attempt fails (retry path): delivered msgs/s", "retry",
     lambda r: r.msgs_per_s, "{:,.0f}"),
]  # fmt: skip


def medians(results: dict[tuple[str, str], list[Any]]) -> dict[str, dict[str, float]]:
    """Row → system → the median of that figure over the rounds."""
    return {
        row: {system: statistics.median(figure(r) for r in results[(system, scenario)])
              for system in SYSTEMS if (system, scenario) in results}
        for row, scenario, figure, _ in ROWS
    }  # fmt: skip


def format_table(table: dict[str, dict[str, float]]) -> str:
    lines = ["| | " + " | ".join(LABELS[s] for s in SYSTEMS) + " |",
             "|---|" + "---:|" * len(SYSTEMS)]  # fmt: skip
    for row, _, _, fmt in ROWS:
        cells = []
        ref = table[row].get("reference", float("nan"))
        for system in SYSTEMS:
            value = table[row].get(system, float("nan"))
            cell = fmt.format(value)
            if system != "reference":
                cell += f" ({value / ref:.2f}{TIMES})" if ref else " (n/a)"
            cells.append(cell)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_line(args: argparse.Namespace, env: dict[str, Any]) -> str:
    node = subprocess.run([reference_pipeline.node_binary(), "--version"], capture_output=True,
                          text=True, check=False).stdout.strip()  # fmt: skip
    lock = json.loads((reference_pipeline.HERE / "package-lock.json").read_text())["packages"]
    versions = ", ".join(f"{name} {lock[f'node_modules/{name}']['version']}"
                         for name in ("bullmq", "fastify", "undici", "ioredis"))  # fmt: skip
    redis = env["redis_server"].split(" sha")[0]
    load = " / ".join(f"{x:.1f}" for x in env["loadavg_at_start"])
    return (
        f"Machine: {env['nproc']} CPUs ({env['cpu_model']}), load average {load} at "
        f"start; {datetime.date.today().isoformat()}. Python {env['python']}, "
        f"aiohttp {env['aiohttp']}, node {node} ({versions}), {redis}"
        f" with AOF everysec. Median of {args.rounds} alternating run(s) per cell, "
        f"{args.seconds:g} s windows, 1 KB bodies; ratios are Herald / reference."
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BENCH_QUICK")),
                        help="one round of 3 s windows (also BENCH_QUICK=1)")  # fmt: skip
    parser.add_argument("--rounds", type=int, help="runs per system and scenario (2; quick 1)")
    parser.add_argument("--seconds", type=float, help="measured window (10 s; quick 3 s)")
    parser.add_argument("--warmup", type=float, help="warm-up per run (1 s; quick 0.5 s)")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop publishers")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop publishes/s")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="longest wait for published messages to be delivered (s)")  # fmt: skip
    parser.add_argument("--idle-window", type=float, help="idle window (20 s; quick 5 s)")
    parser.add_argument("--no-idle", action="store_true", help="leave out the idle traffic")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    defaults = {"rounds": (2, 1), "seconds": (10.0, 3.0), "warmup": (1.0, 0.5),
                "idle_window": (20.0, 5.0)}  # fmt: skip
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.gateway_env = []
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the finally blocks stop the children.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    reference_pipeline.install()
    env = environment()
    results = run_rounds(args)
    idle_results = [] if args.no_idle else idle.run(args.idle_window, settle=2.0)
    table = medians(results)
    print()
    print(format_table(table))
    print()
    print(machine_line(args, env))
    if idle_results:
        print()
        print(idle.format_table(idle_results))
        print(f"(idle window {args.idle_window:g} s after 2 s of start-up)")
    if args.json is not None:
        payload = {
            "environment": env,
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "table": table,
            "runs": {f"{system}/{scenario}": [asdict(r) for r in runs]
                     for (system, scenario), runs in results.items()},
            "idle": [asdict(r) for r in idle_results],
        }  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
