"""A small bounded map whose entries expire when left alone: what the console keeps between
requests of one user (live chat conversations, synthesized preview clips) without letting
a busy or hostile client grow memory without end. One per application, never global."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringDict(Generic[K, V]):
    """At most `max_entries` values; one not touched for `ttl_s` is gone. When full, the
    least recently used entry makes room (a new chat matters more than a forgotten one)."""

    def __init__(self, max_entries: int, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("max_entries must be >= 1 and ttl_s > 0")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        self._expire()
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries[key] = (self._clock(), found[1])
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: K, value: V) -> list[V]:
        """Store `value`; returns the values pushed out (expired or evicted), so the owner can
        close them."""
        dropped = self._expire()
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            dropped.append(self._entries.popitem(last=False)[1][1])
        return dropped

    def sweep(self) -> list[V]:
        """Drop the expired entries now; returns them, so the owner can close them."""
        return self._expire()

    def pop(self, key: K) -> V | None:
        found = self._entries.pop(key, None)
        return None if found is None else found[1]

    def values(self) -> list[V]:
        return [value for _, value in self._entries.values()]

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def _expire(self) -> list[V]:
        # Entries are kept in last-used order, so the stale ones are all at the front.
        cutoff = self._clock() - self.ttl_s
        dropped: list[V] = []
        while self._entries:
            key, (used, value) = next(iter(self._entries.items()))
            if used > cutoff:
                break
            del self._entries[key]
            dropped.append(value)
        return dropped
