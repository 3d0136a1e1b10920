"""Errors as pages or JSON, and the security headers every response carries.

Pages get an HTML error page, the API a JSON body `{"error": ...}`, both with the status
and headers (Retry-After, WWW-Authenticate) the handler chose. Anything unexpected is
logged, counted in the metrics and answered 500 without details.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from web.auth.middleware import is_api_request
from web.state import METRICS
from web.templating import render

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # No scripts anywhere in the console; inline styles only for the timing waterfall.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "media-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path != "/static" and not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await _error_response(request, exc.status, exc.reason, _detail(exc), exc)
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        request.app[METRICS].count_web_error(type(exc).__name__)
        return await _error_response(request, 500, "Internal Server Error",
                               "Something went wrong on our side; it has been logged.", None)


def _detail(exc: web.HTTPException) -> str:
    text = exc.text or ""
    return "" if text == f"{exc.status}: {exc.reason}" else text


async def _error_response(request: web.Request, status: int, reason: str, detail: str,
                    exc: web.HTTPException | None) -> web.StreamResponse:
    headers = {} if exc is None else {
        name: value for name, value in exc.headers.items()
        if name in ("Retry-After", "WWW-Authenticate", "Allow")}
    if is_api_request(request) or request.path in ("/health", "/metrics") \
            or request.path.startswith("/widget/"):
        if exc is not None and exc.content_type == "application/json":
            body = exc.text or ""
        else:
            body = json.dumps({"error": detail or reason})
        return web.Response(status=status, text=body, content_type="application/json",
                            headers=headers)
    try:
        response = await render(
            "error.html", request, {"status": status, "reason": reason, "detail": detail},
            status=status)
    except Exception:
        log.exception("rendering the error page failed")
        response = web.Response(status=status, text=f"{status} {reason}\n{detail}")
    response.headers.update(headers)
    return response
