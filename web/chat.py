"""Talking to a persona from the console: one reply from a `Conversation` gathered into text
(`answer`), and the live conversations of the "Test this persona" page (`ChatSessions`),
kept per application, bounded and expiring, and closed (the call row ended) when dropped.

The console is a channel like any other: its conversations go through the same Brain, are
stored as calls with channel "console" (the API's as "api"), and what the brain asks a
phone to do (transfer, hang up) is reported as text instead.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from brain.conversation import Brain, Conversation
from brain.live import LiveConversations
from brain.replies import EndCall, ReplyEvent, Say, Transfer
from voices.base import UnsupportedLanguage
from voices.text import detect_language

MAX_CHATS = 64  # live console conversations per app; the least recently used goes first
CHAT_IDLE_S = 30 * 60
MAX_LINES = 200  # transcript lines kept per conversation (the page shows them all)


def describe_action(event: ReplyEvent) -> str | None:
    """What a phone would do for this event, in words; None for speech."""
    if isinstance(event, Transfer):
        return f"transfer the call to {event.target.name} ({event.target.endpoint})"
    if isinstance(event, EndCall):
        return f"hang up ({event.reason})"
    return None


def text_language(text: str, default: str) -> str:
    """A typed chat has no speech recogniser to tell the language: the script does."""
    try:
        return detect_language(text, default=default)
    except UnsupportedLanguage:
        return default  # the persona answers in its own language


@dataclass(frozen=True)
class Reply:
    text: str
    source: str  # brain.replies.Source value: faq, llm, flow, llm_tool, fallback
    actions: tuple[str, ...] = ()
    ended: bool = False


async def reply_events(conversation: Conversation, text: str) -> AsyncIterator[ReplyEvent]:
    """The brain's events for one utterance; the reply is recorded once they are consumed
    (or the consumer stops: what was produced so far is what is kept)."""
    language = text_language(text, conversation.persona.language)
    try:
        async for event in conversation.respond(text, language):
            yield event
    finally:
        await conversation.finish_reply()


async def answer(conversation: Conversation, text: str) -> Reply:
    said: list[str] = []
    actions: list[str] = []
    ended = False
    async for event in reply_events(conversation, text):
        if isinstance(event, Say):
            said.append(event.text)
        elif (action := describe_action(event)) is not None:
            actions.append(action)
            ended = True  # a transfer or a hang-up ends a phone call too
    source = conversation.stats.source
    return Reply(" ".join(said), source.value if source else "flow", tuple(actions), ended)


@dataclass(frozen=True)
class ChatLine:
    speaker: str  # "you" or the persona's name
    text: str
    source: str | None = None
    actions: tuple[str, ...] = ()


@dataclass
class ChatSession:
    id: str
    persona: str
    conversation: Conversation
    lines: list[ChatLine] = field(default_factory=list)
    ended: bool = False
    # One reply at a time per conversation: a double-submitted form must not interleave.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def say(self, text: str) -> Reply:
        async with self.lock:
            reply = await answer(self.conversation, text)
            self.lines.append(ChatLine("you", text))
            self.lines.append(ChatLine(self.conversation.persona.name, reply.text,
                                       reply.source, reply.actions))
            del self.lines[:-MAX_LINES]
            self.ended = self.ended or reply.ended
            return reply


class ChatSessions:
    """The console's live conversations by a random id (kept in the user's session)."""

    def __init__(self, max_chats: int = MAX_CHATS, idle_s: float = CHAT_IDLE_S) -> None:
        self._chats: LiveConversations[str, ChatSession] = LiveConversations(
            max_chats, idle_s, channel="console")

    async def get(self, chat_id: object, persona: str) -> ChatSession | None:
        await self._chats.sweep()
        if not isinstance(chat_id, str):
            return None
        chat = self._chats.get(chat_id)
        return chat if chat is not None and chat.persona == persona else None

    async def start(self, brain: Brain, caller: str) -> ChatSession:
        chat_id = secrets.token_urlsafe(16)
        conversation = await brain.start(channel="console", external_id=chat_id,
                                         caller=caller)
        chat = ChatSession(chat_id, brain.persona.key, conversation)
        await self._chats.put(chat_id, chat)
        return chat

    async def end(self, chat_id: object) -> None:
        if isinstance(chat_id, str):
            await self._chats.close(chat_id, "console chat closed")

    async def close_all(self) -> None:
        await self._chats.close_all("console chat closed")
