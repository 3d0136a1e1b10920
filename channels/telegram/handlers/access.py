"""The whitelist: a bot with one lets only those Telegram users in; everyone else gets a
polite refusal and nothing of theirs is stored (no conversation is started)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import CallbackQuery, Message, PreCheckoutQuery, TelegramObject

from channels.telegram.runtime import BotRuntime

REFUSAL = ("Sorry, this bot only talks to the people it was set up for. / "
           "Извините, этот бот отвечает только своим пользователям.")


class Whitelist(BaseMiddleware):
    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]],
                                               Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        runtime: BotRuntime = data["runtime"]
        user = getattr(event, "from_user", None)
        if runtime.record.allows(user.id if user is not None else None):
            return await handler(event, data)
        if isinstance(event, Message):
            await event.answer(REFUSAL)
        elif isinstance(event, CallbackQuery):
            await event.answer(REFUSAL, show_alert=True)
        elif isinstance(event, PreCheckoutQuery):
            await event.answer(ok=False, error_message=REFUSAL)
        return None


def install(dispatcher: Dispatcher) -> None:
    whitelist = Whitelist()
    for observer in (dispatcher.message, dispatcher.callback_query,
                     dispatcher.pre_checkout_query):
        observer.outer_middleware(whitelist)
