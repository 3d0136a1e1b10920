"""The public endpoints machines call for the Telegram channel: Telegram's webhook posts
(`X-Telegram-Bot-Api-Secret-Token` checked per bot), YooMoney's payment notifications
(sha1-signed form) and GitHub's webhooks for the news (`X-Hub-Signature-256`).

They carry no session, so they are public and CSRF-exempt (see web.auth.middleware); each
proves itself by its secret instead, checked in constant time by the bot manager, which
owns what happens next. Without a manager in this process they answer 503, and the
sender retries later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from web.query import parse_id, read_form
from web.services import ServiceUnavailable
from web.state import SERVICES

if TYPE_CHECKING:  # aiogram loads only where bots run
    from channels.telegram.manager import BotManager

WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GITHUB_HEADERS = ("X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event")


def _manager(request: web.Request) -> BotManager:
    try:
        return request.app[SERVICES].require_telegram()
    except ServiceUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None


def _status(code: int) -> web.Response:
    return web.Response(status=code, text="ok" if code == 200 else "refused")


async def telegram_webhook(request: web.Request) -> web.StreamResponse:
    manager = _manager(request)
    bot_id = parse_id(request.match_info["bot_id"])
    secret = request.headers.get(WEBHOOK_SECRET_HEADER, "")
    return _status(manager.feed_webhook(bot_id, secret, await request.read()))


async def yoomoney_notification(request: web.Request) -> web.StreamResponse:
    manager = _manager(request)
    form = await read_form(request)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return _status(await manager.yoomoney_notification(fields))


async def github_webhook(request: web.Request) -> web.StreamResponse:
    manager = _manager(request)
    headers = {name: request.headers.get(name, "") for name in GITHUB_HEADERS}
    return _status(await manager.github_webhook(await request.read(), headers))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/telegram/webhook/{bot_id}", telegram_webhook, name="telegram.webhook")
    router.add_post("/payments/yoomoney", yoomoney_notification, name="payments.yoomoney")
    router.add_post("/webhooks/github", github_webhook, name="webhooks.github")
