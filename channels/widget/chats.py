"""What the widget keeps per live session (in a `brain.live.LiveConversations` by session
id), and a conversation resumed from the database when a visitor comes back after theirs
was closed for being idle (or after a restart)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from brain.conversation import Brain, Conversation
from brain.llm import ChatMessage
from brain.store import TurnRecord

# What the brain sees of a conversation resumed from the database, by stored role.
HISTORY_ROLES = {"caller": "user", "secretary": "assistant", "owner": "assistant"}


@dataclass
class LiveChat:
    persona: str
    conversation: Conversation
    # One reply at a time per session: two tabs sending at once must not interleave.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def resume(brain: Brain, call_id: int, caller: str, turns: list[TurnRecord]) -> Conversation:
    """A conversation that goes on from its stored turns (the LLM sees the last ones)."""
    conversation = Conversation(brain, call_id, caller)
    kept = turns[-brain.options.history_messages:]
    conversation.history.extend(ChatMessage(role=HISTORY_ROLES[t.role], content=t.text)
                                for t in kept if t.role in HISTORY_ROLES)
    said = [t.text for t in turns if t.role == "secretary"]
    conversation.last_said = said[-1] if said else ""
    return conversation
