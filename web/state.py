"""What one console application holds, under typed keys: its configuration, the stores it
reads, the login limiter and the metrics; and what a request learns (who is asking).

Everything lives on the `web.Application` or the request, never in module globals, so two
apps in one process (tests) never share state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography.fernet import Fernet

from brain.store import Store
from web.auth.ratelimit import FailureLimiter
from web.auth.users import AccountStore, UserRecord
from web.metrics import ConsoleMetrics


@dataclass(frozen=True)
class ConsoleConfig:
    calls_log_dir: Path
    session_key: Fernet
    session_max_age_s: int = 12 * 3600
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_s: float = 300.0


CONFIG = web.AppKey("config", ConsoleConfig)
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", AccountStore)
LOGIN_LIMITER = web.AppKey("login_limiter", FailureLimiter)
METRICS = web.AppKey("metrics", ConsoleMetrics)

USER = web.RequestKey("user", UserRecord)
AUTH_VIA = web.RequestKey("auth_via", str)  # "session" or "token"
