"""`herald` — the one command: `herald dev`, `herald gateway`, `herald operator`.

A thin composition root: it reads the settings once and imports each side only for its own
subcommand.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from pydantic import SecretStr

from herald_core.errors import ConfigError
from herald_core.logs import configure_logging
from herald_core.settings import Settings
from herald_core.signing import new_signing_key

if TYPE_CHECKING:
    import uvicorn

_CREDENTIALS = ("HERALD_TOKEN", "HERALD_CURRENT_SIGNING_KEY", "HERALD_NEXT_SIGNING_KEY")


def listen(host: str, port: int) -> socket.socket:
    """A bound TCP socket, as uvicorn binds its own (IPv6 when the host is)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.set_inheritable(True)
    return sock


def server(settings: Settings) -> tuple[uvicorn.Server, list[socket.socket]]:
    """The gateway's uvicorn server and its bound sockets: the API on HERALD_PORT and, in the
    same server (so on the same state), /metrics on HERALD_METRICS_PORT
    (herald_gateway.api.metrics_listener). `server.run(sockets=...)` serves them."""
    import uvicorn

    from herald_gateway.api.limits import slow_client_protocol
    from herald_gateway.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=slow_client_protocol(settings.read_timeout),  # httptools + slow-loris deadline
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 5,
    )
    ports = [settings.port] + ([settings.metrics_port] if settings.metrics_port else [])
    return uvicorn.Server(config), [listen(settings.host, port) for port in ports]


def serve(settings: Settings) -> None:
    """Run the gateway until SIGINT/SIGTERM."""
    gateway, sockets = server(settings)
    gateway.run(sockets=sockets)


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


def run_dev(
    port: int,
    data_dir: Path,
    manifests: Path | None = None,
    metrics_port: int = 0,
    sample_port: int | None = None,
) -> None:
    from herald_gateway.dev.embedded import RedisServer

    data_dir.mkdir(parents=True, exist_ok=True)
    credentials = dev_credentials(data_dir)
    redis = RedisServer(data_dir / "redis")
    redis.start()
    try:
        settings = Settings(
            redis_url=redis.url,
            redis_mode="standalone",  # the embedded server, whatever HERALD_REDIS_MODE says
            port=port,
            metrics_port=metrics_port,
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
        print(f"Console: http://127.0.0.1:{port}/console (sign in with HERALD_TOKEN)", flush=True)
        if manifests is not None and manifests.is_dir():
            from herald_gateway.dev.manifests import follow_in_thread
            from herald_gateway.dev.sample_receiver import (
                SAMPLE,
                sample_subscription,
                start_in_thread,
            )

            extra = {}
            if sample_port != 0:
                from herald_gateway.dev.embedded import free_port

                sample_port = sample_port or free_port()
                start_in_thread(sample_port)
                extra[SAMPLE] = sample_subscription(sample_port)
                print(f"Sample receiver: http://127.0.0.1:{sample_port} (Subscription shop/sample; "
                      'a body with "fail": true answers 500)', flush=True)  # fmt: skip
            # the operator's sync, without a cluster
            follow_in_thread(manifests, settings, extra)
            print(f"Topics and Subscriptions from {manifests}/ (re-applied on change)", flush=True)
        # uvicorn re-raises the SIGTERM it handled once it has shut down; exit through
        # `finally` then, so the embedded Redis is stopped too
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        serve(settings)
    finally:
        redis.stop()


def run_operator(args: argparse.Namespace) -> None:
    from herald_operator.main import run

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    run(settings, namespaces=args.namespace, peering=args.peering, priority=args.priority,
        liveness=args.liveness)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herald", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="embedded Redis + gateway on localhost, for development")
    dev.add_argument("--port", type=int, default=8080)
    dev.add_argument("--data-dir", type=Path, default=Path(".herald"))
    dev.add_argument("--metrics-port", type=int, default=0, metavar="PORT",
                     help="serve /metrics on this port (default: none)")  # fmt: skip
    dev.add_argument("--manifests", type=Path, default=Path("examples"), metavar="DIR",
                     help="apply the Topic/Subscription YAML in DIR")  # fmt: skip
    dev.add_argument("--sample-port", type=int, default=None, metavar="PORT",
                     help="port of the sample receiver subscribed to shop/orders (default: any "
                          "free one; 0: none)")  # fmt: skip
    gateway = sub.add_parser("gateway", help="the API and delivery workers (production)")
    gateway.add_argument("--port", type=int, default=None, help="overrides HERALD_PORT")
    operator = sub.add_parser("operator", help="the Kubernetes operator (kopf)")
    operator.add_argument("--namespace", action="append", default=[],
                          help="watch only this namespace (repeatable; default: all)")  # fmt: skip
    mode = operator.add_mutually_exclusive_group()
    mode.add_argument("--standalone", action="store_true", help="one replica (the default)")
    mode.add_argument("--peering", metavar="NAME", help="active/standby through a KopfPeering")
    operator.add_argument("--priority", type=int, metavar="N",
                          help="peering priority: the highest live one works, the others stand "
                               "by (default: random, so replicas never tie)")  # fmt: skip
    operator.add_argument("--liveness", default="http://0.0.0.0:8081/healthz",
                          help="kopf liveness endpoint")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        if args.command == "dev":
            run_dev(args.port, args.data_dir, args.manifests, args.metrics_port, args.sample_port)
        elif args.command == "gateway":
            settings = Settings() if args.port is None else Settings(port=args.port)
            configure_logging(settings.log_level, json=settings.log_json)
            serve(settings)
        else:
            run_operator(args)
    except ConfigError as exc:
        sys.exit(f"herald: {exc}")


if __name__ == "__main__":
    main()
