"""The widget channel's use cases, free of HTTP: start a visitor session, answer a
message (streamed as events), read the history a page shows again after navigation,
hand the chat to a person, and the owner's replies.

While a session is handed off the secretary stays quiet: the visitor's messages are
stored for the owner, whose replies reach the visitor through the history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from brain.conversation import Brain
from brain.live import LiveConversations
from brain.llm import ChatMessage
from brain.replies import EndCall, Say, Transfer
from brain.store import Store
from channels.ratelimit import WindowLimiter
from channels.widget.chats import LiveChat, resume
from channels.widget.ratelimit import WidgetLimits
from channels.widget.store import (
    WidgetInstance,
    WidgetSession,
    WidgetStore,
    new_session_id,
)
from voices.base import UnsupportedLanguage
from voices.text import detect_language

CHANNEL = "widget"
MAX_HISTORY = 200  # items a history read returns at most (the newest)
# Stored role -> what the visitor's page calls it; system notes are not shown.
PUBLIC_ROLES = {"caller": "visitor", "secretary": "assistant", "owner": "owner"}
HANDED_OFF_TEXT = "A person has been told and will answer here as soon as they can."


class TooLong(ValueError):
    """A message over the limit."""


@dataclass(frozen=True)
class HistoryItem:
    id: int
    role: str  # "visitor", "assistant" or "owner"
    text: str


@dataclass(frozen=True)
class Said:
    text: str


@dataclass(frozen=True)
class HandedOff:
    text: str


@dataclass(frozen=True)
class Queued:
    """The message waits for the person (the session is handed off)."""


@dataclass(frozen=True)
class Finished:
    last_id: int  # the newest turn id: where the page's history polling goes on from
    ended: bool = False


WidgetEvent = Said | HandedOff | Queued | Finished


class WidgetChannel:
    """One per application. `brain_for(persona)` lends the brain of a persona (raising
    whatever the caller wants answered as "not available"); `calls` reads and writes the
    conversations (the same database as `store`)."""

    def __init__(self, store: WidgetStore, calls: Store, brain_for: Callable[[str], Brain],
                 limits: WidgetLimits) -> None:
        self.store = store
        self.calls = calls
        self.limits = limits
        self._brain_for = brain_for
        self._chats: LiveConversations[str, LiveChat] = LiveConversations(
            limits.live_chats, limits.chat_idle_s, channel=CHANNEL)
        self.session_limiter = WindowLimiter(limits.messages_per_session, limits.window_s)
        self.ip_limiter = WindowLimiter(limits.messages_per_ip, limits.window_s)
        self.new_session_limiter = WindowLimiter(limits.sessions_per_ip, limits.window_s)
        self.read_limiter = WindowLimiter(limits.reads_per_ip, limits.window_s)

    async def start_session(self, instance: WidgetInstance) -> WidgetSession:
        brain = self._brain_for(instance.persona)
        session_id = new_session_id()
        conversation = await brain.start(channel=CHANNEL, external_id=session_id,
                                         caller=_caller(instance))
        await self.store.add_session(session_id, instance.id, conversation.call_id)
        await self._chats.put(session_id, LiveChat(instance.persona, conversation))
        session = await self.store.get_session(session_id)
        assert session is not None
        return session

    async def history(self, session: WidgetSession, after: int = 0) -> list[HistoryItem] | None:
        """What the visitor's page shows, newer than turn `after`; None when the session's
        conversation is not a widget one (never shown: another channel's transcript)."""
        call = await self.calls.get_call(session.call_id)
        if call is None or call.channel != CHANNEL or call.external_id != session.session_id:
            return None
        items = [HistoryItem(t.id, PUBLIC_ROLES[t.role], t.text)
                 for t in await self.calls.turns(session.call_id)
                 if t.id > after and t.role in PUBLIC_ROLES]
        return items[-MAX_HISTORY:]

    async def send(self, session: WidgetSession, instance: WidgetInstance,
                   text: str) -> AsyncIterator[WidgetEvent]:
        text = text.strip()
        if not text or len(text) > self.limits.max_message_chars:
            raise TooLong(f"A message is 1 to {self.limits.max_message_chars} characters.")
        await self.store.touch(session.session_id)
        chat = await self._live(session, instance)
        async with chat.lock:
            fresh = await self.store.get_session(session.session_id)
            if fresh is not None and fresh.handed_off:
                await self.calls.add_turn(session.call_id, role="caller", text=text,
                                          started_at=datetime.now(UTC))
                chat.conversation.history.append(ChatMessage(role="user", content=text))
                yield Queued()
                yield Finished(await self._last_id(session.call_id))
                return
            conversation = chat.conversation
            language = _language(text, conversation.persona.language)
            ended = False
            try:
                async for event in conversation.respond(text, language):
                    if isinstance(event, Say):
                        yield Said(event.text)
                    elif isinstance(event, Transfer):
                        await self.hand_off(session, f"asked for {event.target.name}")
                        yield HandedOff(HANDED_OFF_TEXT)
                    elif isinstance(event, EndCall):
                        ended = True
            finally:
                await conversation.finish_reply()
            yield Finished(await self._last_id(session.call_id), ended)

    async def hand_off(self, session: WidgetSession, why: str) -> bool:
        """Mark the session as the owner's and tell them; False when it already was."""
        if not await self.store.set_handed_off(session.session_id, True):
            return False
        await self.calls.add_turn(session.call_id, role="system",
                                  text=f"handed to a person: the visitor {why}",
                                  started_at=datetime.now(UTC))
        await self.store.notify(session.session_id, f"A website visitor {why}.")
        return True

    async def owner_reply(self, session: WidgetSession, text: str) -> int:
        """The owner's answer; the secretary stays quiet in this session from now on."""
        await self.store.set_handed_off(session.session_id, True)
        turn_id = await self.calls.add_turn(session.call_id, role="owner", text=text,
                                            started_at=datetime.now(UTC))
        await self.store.mark_seen(session.session_id)
        chat = self._chats.get(session.session_id)
        if chat is not None:
            chat.conversation.history.append(ChatMessage(role="assistant", content=text))
        return turn_id

    async def release(self, session: WidgetSession) -> None:
        """Give the session back to the secretary."""
        if await self.store.set_handed_off(session.session_id, False):
            await self.calls.add_turn(session.call_id, role="system",
                                      text="handed back to the secretary",
                                      started_at=datetime.now(UTC))

    async def sweep(self) -> None:
        await self._chats.sweep()

    async def close_all(self) -> None:
        await self._chats.close_all("widget chat closed")

    async def _live(self, session: WidgetSession, instance: WidgetInstance) -> LiveChat:
        await self._chats.sweep()  # idle conversations end (their call rows close)
        chat = self._chats.get(session.session_id)
        if chat is not None and chat.persona == instance.persona:
            return chat
        brain = self._brain_for(instance.persona)
        conversation = resume(brain, session.call_id, _caller(instance),
                              await self.calls.turns(session.call_id))
        chat = LiveChat(instance.persona, conversation)
        await self._chats.put(session.session_id, chat)
        return chat

    async def _last_id(self, call_id: int) -> int:
        turns = await self.calls.turns(call_id)
        return max((t.id for t in turns), default=0)


def _caller(instance: WidgetInstance) -> str:
    return f"widget:{instance.name}"


def _language(text: str, default: str) -> str:
    """A typed chat has no speech recogniser to tell the language: the script does."""
    try:
        return detect_language(text, default=default)
    except UnsupportedLanguage:
        return default
