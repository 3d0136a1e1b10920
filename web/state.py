"""What one console application holds, under typed keys: its configuration, the stores it
reads, the login limiter, the metrics and the services it borrows from the process; and
what a request learns (who is asking).

Everything lives on the `web.Application` or the request, never in module globals, so two
apps in one process (tests) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography.fernet import Fernet

from brain.store import Store
from channels.gsm.store import SmsStore
from channels.ratelimit import WindowLimiter
from channels.telegram.store import BotStore
from channels.twilio.config import TwilioConfig
from channels.widget.channel import WidgetChannel
from channels.widget.ratelimit import WidgetLimits
from web.auth.users import AccountStore, UserRecord
from web.chat import ChatSessions
from web.expiring import ExpiringDict
from web.metrics import ConsoleMetrics
from web.services import ConsoleServices


@dataclass(frozen=True)
class AriAccess:
    """Where the system page asks Asterisk how it is (ARI's REST root, e.g.
    http://127.0.0.1:8088/ari) and as whom."""

    url: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ConsoleConfig:
    calls_log_dir: Path
    session_key: Fernet
    session_max_age_s: int = 12 * 3600
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_s: float = 300.0
    # The personas pages edit the YAML files here; None: no personas to show.
    personas_dir: Path | None = None
    default_persona: str = ""  # the persona calls get (settings.call.persona)
    ari: AriAccess | None = None  # None: the system page does not ask Asterisk
    # Read-only "what runs" rows for the system page, (section, setting, value), and the
    # LLM chain by model name; built from settings without any secret.
    engines: tuple[tuple[str, str, str], ...] = ()
    llm_chain: tuple[str, ...] = ()
    # The public website widget's limits.
    widget_limits: WidgetLimits = field(default_factory=WidgetLimits)
    # Twilio without SIP (web.twilio); None: off, its routes answer 404.
    twilio: TwilioConfig | None = None


CONFIG = web.AppKey("config", ConsoleConfig)
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", AccountStore)
LOGIN_LIMITER = web.AppKey("login_limiter", WindowLimiter)
METRICS = web.AppKey("metrics", ConsoleMetrics)
# What the process lends the console (brains, TTS, STT; see web.services), the live
# "Test this persona" conversations, and synthesized voice previews by a random id.
SERVICES = web.AppKey("services", ConsoleServices)
CHATS = web.AppKey("chats", ChatSessions)
# The website widget channel: instances, visitor sessions, their live conversations.
WIDGET = web.AppKey("widget", WidgetChannel)
CLIPS: web.AppKey[ExpiringDict[str, bytes]] = web.AppKey("clips")
# The Telegram bots as the admin edits them (the running ones are services.telegram).
BOTS = web.AppKey("telegram_bots", BotStore)
# The GSM line's SMS, received and sent (the modem itself is services.gsm).
SMS = web.AppKey("gsm_sms", SmsStore)

USER = web.RequestKey("user", UserRecord)
AUTH_VIA = web.RequestKey("auth_via", str)  # "session" or "token"
