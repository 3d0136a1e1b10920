"""`/metrics`: Prometheus exposition of `web.metrics.ConsoleMetrics`."""

from __future__ import annotations

import logging

from aiohttp import web

from web.metrics import engine_availability
from web.state import METRICS, SERVICES, STORE

log = logging.getLogger(__name__)
# What `generate_latest` writes (prometheus-client's own handler labels it so unless the
# scraper negotiates another format).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: web.Request) -> web.Response:
    collected = request.app[METRICS]
    collected.engines = engine_availability(request.app[SERVICES])
    try:
        await collected.refresh(request.app[STORE])
    except Exception as exc:  # the process metrics are still worth a scrape
        log.warning("metrics: database not read: %r", exc)
        collected.count_web_error(type(exc).__name__)
    return web.Response(body=collected.render(),
                        headers={"Content-Type": CONTENT_TYPE})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/metrics", metrics, name="metrics")
