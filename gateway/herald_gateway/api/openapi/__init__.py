"""Herald's own OpenAPI 3.1 document, served at `GET /v2/openapi.json` without a token.

Built once from its pieces: the JSON schemas (`schemas`), the operations (`paths`), and the
filters of the list and bulk routes generated from `herald_gateway.api.filters` (`parameters`).
Shapes follow QStash's document where the APIs overlap; Herald's additions say "Herald:".
tests/integration/test_openapi.py fuzzes a running gateway from it with schemathesis, and
tests/unit/test_openapi.py keeps it in step with the app's routes.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

import orjson

from herald_gateway.api.openapi.paths import paths
from herald_gateway.api.openapi.schemas import SCHEMAS

__all__ = ["document", "document_bytes"]

_DESCRIPTION = """\
Herald speaks the Upstash QStash v2 REST API; this document describes Herald's own server,
including what it adds: Topics from Kubernetes (`managedBy: kubernetes` URL groups), namespace
tokens, `endpointName` filters, and the fields the README lists under "Deliberate
differences". Errors are `{"error": "..."}` naming the field. A trailing slash on a
collection path (`/v2/messages/`, `/v2/dlq/`, `/v2/queues/`, ...) means the collection.
Beside the statuses listed, any request may answer 408 (not sent within
`HERALD_READ_TIMEOUT`), 413 (a body over `HERALD_MAX_BODY_BYTES`) or 431 (more than
`HERALD_MAX_HEADERS` header fields).
"""

_SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin token (`HERALD_TOKEN`) or, where an operation says so, a "
        "namespace token.",
    },
    "bearerAuthQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "qstash_token",
        "description": "The token as a query parameter (never forwarded to a destination).",
    },
}


def _version() -> str:
    try:
        return metadata.version("herald")
    except metadata.PackageNotFoundError:  # run from a source tree
        return "0.0.0"


@functools.cache
def document() -> dict[str, Any]:
    """The document as a dict (built once; do not change it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Herald",
            "version": _version(),
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearerAuth": []}, {"bearerAuthQuery": []}],
        "tags": [
            {"name": name}
            for name in (
                "Messages",
                "Queues",
                "Schedules",
                "URL Groups",
                "DLQ",
                "Logs",
                "Signing Keys",
                "Flow Control",
                "Workflows",
                "System",
            )
        ],
        "paths": paths(),
        "components": {"securitySchemes": _SECURITY_SCHEMES, "schemas": SCHEMAS},
    }


@functools.cache
def document_bytes() -> bytes:
    """The document as JSON, as the route serves it."""
    return orjson.dumps(document())
