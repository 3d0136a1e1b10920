"""LiteLlmModel with the real litellm client against the local OpenAI-compatible stub."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from brain.llm import ChatMessage, LiteLlmModel, LlmDelta, LlmError, ToolCall, ToolSpec
from tests.openai_stub import OpenAIStub, StubReply, StubToolCall

REPO = Path(__file__).resolve().parents[2]
HELLO = [ChatMessage("system", "You are Anna."), ChatMessage("user", "Hi, who is this?")]


@pytest.fixture
async def stub() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub() as server:
        yield server


def model_for(stub: OpenAIStub, **kwargs: object) -> LiteLlmModel:
    return LiteLlmModel("openai/stub-model", api_base=stub.base_url, name="stub", **kwargs)


async def collect(model: LiteLlmModel, messages: list[ChatMessage] = HELLO,
                  **kwargs: object) -> list[LlmDelta]:
    return [delta async for delta in model.stream(messages, **kwargs)]


async def test_streams_text_in_pieces_and_sends_the_request(stub: OpenAIStub) -> None:
    stub.script(StubReply(text="This is Anna, how can I help?", chunk_chars=5))
    deltas = await collect(model_for(stub), max_tokens=42, temperature=0.1, stop=[".", "?"])

    assert "".join(d.text for d in deltas) == "This is Anna, how can I help?"
    assert len(deltas) == 6  # streamed, not buffered into one
    assert all(not d.tool_calls for d in deltas)
    (exchange,) = stub.exchanges
    assert exchange.body["stream"] is True
    assert exchange.body["max_tokens"] == 42
    assert exchange.body["temperature"] == 0.1
    assert exchange.body["stop"] == [".", "?"]
    assert exchange.messages == [
        {"role": "system", "content": "You are Anna."},
        {"role": "user", "content": "Hi, who is this?"},
    ]
    assert "tools" not in exchange.body
    # No key given for an explicit OpenAI-compatible api_base: a placeholder, not a refusal.
    assert exchange.headers["Authorization"] == "Bearer none"


async def test_explicit_api_key_is_sent(stub: OpenAIStub) -> None:
    await collect(model_for(stub, api_key="sk-test-123"))
    assert stub.exchanges[0].headers["Authorization"] == "Bearer sk-test-123"


async def test_tool_call_fragments_are_assembled_into_whole_calls(stub: OpenAIStub) -> None:
    args_1 = json.dumps({"name": "Bob Smith", "phone": "+1 555 0100", "message": "Call me back"})
    args_2 = json.dumps({"reason": "sales"})
    stub.script(StubReply(
        text="Let me note that.",
        tool_calls=[StubToolCall("take_message", args_1, id="call_a", argument_pieces=7),
                    StubToolCall("transfer", args_2, id="call_b", argument_pieces=2)],
    ))
    tools = [
        ToolSpec("take_message", "Take a message for the boss",
                 {"type": "object", "properties": {"name": {"type": "string"}}}),
        ToolSpec("transfer", "Transfer the call", {"type": "object", "properties": {}}),
    ]
    deltas = await collect(model_for(stub), tools=tools)

    with_calls = [d for d in deltas if d.tool_calls]
    assert len(with_calls) == 1  # emitted once, complete
    assert with_calls[0].tool_calls == (
        ToolCall(id="call_a", name="take_message", arguments=args_1),
        ToolCall(id="call_b", name="transfer", arguments=args_2),
    )
    assert "".join(d.text for d in deltas) == "Let me note that."
    sent = stub.exchanges[0].tools
    assert [t["function"]["name"] for t in sent] == ["take_message", "transfer"]
    assert sent[0] == {"type": "function", "function": {
        "name": "take_message", "description": "Take a message for the boss",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}}}}}


async def test_calls_reusing_an_index_with_new_ids_stay_separate(stub: OpenAIStub) -> None:
    stub.script(StubReply(tool_calls=[
        StubToolCall("hang_up", "{}", id="call_x", index=0),
        StubToolCall("take_message", '{"name": "Ann"}', id="call_y", index=0),
    ]))
    deltas = await collect(model_for(stub))
    assert [d.tool_calls for d in deltas if d.tool_calls] == [(
        ToolCall("call_x", "hang_up", "{}"),
        ToolCall("call_y", "take_message", '{"name": "Ann"}'),
    )]


async def test_tool_history_is_sent_in_openai_shape(stub: OpenAIStub) -> None:
    call = ToolCall(id="call_7", name="business_hours", arguments="{}")
    history = [
        ChatMessage("user", "Are you open?"),
        ChatMessage("assistant", tool_calls=(call,)),
        ChatMessage("tool", '{"open": true}', tool_call_id="call_7"),
    ]
    await collect(model_for(stub), history)
    assistant, tool = stub.exchanges[0].messages[1:]
    assert not assistant.pop("content", None)  # null content or none at all: both valid OpenAI
    assert assistant == {"role": "assistant", "tool_calls": [
        {"id": "call_7", "type": "function",
         "function": {"name": "business_hours", "arguments": "{}"}}]}
    assert tool == {"role": "tool", "content": '{"open": true}', "tool_call_id": "call_7"}


async def test_http_500_is_an_llm_error_with_the_message_and_no_retry(stub: OpenAIStub) -> None:
    stub.script(StubReply(status=500, error_message="model overloaded"))
    with pytest.raises(LlmError, match="model overloaded"):
        await collect(model_for(stub))
    assert len(stub.exchanges) == 1  # retrying is the chain's business, not the client's


async def test_connection_dropped_mid_stream_is_an_llm_error(stub: OpenAIStub) -> None:
    stub.script(StubReply(text="Hello there, this will be cut off.", drop_after_chunks=3))
    received: list[str] = []
    with pytest.raises(LlmError):
        async for delta in model_for(stub).stream(HELLO):
            received.append(delta.text)
    assert "".join(received) == "Hello there, this will be cut off."[:8]


@pytest.mark.parametrize("junk", [b"\x00\xff\xfe garbage\n\n", b"data: {not json\n\n"])
async def test_junk_is_an_llm_error(stub: OpenAIStub, junk: bytes) -> None:
    stub.script(StubReply(junk=junk))
    with pytest.raises(LlmError):
        await collect(model_for(stub))


async def test_stream_ending_without_finish_reason_is_an_llm_error(stub: OpenAIStub) -> None:
    stub.script(StubReply(text="Half a", finish_reason=None))
    with pytest.raises(LlmError):
        await collect(model_for(stub))


async def test_unreachable_server_is_an_llm_error() -> None:
    async with OpenAIStub() as gone:
        base_url = gone.base_url
    model = LiteLlmModel("openai/x", api_base=base_url)
    with pytest.raises(LlmError):
        await collect(model)


async def test_closing_the_stream_early_closes_the_http_stream(stub: OpenAIStub) -> None:
    stub.script(StubReply(text="word " * 400, chunk_chars=5, chunk_delay_s=0.02))
    stream = model_for(stub).stream(HELLO)
    first = await anext(stream)
    assert first.text
    await stream.aclose()
    exchange = stub.exchanges[0]
    await asyncio.wait_for(exchange.done.wait(), 5)  # the full reply would take 8 s
    assert exchange.client_closed and not exchange.completed


def test_importing_litellm_never_touches_the_network() -> None:
    """litellm fetches a model cost map from GitHub at import unless told not to."""
    probe = textwrap.dedent("""
        import asyncio, socket, sys
        attempts = []
        real_connect = socket.socket.connect
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                attempts.append(address)
                raise OSError("network disabled by the test")
            return real_connect(self, address)
        socket.socket.connect = connect
        real_getaddrinfo = socket.getaddrinfo
        def getaddrinfo(host, *args, **kwargs):
            attempts.append(host)
            raise OSError("DNS disabled by the test")
        socket.getaddrinfo = getaddrinfo
        from brain.llm.litellm_model import preload_litellm
        asyncio.run(preload_litellm())
        import litellm
        assert "gpt-4o-mini" in litellm.model_cost, "the bundled cost map did not load"
        print("ATTEMPTS", attempts)
    """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ATTEMPTS []" in done.stdout, done.stdout[-2000:]
