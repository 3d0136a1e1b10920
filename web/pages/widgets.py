"""The website widget in the console: the instances (list, create, edit, delete; each
with its embed snippet), the visitor sessions with the hand-offs waiting for a person,
and one session's conversation with a form to answer the visitor. Everyone signed in
reads; admins change (the auth middleware enforces it, the CSRF middleware checks the
forms)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from channels.widget.settings import POSITIONS, SettingsError, WidgetSettings, check_settings
from channels.widget.store import WidgetInstance, WidgetSession
from web.persona_files import persona_keys
from web.query import form_text, parse_id, read_form
from web.state import CONFIG, SERVICES, STORE, USER, WIDGET
from web.templating import render

MAX_REPLY = 2000
SESSIONS_SHOWN = 50


async def personas(request: web.Request) -> list[str]:
    """The personas a widget may use: those the process runs and those in the folder."""
    folder = request.app[CONFIG].personas_dir
    on_disk = await asyncio.to_thread(persona_keys, folder) if folder is not None else []
    return sorted(set(on_disk) | set(request.app[SERVICES].personas()))


def snippet(request: web.Request, instance: WidgetInstance) -> str:
    url = request.url.origin().join(request.app.router["widget.script"].url_for(
        public_id=instance.public_id))
    return f'<script src="{url}" async></script>'


def _blank(persona: str) -> dict[str, Any]:
    settings = WidgetSettings(name="", persona=persona)
    return {"name": "", "persona": persona, "greeting": settings.greeting,
            "accent_color": settings.accent_color, "text_color": settings.text_color,
            "position": settings.position, "allowed_origins": ""}


def _values(instance: WidgetInstance) -> dict[str, Any]:
    return {"name": instance.name, "persona": instance.persona,
            "greeting": instance.greeting, "accent_color": instance.accent_color,
            "text_color": instance.text_color, "position": instance.position,
            "allowed_origins": "\n".join(instance.allowed_origins)}


async def _read_settings(request: web.Request) -> tuple[dict[str, Any], WidgetSettings | str]:
    """The form's values, and the checked settings or what is wrong with them."""
    form = await read_form(request)
    values = {name: form_text(form, name) or "" for name in (
        "name", "persona", "greeting", "accent_color", "text_color", "position",
        "allowed_origins")}
    try:
        return values, check_settings(personas=await personas(request), **values)
    except SettingsError as exc:
        return values, str(exc)


async def _list(request: web.Request, *, values: dict[str, Any] | None = None,
                error: str | None = None, status: int = 200) -> web.StreamResponse:
    channel = request.app[WIDGET]
    known = await personas(request)
    instances = await channel.store.instances()
    return await render("widgets.html", request, {
        "instances": [(i, snippet(request, i)) for i in instances],
        "names": {i.id: i.name for i in instances},
        "sessions": await channel.store.sessions(limit=SESSIONS_SHOWN),
        "notifications": await channel.store.notifications(),
        "personas": known, "positions": POSITIONS, "error": error,
        "form": values or _blank(known[0] if known else "")}, status=status)


async def widgets_page(request: web.Request) -> web.StreamResponse:
    return await _list(request)


async def create_widget(request: web.Request) -> web.StreamResponse:
    values, settings = await _read_settings(request)
    if isinstance(settings, str):
        return await _list(request, values=values, error=settings, status=400)
    instance = await request.app[WIDGET].store.create_instance(settings)
    raise web.HTTPSeeOther(str(request.app.router["widget"].url_for(
        widget_id=str(instance.id))))


async def _instance(request: web.Request) -> WidgetInstance:
    instance = await request.app[WIDGET].store.get_instance(
        parse_id(request.match_info["widget_id"]))
    if instance is None:
        raise web.HTTPNotFound(text="There is no such widget.")
    return instance


async def _detail(request: web.Request, instance: WidgetInstance, *,
                  values: dict[str, Any] | None = None, error: str | None = None,
                  status: int = 200) -> web.StreamResponse:
    channel = request.app[WIDGET]
    return await render("widget.html", request, {
        "instance": instance, "snippet": snippet(request, instance),
        "query_url": str(request.url.origin().join(
            request.app.router["widget.script_query"].url_for().with_query(
                id=instance.public_id))),
        "sessions": await channel.store.sessions(instance.id, limit=SESSIONS_SHOWN),
        "personas": await personas(request), "positions": POSITIONS,
        "form": values or _values(instance), "error": error}, status=status)


async def widget_page(request: web.Request) -> web.StreamResponse:
    return await _detail(request, await _instance(request))


async def update_widget(request: web.Request) -> web.StreamResponse:
    instance = await _instance(request)
    values, settings = await _read_settings(request)
    if isinstance(settings, str):
        return await _detail(request, instance, values=values, error=settings, status=400)
    await request.app[WIDGET].store.update_instance(instance.id, settings)
    raise web.HTTPSeeOther(str(request.app.router["widget"].url_for(
        widget_id=str(instance.id))))


async def delete_widget(request: web.Request) -> web.StreamResponse:
    if not await request.app[WIDGET].store.delete_instance(
            parse_id(request.match_info["widget_id"])):
        raise web.HTTPNotFound(text="There is no such widget.")
    raise web.HTTPSeeOther(str(request.app.router["widgets"].url_for()))


async def _session(request: web.Request) -> tuple[WidgetSession, WidgetInstance]:
    store = request.app[WIDGET].store
    session = await store.get_session(request.match_info["session_id"])
    instance = None if session is None else await store.get_instance(session.instance_id)
    if session is None or instance is None:
        raise web.HTTPNotFound(text="There is no such website chat.")
    return session, instance


def _session_url(request: web.Request, session: WidgetSession) -> str:
    return str(request.app.router["widget_session"].url_for(
        session_id=session.session_id))


async def session_page(request: web.Request, *, error: str | None = None,
                       status: int = 200) -> web.StreamResponse:
    session, instance = await _session(request)
    channel = request.app[WIDGET]
    if request.method == "GET" and request[USER].is_admin:
        await channel.store.mark_seen(session.session_id)  # someone who can answer saw it
    return await render("widget_session.html", request, {
        "session": session, "instance": instance,
        "call": await request.app[STORE].get_call(session.call_id),
        "turns": await request.app[STORE].turns(session.call_id),
        "error": error, "max_reply": MAX_REPLY}, status=status)


async def reply(request: web.Request) -> web.StreamResponse:
    session, _ = await _session(request)
    text = (form_text(await read_form(request), "text") or "").strip()
    if not text or len(text) > MAX_REPLY:
        return await session_page(request, error=f"A reply is 1 to {MAX_REPLY} characters.",
                                  status=400)
    await request.app[WIDGET].owner_reply(session, text)
    raise web.HTTPSeeOther(_session_url(request, session))


async def release(request: web.Request) -> web.StreamResponse:
    session, _ = await _session(request)
    await request.app[WIDGET].release(session)
    raise web.HTTPSeeOther(_session_url(request, session))


def add_routes(router: web.UrlDispatcher) -> None:
    widgets = router.add_resource("/widgets", name="widgets")
    widgets.add_route("GET", widgets_page)
    widgets.add_route("POST", create_widget)
    chat = router.add_resource("/widgets/sessions/{session_id}", name="widget_session")
    chat.add_route("GET", session_page)
    router.add_post("/widgets/sessions/{session_id}/reply", reply, name="widget_reply")
    router.add_post("/widgets/sessions/{session_id}/release", release,
                    name="widget_release")
    widget = router.add_resource("/widgets/{widget_id}", name="widget")
    widget.add_route("GET", widget_page)
    widget.add_route("POST", update_widget)
    router.add_post("/widgets/{widget_id}/delete", delete_widget, name="widget_delete")
