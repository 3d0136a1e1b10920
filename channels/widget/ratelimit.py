"""Sliding-window rate limits for the public widget endpoints: so many events per key
(a session, an address) per window, then "retry after N seconds". In memory, per
application, with a cap on tracked keys so made-up keys cannot grow it without bound."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_KEYS = 10_000


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


class WindowLimiter:
    """At most `max_events` per key in any `window_s`."""

    def __init__(self, max_events: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_events < 1 or window_s <= 0:
            raise ValueError("max_events must be >= 1 and window_s > 0")
        self.max_events = max_events
        self.window_s = window_s
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, keys: Iterable[str]) -> int | None:
        """Count one event for every key, unless one of them is over its limit: then
        nothing is counted and the seconds to wait come back."""
        now = self._clock()
        keys = list(keys)
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_events:
                waits.append(times[0] + self.window_s - now)
        if waits:
            return max(1, math.ceil(max(waits)))
        for key in keys:
            times = self._recent(key, now)
            times.append(now)
            self._events[key] = times
            self._events.move_to_end(key)
        while len(self._events) > MAX_KEYS:
            self._events.popitem(last=False)
        return None

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._events.get(key) or deque(maxlen=self.max_events)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times
