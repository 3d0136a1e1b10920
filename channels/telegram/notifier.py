"""Owner notifications: each phone message the secretary takes is sent to the owner chat
of every bot that has one.

Each bot keeps, in its database row, the id of the last message sent to its owner; a
pass sends what is newer, oldest first, moving the cursor after each send, so a restart
neither loses a message nor sends one twice (short of dying between a send and its
cursor write). Flood control (429) is waited out; a chat Telegram refuses outright
(blocked, not found) is skipped rather than retried for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from brain.store import MessageRecord
from channels.telegram.handlers.common import send
from channels.telegram.runtime import BotRuntime
from channels.telegram.store import BotStore

log = logging.getLogger(__name__)


def notification_text(message: MessageRecord) -> str:
    parts = [f"📞 New message from {message.name or 'a caller'}"]
    if message.callback_number:
        parts.append(f"Call back: {message.callback_number}")
    if message.reason:
        parts.append(f"About: {message.reason}")
    return "\n".join(parts)


class Notifier:
    def __init__(self, store: BotStore, runtimes: Callable[[], list[BotRuntime]],
                 interval_s: float) -> None:
        self._store = store
        self._runtimes = runtimes
        self._interval_s = interval_s

    async def run(self) -> None:
        while True:
            try:
                await self.notify_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database or Telegram down: try again next pass
                log.exception("owner notifications failed; retrying")
            await asyncio.sleep(self._interval_s)

    async def notify_once(self) -> int:
        """Send what is pending to every running bot's owner; returns how many were sent."""
        sent = 0
        for runtime in self._runtimes():
            if runtime.status != "running":
                continue
            record = await self._store.get_bot(runtime.record.id)  # the cursor, fresh
            if record is None or record.owner_chat_id is None:
                continue
            for message in await self._store.messages_after(record.notified_message_id):
                try:
                    await self._send(runtime, record.owner_chat_id,
                                     notification_text(message))
                    sent += 1
                except (TelegramBadRequest, TelegramForbiddenError) as exc:
                    log.warning("bot %s: owner chat %s refused message %s: %s",
                                record.id, record.owner_chat_id, message.id, exc.message)
                await self._store.set_notified(record.id, message.id)
        return sent

    @staticmethod
    async def _send(runtime: BotRuntime, chat_id: int, text: str) -> None:
        await send(runtime, lambda: runtime.bot.send_message(chat_id, text))
