"""Who may reach what: the one list of public routes, and the rule for everything else.

Every route is closed unless its name is in `PUBLIC_ROUTES`: the login page, the machine
endpoints, static files, and the website widget's public routes (`WIDGET_ROUTES`: its
script, its settings and the visitor's chat, guarded by each widget's allowed origins
instead; see web.widget), and the webhooks machines call (`MACHINE_HOOKS`, each checked
by its secret; see web.telegram_hooks). Closed routes under the
API (names starting `api.`) need a bearer token and answer 401 without one; every other
closed route needs a logged-in session and redirects to the login page without one.
Changing anything (an unsafe method) needs the admin role, except the few actions in
`ANY_ROLE_ACTIONS`; viewers read.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from web.auth.sessions import logged_in_user_id
from web.auth.users import UserRecord
from web.state import ACCOUNTS, AUTH_VIA, CONFIG, USER

WIDGET_ROUTES = frozenset({"widget.script", "widget.script_query", "widget.config",
                           "widget.session_new", "widget.session", "widget.message",
                           "widget.handoff"})
# Machines posting to us (Telegram, YooMoney, GitHub): each request proves itself by a
# shared secret, checked in constant time (see web.telegram_hooks).
MACHINE_HOOKS = frozenset({"telegram.webhook", "payments.yoomoney", "webhooks.github"})
# Twilio's webhooks (X-Twilio-Signature) and its Media Stream socket (a stream token from
# our own TwiML): see web.twilio.
TWILIO_HOOKS = frozenset({"twilio.voice", "twilio.status", "twilio.media"})
PUBLIC_ROUTES = frozenset({"login", "health", "metrics", "static"}) | WIDGET_ROUTES \
    | MACHINE_HOOKS | TWILIO_HOOKS
# Unsafe routes the CSRF check skips: the widget's cross-origin JSON endpoints. They carry
# no console cookie to ride on, and each checks the request's Origin against its widget's
# allowed origins (CORS) instead.
CSRF_EXEMPT_ROUTES = frozenset({"widget.session_new", "widget.message", "widget.handoff"}) \
    | MACHINE_HOOKS | TWILIO_HOOKS  # no browser form, no cookie: their secrets are the check
ANY_ROLE_ACTIONS = frozenset({"logout"})  # unsafe methods a viewer may use
SAFE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})
API_PREFIX = "api."


def route_name(request: web.Request) -> str | None:
    """The matched resource's name; None when nothing matched (404/405 follow)."""
    if request.match_info.http_exception is not None:
        return None
    resource = request.match_info.route.resource
    return None if resource is None else resource.name


def is_api_request(request: web.Request) -> bool:
    name = route_name(request)
    return bool(name and name.startswith(API_PREFIX)) or request.path.startswith("/api/")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    name = route_name(request)
    if name is None and request.match_info.http_exception is not None:
        return await handler(request)  # the router's own 404 / 405: nothing to protect
    if name in PUBLIC_ROUTES:
        return await handler(request)
    if is_api_request(request):
        user = await _token_user(request)
        if user is None:
            raise web.HTTPUnauthorized(
                headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="secretary"'},
                text='{"error": "a valid bearer token is required"}',
                content_type="application/json")
        request[AUTH_VIA] = "token"
    else:
        user = await _session_user(request)
        if user is None:
            target = request.path_qs if request.method in SAFE_METHODS else "/"
            raise web.HTTPSeeOther(
                str(request.app.router["login"].url_for()) + "?" + urlencode({"next": target}))
        request[AUTH_VIA] = "session"
    if request.method not in SAFE_METHODS and not user.is_admin \
            and name not in ANY_ROLE_ACTIONS:
        raise web.HTTPForbidden(text="Viewers can look but not change anything.")
    request[USER] = user
    return await handler(request)


async def _session_user(request: web.Request) -> UserRecord | None:
    user_id = await logged_in_user_id(request, request.app[CONFIG].session_max_age_s)
    if user_id is None:
        return None
    return await request.app[ACCOUNTS].get_user(user_id)  # None once the user is deleted


async def _token_user(request: web.Request) -> UserRecord | None:
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return await request.app[ACCOUNTS].user_for_token(token.strip())
