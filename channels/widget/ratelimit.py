"""The public widget's limits (message size, events per session and per address, live
chats); channels.ratelimit.WindowLimiter enforces the per-window ones."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WidgetLimits:
    """The public widget's limits; a test or a busy site may set its own."""

    max_message_chars: int = 1000
    messages_per_session: int = 12  # per window_s
    messages_per_ip: int = 40
    sessions_per_ip: int = 10
    reads_per_ip: int = 240  # history polls (every few seconds while a panel is open)
    window_s: float = 60.0
    live_chats: int = 256  # conversations kept in memory; the least recently used go first
    chat_idle_s: float = 30 * 60
