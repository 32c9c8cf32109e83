"""The routes of the message lifecycle API: messages, logs, dead letters.

A trailing slash on a collection path means the collection (the JS SDK warns that the
real service resolves `/v2/messages/` that way).
"""

from __future__ import annotations

from starlette.routing import Route

from herald_gateway.api.routes import batch, dlq, logs, messages

LIFECYCLE_ROUTES = [
    Route("/v2/batch", batch.batch, methods=["POST"]),
    Route("/v2/messages", messages.cancel_many, methods=["DELETE"]),
    Route("/v2/messages/", messages.cancel_many, methods=["DELETE"]),
    Route("/v2/messages/{message_id}", messages.get_message, methods=["GET"]),
    Route("/v2/messages/{message_id}", messages.cancel_message, methods=["DELETE"]),
    Route("/v2/events", logs.events, methods=["GET"]),
    Route("/v2/logs", logs.logs, methods=["GET"]),
    Route("/v2/dlq", dlq.list_dlq, methods=["GET"]),
    Route("/v2/dlq/", dlq.list_dlq, methods=["GET"]),
    Route("/v2/dlq", dlq.delete_many, methods=["DELETE"]),
    Route("/v2/dlq/", dlq.delete_many, methods=["DELETE"]),
    Route("/v2/dlq/retry", dlq.retry_many, methods=["POST"]),
    Route("/v2/dlq/retry/", dlq.retry_many, methods=["POST"]),
    Route("/v2/dlq/retry/{dlq_id}", dlq.retry_one, methods=["POST"]),
    Route("/v2/dlq/{dlq_id}", dlq.get_dlq, methods=["GET"]),
    Route("/v2/dlq/{dlq_id}", dlq.delete_dlq, methods=["DELETE"]),
]
