"""The live conversations behind widget sessions, by session id: a bounded map whose
least recently used or idle entries are closed (their call row ends), and a conversation
resumed from the database when a visitor comes back after that (or after a restart)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from brain.conversation import Brain, Conversation
from brain.llm import ChatMessage
from brain.store import TurnRecord

log = logging.getLogger(__name__)

# What the brain sees of a conversation resumed from the database, by stored role.
HISTORY_ROLES = {"caller": "user", "secretary": "assistant", "owner": "assistant"}


@dataclass
class LiveChat:
    persona: str
    conversation: Conversation
    # One reply at a time per session: two tabs sending at once must not interleave.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    used_at: float = 0.0


def resume(brain: Brain, call_id: int, caller: str, turns: list[TurnRecord]) -> Conversation:
    """A conversation that goes on from its stored turns (the LLM sees the last ones)."""
    conversation = Conversation(brain, call_id, caller)
    kept = turns[-brain.options.history_messages:]
    conversation.history.extend(ChatMessage(role=HISTORY_ROLES[t.role], content=t.text)
                                for t in kept if t.role in HISTORY_ROLES)
    said = [t.text for t in turns if t.role == "secretary"]
    conversation.last_said = said[-1] if said else ""
    return conversation


class LiveChats:
    """At most `max_chats` conversations; one left alone for `idle_s` is closed."""

    def __init__(self, max_chats: int, idle_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_chats = max_chats
        self.idle_s = idle_s
        self._clock = clock
        self._chats: OrderedDict[str, LiveChat] = OrderedDict()

    def get(self, session_id: str) -> LiveChat | None:
        chat = self._chats.get(session_id)
        if chat is not None:
            chat.used_at = self._clock()
            self._chats.move_to_end(session_id)
        return chat

    async def put(self, session_id: str, chat: LiveChat) -> None:
        chat.used_at = self._clock()
        self._chats[session_id] = chat
        self._chats.move_to_end(session_id)
        await self._close(self._dropped())

    async def sweep(self) -> None:
        await self._close(self._dropped())

    async def close_all(self) -> None:
        chats = list(self._chats.values())
        self._chats.clear()
        await self._close(chats)

    def _dropped(self) -> list[LiveChat]:
        cutoff = self._clock() - self.idle_s
        dropped: list[LiveChat] = []
        while self._chats:
            key, oldest = next(iter(self._chats.items()))
            if len(self._chats) <= self.max_chats and oldest.used_at > cutoff:
                break
            del self._chats[key]
            dropped.append(oldest)
        return dropped

    @staticmethod
    async def _close(chats: list[LiveChat]) -> None:
        for chat in chats:
            try:
                await chat.conversation.close("widget chat idle")
            except Exception as exc:  # at shutdown the brain's store may be closed first
                log.warning("widget chat %s not closed cleanly: %r",
                            chat.conversation.call_id, exc)
