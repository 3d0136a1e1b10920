"""The console against a real SQLite database in tmp_path, filled through the real Store,
with real WAV recordings, served by a real aiohttp server (aiohttp.test_utils)."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import socket
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from brain.store import Store
from web.app import create_app
from web.auth.users import AccountStore
from web.query import local_midnight
from web.state import AriAccess, ConsoleConfig

PERSONAS_SOURCE = Path(__file__).resolve().parents[2] / "brain" / "personas"
ADMIN = ("admin", "admin-password-1")
VIEWER = ("viewer", "viewer-password-1")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OLD_DAY = datetime(2024, 5, 6, 10, 0, 0).astimezone()  # local time, like the date filters
TIMINGS = {"end_of_turn_ms": 300.0, "stt_final_ms": 810.0, "first_clause_ms": 900.0,
           "first_tts_chunk_ms": 1100.0, "first_rtp_ms": 1200.0, "stt_early_pass": 1.0}


def ignore_session_key_warnings(items: list[pytest.Item], folder: Path) -> None:
    """aiohttp-session stores its own keys without AppKey: not ours to fix."""
    for item in items:
        if item.path.is_relative_to(folder):
            item.add_marker(pytest.mark.filterwarnings(
                "ignore::aiohttp.web_exceptions.NotAppKeyWarning"))


def assert_no_errors_logged(caplog: pytest.LogCaptureFixture,
                            loggers: tuple[str, ...] = ("web", "aiohttp")) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR
              and r.name.startswith(loggers)]
    assert not errors, [r.getMessage() for r in errors]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    ignore_session_key_warnings(items, Path(__file__).parent)


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An error the console logs (a 500, a page that failed to render) fails the test."""
    yield
    assert_no_errors_logged(caplog)


@dataclass
class Console:
    client: TestClient
    writer: Store  # the phone process's side: fills the database
    accounts: AccountStore
    calls_log: Path
    config: ConsoleConfig
    db_url: str

    def new_client(self) -> TestClient:
        return TestClient(TestServer(self.client.app))


@dataclass(frozen=True)
class Seeded:
    today_call: int  # +79123456789, ended, a message, timings
    old_call: int  # "Tester" on 2024-05-06, with recordings, a 100% discount and <script>
    active_call: int  # no end yet
    recording_stem: str


def write_wav(path: Path, seconds: float = 1.0, freq: float = 440.0, rate: int = 8000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


async def seed(store: Store, calls_log: Path) -> Seeded:
    today = local_midnight(date.today()) + timedelta(seconds=1)
    today_call = await store.start_call(channel="phone", external_id="ch-1",
                                        caller="+79123456789", persona="anna",
                                        started_at=today)
    await store.add_turn(today_call, role="caller", text="I'd like to leave a message",
                         started_at=today + timedelta(seconds=2))
    await store.add_turn(today_call, role="secretary", text="Of course. Your name?",
                         started_at=today + timedelta(seconds=4), timings=TIMINGS)
    await store.save_message(call_id=today_call, name="Ivan Petrov",
                             callback_number="+79123456789", reason="About my crown",
                             language="en", created_at=today + timedelta(seconds=30))
    await store.end_call(today_call, ended_at=today + timedelta(seconds=40),
                         reason="caller said goodbye", outcome="message")

    stem = "call_20240506_100000_000001"
    for side, freq in (("input", 440.0), ("output", 660.0)):
        write_wav(calls_log / f"{stem}_{side}.wav", seconds=3.0, freq=freq)
    (calls_log / f"{stem}_transcript.txt").write_text("[00:00.0] caller: hello\n")
    old_call = await store.start_call(channel="phone", external_id="ch-2", caller="Tester",
                                      persona="anna", started_at=OLD_DAY,
                                      recording_prefix=str(calls_log / stem))
    await store.add_turn(old_call, role="caller", text="Where are you located?",
                         started_at=OLD_DAY + timedelta(seconds=3))
    await store.add_turn(old_call, role="secretary",
                         text="We're at 12 Baker Street. Cleaning is 100% covered.",
                         started_at=OLD_DAY + timedelta(seconds=5), interrupted=True,
                         heard_text="We're at 12 Baker Street.",
                         timings={**TIMINGS, "llm_first_token_ms": 1500.0,
                                  "first_rtp_ms": 1700.0})
    await store.add_turn(old_call, role="caller", text="<script>alert('x')</script>",
                         started_at=OLD_DAY + timedelta(seconds=9))
    await store.end_call(old_call, ended_at=OLD_DAY + timedelta(seconds=65),
                         reason="caller: ChannelHangupRequest")

    active_call = await store.start_call(channel="phone", external_id="ch-3",
                                         caller="+74950000000", persona="anna",
                                         started_at=datetime.now(UTC) - timedelta(seconds=5))
    return Seeded(today_call=today_call, old_call=old_call, active_call=active_call,
                  recording_stem=stem)


def copy_personas(tmp_path: Path) -> Path:
    """A copy of the shipped personas the test may change (recordings left out)."""
    target = tmp_path / "personas"
    shutil.copytree(PERSONAS_SOURCE, target, ignore=shutil.ignore_patterns("*.wav"))
    return target


def closed_port() -> int:
    """A local TCP port nothing listens on (was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def running_console(tmp_path: Path, **config: Any) -> AsyncIterator[Console]:
    """The console over a fresh database with an admin and a viewer; `config` overrides
    ConsoleConfig fields (by default ARI points at a closed port: Asterisk is down)."""
    calls_log = tmp_path / "calls_log"
    calls_log.mkdir()
    url = f"sqlite:///{calls_log / 'secretary.db'}"
    writer = await Store.open(url)
    reader = await Store.open(url)  # the console reads through a store of its own
    accounts = await AccountStore.open(reader)
    await accounts.create_user(*ADMIN, role="admin")
    await accounts.create_user(*VIEWER, role="viewer")
    fields: dict[str, Any] = {
        "calls_log_dir": calls_log, "session_key": Fernet(Fernet.generate_key()),
        "session_max_age_s": 3600, "login_max_failures": 5, "login_window_s": 300,
        "personas_dir": copy_personas(tmp_path), "default_persona": "anna",
        "ari": AriAccess(url=f"http://127.0.0.1:{closed_port()}/ari", username="secretary",
                         password="ari-password"),
        "engines": (("Speech recognition", "engine", "whisper"),),
        "llm_chain": ("openai/qwen at http://127.0.0.1:9/v1",),
        **config}
    config_value = ConsoleConfig(**fields)
    app = create_app(config_value, reader, accounts)
    try:
        async with TestClient(TestServer(app)) as client:
            yield Console(client=client, writer=writer, accounts=accounts,
                          calls_log=calls_log, config=config_value, db_url=url)
    finally:
        await reader.close()
        await writer.close()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async with running_console(tmp_path) as running:
        yield running


@pytest.fixture
async def seeded(console: Console) -> Seeded:
    return await seed(console.writer, console.calls_log)


async def csrf_token(client: TestClient, path: str = "/login") -> str:
    response = await client.get(path)
    found = CSRF.search(await response.text())
    assert found, f"no CSRF token on {path}"
    return found.group(1)


async def login(client: TestClient, username: str, password: str,
                next_url: str | None = None) -> ClientResponse:
    data = {"username": username, "password": password,
            "csrf_token": await csrf_token(client)}
    if next_url is not None:
        data["next"] = next_url
    return await client.post("/login", data=data, allow_redirects=False)


@pytest.fixture
async def admin(console: Console) -> TestClient:
    response = await login(console.client, *ADMIN)
    assert response.status == 303
    return console.client


@pytest.fixture
async def viewer(console: Console) -> TestClient:
    response = await login(console.client, *VIEWER)
    assert response.status == 303
    return console.client
