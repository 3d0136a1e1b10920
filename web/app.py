"""The console application factory: middlewares in their order, templates, routes, static
files. The process edge (`web.server`) opens the stores and serves the app."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp_session import session_middleware

from brain.store import Store
from channels.gsm.store import SmsStore
from channels.ratelimit import WindowLimiter
from channels.telegram.store import BotStore
from channels.widget.channel import WidgetChannel
from channels.widget.store import WidgetStore
from web import api, pages, telegram_hooks, widget
from web import twilio as twilio_hooks
from web.auth.csrf import csrf_middleware
from web.auth.middleware import auth_middleware
from web.auth.sessions import cookie_storage
from web.auth.users import AccountStore
from web.chat import ChatSessions
from web.errors import add_security_headers, error_middleware
from web.expiring import ExpiringDict
from web.metrics import ConsoleMetrics
from web.services import ConsoleServices
from web.state import (
    ACCOUNTS,
    BOTS,
    CHATS,
    CLIPS,
    CONFIG,
    LOGIN_LIMITER,
    METRICS,
    SERVICES,
    SMS,
    STORE,
    WIDGET,
    ConsoleConfig,
)
from web.templating import setup_templates
from web.uploads import body_limit_middleware

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024  # forms; the upload routes have their own caps (web.uploads)
PREVIEW_CLIPS = 32  # synthesized voice previews kept for the page to play...
PREVIEW_CLIP_S = 10 * 60  # ...for this long


def create_app(config: ConsoleConfig, store: Store, accounts: AccountStore,
               services: ConsoleServices | None = None) -> web.Application:
    """`services`: what the process lends (brains, TTS, STT); by default none, and the
    pages and endpoints that need them answer 503 until `services.provide(...)`."""
    storage = cookie_storage(config.session_key, max_age_s=config.session_max_age_s,
                             secure=config.cookie_secure)
    app = web.Application(
        # Outermost first. Errors become pages inside the session middleware, so a page
        # rendered for an error still saves the session it touched.
        middlewares=[session_middleware(storage), error_middleware, auth_middleware,
                     body_limit_middleware, csrf_middleware],
        client_max_size=MAX_BODY,
    )
    app[CONFIG] = config
    app[STORE] = store
    app[ACCOUNTS] = accounts
    app[LOGIN_LIMITER] = WindowLimiter(config.login_max_failures, config.login_window_s)
    app[METRICS] = ConsoleMetrics()
    app[SERVICES] = lent = services if services is not None else ConsoleServices()
    app[CHATS] = chats = ChatSessions()
    app[CLIPS] = ExpiringDict(PREVIEW_CLIPS, PREVIEW_CLIP_S)
    app.on_cleanup.append(lambda _: chats.close_all())
    app[WIDGET] = widgets = WidgetChannel(WidgetStore(store), store, lent.require_brain,
                                          config.widget_limits)
    app.on_startup.append(lambda _: widgets.store.create_tables())
    app.on_cleanup.append(lambda _: widgets.close_all())
    app[BOTS] = bots = BotStore(store)
    app.on_startup.append(lambda _: bots.create_tables())
    app[SMS] = sms = SmsStore(store)
    app.on_startup.append(lambda _: sms.create_tables())
    setup_templates(app)
    pages.add_routes(app.router)
    api.add_routes(app.router)
    widget.add_routes(app.router)
    telegram_hooks.add_routes(app.router)
    twilio_hooks.setup(app)
    app.router.add_static("/static", STATIC_DIR, name="static")
    app.on_response_prepare.append(add_security_headers)
    return app
