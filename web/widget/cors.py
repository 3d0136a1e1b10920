"""CORS for the widget's endpoints: an `Origin` is let in only when it is one of the
widget instance's allowed origins (exact `scheme://host[:port]`), and then only that
origin is named back. A disallowed origin gets 403 and no CORS headers at all."""

from __future__ import annotations

from aiohttp import hdrs, web

from channels.widget.store import WidgetInstance

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Content-Type"
PREFLIGHT_MAX_AGE_S = 600


class WidgetHttpError(Exception):
    """An answer other than success: status, a message for the JSON body, extra headers."""

    def __init__(self, status: int, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def allowed_headers(origin: str) -> dict[str, str]:
    return {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin, hdrs.VARY: "Origin",
            hdrs.ACCESS_CONTROL_EXPOSE_HEADERS: "Retry-After"}


def cors_for(request: web.Request, instance: WidgetInstance, *,
             origin_required: bool) -> dict[str, str]:
    """The CORS headers this request's answers carry; 403 for an origin the widget does
    not allow, or for a missing one where a browser always sends it (unsafe methods)."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        if origin_required:
            raise WidgetHttpError(403, "This endpoint is for the widget on an allowed site.")
        return {}
    if not instance.allows(origin):
        raise WidgetHttpError(403, "This site is not allowed to use this widget.")
    return allowed_headers(origin)


def preflight(cors: dict[str, str]) -> web.Response:
    return web.Response(status=204, headers={
        **cors, hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOW_METHODS,
        hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOW_HEADERS,
        hdrs.ACCESS_CONTROL_MAX_AGE: str(PREFLIGHT_MAX_AGE_S)})
