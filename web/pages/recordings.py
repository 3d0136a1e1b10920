"""Call recordings and transcripts, straight from the calls_log folder (with Range, so
audio players can seek); see `web.recordings` for what may be served."""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.recordings import served_file
from web.state import CONFIG

CONTENT_TYPES = {".wav": "audio/wav", ".txt": "text/plain; charset=utf-8"}


async def recording(request: web.Request) -> web.StreamResponse:
    path = await asyncio.to_thread(served_file, request.app[CONFIG].calls_log_dir,
                                   request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound(text="There is no such recording.")
    return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[path.suffix]})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/recordings/{name}", recording, name="recording")
