"""The live conversations of a bot manager: one brain `Conversation` per (bot, chat), so
the history carries from message to message; kept in a `brain.live.LiveConversations`
(bounded in number, closed after being idle: each close ends its row in `calls`, as a
hang-up does).

A chat's messages are answered one at a time (a per-chat lock), in the order they came.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from brain.conversation import Conversation
from brain.live import LiveConversations
from brain.replies import EndCall, Say, Transfer

Key = tuple[int, int]  # (bot id, chat id)


@dataclass
class _Entry:
    conversation: Conversation
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class Reply:
    text: str
    language: str


class ConversationPool:
    def __init__(self, max_size: int = 1000, idle_s: float = 1800.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._chats: LiveConversations[Key, _Entry] = LiveConversations(
            max_size, idle_s, channel="telegram", clock=clock)
        self._create = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._chats)

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
            self._chats.get(key)  # the answer counts as use: idle time starts now
            reply = Reply(" ".join(said), conversation.language)
        if ended:
            await self.close(key, "caller said goodbye")
        return reply

    async def close(self, key: Key, reason: str) -> None:
        await self._chats.close(key, reason)

    async def close_bot(self, bot_id: int, reason: str) -> None:
        await self._chats.close_where(lambda key: key[0] == bot_id, reason)

    async def close_all(self, reason: str) -> None:
        await self._chats.close_all(reason)

    async def sweep(self) -> None:
        """Close the conversations idle longer than the pool's idle time."""
        await self._chats.sweep()

    async def _entry(self, key: Key, start: Callable[[], Awaitable[Conversation]]) -> _Entry:
        # One creation at a time: two messages of a new chat must not start two calls.
        async with self._create:
            entry = self._chats.get(key)
            if entry is None:
                entry = _Entry(await start())
                await self._chats.put(key, entry)
            return entry
