""""Test this persona": a chat box that talks to a persona's real Brain, as a caller would
(FAQ, dialogues, the LLM), and shows where each reply came from. The conversation lives in
the app's `ChatSessions`; the user's session keeps only its id."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session

from web.query import form_text, read_form
from web.services import ServiceUnavailable, UnknownName
from web.state import CHATS, SERVICES, USER
from web.templating import render

MAX_MESSAGE = 1000
SESSION_CHAT = "chat_id"


def _chat_url(request: web.Request, persona: str) -> str:
    return str(request.app.router["chat"].url_for().with_query(persona=persona))


async def chat_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    personas = services.personas()
    if not personas:
        return await render("chat.html", request, {
            "personas": [], "persona": "", "chat": None,
            "unavailable": "No persona can answer yet: the secretary is still loading its "
                           "models, or this process runs no secretary."}, status=503)
    persona = request.query.get("persona", "")
    if persona not in personas:
        persona = personas[0]
    session = await get_session(request)
    chat = await request.app[CHATS].get(session.get(SESSION_CHAT), persona)
    return await render("chat.html", request, {
        "personas": personas, "persona": persona, "chat": chat, "unavailable": None})


async def send(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    persona, message = form_text(form, "persona"), (form_text(form, "message") or "").strip()
    if not persona or not message:
        raise web.HTTPBadRequest(text="Choose a persona and type a message.")
    if len(message) > MAX_MESSAGE:
        raise web.HTTPBadRequest(text=f"A message is at most {MAX_MESSAGE} characters.")
    try:
        brain = request.app[SERVICES].require_brain(persona)
    except ServiceUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None
    except UnknownName as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    chats = request.app[CHATS]
    session = await get_session(request)
    chat = await chats.get(session.get(SESSION_CHAT), persona)
    if chat is None or chat.ended:  # a new persona, an expired chat, or the "call" ended
        await chats.end(session.get(SESSION_CHAT))
        chat = await chats.start(brain, caller=f"console:{request[USER].username}")
        session[SESSION_CHAT] = chat.id
    await chat.say(message)
    raise web.HTTPSeeOther(_chat_url(request, persona))


async def reset(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    session = await get_session(request)
    await request.app[CHATS].end(session.pop(SESSION_CHAT, None))
    raise web.HTTPSeeOther(_chat_url(request, form_text(form, "persona") or ""))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/chat", chat_page, name="chat")
    router.add_post("/chat", send, name="chat_send")
    router.add_post("/chat/reset", reset, name="chat_reset")
