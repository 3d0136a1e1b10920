"""Wires the Telegram bots into the secretary process: the channel's configuration from
the `telegram` settings, its own store on the secretary's database, and what it borrows
from the console's services (brains, voices, STT), which the phone fills as its models
load. A manager that cannot start is logged and skipped: calls come first."""

from __future__ import annotations

import contextlib
import logging

from channels.telegram.config import TelegramConfig
from channels.telegram.manager import BotManager
from channels.telegram.services import ChannelServices
from channels.telegram.store import BotStore
from secretary import thinking
from secretary.settings import Settings
from web.services import ConsoleServices

log = logging.getLogger(__name__)


def telegram_config(settings: Settings) -> TelegramConfig:
    tg = settings.telegram
    return TelegramConfig(
        api_base=tg.api_base, public_url=tg.public_url, poll_timeout_s=tg.poll_timeout_s,
        voice_max_bytes=tg.voice_max_mb * 1024 * 1024, voice_max_seconds=tg.voice_max_seconds,
        conversation_idle_s=tg.conversation_idle_s, max_conversations=tg.max_conversations,
        notify_interval_s=tg.notify_interval_s, stars_amount=tg.stars_amount,
        yoomoney_wallet=tg.yoomoney_wallet, yoomoney_amount=tg.yoomoney_amount,
        yoomoney_secret=tg.yoomoney_secret.get_secret_value() if tg.yoomoney_secret else "",
        github_secret=tg.github_secret.get_secret_value() if tg.github_secret else "",
        funnel_file=tg.funnel_file)


async def start_telegram(settings: Settings, resources: contextlib.AsyncExitStack,
                         console: ConsoleServices) -> BotManager | None:
    """Run the enabled bots for the life of `resources`; the console gets the manager
    (its bot pages reload through it, its webhook routes feed it)."""
    if not settings.telegram.enabled:
        return None
    try:
        store = await thinking.open_store(settings, resources)
        manager = BotManager(
            BotStore(store),
            ChannelServices(brain_for=console.require_brain, voice_for=console.require_voice,
                            stt=console.require_stt),
            telegram_config(settings))
        await manager.start()
    except Exception as exc:
        log.error("Telegram bots not started: %s", exc)
        return None
    resources.push_async_callback(manager.stop)
    console.provide(telegram=manager)
    return manager
