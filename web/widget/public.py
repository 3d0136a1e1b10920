"""The public widget routes (names in web.auth.middleware.WIDGET_ROUTES):

- `GET /widget/{public_id}/widget.js` (or `/widget.js?id=`): the script a site embeds;
- `GET /widget/{public_id}/config`: the instance's look and greeting (CORS-checked, so a
  page on a site not allowed gets no widget);
- `POST /widget/{public_id}/sessions`: a new visitor session (an unguessable id);
- `GET /widget/chat/session/{id}[?after=n]`: its history, or the turns after turn `n`
  (the page polls this for the owner's replies); 404 for any id that is not a widget
  session's, malformed, forged or another channel's;
- `POST /widget/chat/session/{id}/messages` `{"text": ...}`: the reply as server-sent
  events (`say`, `handoff`, `queued`, `done`), read by `fetch` as a stream;
- `POST /widget/chat/session/{id}/handoff`: "Talk to a human".

Errors are JSON `{"error": ...}` with the CORS headers the origin earned, so the widget
can read a 429's Retry-After or a 413's message.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from channels.widget.channel import (
    HANDED_OFF_TEXT,
    Finished,
    HandedOff,
    Queued,
    Said,
    WidgetEvent,
)
from channels.widget.store import WidgetInstance, WidgetSession
from web.services import ServiceUnavailable, UnknownName
from web.state import SERVICES, WIDGET
from web.widget.cors import WidgetHttpError, cors_for, preflight

SCRIPT = Path(__file__).resolve().parents[1] / "static" / "widget.js"
SCRIPT_MAX_AGE_S = 300
MAX_BODY = 16 * 1024  # a message of 1000 characters is far below this, even escaped
POLL_MS = 3000  # how often an open panel asks for the owner's replies

WidgetHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_handler(handler: WidgetHandler) -> WidgetHandler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except WidgetHttpError as exc:
            return web.json_response({"error": exc.message}, status=exc.status,
                                     headers=exc.headers)
    return wrapped


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def _limited(retry_after: int | None, cors: dict[str, str]) -> None:
    if retry_after is not None:
        raise WidgetHttpError(429, "Too many messages; please wait a moment.",
                              {**cors, hdrs.RETRY_AFTER: str(retry_after)})


async def _instance(request: web.Request) -> WidgetInstance:
    instance = await request.app[WIDGET].store.instance_by_public_id(
        request.match_info["public_id"])
    if instance is None:
        raise WidgetHttpError(404, "There is no such widget.")
    return instance


async def _session(request: web.Request) -> tuple[WidgetSession, WidgetInstance]:
    # Whoever asks about an unknown id learns only that: the 404 may be read from any
    # origin, so the widget can forget a session that is gone.
    gone = WidgetHttpError(404, "There is no such chat.", {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*"})
    store = request.app[WIDGET].store
    session = await store.get_session(request.match_info["session_id"])
    if session is None:
        raise gone
    instance = await store.get_instance(session.instance_id)
    if instance is None:
        raise gone
    return session, instance


def _require_brain(request: web.Request, instance: WidgetInstance,
                   cors: dict[str, str]) -> None:
    try:
        request.app[SERVICES].require_brain(instance.persona)
    except (ServiceUnavailable, UnknownName):
        raise WidgetHttpError(503, "The chat is not available right now; please try "
                                   "again later.", cors) from None


async def script(request: web.Request) -> web.StreamResponse:
    public_id = request.match_info.get("public_id") or request.query.get("id", "")
    if await request.app[WIDGET].store.instance_by_public_id(public_id) is None:
        raise web.HTTPNotFound(text="There is no such widget.")
    return web.FileResponse(SCRIPT, headers={
        hdrs.CONTENT_TYPE: "text/javascript; charset=utf-8",
        hdrs.CACHE_CONTROL: f"public, max-age={SCRIPT_MAX_AGE_S}",
        # Any site may load the script itself; what it does is gated by the config.
        "Cross-Origin-Resource-Policy": "cross-origin"})


@json_handler
async def config(request: web.Request) -> web.StreamResponse:
    instance = await _instance(request)
    cors = cors_for(request, instance, origin_required=False)
    if request.method == hdrs.METH_OPTIONS:
        return preflight(cors)
    limits = request.app[WIDGET].limits
    return web.json_response({
        "id": instance.public_id, "name": instance.name, "greeting": instance.greeting,
        "accent_color": instance.accent_color, "text_color": instance.text_color,
        "position": instance.position, "max_message_chars": limits.max_message_chars,
        "poll_ms": POLL_MS}, headers=cors)


@json_handler
async def new_session(request: web.Request) -> web.StreamResponse:
    instance = await _instance(request)
    cors = cors_for(request, instance, origin_required=request.method != hdrs.METH_OPTIONS)
    if request.method == hdrs.METH_OPTIONS:
        return preflight(cors)
    channel = request.app[WIDGET]
    _limited(channel.new_session_limiter.hit([_client(request)]), cors)
    _require_brain(request, instance, cors)
    session = await channel.start_session(instance)
    return web.json_response({"session": session.session_id}, status=201, headers=cors)


@json_handler
async def history(request: web.Request) -> web.StreamResponse:
    session, instance = await _session(request)
    cors = cors_for(request, instance, origin_required=False)
    if request.method == hdrs.METH_OPTIONS:
        return preflight(cors)
    channel = request.app[WIDGET]
    _limited(channel.read_limiter.hit([_client(request)]), cors)
    raw = request.query.get("after", "0")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise WidgetHttpError(400, "after must be a turn number.", cors)
    items = await channel.history(session, int(raw))
    if items is None:
        raise WidgetHttpError(404, "There is no such chat.")
    return web.json_response({
        "session": session.session_id,
        "handed_off": session.handed_off,
        "items": [{"id": i.id, "role": i.role, "text": i.text} for i in items],
        "last": max((i.id for i in items), default=int(raw))}, headers=cors)


async def _message_text(request: web.Request, max_chars: int,
                        cors: dict[str, str]) -> str:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise WidgetHttpError(413, f"A message is at most {max_chars} characters.", cors)
    raw = await request.content.read(MAX_BODY + 1)  # a chunked body has no length to check
    if len(raw) > MAX_BODY:
        raise WidgetHttpError(413, f"A message is at most {max_chars} characters.", cors)
    try:
        body: Any = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise WidgetHttpError(400, 'Send JSON like {"text": "Hello"}.', cors) from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise WidgetHttpError(400, 'Send JSON like {"text": "Hello"}.', cors)
    if len(text.strip()) > max_chars:
        raise WidgetHttpError(413, f"A message is at most {max_chars} characters.", cors)
    return text.strip()


def _event(event: WidgetEvent) -> bytes:
    if isinstance(event, Said):
        name, data = "say", {"text": event.text}
    elif isinstance(event, HandedOff):
        name, data = "handoff", {"text": event.text}
    elif isinstance(event, Queued):
        name, data = "queued", {}
    else:
        assert isinstance(event, Finished)
        name, data = "done", {"last": event.last_id, "ended": event.ended}
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


@json_handler
async def message(request: web.Request) -> web.StreamResponse:
    session, instance = await _session(request)
    cors = cors_for(request, instance, origin_required=request.method != hdrs.METH_OPTIONS)
    if request.method == hdrs.METH_OPTIONS:
        return preflight(cors)
    channel = request.app[WIDGET]
    _limited(channel.ip_limiter.hit([_client(request)]), cors)
    _limited(channel.session_limiter.hit([session.session_id]), cors)
    text = await _message_text(request, channel.limits.max_message_chars, cors)
    _require_brain(request, instance, cors)
    response = web.StreamResponse(headers={
        **cors, hdrs.CONTENT_TYPE: "text/event-stream", hdrs.CACHE_CONTROL: "no-cache",
        "X-Accel-Buffering": "no"})  # a proxy in front must pass each event on at once
    await response.prepare(request)
    try:
        # Closed at once if the visitor leaves mid-reply: the brain then records what was
        # said so far, and the session's lock is free for the next page's message.
        async with contextlib.aclosing(channel.send(session, instance, text)) as events:
            async for event in events:
                await response.write(_event(event))
        await response.write_eof()
    except ConnectionResetError:
        pass  # the visitor navigated away; the history has the reply for the next page
    return response


@json_handler
async def handoff(request: web.Request) -> web.StreamResponse:
    session, instance = await _session(request)
    cors = cors_for(request, instance, origin_required=request.method != hdrs.METH_OPTIONS)
    if request.method == hdrs.METH_OPTIONS:
        return preflight(cors)
    channel = request.app[WIDGET]
    _limited(channel.session_limiter.hit([session.session_id]), cors)
    await channel.hand_off(session, "pressed “Talk to a human”")
    return web.json_response({"handed_off": True, "text": HANDED_OFF_TEXT}, headers=cors)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/widget.js", script, name="widget.script_query", allow_head=False)
    router.add_get("/widget/{public_id}/widget.js", script, name="widget.script",
                   allow_head=False)
    for path, name, method, handler in (
            ("/widget/{public_id}/config", "widget.config", "GET", config),
            ("/widget/{public_id}/sessions", "widget.session_new", "POST", new_session),
            ("/widget/chat/session/{session_id}", "widget.session", "GET", history),
            ("/widget/chat/session/{session_id}/messages", "widget.message", "POST",
             message),
            ("/widget/chat/session/{session_id}/handoff", "widget.handoff", "POST",
             handoff)):
        resource = router.add_resource(path, name=name)
        resource.add_route(method, handler)
        resource.add_route("OPTIONS", handler)

