"""The live conversations of a text channel (the console's test chat, the website widget,
Telegram chats), by the channel's own key: what every chat channel keeps between messages.

A phone call's conversation lives as long as the call; a chat has no hang-up, so its
conversation lives here until it is left alone for `idle_s` or pushed out by newer ones
(at most `max_entries`, least recently used first). Dropping one closes it, which ends its
row in `calls` as a hang-up would. An entry answering a message (its `lock` held) is never
dropped for being idle, and closing one chat waits for its reply. One pool per channel
instance, never global.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from brain.conversation import Conversation

log = logging.getLogger(__name__)


class LiveEntry(Protocol):
    """What a channel keeps per chat: the conversation, and a lock that makes its messages
    answered one at a time (two tabs or a double-submitted form must not interleave)."""

    conversation: Conversation
    lock: asyncio.Lock


K = TypeVar("K", bound=Hashable)
E = TypeVar("E", bound=LiveEntry)


class LiveConversations(Generic[K, E]):
    def __init__(self, max_entries: int, idle_s: float, *, channel: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or idle_s <= 0:
            raise ValueError("max_entries must be >= 1 and idle_s > 0")
        self.max_entries = max_entries
        self.idle_s = idle_s
        self.channel = channel  # for the logs
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, E]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[K]:
        return list(self._entries)

    def get(self, key: K) -> E | None:
        """The chat's entry (now counted as used), or None."""
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries[key] = (self._clock(), found[1])
        self._entries.move_to_end(key)
        return found[1]

    async def put(self, key: K, entry: E) -> None:
        """Keep `entry` for `key`; closes the chats that pushes out. An entry it replaces is
        not closed: it is the same chat going on (the same call row)."""
        self._entries.pop(key, None)
        self._entries[key] = (self._clock(), entry)
        dropped: list[E] = []
        while len(self._entries) > self.max_entries:
            dropped.append(self._entries.popitem(last=False)[1][1])
        await self._close(dropped, "too many open chats")

    async def sweep(self) -> None:
        """Close the entries left alone longer than `idle_s`."""
        cutoff = self._clock() - self.idle_s
        idle = [key for key, (used, entry) in self._entries.items()
                if used <= cutoff and not entry.lock.locked()]
        await self._close([self._entries.pop(key)[1] for key in idle], "chat idle")

    async def close(self, key: K, reason: str) -> None:
        """Close one chat now, after the reply it is giving, if any."""
        found = self._entries.pop(key, None)
        if found is not None:
            async with found[1].lock:
                await self._close([found[1]], reason)

    async def close_where(self, keep_out: Callable[[K], bool], reason: str) -> None:
        """Close every chat whose key matches (e.g. all chats of one bot)."""
        for key in [k for k in self._entries if keep_out(k)]:
            await self.close(key, reason)

    async def close_all(self, reason: str) -> None:
        entries = [entry for _, entry in self._entries.values()]
        self._entries.clear()
        await self._close(entries, reason)

    async def _close(self, entries: list[E], reason: str) -> None:
        for entry in entries:
            try:
                await entry.conversation.close(reason)
            except Exception as exc:  # at shutdown the brain's store may be closed first
                log.warning("%s chat %s not closed cleanly: %r", self.channel,
                            entry.conversation.call_id, exc)
