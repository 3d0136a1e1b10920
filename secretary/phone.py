"""Wires the telephony process from settings: ARI client, frame clock, speech, Stasis app,
and the admin console and the Telegram bots beside them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

from ari_app.app import SecretaryApp
from ari_app.behaviours import CallBehaviour, EchoBehaviour, ParrotBehaviour, load_wav
from ari_app.call_session import CallOptions, CallSession
from ari_app.client import AriClient, AriConfig
from ari_app.line_call import LineCallOptions, LineCalls
from ari_app.playback import PhraseCache
from ari_app.secretary_behaviour import DialogueTiming, SecretaryBehaviour
from brain.conversation import Brain
from media.clock import FrameClock
from secretary import retention, speech, thinking
from secretary.settings import Settings
from voices.base import TtsError
from web.server import console_services, start_console
from web.services import ConsoleServices

log = logging.getLogger(__name__)

# Stock phrases whose audio is kept (greetings, FAQ answer clauses, prompts): each is
# ~50-150 KB of PCM, so a few hundred cost a few tens of MB.
PHRASE_CACHE_SIZE = 256


def ari_config(settings: Settings) -> AriConfig:
    return AriConfig(
        base_url=settings.ari_url,
        username=settings.ari.username,
        password=settings.ari.password.get_secret_value(),
        app=settings.ari.app,
        reconnect_initial_s=settings.ari.reconnect_initial_s,
        reconnect_max_s=settings.ari.reconnect_max_s,
    )


async def behaviour_factory(settings: Settings, resources: contextlib.AsyncExitStack,
                            console: ConsoleServices | None = None
                            ) -> Callable[[], CallBehaviour]:
    """Load what every call shares (prompts, models, voices, the brain) once; return a
    per-call maker. What must be shut down at exit goes on `resources`; the console (if
    given) gets the TTS engines and the brains as soon as they are loaded."""
    console = console or ConsoleServices()
    persona_dir = settings.personas_dir / settings.call.persona
    greeting = load_wav(persona_dir / "greeting.wav")
    if settings.call.mode == "echo":
        return lambda: EchoBehaviour(greeting)

    recognizers = await asyncio.to_thread(speech.recognizer_factory, settings)
    engines = speech.build_tts(settings)
    console.provide(tts=engines)
    apology = load_wav(persona_dir / "apology.wav")
    if settings.call.mode == "parrot":
        voice = speech.build_voice(settings, engines,
                                   settings.call.voice or settings.call.persona)
        await engines.warm_up()
        return lambda: ParrotBehaviour(greeting, recognizers, voice, apology)

    brain = await thinking.build_brain(settings, resources)
    console.provide(brains=thinking.persona_brains(settings, brain))
    voice = speech.build_voice(settings, engines, settings.call.voice or brain.persona.voice)
    await engines.warm_up()
    await _presynthesise(cache := PhraseCache(voice, size=PHRASE_CACHE_SIZE), brain)
    dialogue = settings.dialogue
    timing = DialogueTiming(filler_after_s=dialogue.filler_after_s,
                            silence_prompt_s=dialogue.silence_prompt_s,
                            max_silence_prompts=dialogue.max_silence_prompts)
    return lambda: SecretaryBehaviour(brain, recognizers, voice, cache, timing, apology)


async def _presynthesise(cache: PhraseCache, brain: Brain) -> None:
    """Synthesise what callers hear word for word (greetings, the filler, every FAQ
    answer) before the first call: an answer then starts without waiting for TTS."""
    started = time.perf_counter()
    texts = [text for language in brain.persona.languages
             for text in (brain.persona.greeting(language),
                          brain.persona.phrase("filler", language))]
    texts += brain.stock_clauses()
    for text in texts[:cache.size]:
        try:
            await cache.get(text)
        except TtsError as exc:
            log.warning("cannot pre-synthesise %r: %s", text, exc)
    log.info("pre-synthesised %d stock phrases in %.1f s", min(len(texts), cache.size),
             time.perf_counter() - started)


async def run_secretary(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the Stasis application until `stop` is set or SIGINT/SIGTERM arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as resources:
        console = console_services(settings)
        if settings.web.enabled:  # first: the console is up while models load
            await start_console(settings, resources, console)
        if settings.telegram.enabled:  # bots answer once brains load
            # aiogram's import alone builds hundreds of pydantic models (seconds on 2
            # cores): a process without bots should not wait for it
            from secretary.telegram import start_telegram

            await start_telegram(settings, resources, console)
        await _start_retention(settings, resources)
        clock = FrameClock()  # one 20 ms clock for every call, whatever line it is on
        clock.start()
        resources.callback(clock.stop)
        options = CallOptions(
            audio_format=settings.media.format,
            media_host=settings.media.bind_host,
            jitter_depth=settings.media.jitter_depth_frames,
            calls_log_dir=settings.calls_log_dir,
            behaviour=await behaviour_factory(settings, resources, console),
            max_call_seconds=settings.call.max_call_seconds,
        )
        lines = LineCalls(options.behaviour, clock, LineCallOptions(
            calls_log_dir=settings.calls_log_dir, jitter_depth=options.jitter_depth,
            max_call_seconds=options.max_call_seconds))
        console.lines = lines  # Twilio Media Streams arrive through the console's server
        resources.callback(lines.end_all, "the secretary is shutting down")
        if settings.gsm.enabled:  # the modem's calls run on the same secretary
            from secretary.gsm import start_gsm  # pyserial comes with the `gsm` extra

            await start_gsm(settings, resources, console, lines)
        await _serve_calls(settings, options, clock, stop)


async def _start_retention(settings: Settings, resources: contextlib.AsyncExitStack) -> None:
    """Expired recordings and transcripts are deleted in the background while calls run."""
    store = await thinking.open_store(settings, resources)
    task = asyncio.create_task(
        retention.keep_purging(store, settings.calls_log_dir, settings.privacy))

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    resources.push_async_callback(stop)


async def _serve_calls(settings: Settings, options: CallOptions, clock: FrameClock,
                       stop: asyncio.Event) -> None:
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
