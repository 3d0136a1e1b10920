"""Serving the console from settings: open the database, build the app, listen; and stop
it all again. Used by the phone process, which runs the console beside the ARI app."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from brain.store import Store
from secretary import speech
from web.app import create_app
from web.auth.secret_key import fernet_from_secret, load_or_create_key
from web.auth.users import AccountStore
from web.services import ConsoleServices, LazyStt
from web.state import AriAccess, ConsoleConfig
from web.system_info import engine_rows, llm_chain
from web.twilio import twilio_config

if TYPE_CHECKING:
    from secretary.settings import Settings

log = logging.getLogger(__name__)


def console_config(settings: Settings) -> ConsoleConfig:
    web_settings = settings.web
    secret = web_settings.secret_key
    return ConsoleConfig(
        calls_log_dir=settings.calls_log_dir,
        session_key=(fernet_from_secret(secret.get_secret_value()) if secret is not None
                     else load_or_create_key(settings.state_dir)),
        session_max_age_s=web_settings.session_max_age_s,
        cookie_secure=web_settings.cookie_secure,
        login_max_failures=web_settings.login_max_failures,
        login_window_s=web_settings.login_window_s,
        personas_dir=settings.personas_dir,
        default_persona=settings.call.persona,
        ari=AriAccess(url=settings.ari_url, username=settings.ari.username,
                      password=settings.ari.password.get_secret_value()),
        engines=engine_rows(settings),
        llm_chain=llm_chain(settings),
        twilio=twilio_config(settings),
    )


def console_services(settings: Settings) -> ConsoleServices:
    """The services a console starts with: the voices folder, and Whisper loaded on the
    first transcription. Brains and TTS come from the phone process once loaded."""
    return ConsoleServices(voices_dir=settings.tts.voices_dir,
                           stt=LazyStt(functools.partial(speech.build_segment_stt, settings)))


@contextlib.asynccontextmanager
async def serving_console(settings: Settings,
                          services: ConsoleServices | None = None) -> AsyncIterator[str]:
    """The console listens on web.host:web.port while the block runs; yields its URL.

    It reads the database through a store of its own, so a slow console query never
    queues in front of a call's writes. `services`: what the process lends it (default:
    `console_services(settings)`, which has no brains or TTS)."""
    config = console_config(settings)
    services = services if services is not None else console_services(settings)
    async with await Store.open(settings.database_url) as store:
        accounts = await AccountStore.open(store)
        runner = web.AppRunner(create_app(config, store, accounts, services))
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.web.host, settings.web.port)
            await site.start()
            url = f"http://{settings.web.host}:{settings.web.port}/"
            log.info("admin console on %s", url)
            yield url
        finally:
            await runner.cleanup()


async def start_console(settings: Settings, resources: contextlib.AsyncExitStack,
                        services: ConsoleServices | None = None) -> bool:
    """Start the console for the life of `resources`. A console that cannot start (port
    taken, database unreachable) is logged and skipped: it must not keep calls from being
    answered."""
    try:
        await resources.enter_async_context(serving_console(settings, services))
    except Exception as exc:
        log.error("admin console not started: %s", exc)
        return False
    return True
