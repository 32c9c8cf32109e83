"""The console's routes: the page and its assets (package data, served as files) and its
API; none of them when `HERALD_CONSOLE` is off."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from herald_core.settings import Settings
from herald_gateway.api.console import api

STATIC = Path(__file__).parent / "static"


async def _to_page(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=308)


class _Assets(StaticFiles):
    """The page's files, never cached stale and never framed by another site."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
        status_code: int = 200,
    ) -> Response:  # fmt: skip
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        return response


def console_routes(settings: Settings) -> list[BaseRoute]:
    if not settings.console:
        return []
    return [
        Route("/console", _to_page, methods=["GET"]),
        Route("/console/api/session", api.session, methods=["GET"]),
        Route("/console/api/overview", api.overview, methods=["GET"]),
        Route("/console/api/topics", api.topics, methods=["GET"]),
        Route("/console/api/ticks", api.ticks, methods=["GET"]),
        Route("/console/api/tail", api.tail, methods=["GET"]),
        Mount("/console", _Assets(directory=STATIC, html=True), name="console"),
    ]
