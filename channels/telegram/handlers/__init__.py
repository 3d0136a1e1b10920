"""The aiogram handlers of every bot, as routers of the manager's one dispatcher.

`build_dispatcher()` mounts them in the order that matters: the whitelist first (a
refused user reaches nothing), payments and the funnel's interview before the catch-all
text handler, and the "I can't read that" answer last.
"""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage

from channels.telegram.handlers import access, chat, funnel, payments, voice


def build_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher(storage=MemoryStorage())
    access.install(dispatcher)
    dispatcher.include_routers(payments.build_router(), funnel.build_router(),
                                voice.build_router(), chat.build_router())
    return dispatcher
