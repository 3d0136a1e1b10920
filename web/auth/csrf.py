"""CSRF protection: every unsafe request made with a session cookie must carry the
session's token, as the `csrf_token` form field or the `X-CSRF-Token` header, or it is
refused with 403. Requests authenticated by a bearer token carry no cookie a third-party
site could ride on, so they need none; nor do the website widget's public endpoints named
in `CSRF_EXEMPT_ROUTES` (cross-origin by design, checked against the widget's allowed
origins instead), nor the webhooks machines post (checked by their shared secrets).
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import get_session

from web.auth.middleware import CSRF_EXEMPT_ROUTES, SAFE_METHODS, route_name
from web.auth.sessions import CSRF
from web.query import form_text, read_form
from web.state import AUTH_VIA

FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS or request.get(AUTH_VIA) == "token":
        return await handler(request)
    if request.match_info.http_exception is not None:
        return await handler(request)  # no such route: 404 / 405
    if route_name(request) in CSRF_EXEMPT_ROUTES:
        return await handler(request)
    expected = (await get_session(request)).get(CSRF)
    supplied = request.headers.get(HEADER)
    if supplied is None and request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        supplied = form_text(await read_form(request), FORM_FIELD)
    if not isinstance(expected, str) or not supplied \
            or not hmac.compare_digest(expected.encode(), supplied.encode("utf-8", "replace")):
        raise web.HTTPForbidden(text="The form was stale or not sent from this site; "
                                     "reload the page and try again.")
    return await handler(request)
