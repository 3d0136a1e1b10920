"""`/health`: is this process up and can it reach its database (503 when not)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from web.state import STORE

log = logging.getLogger(__name__)
PING_TIMEOUT_S = 5.0


async def health(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[STORE].ping(), PING_TIMEOUT_S)
    except Exception as exc:
        log.warning("health: database unreachable: %r", exc)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/health", health, name="health")
