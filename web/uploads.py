"""Request body limits per route. The application's own limit (`web.app.MAX_BODY`) is for
forms; the few routes that take files name a larger cap here, and only they get it, only
once the user is authenticated (the middleware sits after the auth middleware)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aiohttp import web
from aiohttp.typedefs import Handler

from web.auth.middleware import route_name

MB = 1024 * 1024
VOICE_SAMPLE_MAX = 5 * MB  # a 30 s 16-bit mono sample at 48 kHz is ~2.8 MB
TRANSCRIPTION_MAX = 10 * MB  # ~5 minutes of 16 kHz mono: longer takes minutes on 2 cores
FORM_OVERHEAD = 64 * 1024  # the other fields and multipart headers around the file

BODY_LIMITS: Mapping[str, int] = MappingProxyType({
    "voice_upload": VOICE_SAMPLE_MAX + FORM_OVERHEAD,
    "api.openai.transcriptions": TRANSCRIPTION_MAX + FORM_OVERHEAD,
    # GitHub push payloads list every commit; public, but read only up to this much
    "webhooks.github": 2 * MB,
})


def too_large(limit: int, actual: int | None = None) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=actual if actual is not None else limit + 1,
        text=f"The upload is too large: at most {limit // MB} MB.")


def check_declared_size(request: web.Request, limit: int) -> None:
    """413 at once when the client says the body is too big, before reading any of it."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit, request.content_length)


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = BODY_LIMITS.get(route_name(request) or "")
    if limit is None or request.method in ("GET", "HEAD"):
        return await handler(request)
    # A clone shares the connection and the request's state (user, session); only its
    # body cap differs, so aiohttp itself stops reading at this route's limit.
    return await handler(request.clone(client_max_size=limit))
