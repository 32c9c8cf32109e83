"""`python -m tests.chaos [--duration S] [--rate N] [--gateways N]`: one chaos run, its
report on stdout; exit status 1 when an invariant was broken."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.chaos.driver import Plan, run_blocking


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=120.0,
                        help="seconds the scenarios take in all (about)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=300.0, help="publishes per second")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the logs and Redis files")
    args = parser.parse_args()
    plan = Plan(rate=args.rate, gateways=args.gateways, drain_timeout=60.0)
    plan = plan.scaled(args.duration)
    workdir = Path(tempfile.mkdtemp(prefix="herald-chaos-"))
    try:
        result = run_blocking(plan, workdir)
    finally:
        if args.keep:
            print(f"logs and Redis files: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(result.render())
    violations = result.violations()
    for violation in violations:
        print(f"VIOLATION: {violation}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
