"""Voice notes: fetched from the Bot API (getFile, then the file itself), decoded from
OGG/Opus to 16 kHz PCM, transcribed, and answered through the brain like text.

Size and length are checked before anything is downloaded (the cloud Bot API serves
nothing over 20 MB anyway); every failure becomes a clear reply, never a crash."""

from __future__ import annotations

import asyncio
import io
import logging

from aiogram import F, Router
from aiogram.types import Message

from channels.telegram.audio import STT_RATE, AudioDecodeError, decode_voice
from channels.telegram.handlers.common import answer, ask_brain
from channels.telegram.runtime import BotRuntime

log = logging.getLogger(__name__)

TOO_BIG = "That voice message is too large for me; please keep it under {mb} MB."
TOO_LONG = "That voice message is too long; please keep it under {seconds} seconds."
NO_EARS = "I can't listen to voice messages here; please write to me instead."
UNREADABLE = "Sorry, I couldn't play that voice message; could you write it instead?"
NOTHING_HEARD = "Sorry, I couldn't make out any words; could you say it again or write?"


async def voice_message(message: Message, runtime: BotRuntime) -> None:
    config, services = runtime.deps.config, runtime.deps.services
    voice = message.voice
    assert voice is not None  # the filter saw it
    too_big = TOO_BIG.format(mb=config.voice_max_bytes // (1024 * 1024) or 1)
    if voice.file_size is not None and voice.file_size > config.voice_max_bytes:
        await answer(message, runtime, too_big)
        return
    if voice.duration > config.voice_max_seconds:
        await answer(message, runtime, TOO_LONG.format(seconds=config.voice_max_seconds))
        return
    try:
        stt = services.stt() if services.stt is not None else None
    except Exception:
        stt = None
    if stt is None:
        await answer(message, runtime, NO_EARS)
        return
    bot = runtime.bot
    file = await bot.get_file(voice.file_id)
    if file.file_path is None or (file.file_size or 0) > config.voice_max_bytes:
        await answer(message, runtime, too_big)
        return
    data = io.BytesIO()
    await bot.download_file(file.file_path, data, timeout=60)
    if data.getbuffer().nbytes > config.voice_max_bytes:  # the server under-reported
        await answer(message, runtime, too_big)
        return
    try:
        pcm = await asyncio.to_thread(decode_voice, data.getvalue(), STT_RATE)
    except AudioDecodeError as exc:
        log.info("bot %s: unreadable voice note: %s", runtime.record.id, exc)
        await answer(message, runtime, UNREADABLE)
        return
    try:
        transcript = await stt.transcribe(pcm, STT_RATE, None)
    except Exception as exc:
        log.warning("bot %s: transcription failed: %s", runtime.record.id, exc)
        await answer(message, runtime, NO_EARS)
        return
    text = transcript.text.strip()
    if not text:
        await answer(message, runtime, NOTHING_HEARD)
        return
    await ask_brain(message, runtime, text, transcript.language)


def build_router() -> Router:
    """A fresh router (each dispatcher gets its own: routers attach to one parent)."""
    router = Router(name="voice")
    router.message.register(voice_message, F.voice)
    return router
