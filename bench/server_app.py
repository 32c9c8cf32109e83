"""Herald's real ASGI app as a zero-argument factory, for servers started by name
(``granian --interface asgi --factory bench.server_app:app``) in ``bench.servers``.

Settings come from the ``HERALD_*`` environment exactly as ``herald gateway`` reads them.
"""

from __future__ import annotations

from starlette.applications import Starlette

from herald_core.logs import configure_logging
from herald_core.settings import Settings
from herald_gateway.app import create_app


def app() -> Starlette:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)
