"""The console's side of the bots: the admin pages (CSRF, roles, masked tokens, reload on
save) and the public machine routes (Telegram webhook, YooMoney, GitHub), served by the
real console app with a real bot manager talking to the local Bot API stub."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.telegram.manager import BotManager
from channels.telegram.payments import yoomoney_signature
from channels.telegram.store import BotInput, BotStore
from tests.telegram.bot_api_stub import BotApiStub, message
from tests.telegram.conftest import ANNA_TOKEN, MARINA_TOKEN, channel_services, stub_config
from tests.web.conftest import ADMIN, VIEWER, Console, csrf_token, login, running_console
from tests.web.speech_services import provide
from web.state import SERVICES

# aiohttp-session's own request keys, as in tests/web
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")
PUBLIC_URL = "https://secretary.example.org"


@dataclass
class Setup:
    console: Console
    stub: BotApiStub
    manager: BotManager
    bots: BotStore

    @property
    def client(self) -> TestClient:
        return self.console.client


@contextlib.asynccontextmanager
async def console_with_bots(tmp_path: Path, **config: Any) -> AsyncIterator[Setup]:
    async with running_console(tmp_path) as console:
        services = console.client.app[SERVICES]
        provide(services, console.writer, tmp_path)
        async with BotApiStub() as stub:
            # The phone process's manager: a store of its own on the same database.
            bots = BotStore(console.writer)
            manager = BotManager(bots, channel_services(services), stub_config(stub, **config))
            await manager.start()
            services.provide(telegram=manager)
            try:
                yield Setup(console, stub, manager, bots)
            finally:
                await manager.stop()


async def _wait_status(setup: Setup, bot_id: int, wanted: str | None) -> None:
    def reached() -> bool:
        status = setup.manager.status(bot_id)
        return status is None if wanted is None else \
            status is not None and status.status == wanted

    await setup.stub.wait_for(reached, within_s=10)


async def test_admin_manages_bots_and_each_save_reloads_one(tmp_path: Path) -> None:
    async with console_with_bots(tmp_path) as setup:
        client, stub = setup.client, setup.stub
        stub.add_bot(ANNA_TOKEN, "anna_bot")
        assert (await login(client, *ADMIN)).status == 303
        form = {"name": "Clinic", "token": ANNA_TOKEN, "persona": "anna",
                "menu": "📦 Products = What do you offer?", "enabled": "on",
                "whitelist": "", "owner_chat_id": "", "voice": ""}
        token = await csrf_token(client, "/bots/new")
        no_csrf = await client.post("/bots/new", data=form, allow_redirects=False)
        assert no_csrf.status == 403
        created = await client.post("/bots/new", data={**form, "csrf_token": token},
                                    allow_redirects=False)
        assert created.status == 303
        [bot] = await setup.bots.bots()
        await _wait_status(setup, bot.id, "running")
        page = await (await client.get("/bots")).text()
        assert "running" in page and bot.masked_token in page and ANNA_TOKEN not in page

        bad = await client.post(f"/bots/{bot.id}", data={
            **form, "token": "", "whitelist": "12 abc", "csrf_token": token})
        assert bad.status == 400 and "not a Telegram user id" in await bad.text()

        runtime = setup.manager.runtime(bot.id)
        saved = await client.post(f"/bots/{bot.id}", data={
            **form, "token": "", "persona": "marina", "whitelist": "42, 43",
            "csrf_token": token}, allow_redirects=False)
        assert saved.status == 303
        edited = await setup.bots.get_bot(bot.id)
        assert edited is not None and edited.token == ANNA_TOKEN  # kept
        assert edited.persona == "marina" and edited.whitelist == {42, 43}
        assert setup.manager.runtime(bot.id) is not runtime  # reloaded

        toggled = await client.post(f"/bots/{bot.id}/toggle", data={"csrf_token": token},
                                    allow_redirects=False)
        assert toggled.status == 303 and setup.manager.status(bot.id) is None
        assert "stopped" in await (await client.get("/bots")).text()

        deleted = await client.post(f"/bots/{bot.id}/delete", data={"csrf_token": token},
                                    allow_redirects=False)
        assert deleted.status == 303 and await setup.bots.bots() == []


async def test_viewers_see_bots_but_cannot_change_them(tmp_path: Path) -> None:
    async with console_with_bots(tmp_path) as setup:
        setup.stub.add_bot(MARINA_TOKEN, "marina_bot")
        bot = await setup.bots.create_bot(BotInput(name="Law", token=MARINA_TOKEN,
                                                   persona="marina"))
        assert (await login(setup.client, *VIEWER)).status == 303
        page = await setup.client.get("/bots")
        assert page.status == 200 and "Law" in await page.text()
        token = await csrf_token(setup.client, "/bots")
        refused = await setup.client.post(f"/bots/{bot.id}/delete",
                                          data={"csrf_token": token})
        assert refused.status == 403 and len(await setup.bots.bots()) == 1


async def test_webhook_mode_checks_the_secret_token(tmp_path: Path) -> None:
    async with console_with_bots(tmp_path, public_url=PUBLIC_URL) as setup:
        setup.stub.add_bot(ANNA_TOKEN, "anna_bot")
        bot = await setup.bots.create_bot(BotInput(name="Clinic", token=ANNA_TOKEN,
                                                   persona="anna"))
        await setup.manager.reload(bot.id)
        await _wait_status(setup, bot.id, "running")
        [hook] = setup.stub.sent(ANNA_TOKEN, "setWebhook")
        assert hook.fields["url"] == f"{PUBLIC_URL}/telegram/webhook/{bot.id}"
        assert hook.fields["secret_token"] == bot.webhook_secret
        assert setup.stub.sent(ANNA_TOKEN, "getUpdates") == []

        update = {"update_id": 1, **message(901, "Where is your office?")}
        forged = await setup.client.post(
            f"/telegram/webhook/{bot.id}", json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": "guessed"})
        assert forged.status == 403
        real = await setup.client.post(
            f"/telegram/webhook/{bot.id}", json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret})
        assert real.status == 200
        [reply] = await setup.stub.wait_sent(ANNA_TOKEN, "sendMessage")
        assert "Baker Street" in reply.fields["text"]
        unknown = await setup.client.post("/telegram/webhook/999", json=update)
        assert unknown.status == 404


def _yoomoney_form(secret: str, operation_id: str, label: str) -> dict[str, str]:
    fields = {"notification_type": "p2p-incoming", "operation_id": operation_id,
              "amount": "980.00", "withdraw_amount": "1000.00", "currency": "643",
              "datetime": "2026-01-15T10:00:00Z", "sender": "41001000040",
              "codepro": "false", "label": label, "unaccepted": "false"}
    return {**fields, "sha1_hash": yoomoney_signature(fields, secret)}


async def test_yoomoney_notifications_are_verified_and_recorded_once(tmp_path: Path) -> None:
    async with console_with_bots(tmp_path, yoomoney_secret="ym-secret") as setup:
        setup.stub.add_bot(ANNA_TOKEN, "anna_bot")
        bot = await setup.bots.create_bot(BotInput(name="Clinic", token=ANNA_TOKEN,
                                                   persona="anna", funnel=True))
        await setup.manager.reload(bot.id)
        await _wait_status(setup, bot.id, "running")
        label = f"tg:{bot.id}:905"
        forged = _yoomoney_form("not-the-secret", "op-1", label)
        assert (await setup.client.post("/payments/yoomoney", data=forged)).status == 403
        tampered = {**_yoomoney_form("ym-secret", "op-1", label), "amount": "1.00"}
        assert (await setup.client.post("/payments/yoomoney", data=tampered)).status == 403
        assert await setup.bots.payments() == []

        genuine = _yoomoney_form("ym-secret", "op-1", label)
        for _ in range(2):  # YooMoney repeats a notification it thinks was lost
            assert (await setup.client.post("/payments/yoomoney", data=genuine)).status == 200
        [payment] = await setup.bots.payments()
        assert (payment.provider, payment.charge_id, payment.chat_id) == ("yoomoney", "op-1",
                                                                          905)
        await setup.stub.wait_sent(ANNA_TOKEN, "sendMessage")
        await asyncio.sleep(0.3)
        assert len(setup.stub.sent(ANNA_TOKEN, "sendMessage")) == 1


def _github(secret: str, body: bytes, delivery: str, event: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": delivery,
            "X-GitHub-Event": event, "Content-Type": "application/json"}


async def test_github_news_is_verified_and_broadcast_once(tmp_path: Path) -> None:
    async with console_with_bots(tmp_path, github_secret="gh-secret") as setup:
        stub = setup.stub
        stub.add_bot(ANNA_TOKEN, "anna_bot")
        bot = await setup.bots.create_bot(BotInput(name="Clinic", token=ANNA_TOKEN,
                                                   persona="anna", funnel=True))
        await setup.manager.reload(bot.id)
        await _wait_status(setup, bot.id, "running")
        stub.push(ANNA_TOKEN, message(906, "📰 News"))
        await stub.wait_sent(ANNA_TOKEN, "sendMessage")
        assert await setup.bots.subscribers(bot.id) == [906]

        body = json.dumps({"action": "closed", "pull_request": {
            "merged": True, "body": "Fixes.\n\n## NEWS\nVersion 2 speaks Telegram.\n\n"
                                    "## Testing\nmanual"}}).encode()
        forged = await setup.client.post(
            "/webhooks/github", data=body, headers=_github("wrong", body, "d-1",
                                                           "pull_request"))
        assert forged.status == 403 and await setup.bots.deliveries() == 0

        headers = _github("gh-secret", body, "d-1", "pull_request")
        for _ in range(2):  # a redelivery from GitHub's settings page
            assert (await setup.client.post("/webhooks/github", data=body,
                                             headers=headers)).status == 200
        news = await stub.wait_sent(ANNA_TOKEN, "sendMessage", 2)
        assert news[1].fields["chat_id"] == "906"
        assert news[1].fields["text"] == "📰 Version 2 speaks Telegram."
        await asyncio.sleep(0.3)
        assert len(stub.sent(ANNA_TOKEN, "sendMessage")) == 2  # not re-sent


async def test_machine_routes_answer_503_without_bots_in_the_process(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        for path in ("/telegram/webhook/1", "/payments/yoomoney", "/webhooks/github"):
            response = await console.client.post(path, data=b"{}")
            assert response.status == 503, path
