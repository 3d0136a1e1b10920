"""`secretary admin ...` through the real CLI entry point, and the console served from
settings the way the phone process serves it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from brain.store import Store
from secretary.cli import main
from secretary.settings import load_settings
from tests.web.conftest import login
from web.app import create_app
from web.auth.secret_key import KEY_FILE_NAME
from web.auth.users import AccountStore
from web.server import console_config, serving_console, start_console
from web.state import ConsoleConfig


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'calls_log' / 'secretary.db'}"
    monkeypatch.setenv("SECRETARY_DATABASE", url)
    monkeypatch.setenv("SECRETARY_CALLS_LOG_DIR", str(tmp_path / "calls_log"))
    monkeypatch.setenv("SECRETARY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SECRETARY_CONFIG", str(tmp_path / "no-config.yaml"))
    return url


def run_cli(monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


async def log_in_and_call_api(url: str, calls_log: Path, username: str, password: str,
                              token: str) -> tuple[int, int, int]:
    async with await Store.open(url) as store:
        accounts = await AccountStore.open(store)
        config = ConsoleConfig(calls_log_dir=calls_log,
                               session_key=Fernet(Fernet.generate_key()))
        async with TestClient(TestServer(create_app(config, store, accounts))) as client:
            logged_in = await login(client, username, password)
            dashboard = await client.get("/", allow_redirects=False)
            api = await client.get("/api/v1/messages",
                                   headers={"Authorization": f"Bearer {token}"})
            return logged_in.status, dashboard.status, api.status


def test_admin_create_then_log_in(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(monkeypatch, "carol-password\n", "admin", "create", "--username", "Carol",
                   "--password-stdin") == 0
    assert "created admin 'carol'" in capsys.readouterr().out
    assert run_cli(monkeypatch, "", "admin", "token", "--username", "carol",
                   "--name", "grafana") == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("sct_")
    assert run_cli(monkeypatch, "", "admin", "list") == 0
    listing = capsys.readouterr().out
    assert "carol" in listing and "admin" in listing and "grafana" in listing

    statuses = asyncio.run(log_in_and_call_api(env, tmp_path / "calls_log", "carol",
                                               "carol-password", token))
    assert statuses == (303, 200, 200)


def test_admin_create_refuses_bad_input(env: str, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(monkeypatch, "short\n", "admin", "create", "--username", "dave",
                   "--password-stdin") == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert run_cli(monkeypatch, "long-enough-pw\n", "admin", "create", "--username",
                   "no spaces", "--password-stdin") == 1
    assert run_cli(monkeypatch, "long-enough-pw\n", "admin", "create", "--username", "dave",
                   "--role", "viewer", "--password-stdin") == 0
    assert run_cli(monkeypatch, "long-enough-pw\n", "admin", "create", "--username", "dave",
                   "--password-stdin") == 1
    assert "already exists" in capsys.readouterr().err
    assert run_cli(monkeypatch, "", "admin", "token", "--username", "nobody") == 1
    assert run_cli(monkeypatch, "new-password-2\n", "admin", "password", "--username",
                   "dave", "--password-stdin") == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_served_from_settings_with_a_persistent_secret(env: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("SECRETARY_WEB__PORT", str(free_port()))
    settings = load_settings()
    async with serving_console(settings) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "health") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok", "database": "ok"}
        async with http.get(url, allow_redirects=False) as response:
            assert response.status == 303
    key_file = tmp_path / "state" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = console_config(settings).session_key.encrypt(b"x")
    assert console_config(load_settings()).session_key.decrypt(first) == b"x"  # same key

    monkeypatch.setenv("SECRETARY_WEB__SECRET_KEY", "too short")
    with pytest.raises(ValueError, match="32 characters"):
        console_config(load_settings())


async def test_a_console_that_cannot_listen_does_not_stop_the_process(
        env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("SECRETARY_WEB__PORT", str(taken.getsockname()[1]))
        async with contextlib.AsyncExitStack() as resources:
            assert await start_console(load_settings(), resources) is False
    [record] = [r for r in caplog.records if r.name == "web.server"]
    assert record.getMessage().startswith("admin console not started")
    caplog.clear()  # the error is the expected outcome here
