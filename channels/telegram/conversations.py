"""The live conversations of a bot manager: one brain `Conversation` per (bot, chat), so
the history carries from message to message; bounded in number and closed after being
idle (each close ends its row in `calls`, as a hang-up does).

A chat's messages are answered one at a time (a per-chat lock), in the order they came.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from brain.conversation import Conversation
from brain.replies import EndCall, Say, Transfer

Key = tuple[int, int]  # (bot id, chat id)


@dataclass
class _Entry:
    conversation: Conversation
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class Reply:
    text: str
    language: str


class ConversationPool:
    def __init__(self, max_size: int = 1000, idle_s: float = 1800.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_size = max_size
        self.idle_s = idle_s
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._create = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    async def reply(self, key: Key, start: Callable[[], Awaitable[Conversation]],
                    text: str, language: str | None) -> Reply:
        """The brain's answer to `text` in the chat's conversation (started if needed)."""
        await self.sweep()
        entry = await self._entry(key, start)
        async with entry.lock:
            conversation = entry.conversation
            said: list[str] = []
            ended = False
            async for event in conversation.respond(text, language):
                if isinstance(event, Say):
                    said.append(event.text)
                elif isinstance(event, Transfer):
                    # Nobody can be dialled from a chat: offer to take a message instead.
                    await conversation.finish_reply()
                    async for offer in conversation.transfer_failed(event.target):
                        if isinstance(offer, Say):
                            said.append(offer.text)
                elif isinstance(event, EndCall):
                    ended = True
            await conversation.finish_reply()
            entry.last_used = self._clock()
            reply = Reply(" ".join(said), conversation.language)
        if ended:
            await self.close(key, "caller said goodbye")
        return reply

    async def close(self, key: Key, reason: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            async with entry.lock:
                await entry.conversation.close(reason)

    async def close_bot(self, bot_id: int, reason: str) -> None:
        for key in [k for k in self._entries if k[0] == bot_id]:
            await self.close(key, reason)

    async def close_all(self, reason: str) -> None:
        for key in list(self._entries):
            await self.close(key, reason)

    async def sweep(self) -> None:
        """Close the conversations idle longer than `idle_s`."""
        now = self._clock()
        for key in [k for k, e in self._entries.items() if now - e.last_used > self.idle_s
                    and not e.lock.locked()]:
            await self.close(key, "chat idle")

    async def _entry(self, key: Key, start: Callable[[], Awaitable[Conversation]]) -> _Entry:
        async with self._create:
            entry = self._entries.get(key)
            if entry is None:
                while len(self._entries) >= self.max_size:
                    oldest = next(iter(self._entries))
                    await self.close(oldest, "too many open chats")
                entry = self._entries[key] = _Entry(await start(), self._clock())
            self._entries.move_to_end(key)
            return entry
