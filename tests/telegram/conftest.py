"""The Telegram channel against the local Bot API stub: a real database in tmp_path, the
real brains (FAQ answers, no LLM), aiogram's real HTTP stack pointed at 127.0.0.1."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from brain.store import Store
from channels.telegram.config import TelegramConfig
from channels.telegram.manager import BotManager
from channels.telegram.services import ChannelServices
from channels.telegram.store import BotInput, BotRecord, BotStore
from tests.telegram.bot_api_stub import BotApiStub
from tests.web.speech_services import provide
from web.services import ConsoleServices

ANNA_TOKEN = "111111:anna-token-aaaaaaaaaaaaaaaa"
MARINA_TOKEN = "222222:marina-token-bbbbbbbbbbbbbb"


@dataclass
class Harness:
    stub: BotApiStub
    store: Store
    bots: BotStore
    services: ConsoleServices
    config: TelegramConfig
    managers: list[BotManager]

    @property
    def manager(self) -> BotManager:
        return self.managers[-1]

    async def add_bot(self, token: str, persona: str, **fields: Any) -> BotRecord:
        self.stub.add_bot(token, f"{persona}_bot")
        return await self.bots.create_bot(BotInput(name=f"{persona} bot", token=token,
                                                   persona=persona, **fields))

    async def start_manager(self, **config: Any) -> BotManager:
        manager = BotManager(self.bots, channel_services(self.services),
                             dataclasses.replace(self.config, **config))
        await manager.start()
        self.managers.append(manager)
        return manager

    async def wait_running(self, bot_id: int, manager: BotManager | None = None) -> None:
        manager = manager or self.manager
        await self.stub.wait_for(lambda: (s := manager.status(bot_id)) is not None
                                 and s.status in ("running", "error"), within_s=10)


def channel_services(services: ConsoleServices) -> ChannelServices:
    return ChannelServices(brain_for=services.require_brain,
                           voice_for=services.require_voice, stt=services.require_stt)


def stub_config(stub: BotApiStub, **fields: Any) -> TelegramConfig:
    return TelegramConfig(api_base=stub.base_url, poll_timeout_s=1, retry_initial_s=0.05,
                          retry_max_s=0.2, notify_interval_s=0.1, **fields)


@contextlib.asynccontextmanager
async def harness(tmp_path: Path, **services: Any) -> AsyncIterator[Harness]:
    (tmp_path / "db").mkdir(exist_ok=True)
    store = await Store.open(f"sqlite:///{tmp_path / 'db' / 'secretary.db'}")
    console = ConsoleServices()
    provide(console, store, tmp_path, **services)
    bots = BotStore(store)
    await bots.create_tables()
    async with BotApiStub() as stub:
        running = Harness(stub=stub, store=store, bots=bots, services=console,
                          config=stub_config(stub), managers=[])
        try:
            yield running
        finally:
            for manager in running.managers:
                await manager.stop()
            await store.close()


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as running:
        yield running
