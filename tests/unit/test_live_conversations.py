"""The live conversations of chat channels (`brain.live`), with the real brain and store:
bounded, idle ones closed (their call row ended), a busy one never swept, and closing one
chat waits for the reply it is giving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from brain.conversation import Brain, BrainOptions, Conversation
from brain.live import LiveConversations
from brain.persona import load_persona
from brain.store import Store
from secretary.settings import PROJECT_ROOT


@dataclass
class Chat:
    conversation: Conversation
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(f"sqlite:///{tmp_path / 'brain.db'}") as opened:
        yield opened


@pytest.fixture
def brain(store: Store) -> Brain:
    return Brain(load_persona(PROJECT_ROOT / "brain" / "personas", "anna"), store, None,
                 BrainOptions())


async def chat(brain: Brain, key: str) -> Chat:
    return Chat(await brain.start(channel="console", external_id=key, caller="t"))


async def ended(store: Store, c: Chat) -> bool:
    call = await store.get_call(c.conversation.call_id)
    return call is not None and call.ended_at is not None


async def test_bounded_least_recently_used_first(brain: Brain, store: Store) -> None:
    pool: LiveConversations[str, Chat] = LiveConversations(2, 60, channel="console")
    a, b, c = [await chat(brain, k) for k in "abc"]
    await pool.put("a", a)
    await pool.put("b", b)
    assert pool.get("a") is a  # now b is the least recently used
    await pool.put("c", c)
    assert pool.keys() == ["a", "c"]
    assert await ended(store, b) and not await ended(store, a)


async def test_idle_chats_close_but_busy_ones_stay(brain: Brain, store: Store) -> None:
    now = [0.0]
    pool: LiveConversations[str, Chat] = LiveConversations(10, 30, channel="console",
                                                           clock=lambda: now[0])
    idle, busy, fresh = [await chat(brain, k) for k in ("idle", "busy", "fresh")]
    await pool.put("idle", idle)
    await pool.put("busy", busy)
    now[0] = 20.0
    await pool.put("fresh", fresh)
    now[0] = 31.0
    async with busy.lock:  # answering a message right now
        await pool.sweep()
    assert pool.keys() == ["busy", "fresh"]
    assert await ended(store, idle) and not await ended(store, busy)
    now[0] = 60.0
    await pool.sweep()
    assert len(pool) == 0 and await ended(store, fresh)


async def test_closing_a_chat_waits_for_its_reply(brain: Brain, store: Store) -> None:
    pool: LiveConversations[tuple[int, int], Chat] = LiveConversations(
        10, 60, channel="telegram")
    one, other = await chat(brain, "1"), await chat(brain, "2")
    await pool.put((1, 1), one)
    await pool.put((2, 1), other)
    await one.lock.acquire()
    closing = asyncio.create_task(pool.close_where(lambda key: key[0] == 1, "bot stopped"))
    await asyncio.sleep(0.05)
    assert not closing.done() and not await ended(store, one)
    one.lock.release()
    await asyncio.wait_for(closing, 5)
    assert await ended(store, one) and pool.keys() == [(2, 1)]
    await pool.close_all("secretary stopped")
    assert await ended(store, other) and len(pool) == 0


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError):
        LiveConversations(0, 60, channel="x")
