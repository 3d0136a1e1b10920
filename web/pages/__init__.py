"""The console's HTML pages, one module per area; `add_routes` mounts them all."""

from __future__ import annotations

from aiohttp import web

from web.pages import (
    bots,
    calls,
    chat,
    dashboard,
    gsm,
    login,
    messages,
    personas,
    recordings,
    system,
    users,
    voices,
    widgets,
)


def add_routes(router: web.UrlDispatcher) -> None:
    for area in (login, dashboard, calls, messages, recordings, users, personas, system, chat,
                 voices, widgets, bots, gsm):
        area.add_routes(router)
