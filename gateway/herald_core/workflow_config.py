"""What a run's trigger configures for all its steps (the Workflow SDKs' `WF_TriggerOnConfig`).

`@upstash/workflow` sets a run's retries, retry delay, timeout and failure callback
(`failureUrl`/`failureFunction`) on the publish that starts the run only; its later step
publishes carry none of them, and QStash applies the run's. Herald keeps them in the run's
record (herald_core.workflows, field g) and a step takes each one it did not set itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import orjson

from herald_core.models import Callback, Message
from herald_core.routing import Delivery


@dataclass(frozen=True, slots=True)
class RunConfig:
    retries: int
    retry_delay: str | None
    timeout: float
    failure_callback: Callback | None

    @classmethod
    def of(cls, message: Message) -> RunConfig:
        """The configuration of a run, from its first message."""
        return cls(message.max_retries, message.retry_delay, message.timeout,
                   message.failure_callback)  # fmt: skip

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> RunConfig:
        d = orjson.loads(raw)
        callback = d.get("failure_callback")
        return cls(int(d["retries"]), d.get("retry_delay"), float(d["timeout"]),
                   Callback.from_dict(callback) if callback else None)  # fmt: skip

    def apply_callback(self, callback: Callback) -> Callback:
        """A `context.call`'s callback (its answer into the run, a delivery of the run like
        a step), with the run's retries, retry delay and failure callback where the call
        set none for it (`Upstash-Callback-Retries`, ...): dead-lettered, it fails the run,
        and the run's failure callback reports it."""
        return replace(
            callback,
            retries=self.retries if callback.retries is None else callback.retries,
            retry_delay=callback.retry_delay if callback.retry_delay is not None
            else self.retry_delay,
            failure_callback=callback.failure_callback or self.failure_callback,
        )  # fmt: skip

    def apply(self, message: Message, explicit: Delivery) -> Message:
        """A step's message, with the run's settings where the step set none itself."""
        return replace(
            message,
            max_retries=message.max_retries if explicit.retries is not None else self.retries,
            retry_delay=(message.retry_delay if explicit.retry_delay is not None
                         else self.retry_delay),
            timeout=message.timeout if explicit.timeout is not None else self.timeout,
            failure_callback=message.failure_callback or self.failure_callback,
        )  # fmt: skip
