"""Wires the telephony process from settings: ARI client, frame clock, speech, Stasis app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from ari_app.app import SecretaryApp
from ari_app.behaviours import CallBehaviour, EchoBehaviour, ParrotBehaviour, load_wav
from ari_app.call_session import CallOptions, CallSession
from ari_app.client import AriClient, AriConfig
from media.clock import FrameClock
from secretary import speech
from secretary.settings import Settings

log = logging.getLogger(__name__)


def ari_config(settings: Settings) -> AriConfig:
    return AriConfig(
        base_url=settings.ari_url,
        username=settings.ari.username,
        password=settings.ari.password.get_secret_value(),
        app=settings.ari.app,
        reconnect_initial_s=settings.ari.reconnect_initial_s,
        reconnect_max_s=settings.ari.reconnect_max_s,
    )


async def behaviour_factory(settings: Settings) -> Callable[[], CallBehaviour]:
    """Load what every call shares (prompts, models, voices) once; return a per-call maker."""
    persona_dir = settings.personas_dir / settings.call.persona
    greeting = load_wav(persona_dir / "greeting.wav")
    if greeting is None:
        log.warning("persona %s has no greeting.wav; calls start silent", persona_dir.name)
    if settings.call.mode == "echo":
        return lambda: EchoBehaviour(greeting)

    recognizers = await asyncio.to_thread(speech.recognizer_factory, settings)
    engines = speech.build_tts(settings)
    voice = speech.build_voice(settings, engines, settings.call.voice or settings.call.persona)
    await engines.warm_up()
    apology = load_wav(persona_dir / "apology.wav")
    return lambda: ParrotBehaviour(greeting, recognizers, voice, apology)


async def run_secretary(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the Stasis application until `stop` is set or SIGINT/SIGTERM arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    options = CallOptions(
        audio_format=settings.media.format,
        media_host=settings.media.bind_host,
        jitter_depth=settings.media.jitter_depth_frames,
        calls_log_dir=settings.calls_log_dir,
        behaviour=await behaviour_factory(settings),
        max_call_seconds=settings.call.max_call_seconds,
    )
    clock = FrameClock()
    clock.start()
    async with AriClient(ari_config(settings)) as client:
        app = SecretaryApp(
            client, lambda app, channel: CallSession(app, client, channel, clock, options)
        )
        runner = asyncio.create_task(app.run())
        log.info("secretary listening (%s mode): dial %s on %s:%s", settings.call.mode,
                 settings.asterisk.extension, settings.asterisk.bind_address,
                 settings.asterisk.sip_port)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        runner.cancel()
        stopper.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    clock.stop()
