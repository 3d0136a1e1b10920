"""The bot manager: runs every enabled bot of the database in this process, one aiogram
`Dispatcher` for all and one `Bot` per token, and starts, stops or reloads one bot
without touching the others (the admin's save calls `reload`). It also owns what the
bots share: the live conversations, the owner notifier, and the entry points of the
console's public routes (Telegram webhooks, YooMoney notifications, GitHub news).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from channels.telegram.config import TelegramConfig
from channels.telegram.conversations import ConversationPool
from channels.telegram.funnel import FunnelContent
from channels.telegram.handlers import build_dispatcher
from channels.telegram.handlers.common import send
from channels.telegram.handlers.payments import THANKS
from channels.telegram.news import news_from_event, verify_github
from channels.telegram.notifier import Notifier
from channels.telegram.payments import parse_yoomoney_label, verify_yoomoney
from channels.telegram.runtime import BotRuntime, Deps, Status
from channels.telegram.services import ChannelServices
from channels.telegram.store import BotRecord, BotStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotStatus:
    status: Status
    error: str | None
    username: str | None


class BotManager:
    def __init__(self, store: BotStore, services: ChannelServices,
                 config: TelegramConfig | None = None) -> None:
        config = config or TelegramConfig()
        self.store = store
        self.config = config
        # A bad funnel file stops the manager here, with the file's problem, rather than
        # failing in the middle of a user's quiz.
        self.deps = Deps(store=store, services=services, config=config,
                         funnel=FunnelContent.load(config.funnel_file),
                         pool=ConversationPool(config.max_conversations,
                                               config.conversation_idle_s))
        self._dispatcher = build_dispatcher()
        self._runtimes: dict[int, BotRuntime] = {}
        self._lock = asyncio.Lock()  # one start/stop/reload at a time
        self._background: set[asyncio.Task[None]] = set()
        self._notifier = Notifier(store, lambda: list(self._runtimes.values()),
                                  config.notify_interval_s)
        self._started = False

    # ---- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.create_tables()
        async with self._lock:
            for record in await self.store.bots():
                if record.enabled:
                    self._start(record)
            self._started = True
        self._spawn(self._notifier.run())
        self._spawn(self._sweep_idle())

    async def stop(self) -> None:
        async with self._lock:
            self._started = False
            tasks = list(self._background)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for bot_id in list(self._runtimes):
                await self._stop(bot_id, forget_webhook=False)
            await self.deps.pool.close_all("secretary stopped")
            await self._dispatcher.storage.close()

    async def reload(self, bot_id: int) -> BotStatus | None:
        """Apply a bot's saved settings: stop it (ending its chats) and start it again if
        it still exists and is enabled. The other bots are not touched."""
        async with self._lock:
            record = await self.store.get_bot(bot_id)
            keep_webhook = record is not None and record.enabled
            await self._stop(bot_id, forget_webhook=not keep_webhook)
            if record is not None and record.enabled and self._started:
                self._start(record)
        return self.status(bot_id)

    def status(self, bot_id: int) -> BotStatus | None:
        runtime = self._runtimes.get(bot_id)
        if runtime is None:
            return None
        return BotStatus(runtime.status, runtime.error, runtime.username)

    def runtime(self, bot_id: int) -> BotRuntime | None:
        return self._runtimes.get(bot_id)

    def _start(self, record: BotRecord) -> None:
        runtime = BotRuntime(record, self.deps, self._dispatcher)
        self._runtimes[record.id] = runtime
        runtime.start()

    async def _stop(self, bot_id: int, *, forget_webhook: bool) -> None:
        runtime = self._runtimes.pop(bot_id, None)
        if runtime is None:
            return
        if forget_webhook and runtime.webhook_url and runtime.status == "running":
            try:  # a disabled bot should not keep receiving posts nobody reads
                await runtime.bot.delete_webhook()
            except Exception as exc:
                log.warning("bot %s: could not remove its webhook: %s", bot_id, exc)
        await runtime.stop()
        await self.deps.pool.close_bot(bot_id, "bot stopped")

    async def _sweep_idle(self) -> None:
        while True:
            await asyncio.sleep(min(60.0, self.config.conversation_idle_s))
            await self.deps.pool.sweep()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- the console's public routes -------------------------------------------------

    def feed_webhook(self, bot_id: int, secret: str, body: bytes) -> int:
        """An update Telegram posted; returns the HTTP status to answer."""
        runtime = self._runtimes.get(bot_id)
        if runtime is None:
            return 404
        if not hmac.compare_digest(secret.encode("utf-8", "replace"),
                                   runtime.record.webhook_secret.encode()):
            return 403
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                return 400
            runtime.dispatch_raw(data)
        except (ValueError, ValidationError):
            return 400
        return 200

    async def yoomoney_notification(self, fields: Mapping[str, str]) -> int:
        """YooMoney's HTTP notification: 403 unless signed with our secret; a payment is
        recorded once per operation id and its payer thanked."""
        notification = verify_yoomoney(fields, self.config.yoomoney_secret)
        if notification is None:
            return 403
        if notification.codepro or notification.unaccepted:
            log.warning("YooMoney operation %s is on hold (codepro/unaccepted): not recorded",
                        notification.operation_id)
            return 200
        target = parse_yoomoney_label(notification.label)
        bot_id, chat_id = target if target is not None else (None, None)
        new = await self.store.record_payment(
            provider="yoomoney", charge_id=notification.operation_id, bot_id=bot_id,
            chat_id=chat_id, amount=notification.amount, currency=notification.currency,
            payload=notification.label)
        runtime = self._runtimes.get(bot_id) if bot_id is not None else None
        if new and runtime is not None and chat_id is not None:
            self._spawn(self._tell(runtime, chat_id, THANKS))
        return 200

    async def github_webhook(self, body: bytes, headers: Mapping[str, str]) -> int:
        """A GitHub delivery: 403 unless signed with our secret; the `## NEWS` of a merged
        pull request or of pushed commits goes to every subscriber, once per delivery."""
        if not verify_github(body, headers.get("X-Hub-Signature-256", ""),
                             self.config.github_secret):
            return 403
        delivery = headers.get("X-GitHub-Delivery", "").strip()
        if not delivery or len(delivery) > 100:
            return 400
        try:
            payload = json.loads(body)
        except ValueError:
            return 400
        if not isinstance(payload, dict):
            return 400
        if not await self.store.claim_delivery(delivery):
            log.info("GitHub delivery %s replayed: not broadcast again", delivery)
            return 200
        items = news_from_event(headers.get("X-GitHub-Event", ""), payload)
        if items:
            self._spawn(self._broadcast("📰 " + "\n\n".join(items)))
        return 200

    async def _broadcast(self, text: str) -> None:
        for runtime in list(self._runtimes.values()):
            if runtime.status != "running" or not runtime.record.funnel:
                continue
            for chat_id in await self.store.subscribers(runtime.record.id):
                await self._tell(runtime, chat_id, text)

    async def _tell(self, runtime: BotRuntime, chat_id: int, text: str) -> None:
        try:
            await send(runtime, lambda: runtime.bot.send_message(chat_id, text))
        except Exception as exc:  # one unreachable chat must not stop the rest
            log.warning("bot %s: could not message chat %s: %s", runtime.record.id,
                        chat_id, exc)
