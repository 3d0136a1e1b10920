"""What the handlers share: asking the bot's brain in the chat's conversation, and sending
the answer back as text or, when the bot speaks, as a voice note (text when TTS fails).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.types import BufferedInputFile, Message, ReplyKeyboardMarkup

from channels.telegram.audio import encode_voice
from channels.telegram.runtime import BotRuntime
from channels.telegram.sending import with_retry

T = TypeVar("T")
log = logging.getLogger(__name__)

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
NOT_READY = ("Sorry, I can't answer right now; please try again in a minute. / "
             "Извините, я пока не могу ответить; попробуйте через минуту.")
MAX_TEXT = 4000  # Telegram's limit is 4096 characters a message
MAX_CAPTION = 1024


def guess_language(text: str) -> str:
    """Good enough to pick between the personas' two languages."""
    return "ru" if CYRILLIC.search(text) else "en"


def caller_of(message: Message) -> str:
    user = message.from_user
    return f"tg:{user.id}" if user is not None else f"tg-chat:{message.chat.id}"


async def send(runtime: BotRuntime, call: Callable[[], Awaitable[T]]) -> T:
    config = runtime.deps.config
    return await with_retry(call, attempts=config.send_attempts,
                            max_wait_s=config.max_retry_after_s)


async def answer(message: Message, runtime: BotRuntime, text: str,
                 keyboard: ReplyKeyboardMarkup | None = None) -> None:
    await send(runtime, lambda: message.answer(text[:MAX_TEXT], reply_markup=keyboard))


async def ask_brain(message: Message, runtime: BotRuntime, text: str,
                    language: str | None = None) -> None:
    """The persona's answer to `text` in this chat's conversation, sent back."""
    record, deps = runtime.record, runtime.deps
    try:
        brain = deps.services.brain_for(record.persona)
    except Exception as exc:
        log.warning("bot %s: no brain for %r: %s", record.id, record.persona, exc)
        await answer(message, runtime, NOT_READY)
        return
    chat_id = message.chat.id
    caller = caller_of(message)
    reply = await deps.pool.reply(
        (record.id, chat_id),
        lambda: brain.start(channel="telegram", external_id=f"{record.id}:{chat_id}",
                            caller=caller),
        text, language or guess_language(text))
    if not reply.text:
        return
    if record.voice_replies and await _answer_voice(message, runtime, reply.text):
        return
    await answer(message, runtime, reply.text)


async def _answer_voice(message: Message, runtime: BotRuntime, text: str) -> bool:
    """Speak `text` as a voice note with the text as its caption; False when it cannot
    be spoken (the caller then sends text)."""
    record, services = runtime.record, runtime.deps.services
    if services.voice_for is None:
        return False
    try:
        brain = services.brain_for(record.persona)
        voice = services.voice_for(record.voice or brain.persona.voice)
        pcm = bytearray()
        rate = 0
        async for chunk in voice.stream(text):
            rate = rate or chunk.sample_rate
            pcm += chunk.pcm16
        if not pcm:
            return False
        ogg = await asyncio.to_thread(encode_voice, bytes(pcm), rate)
    except Exception as exc:  # TTS missing or failing: the answer still goes, as text
        log.warning("bot %s: voice reply failed, sending text: %s", record.id, exc)
        return False
    await send(runtime, lambda: message.answer_voice(
        BufferedInputFile(ogg, filename="reply.ogg"), caption=text[:MAX_CAPTION]))
    return True
