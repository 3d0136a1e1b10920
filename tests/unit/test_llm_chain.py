"""LlmChain over real LiteLlmModels (the real litellm client) talking to local stub servers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from brain.llm import (
    ChainStep,
    ChatMessage,
    LiteLlmModel,
    LlmChain,
    LlmError,
    LlmTimeout,
    preload_litellm,
)
from tests.openai_stub import OpenAIStub, StubReply

HELLO = [ChatMessage("user", "Hello?")]
LONG = StubReply(text="word " * 400, chunk_chars=5, chunk_delay_s=0.02)  # ~8 s if let run


@pytest.fixture(autouse=True)
async def litellm_loaded() -> None:
    """Importing litellm takes seconds; as in the app, it happens before any timed request."""
    await preload_litellm()


@pytest.fixture
async def first() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub(default=StubReply(text="First here.")) as server:
        yield server


@pytest.fixture
async def second() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub(default=StubReply(text="Second here.")) as server:
        yield server


def step(stub: OpenAIStub, name: str, **timeouts: float) -> ChainStep:
    return ChainStep(LiteLlmModel("openai/m", api_base=stub.base_url, name=name), **timeouts)


def chain_of(first: OpenAIStub, second: OpenAIStub, **first_timeouts: float) -> LlmChain:
    return LlmChain([step(first, "one", **first_timeouts), step(second, "two")])


async def text_of(chain: LlmChain) -> str:
    return "".join([delta.text async for delta in chain.stream(HELLO)])


async def test_first_step_serves_when_healthy(first: OpenAIStub, second: OpenAIStub) -> None:
    chain = chain_of(first, second)
    assert chain.last_served_by is None
    assert await text_of(chain) == "First here."
    assert chain.last_served_by == "one"
    assert len(second.exchanges) == 0


async def test_falls_back_on_error_and_logs_once(
    first: OpenAIStub, second: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    first.script(StubReply(status=500, error_message="boom"))
    chain = chain_of(first, second)
    with caplog.at_level(logging.WARNING, logger="brain.llm.chain"):
        assert await text_of(chain) == "Second here."
    assert chain.last_served_by == "two"
    warnings = [r for r in caplog.records if r.name == "brain.llm.chain"]
    assert len(warnings) == 1 and "boom" in warnings[0].getMessage()
    assert second.exchanges[0].messages == [{"role": "user", "content": "Hello?"}]
    # The next turn tries the first step again: a failure is not remembered.
    assert await text_of(chain) == "First here."
    assert chain.last_served_by == "one"


async def test_falls_back_on_first_token_timeout(first: OpenAIStub, second: OpenAIStub) -> None:
    first.script(StubReply(text="Too late.", first_chunk_delay_s=1.0))
    chain = chain_of(first, second, first_token_timeout_s=0.3)
    assert await text_of(chain) == "Second here."
    assert chain.last_served_by == "two"
    # The slow request was abandoned: its connection was closed, not left to finish.
    exchange = first.exchanges[0]
    await asyncio.wait_for(exchange.done.wait(), 10)
    assert exchange.client_closed and not exchange.completed


async def test_no_fallback_once_output_began(first: OpenAIStub, second: OpenAIStub) -> None:
    first.script(StubReply(text="I was saying something", drop_after_chunks=3))
    chain = chain_of(first, second)
    heard: list[str] = []
    with pytest.raises(LlmError):
        async for delta in chain.stream(HELLO):
            heard.append(delta.text)
    assert "".join(heard) == "I was sa"  # the role chunk, then two of four characters
    assert chain.last_served_by == "one"
    assert len(second.exchanges) == 0


async def test_total_timeout_after_output_raises(first: OpenAIStub, second: OpenAIStub) -> None:
    # A piece a second; the budget runs out between the second and the third piece.
    first.script(StubReply(text="Slow drip of words", chunk_chars=2, chunk_delay_s=1.0))
    chain = chain_of(first, second, total_timeout_s=2.5)
    heard: list[str] = []
    with pytest.raises(LlmTimeout):
        async for delta in chain.stream(HELLO):
            heard.append(delta.text)
    assert heard == ["Sl", "ow"]
    assert len(second.exchanges) == 0


async def test_consumer_time_does_not_count_against_total(
    first: OpenAIStub, second: OpenAIStub
) -> None:
    first.script(StubReply(text="Say this slowly.", chunk_chars=8))
    chain = chain_of(first, second, total_timeout_s=1.5)
    heard: list[str] = []
    async for delta in chain.stream(HELLO):
        heard.append(delta.text)
        await asyncio.sleep(1.0)  # speaking both pieces takes longer than the whole budget
    assert "".join(heard) == "Say this slowly."


async def test_all_steps_failing_names_each(first: OpenAIStub, second: OpenAIStub) -> None:
    first.script(StubReply(status=500, error_message="first is down"))
    second.script(StubReply(status=503, error_message="second is down"))
    with pytest.raises(LlmError) as caught:
        await text_of(chain_of(first, second))
    assert not isinstance(caught.value, LlmTimeout)
    message = str(caught.value)
    assert "one" in message and "first is down" in message
    assert "two" in message and "second is down" in message


async def test_all_steps_timing_out_is_a_timeout(first: OpenAIStub, second: OpenAIStub) -> None:
    first.script(StubReply(first_chunk_delay_s=1.0))
    second.script(StubReply(first_chunk_delay_s=1.0))
    chain = LlmChain([step(first, "one", first_token_timeout_s=0.2),
                      step(second, "two", first_token_timeout_s=0.2)])
    with pytest.raises(LlmTimeout, match=r"one.*two"):
        await text_of(chain)


async def test_empty_reply_counts_as_served(first: OpenAIStub, second: OpenAIStub) -> None:
    first.script(StubReply(text=""))
    chain = chain_of(first, second)
    assert await text_of(chain) == ""
    assert chain.last_served_by == "one"
    assert len(second.exchanges) == 0


async def test_aclose_closes_the_provider_stream(first: OpenAIStub, second: OpenAIStub) -> None:
    first.script(LONG)
    stream = chain_of(first, second).stream(HELLO)
    assert (await anext(stream)).text
    await stream.aclose()
    exchange = first.exchanges[0]
    await asyncio.wait_for(exchange.done.wait(), 5)
    assert exchange.client_closed and not exchange.completed


async def test_cancelling_the_consumer_closes_the_provider_stream(
    first: OpenAIStub, second: OpenAIStub
) -> None:
    first.script(LONG)
    chain = chain_of(first, second)
    got_some = asyncio.Event()

    async def consume() -> None:  # a turn that barge-in cancels
        async for _ in chain.stream(HELLO):
            got_some.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_some.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    exchange = first.exchanges[0]
    await asyncio.wait_for(exchange.done.wait(), 5)
    assert exchange.client_closed and not exchange.completed
    assert len(second.exchanges) == 0  # cancellation is not a failure to fall back from


def test_a_chain_needs_steps() -> None:
    with pytest.raises(ValueError):
        LlmChain([])
