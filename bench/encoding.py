"""Hot-path JSON: the current code (orjson) against msgspec, per operation.

What a message costs in encoding today: ``Message.to_json`` once per publish (the metadata
stored beside the body), ``Message.from_json`` once per claim (CLAIM returns it), and the
publish response ``{"messageId": ...}``. msgspec does the same with a ``Struct`` mirror of
``Message`` (``omit_defaults=True`` gives the same compact form) and typed decoding.

msgspec is not a dependency: ``python3 -m pip install --target /tmp/perf-site msgspec``,
then ``PYTHONPATH=/tmp/perf-site .venv/bin/python -m bench.encoding``. Each figure is the
best of ``--repeat`` timings of ``--number`` calls, in µs per call.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

import orjson

from herald_core.models import Message


def sample() -> Message:
    """A typical published message: a URL, Content-Type, the defaults otherwise."""
    return Message(
        id="msg_2fQ8sXb1R3dV7yYtKp9LwZm4nHc6", url="https://api.example.com/hooks/orders",
        method="POST", headers={"Content-Type": "application/json", "X-Tenant": "acme"},
        max_retries=3, timeout=30.0, created_at=1_780_000_000_000,
        not_before=1_780_000_000_000, caller_ip="10.0.3.17",
        body_hash="n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg", labels=("orders",),
    )  # fmt: skip


def candidates() -> dict[str, Callable[[], Any]]:
    message = sample()
    raw = message.to_json()
    out: dict[str, Callable[[], Any]] = {
        "Message.to_json (orjson, current)": message.to_json,
        "Message.from_json (orjson, current)": lambda: Message.from_json(raw),
        "publish response (orjson, current)": lambda: orjson.dumps({"messageId": message.id}),
    }
    try:
        import msgspec
    except ImportError:
        return out

    class MessageStruct(msgspec.Struct, omit_defaults=True, frozen=True):  # type: ignore[misc,call-arg]
        id: str
        url: str
        method: str
        headers: dict[str, str]
        max_retries: int
        timeout: float
        created_at: int
        not_before: int
        retry_delay: str | None = None
        caller_ip: str | None = None
        body_hash: str = ""
        labels: tuple[str, ...] = ()
        callback: dict[str, Any] | None = None
        failure_callback: dict[str, Any] | None = None
        redact: dict[str, Any] | None = None
        dedup_id: str | None = None
        topic_name: str | None = None
        endpoint_name: str | None = None
        queue_name: str | None = None
        schedule_id: str | None = None
        callback_of: str | None = None
        flow_key: str | None = None
        flow_parallelism: int = 0
        flow_rate: int = 0
        flow_period: float = 1.0
        extra: dict[str, Any] = {}

    encoder = msgspec.json.Encoder()
    decoder = msgspec.json.Decoder(MessageStruct)
    struct = decoder.decode(raw)
    # msgspec leaves out every field at its default; the current code keeps the numeric ones
    assert Message.from_json(encoder.encode(struct)) == message, "not the same message"
    out["Struct encode (msgspec)"] = lambda: encoder.encode(struct)
    out["Struct decode (msgspec)"] = lambda: decoder.decode(raw)
    out["publish response (msgspec)"] = lambda: encoder.encode({"messageId": message.id})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"metadata JSON: {len(sample().to_json())} bytes")
    for name, fn in candidates().items():
        if "encode" in name or "to_json" in name:
            print(f"  {name}: {len(fn())} bytes")
    print("| operation | µs per call |\n|---|---:|")
    for name, fn in candidates().items():
        best = min(timeit.repeat(fn, number=args.number, repeat=args.repeat)) / args.number
        print(f"| {name} | {best * 1e6:.2f} |")


if __name__ == "__main__":
    main()
