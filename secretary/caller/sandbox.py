"""A private secretary to call: its own Asterisk instance on free loopback ports and a
`python -m secretary app` process pointed at it, started and stopped together (benchmarks;
the integration tests have the same thing as fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from secretary.caller.baresip import free_tcp_port, free_udp_port
from secretary.caller.script import default_target
from secretary.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from asterisk.server import AsteriskServer

CONNECTED_LINE = "ARI events websocket connected"
RTP_PORTS = 400  # two per call leg; plenty for a benchmark's handful of calls


class SandboxError(RuntimeError):
    """The private Asterisk or secretary would not start."""


@dataclass(frozen=True)
class SandboxOptions:
    workdir: Path  # the secretary's log, call recordings and database go here
    instance: str = "sandbox"  # Asterisk instance name (its own config and run folders)
    mode: str | None = None  # call.mode for the secretary; None: what the settings say
    extra_env: Mapping[str, str] = field(default_factory=dict)
    start_timeout_s: float = 180.0  # the secretary may load models and start an LLM server


class LocalSecretary:
    """Asterisk + the secretary on free ports; `settings` is what both were started with."""

    def __init__(self, base: Settings, options: SandboxOptions) -> None:
        self.options = options
        rtp_start = 20000 + (free_udp_port() % 20000)
        ports = {"instance": options.instance, "sip_port": free_udp_port(),
                 "http_port": free_tcp_port(), "rtp_start": rtp_start,
                 "rtp_end": rtp_start + RTP_PORTS - 1}
        self.settings = base.model_copy(update={
            "asterisk": base.asterisk.model_copy(update=ports),
            "calls_log_dir": options.workdir.resolve() / "calls_log",
        })
        self.log_path = options.workdir.resolve() / "secretary.log"
        self._server: AsteriskServer | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def target(self) -> str:
        return default_target(self.settings)

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def _env(self) -> dict[str, str]:
        a = self.settings.asterisk
        env = {
            "SECRETARY_ASTERISK__INSTANCE": a.instance,
            "SECRETARY_ASTERISK__SIP_PORT": str(a.sip_port),
            "SECRETARY_ASTERISK__HTTP_PORT": str(a.http_port),
            "SECRETARY_ASTERISK__RTP_START": str(a.rtp_start),
            "SECRETARY_ASTERISK__RTP_END": str(a.rtp_end),
            "SECRETARY_CALLS_LOG_DIR": str(self.settings.calls_log_dir),
            "SECRETARY_LOG_LEVEL": "INFO",  # the connection line below is logged at INFO
            # a dev secretary may hold the default port of the embedded LLM server
            "SECRETARY_LLM__EMBEDDED_PORT": str(free_tcp_port()),
            "SECRETARY_WEB__PORT": str(free_tcp_port()),  # the console, beside the phones
            "SECRETARY_TELEGRAM__ENABLED": "false",  # a call sandbox runs no bots
        }
        if self.options.mode:
            env["SECRETARY_CALL__MODE"] = self.options.mode
        return {**os.environ, **env, **self.options.extra_env}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def __aenter__(self) -> LocalSecretary:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        from secretary.cli import build_server  # the CLI's own wiring; imports the caller

        self.options.workdir.mkdir(parents=True, exist_ok=True)
        server = build_server(self.settings)
        if server.is_running():
            raise SandboxError(f"Asterisk instance {server.instance!r} is already running "
                               "(another benchmark?); pick another instance name")
        await asyncio.to_thread(server.start)
        self._server = server
        try:
            with self.log_path.open("wb") as log:
                self._process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "secretary", "app", cwd=PROJECT_ROOT,
                    env=self._env(), stdin=asyncio.subprocess.DEVNULL, stdout=log,
                    stderr=asyncio.subprocess.STDOUT)
            await self._wait_connected()
        except BaseException:
            await self.stop()
            raise

    async def _wait_connected(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.start_timeout_s
        assert self._process is not None
        while CONNECTED_LINE not in self.log_text():
            if self._process.returncode is not None:
                raise SandboxError(f"the secretary exited ({self._process.returncode}):\n"
                                   f"{self.log_text()[-3000:]}")
            if loop.time() > deadline:
                raise SandboxError(f"the secretary did not connect to Asterisk within "
                                   f"{self.options.start_timeout_s:g} s:\n"
                                   f"{self.log_text()[-3000:]}")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop)
