"""The console's HTML pages, one module per area; `add_routes` mounts them all."""

from __future__ import annotations

from aiohttp import web

from web.pages import calls, dashboard, login, messages, recordings, users


def add_routes(router: web.UrlDispatcher) -> None:
    for area in (login, dashboard, calls, messages, recordings, users):
        area.add_routes(router)
