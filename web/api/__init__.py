"""The JSON API (bearer tokens) and the public machine endpoints: /health, /metrics."""

from __future__ import annotations

from aiohttp import web

from web.api import calls, health, metrics


def add_routes(router: web.UrlDispatcher) -> None:
    for area in (calls, health, metrics):
        area.add_routes(router)
