"""The real llama-server with SmolLM2 (from PyPI), supervised by LlamaServer, reached through
the real litellm client; a chain falls back to a stub while the server is down."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from brain.llm import (
    ChainStep,
    ChatMessage,
    LiteLlmModel,
    LlamaServer,
    LlamaServerConfig,
    LlamaServerError,
    LlmChain,
    LlmError,
    find_llama_server,
    preload_litellm,
    smollm2_model_path,
)
from secretary.settings import default_state_dir
from tests.openai_stub import OpenAIStub, StubReply

pytestmark = pytest.mark.integration

CHROOT = default_state_dir() / "asterisk-root"
SYSTEM = ChatMessage("system", "You are a helpful assistant. Answer in English.")
STORY = [SYSTEM, ChatMessage("user", "Write a long story about a cat who lives in a lighthouse.")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def server() -> AsyncIterator[LlamaServer]:
    if find_llama_server(CHROOT) is None:
        pytest.skip(f"no llama-server: none on PATH and none in the chroot {CHROOT} "
                    "(scripts/provision-asterisk.sh installs Debian sid's llama.cpp-tools there)")
    await preload_litellm()  # seconds of import, not to be charged to a first-token timeout
    config = LlamaServerConfig(smollm2_model_path(), port=free_port(), chroot_dir=CHROOT)
    async with LlamaServer(config) as running:
        yield running


def llama_model(server: LlamaServer) -> LiteLlmModel:
    return LiteLlmModel("openai/smollm2", api_base=server.base_url, name="llama-server/smollm2")


async def wait_exited(server: LlamaServer) -> None:
    for _ in range(100):
        if not server.running:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("llama-server still running after SIGKILL")


async def test_streams_an_english_reply(server: LlamaServer) -> None:
    deltas = [d async for d in llama_model(server).stream(STORY, max_tokens=60, temperature=0.0)]
    text = "".join(d.text for d in deltas)
    words = re.findall(r"[A-Za-z']+", text)
    assert len(deltas) > 5, "the reply was not streamed"
    assert len(words) >= 10, text
    assert "cat" in text.lower() or "lighthouse" in text.lower(), text
    english = {"the", "a", "and", "was", "in", "of", "who", "to", "her", "his", "upon"}
    assert sum(w.lower() in english for w in words) >= 3, text


async def test_chain_survives_a_killed_server_and_ensure_running_restarts_it(
    server: LlamaServer,
) -> None:
    async with OpenAIStub(default=StubReply(text="The stub answers.")) as stub:
        chain = LlmChain([
            ChainStep(llama_model(server), first_token_timeout_s=5.0),
            ChainStep(LiteLlmModel("openai/stub", api_base=stub.base_url, name="stub")),
        ])

        # Killed mid-reply: output had begun, so the turn fails instead of restarting elsewhere.
        stream = chain.stream(STORY, max_tokens=300)
        assert (await anext(stream)).text
        assert chain.last_served_by == "llama-server/smollm2"
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(LlmError):
            async for _ in stream:
                pass
        await wait_exited(server)
        assert len(stub.exchanges) == 0

        # The next turn falls back to the second step.
        text = "".join([d.text async for d in chain.stream(STORY, max_tokens=20)])
        assert text == "The stub answers."
        assert chain.last_served_by == "stub"

        # The supervisor's call brings the server back, and the chain uses it again.
        assert await server.ensure_running() is True
        assert server.running and server.pid != pid and server.restarts == 1
        assert await server.ensure_running() is False
        text = "".join([d.text async for d in chain.stream(STORY, max_tokens=20)])
        assert chain.last_served_by == "llama-server/smollm2"
        assert text.strip() and text != "The stub answers."
        assert len(stub.exchanges) == 1


async def test_start_failure_reports_the_server_output(tmp_path: Path) -> None:
    binary = find_llama_server(CHROOT)
    if binary is None:
        pytest.skip(f"no llama-server on PATH or in {CHROOT}")
    broken = tmp_path / f"broken-{os.getpid()}.gguf"
    broken.write_bytes(b"this is not a GGUF model")
    server = LlamaServer(LlamaServerConfig(broken, port=free_port(), chroot_dir=CHROOT))
    try:
        with pytest.raises(LlamaServerError, match=r"(?s)exited with status.*(gguf|model)"):
            await server.start(timeout_s=30)
        assert not server.running
    finally:
        if binary.chroot is not None:  # the copy placed inside the chroot
            (binary.chroot / "var/lib/secretary/models" / broken.name).unlink(missing_ok=True)
