"""Login throttling: too many failed logins from one address, or for one user name, within
a window, and further attempts answer 429 until the oldest failures age out.

Kept in memory per application (a restart forgets, which only helps the legitimate user);
the number of tracked keys is capped so a flood of made-up names cannot grow it without
bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

MAX_KEYS = 10_000


class FailureLimiter:
    def __init__(self, max_failures: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be >= 1 and window_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until any of `keys` may try again; None when none of them is blocked."""
        now = self._clock()
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                waits.append(times[-self.max_failures] + self.window_s - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key) or deque(maxlen=self.max_failures)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times
