"""What the Telegram channel is configured with, once, by the process (from the
`telegram` settings section); the bots themselves are rows in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BOT_API_FILE_LIMIT = 20 * 1024 * 1024  # the cloud Bot API serves no bigger file


@dataclass(frozen=True)
class TelegramConfig:
    # A local Bot API server (or the tests' stub); None: api.telegram.org.
    api_base: str | None = None
    # The console's public https root: bots get webhooks at
    # <public_url>/telegram/webhook/<bot id>. None: bots poll getUpdates.
    public_url: str | None = None
    poll_timeout_s: int = 25
    retry_initial_s: float = 1.0  # network trouble: back off from this...
    retry_max_s: float = 60.0  # ...doubling up to this
    max_retry_after_s: float = 120.0  # a longer 429 wait is given up, not slept through
    send_attempts: int = 4
    max_concurrent_updates: int = 8  # per bot; a chat's own messages still go in order
    voice_max_bytes: int = BOT_API_FILE_LIMIT
    voice_max_seconds: int = 300
    conversation_idle_s: float = 1800.0
    max_conversations: int = 1000
    notify_interval_s: float = 10.0
    stars_amount: int = 100
    yoomoney_wallet: str = ""
    yoomoney_amount: float = 1000.0
    yoomoney_secret: str = field(default="", repr=False)
    github_secret: str = field(default="", repr=False)
    funnel_file: Path | None = None  # the funnel's texts; None: the shipped funnel.yaml
