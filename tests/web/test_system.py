"""The system page: Asterisk asked over ARI (a local server that answers like Asterisk
does; a closed port; wrong credentials; no answer), the engines from the settings without
their secrets, versions, the database and the call log's disk use."""

from __future__ import annotations

import asyncio
import re
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import TestServer

from secretary.settings import load_settings
from tests.web.conftest import ADMIN, Seeded, login, running_console
from web.server import console_config
from web.state import AriAccess
from web.system_info import asterisk_status

ARI_USER, ARI_PASSWORD = "secretary", "ari-secret-1"
ASTERISK_INFO = {  # the shape of Asterisk 20's GET /ari/asterisk/info
    "build": {"os": "Linux", "kernel": "6.1.0-18-amd64", "machine": "x86_64",
              "options": "BUILD_NATIVE", "date": "2024-01-01 00:00:00 UTC", "user": "root"},
    "system": {"version": "20.6.0", "entity_id": "02:42:ac:11:00:02"},
    "config": {"name": "pbx-<b>one</b>", "default_language": "en",
               "setid": {"user": "asterisk", "group": "asterisk"}},
    "status": {"startup_time": "2025-01-02T03:04:05.000+0000",
               "last_reload_time": "2025-01-02T03:04:05.000+0000"},
}


def fake_ari(delay_s: float = 0.0) -> web.Application:
    async def checked(request: web.Request) -> None:
        expected = "Basic " + b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
        if request.headers.get(hdrs.AUTHORIZATION) != expected:
            raise web.HTTPUnauthorized(text='{"message": "Authentication required"}',
                                       content_type="application/json")
        await asyncio.sleep(delay_s)

    async def info(request: web.Request) -> web.Response:
        await checked(request)
        return web.json_response(ASTERISK_INFO)

    async def channels(request: web.Request) -> web.Response:
        await checked(request)
        return web.json_response([{"id": "1700000000.1", "state": "Up"},
                                  {"id": "1700000000.2", "state": "Up"}])

    app = web.Application()
    app.router.add_get("/ari/asterisk/info", info)
    app.router.add_get("/ari/channels", channels)
    return app


@pytest.fixture
async def ari_url() -> AsyncIterator[str]:
    server = TestServer(fake_ari())
    await server.start_server()
    try:
        yield str(server.make_url("/ari"))
    finally:
        await server.close()


async def system_page(tmp_path: Path, ari: AriAccess | None) -> str:
    async with running_console(tmp_path, ari=ari) as console:
        assert (await login(console.client, *ADMIN)).status == 303
        response = await console.client.get("/system")
        text = await response.text()
        assert response.status == 200, text[:500]
        return text


async def test_asterisk_reachable_shows_version_and_channels(tmp_path: Path,
                                                             ari_url: str) -> None:
    text = await system_page(tmp_path, AriAccess(ari_url, ARI_USER, ARI_PASSWORD))
    assert re.search(r'id="asterisk-version">20\.6\.0<', text)
    assert re.search(r'id="asterisk-channels">2<', text)
    assert "2025-01-02T03:04:05" in text and "Linux 6.1.0-18-amd64 x86_64" in text
    assert "pbx-&lt;b&gt;one&lt;/b&gt;" in text  # what Asterisk says is text, escaped
    assert "unreachable" not in text


async def test_asterisk_unreachable_is_a_page_not_a_500(admin, console, seeded: Seeded
                                                         ) -> None:
    response = await admin.get("/system")  # the fixture's ARI is a closed port
    text = await response.text()
    assert response.status == 200
    assert "Asterisk unreachable: cannot connect to 127.0.0.1:" in text
    assert "ari-password" not in text


async def test_wrong_ari_credentials_are_reported(tmp_path: Path, ari_url: str) -> None:
    text = await system_page(tmp_path, AriAccess(ari_url, ARI_USER, "wrong"))
    assert "Asterisk unreachable: ARI answered 401 Unauthorized" in text


async def test_no_ari_configured(tmp_path: Path) -> None:
    assert "Asterisk unreachable: ARI is not configured" in await system_page(tmp_path, None)


async def test_an_asterisk_that_does_not_answer_is_given_up_on() -> None:
    server = TestServer(fake_ari(delay_s=5.0))
    await server.start_server()
    try:
        status = await asterisk_status(
            AriAccess(str(server.make_url("/ari")), ARI_USER, ARI_PASSWORD), timeout_s=0.2)
    finally:
        await server.close()
    assert not status.reachable and status.problem == "no answer within 0.2 s"


async def test_versions_database_and_disk_use(admin, console, seeded: Seeded) -> None:
    text = await (await admin.get("/system")).text()
    assert re.search(r"<dt>aiohttp</dt><dd>\d+\.\d+", text)
    for name in ("faster-whisper", "piper-tts", "litellm", "peewee"):
        assert f"<dt>{name}</dt>" in text, name
    assert "Python 3." in text
    assert re.search(r'id="database-kind">SQLite <code>[^<]*secretary\.db</code>', text)
    files = [p for p in console.calls_log.iterdir() if p.is_file()]
    assert re.search(rf'id="calls-log-use">[\d.]+ (B|KiB|MiB) in {len(files)} files<', text)
    assert "<td>Speech recognition</td><td>engine</td><td><code>whisper</code>" in text


def test_console_config_from_settings_carries_no_secret_to_pages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETARY_CONFIG", str(tmp_path / "no-config.yaml"))
    settings = load_settings(
        state_dir=tmp_path / "state", personas_dir=tmp_path / "personas",
        ari={"username": "ari-user", "password": "ari-pass-1"},
        llm={"embedded": True, "chain": [
            {"model": "openai/qwen", "api_base": "http://gpu:8000/v1", "api_key": "sk-key-1"},
            {"model": "gemini/gemini-2.0-flash", "api_key": "gm-key-1"}]})
    config = console_config(settings)
    assert config.personas_dir == tmp_path / "personas"
    assert config.ari == AriAccess(settings.ari_url, "ari-user", "ari-pass-1")
    assert "ari-pass-1" not in repr(config)
    assert config.llm_chain == ("embedded llama-server (SmolLM2-135M)",
                                "openai/qwen at http://gpu:8000/v1",
                                "gemini/gemini-2.0-flash")
    shown = repr(config.engines) + repr(config.llm_chain)
    assert "sk-key-1" not in shown and "gm-key-1" not in shown
    assert ("Speech recognition", "engine", "whisper") in config.engines
