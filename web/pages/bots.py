"""Telegram bots: everyone signed in sees them and how each runs (running, stopped, or the
error that stopped it); admins add, edit, enable, disable and delete them. Every save
reloads that one bot in the running manager, leaving the others alone.

Tokens are secrets: the list shows them masked, and the edit form never sends one back
(an empty token field keeps the stored token).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from channels.telegram.menu import DEFAULT_MENU
from channels.telegram.store import BotInput, BotRecord, parse_whitelist
from web.query import form_text, parse_id, read_form
from web.services import ServiceUnavailable
from web.state import BOTS, CONFIG, SERVICES
from web.templating import render


@dataclass(frozen=True)
class BotRow:
    bot: BotRecord
    status: str
    error: str | None
    username: str | None


def _personas(request: web.Request) -> list[str]:
    names = set(request.app[SERVICES].personas())
    folder = request.app[CONFIG].personas_dir
    if folder is not None and folder.is_dir():
        names |= {p.name for p in folder.iterdir() if (p / "persona.yaml").is_file()}
    return sorted(names)


def _voices(request: web.Request) -> list[str]:
    try:
        return request.app[SERVICES].voice_names()
    except ServiceUnavailable:
        return []


def _row(request: web.Request, bot: BotRecord) -> BotRow:
    manager = request.app[SERVICES].telegram
    status = manager.status(bot.id) if manager is not None else None
    if status is not None:
        return BotRow(bot, status.status, status.error, status.username)
    if manager is None:
        return BotRow(bot, "not running here" if bot.enabled else "stopped", None, None)
    return BotRow(bot, "stopped", None, None)


async def bots_page(request: web.Request) -> web.StreamResponse:
    bots = await request.app[BOTS].bots()
    return await render("bots.html", request, {
        "rows": [_row(request, bot) for bot in bots],
        "manager_here": request.app[SERVICES].telegram is not None})


async def _form(request: web.Request, bot: BotRecord | None, values: dict[str, Any],
                *, error: str | None = None, status: int = 200) -> web.StreamResponse:
    return await render("bot_form.html", request, {
        "bot": bot, "values": values, "personas": _personas(request),
        "voices": _voices(request), "error": error}, status=status)


def _values(bot: BotRecord | None, request: web.Request) -> dict[str, Any]:
    if bot is None:
        return {"name": "", "persona": request.app[CONFIG].default_persona, "voice": "",
                "voice_replies": False, "whitelist": "", "enabled": True,
                "owner_chat_id": "", "menu": DEFAULT_MENU, "funnel": False}
    return {"name": bot.name, "persona": bot.persona, "voice": bot.voice,
            "voice_replies": bot.voice_replies,
            "whitelist": " ".join(str(i) for i in sorted(bot.whitelist)),
            "enabled": bot.enabled, "menu": bot.menu, "funnel": bot.funnel,
            "owner_chat_id": "" if bot.owner_chat_id is None else str(bot.owner_chat_id)}


def _posted(form: MultiDictProxy[Any]) -> dict[str, Any]:
    text = {name: (form_text(form, name) or "").strip()
            for name in ("name", "token", "persona", "voice", "whitelist", "owner_chat_id",
                         "menu")}
    flags = {name: form_text(form, name) == "on"
             for name in ("voice_replies", "enabled", "funnel")}
    return {**text, **flags}


def _bot_input(values: dict[str, Any], *, new: bool) -> BotInput:
    owner = values["owner_chat_id"]
    if owner and not owner.lstrip("-").isdigit():
        raise ValueError("the owner chat id is a number (message @userinfobot to learn it)")
    return BotInput(
        name=values["name"], token=values["token"] or (None if not new else ""),
        persona=values["persona"], voice_replies=values["voice_replies"],
        voice=values["voice"], whitelist=parse_whitelist(values["whitelist"]),
        enabled=values["enabled"], owner_chat_id=int(owner) if owner else None,
        menu=values["menu"], funnel=values["funnel"])


async def new_bot_page(request: web.Request) -> web.StreamResponse:
    return await _form(request, None, _values(None, request))


async def create_bot(request: web.Request) -> web.StreamResponse:
    values = _posted(await read_form(request))
    if values["persona"] not in _personas(request):
        return await _form(request, None, values, error="Choose a persona.", status=400)
    try:
        bot = await request.app[BOTS].create_bot(_bot_input(values, new=True))
    except ValueError as exc:
        return await _form(request, None, values, error=str(exc), status=400)
    await _reload(request, bot.id)
    raise web.HTTPSeeOther(str(request.app.router["bots"].url_for()))


async def _bot(request: web.Request) -> BotRecord:
    bot = await request.app[BOTS].get_bot(parse_id(request.match_info["bot_id"]))
    if bot is None:
        raise web.HTTPNotFound(text="There is no such bot.")
    return bot


async def edit_bot_page(request: web.Request) -> web.StreamResponse:
    bot = await _bot(request)
    return await _form(request, bot, _values(bot, request))


async def save_bot(request: web.Request) -> web.StreamResponse:
    bot = await _bot(request)
    values = _posted(await read_form(request))
    if values["persona"] not in _personas(request):
        return await _form(request, bot, values, error="Choose a persona.", status=400)
    try:
        await request.app[BOTS].update_bot(bot.id, _bot_input(values, new=False))
    except ValueError as exc:
        return await _form(request, bot, values, error=str(exc), status=400)
    await _reload(request, bot.id)
    raise web.HTTPSeeOther(str(request.app.router["bots"].url_for()))


async def toggle_bot(request: web.Request) -> web.StreamResponse:
    bot = await _bot(request)
    await request.app[BOTS].set_enabled(bot.id, not bot.enabled)
    await _reload(request, bot.id)
    raise web.HTTPSeeOther(str(request.app.router["bots"].url_for()))


async def delete_bot(request: web.Request) -> web.StreamResponse:
    bot = await _bot(request)
    await request.app[BOTS].delete_bot(bot.id)
    await _reload(request, bot.id)
    raise web.HTTPSeeOther(str(request.app.router["bots"].url_for()))


async def _reload(request: web.Request, bot_id: int) -> None:
    manager = request.app[SERVICES].telegram
    if manager is not None:  # else the bots start with the secretary, as saved
        await manager.reload(bot_id)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/bots", bots_page, name="bots")
    new = router.add_resource("/bots/new", name="bot_new")
    new.add_route("GET", new_bot_page)
    new.add_route("POST", create_bot)
    bot = router.add_resource("/bots/{bot_id:\\d+}", name="bot")
    bot.add_route("GET", edit_bot_page)
    bot.add_route("POST", save_bot)
    router.add_post("/bots/{bot_id:\\d+}/toggle", toggle_bot, name="bot_toggle")
    router.add_post("/bots/{bot_id:\\d+}/delete", delete_bot, name="bot_delete")
