"""The website widget's public HTTP side: `widget.js`, each widget's settings, and the
visitor's chat (sessions, messages streamed as server-sent events, history, hand-off).
Cross-origin by design, so guarded by each widget's allowed origins (CORS + Origin checks)
and rate limits rather than logins and CSRF tokens; the route names are listed in
web.auth.middleware. The channel logic lives in channels.widget."""

from __future__ import annotations

from aiohttp import web

from web.widget import public


def add_routes(router: web.UrlDispatcher) -> None:
    public.add_routes(router)
