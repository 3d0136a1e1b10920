"""Real Asterisk, the real secretary process and real SIP callers, on loopback ports of their own.

The Asterisk instance "test" (ports below) is started once per session from the
project's own provisioning; every test gets a fresh secretary process
(`python -m secretary app`) writing its recordings to the test's directory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ari_app.client import AriClient, AriConfig
from asterisk.server import AsteriskServer
from secretary.cli import build_server
from secretary.settings import PROJECT_ROOT, Settings
from tests.sip_caller import SipCaller

CONNECTED_LINE = "ARI events websocket connected"
TEST_PORTS = {"sip_port": 15060, "http_port": 18088, "rtp_start": 21000, "rtp_end": 21999}
OPERATOR_PORT = 15070  # the "operator" staff phone (a baresip that answers) listens here
TEST_STAFF = [{"name": "operator", "contact": f"sip:operator@127.0.0.1:{OPERATOR_PORT}"}]
LLM_TEST_PORT = 18090
WEB_TEST_PORT = 18002  # the admin console the secretary under test serves

pytestmark = pytest.mark.integration


def _test_env(calls_log_dir: Path, media_format: str) -> dict[str, str]:
    env = {
        "SECRETARY_ASTERISK__INSTANCE": "test",
        "SECRETARY_CALLS_LOG_DIR": str(calls_log_dir),
        "SECRETARY_LOG_LEVEL": "INFO",
        "SECRETARY_MEDIA__FORMAT": media_format,
        # The spine's tests check media; the secretary's own tests ask for mode=secretary.
        "SECRETARY_CALL__MODE": "echo",
        "SECRETARY_LLM__EMBEDDED_PORT": str(LLM_TEST_PORT),
        "SECRETARY_WEB__PORT": str(WEB_TEST_PORT),
        # no bots in these tests; a restarted secretary must be back within seconds
        "SECRETARY_TELEGRAM__ENABLED": "false",
    }
    env.update({f"SECRETARY_ASTERISK__{k.upper()}": str(v) for k, v in TEST_PORTS.items()})
    return env


def _settings(calls_log_dir: Path, media_format: str = "ulaw") -> Settings:
    return Settings(
        asterisk={"instance": "test", "staff": TEST_STAFF, **TEST_PORTS},
        calls_log_dir=calls_log_dir,
        media={"format": media_format},
    )


@pytest.fixture(scope="session")
def asterisk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskServer]:
    server = build_server(_settings(tmp_path_factory.mktemp("unused")))
    server.stop()  # a leftover from an interrupted run
    server.start()
    yield server
    server.stop()


@dataclass
class Secretary:
    """The secretary process under test and what a test needs to reach it."""

    settings: Settings
    calls_log_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def target(self) -> str:
        a = self.settings.asterisk
        return f"sip:{a.extension}@{a.bind_address}:{a.sip_port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def recordings(self, kind: str) -> list[Path]:
        return sorted(self.calls_log_dir.glob(f"call_*_{kind}.wav"))

    def caller(
        self, workdir: Path, speak_wav: Path, seconds: float, user: str = "tester"
    ) -> SipCaller:
        return SipCaller(workdir, speak_wav, self.target, user=user, seconds=seconds)


def start_secretary(
    tmp_path: Path,
    name: str = "secretary",
    media_format: str = "ulaw",
    extra_env: dict[str, str] | None = None,
) -> Secretary:
    calls_log_dir = tmp_path / "calls_log"
    log_path = tmp_path / f"{name}.log"
    env = {**os.environ, **_test_env(calls_log_dir, media_format), **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "secretary", "app"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    secretary = Secretary(
        _settings(calls_log_dir, media_format), calls_log_dir, process, log_path
    )
    wait_until_registered(secretary)
    return secretary


def wait_until_registered(secretary: Secretary, connections: int = 1,
                          timeout: float = 90.0) -> None:
    """Wait until this process's ARI events websocket has connected `connections` times.

    Asterisk keeps a Stasis application listed after its websocket goes away, so
    `GET /applications/<app>` answers for an earlier process too; the process's own
    account of its connection is what tells that *this* secretary is listening.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if secretary.process.poll() is not None:
            raise AssertionError(f"secretary exited early:\n{secretary.log_text()[-3000:]}")
        if secretary.log_text().count(CONNECTED_LINE) >= connections:
            return
        time.sleep(0.1)
    raise AssertionError(f"Stasis app never connected:\n{secretary.log_text()[-3000:]}")


def stop_secretary(secretary: Secretary) -> None:
    if secretary.process.poll() is None:
        secretary.process.send_signal(signal.SIGTERM)
        try:
            secretary.process.wait(15)
        except subprocess.TimeoutExpired:
            secretary.process.kill()
            secretary.process.wait()


@pytest.fixture
def secretary(asterisk_server: AsteriskServer, tmp_path: Path) -> Iterator[Secretary]:
    running = start_secretary(tmp_path)
    yield running
    stop_secretary(running)
    assert "Traceback" not in running.log_text(), running.log_text()[-4000:]


@pytest.fixture
async def ari(asterisk_server: AsteriskServer, tmp_path: Path) -> AsyncIterator[AriClient]:
    s = _settings(tmp_path)
    config = AriConfig(s.ari_url, s.ari.username, s.ari.password.get_secret_value(), "tests")
    async with AriClient(config) as client:
        yield client


async def wait_for_no_leftovers(ari: AriClient, within_s: float = 8.0) -> tuple[list, list]:
    """Poll until Asterisk has no channels and no bridges; return what is left at the end."""
    deadline = time.monotonic() + within_s
    while True:
        channels, bridges = await ari.channels(), await ari.bridges()
        if (not channels and not bridges) or time.monotonic() > deadline:
            return channels, bridges
        await asyncio.sleep(0.2)
