"""Sliding-window rate limits: at most so many events per key (a session, an address, a
user name) in any window, then "retry after N seconds". In memory, per application (a
restart forgets, which only helps legitimate users), with a cap on tracked keys so made-up
keys cannot grow it without bound. The widget's public endpoints and the console's login
throttling both use it."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

MAX_KEYS = 10_000


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
        keys = list(keys)
        wait = self.retry_after(keys)
        if wait is None:
            self.record(keys)
        return wait

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until every one of `keys` is under its limit; None when none is over."""
        now = self._clock()
        waits = [times[0] + self.window_s - now for key in keys
                 if len(times := self._recent(key, now)) >= self.max_events]
        return max(1, math.ceil(max(waits))) if waits else None

    def record(self, keys: Iterable[str]) -> None:
        """Count one event for every key, whatever its count."""
        now = self._clock()
        for key in keys:
            times = self._recent(key, now)
            times.append(now)
            self._events[key] = times
            self._events.move_to_end(key)
        while len(self._events) > MAX_KEYS:
            self._events.popitem(last=False)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._events.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._events.get(key) or deque(maxlen=self.max_events)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self._events.pop(key, None)
        return times
