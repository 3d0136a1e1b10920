"""Wires the telephony process together from settings: ARI client, frame clock, Stasis app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import wave
from pathlib import Path

from ari_app.app import SecretaryApp
from ari_app.call_session import CallOptions, CallSession, Greeting
from ari_app.client import AriClient, AriConfig
from media.clock import FrameClock
from secretary.settings import Settings

log = logging.getLogger(__name__)


def load_greeting(persona_dir: Path) -> Greeting | None:
    """The persona's greeting.wav (16-bit mono PCM, any rate), or None if it has none."""
    path = persona_dir / "greeting.wav"
    if not path.exists():
        log.warning("persona %s has no greeting.wav; calls start silent", persona_dir.name)
        return None
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: greeting must be 16-bit mono PCM")
        return Greeting(wav.readframes(wav.getnframes()), wav.getframerate())


def ari_config(settings: Settings) -> AriConfig:
    return AriConfig(
        base_url=settings.ari_url,
        username=settings.ari.username,
        password=settings.ari.password.get_secret_value(),
        app=settings.ari.app,
        reconnect_initial_s=settings.ari.reconnect_initial_s,
        reconnect_max_s=settings.ari.reconnect_max_s,
    )


def call_options(settings: Settings) -> CallOptions:
    return CallOptions(
        audio_format=settings.media.format,
        media_host=settings.media.bind_host,
        jitter_depth=settings.media.jitter_depth_frames,
        calls_log_dir=settings.calls_log_dir,
        greeting=load_greeting(settings.personas_dir / settings.call.persona),
        echo=settings.call.echo,
        max_call_seconds=settings.call.max_call_seconds,
    )


async def run_secretary(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the Stasis application until `stop` is set or SIGINT/SIGTERM arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    options = call_options(settings)
    clock = FrameClock()
    clock.start()
    async with AriClient(ari_config(settings)) as client:
        app = SecretaryApp(
            client, lambda app, channel: CallSession(app, client, channel, clock, options)
        )
        runner = asyncio.create_task(app.run())
        log.info("secretary listening: dial %s on %s:%s", settings.asterisk.extension,
                 settings.asterisk.bind_address, settings.asterisk.sip_port)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        runner.cancel()
        stopper.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    clock.stop()
