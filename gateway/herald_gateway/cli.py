"""`herald` — the one command: `herald dev`, `herald gateway`, `herald operator`.

A thin composition root: it reads the settings once and imports each side only for its own
subcommand.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import orjson
from pydantic import SecretStr

from herald_core.errors import ConfigError
from herald_core.logs import configure_logging
from herald_core.settings import Settings
from herald_core.signing import new_signing_key

_CREDENTIALS = ("HERALD_TOKEN", "HERALD_CURRENT_SIGNING_KEY", "HERALD_NEXT_SIGNING_KEY")


def serve(settings: Settings) -> None:
    """Run the gateway until SIGINT/SIGTERM."""
    import uvicorn

    from herald_gateway.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 5,
    )
    uvicorn.Server(config).run()


def dev_credentials(data_dir: Path) -> dict[str, str]:
    """Token and signing keys: from the environment, else generated once and kept in DIR."""
    path = data_dir / "credentials.json"
    stored: dict[str, str] = orjson.loads(path.read_bytes()) if path.exists() else {}
    generated = {
        "HERALD_TOKEN": "herald_" + secrets.token_urlsafe(24),
        "HERALD_CURRENT_SIGNING_KEY": new_signing_key(),
        "HERALD_NEXT_SIGNING_KEY": new_signing_key(),
    }
    values = {name: os.environ.get(name) or stored.get(name) or generated[name]
              for name in _CREDENTIALS}  # fmt: skip
    if not path.exists():
        path.write_bytes(orjson.dumps({k: stored.get(k) or generated[k] for k in _CREDENTIALS}))
        path.chmod(0o600)
    return values


def run_dev(port: int, data_dir: Path) -> None:
    from herald_gateway.embedded import RedisServer

    data_dir.mkdir(parents=True, exist_ok=True)
    credentials = dev_credentials(data_dir)
    redis = RedisServer(data_dir / "redis")
    redis.start()
    try:
        settings = Settings(
            redis_url=redis.url,
            port=port,
            host="127.0.0.1",
            token=SecretStr(credentials["HERALD_TOKEN"]),
            current_signing_key=SecretStr(credentials["HERALD_CURRENT_SIGNING_KEY"]),
            next_signing_key=SecretStr(credentials["HERALD_NEXT_SIGNING_KEY"]),
        )
        configure_logging(settings.log_level, json=settings.log_json)
        for name in _CREDENTIALS:
            print(f"{name}={credentials[name]}", flush=True)
        print(f"Herald dev: http://127.0.0.1:{port}  (Redis with AOF in {redis.data_dir})",
              flush=True)  # fmt: skip
        serve(settings)
    finally:
        redis.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herald", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="embedded Redis + gateway on localhost, for development")
    dev.add_argument("--port", type=int, default=8080)
    dev.add_argument("--data-dir", type=Path, default=Path(".herald"))
    gateway = sub.add_parser("gateway", help="the API and delivery workers (production)")
    gateway.add_argument("--port", type=int, default=None, help="overrides HERALD_PORT")
    sub.add_parser("operator", help="the Kubernetes operator (kopf)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        if args.command == "dev":
            run_dev(args.port, args.data_dir)
        elif args.command == "gateway":
            settings = Settings() if args.port is None else Settings(port=args.port)
            configure_logging(settings.log_level, json=settings.log_json)
            serve(settings)
        else:
            sys.exit("herald operator: not available yet (see the control-plane issue)")
    except ConfigError as exc:
        sys.exit(f"herald: {exc}")


if __name__ == "__main__":
    main()
