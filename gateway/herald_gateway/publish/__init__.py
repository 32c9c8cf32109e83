"""The publish model, shared by every way in (publish, enqueue, batch, topic fan-out,
schedules, DLQ retry): headers, query and destination parsed into a plain `PublishRequest`
(pure), fanned out to its endpoints, staged as messages and stored in one submission.

It imports only `herald_core` (and the standard library): no web framework, nothing else of
the gateway.
"""
