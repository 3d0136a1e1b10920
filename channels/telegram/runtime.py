"""One running bot: its aiogram `Bot` (own HTTP session), how it receives updates
(a supervised `getUpdates` loop, or a webhook registered with a secret token), the
handler tasks it has in flight, and its status for the admin.

Updates go to the manager's one `Dispatcher`, with this runtime in the handler data
(`runtime`), so the handlers know which bot, persona and settings they serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import Update

from channels.telegram.config import TelegramConfig
from channels.telegram.conversations import ConversationPool
from channels.telegram.funnel import FunnelContent
from channels.telegram.services import ChannelServices
from channels.telegram.store import BotRecord, BotStore

log = logging.getLogger(__name__)

Status = Literal["starting", "running", "stopped", "error"]
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]


@dataclass(frozen=True)
class Deps:
    """What every bot of a manager shares."""

    store: BotStore
    pool: ConversationPool
    services: ChannelServices
    config: TelegramConfig
    funnel: FunnelContent  # loaded once from config.funnel_file


class KeyedLocks:
    """A lock per key, forgotten when nobody holds or waits for it (bounded by the chats
    with updates in flight, not by every chat ever seen)."""

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _chat_of(update: Update) -> int | None:
    event = update.event
    chat = getattr(event, "chat", None)
    if chat is not None:
        return int(chat.id)
    user = getattr(event, "from_user", None)
    return None if user is None else int(user.id)


class BotRuntime:
    def __init__(self, record: BotRecord, deps: Deps, dispatcher: Dispatcher) -> None:
        self.record = record
        self.deps = deps
        self._dispatcher = dispatcher
        config = deps.config
        server = (TelegramAPIServer.from_base(config.api_base) if config.api_base
                  else PRODUCTION)
        self.bot = Bot(record.token, session=AiohttpSession(api=server))
        self.status: Status = "starting"
        self.error: str | None = None
        self.username: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.max_concurrent_updates)
        self._chats = KeyedLocks()

    @property
    def webhook_url(self) -> str | None:
        base = self.deps.config.public_url
        return f"{base.rstrip('/')}/telegram/webhook/{self.record.id}" if base else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"telegram-bot-{self.record.id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        handlers = list(self._handlers)
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if self.status != "error":
            self.status = "stopped"
        await self.bot.session.close()

    def dispatch(self, update: Update) -> None:
        """Handle one update in the background (bounded per bot); errors are logged."""
        task = asyncio.create_task(self._handle(update))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    def dispatch_raw(self, data: dict[str, Any]) -> None:
        self.dispatch(Update.model_validate(data, context={"bot": self.bot}))

    async def _handle(self, update: Update) -> None:
        # One chat's updates in the order they came (its interview answers, its payment
        # after its invoice); different chats side by side, up to the bot's slots.
        async with self._chats.hold(_chat_of(update)), self._slots:
            try:
                await self._dispatcher.feed_update(self.bot, update, runtime=self)
            except Exception:
                log.exception("bot %s: update %s failed", self.record.id, update.update_id)

    async def _run(self) -> None:
        try:
            me = await self._with_backoff(self.bot.get_me)
            self.username = me.username
            url = self.webhook_url
            if url is not None:
                await self._with_backoff(lambda: self.bot.set_webhook(
                    url, secret_token=self.record.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES))
                self._running()
                return  # Telegram now posts to the console's webhook route
            await self._with_backoff(lambda: self.bot.delete_webhook())
            self._running()
            await self._poll()
        except TelegramUnauthorizedError as exc:
            self._fail(f"Telegram rejected the token (revoked or mistyped): {exc.message}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bot's failure is its own; the others keep running
            log.exception("bot %s stopped", self.record.id)
            self._fail(f"{type(exc).__name__}: {exc}")

    async def _poll(self) -> None:
        config = self.deps.config
        offset: int | None = None
        while True:
            updates = await self._with_backoff(functools.partial(
                self.bot.get_updates, offset=offset, timeout=config.poll_timeout_s,
                allowed_updates=ALLOWED_UPDATES, request_timeout=config.poll_timeout_s + 10))
            for update in updates:
                offset = update.update_id + 1
                self.dispatch(update)

    async def _with_backoff(self, call: Any) -> Any:
        """`call()` until it works: network trouble and 5xx back off (doubling, capped),
        429 waits its retry_after; a rejected token is raised at once."""
        config = self.deps.config
        delay = config.retry_initial_s
        while True:
            try:
                result = await call()
            except TelegramUnauthorizedError:
                raise
            except TelegramRetryAfter as exc:
                await asyncio.sleep(min(exc.retry_after, config.max_retry_after_s))
                continue
            except TelegramAPIError as exc:  # network errors, 5xx, conflicts
                self.error = f"{type(exc).__name__}: {exc.message}"
                log.warning("bot %s: %s; retrying in %.1f s", self.record.id, self.error,
                            delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, config.retry_max_s)
                continue
            if self.status == "running":
                self.error = None  # recovered
            return result

    def _running(self) -> None:
        self.status = "running"
        self.error = None
        log.info("bot %s (@%s) running, %s", self.record.id, self.username,
                 "webhook" if self.webhook_url else "polling")

    def _fail(self, error: str) -> None:
        self.status = "error"
        self.error = error
        log.error("bot %s: %s", self.record.id, error)
