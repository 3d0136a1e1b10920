"""A scriptable OpenAI-compatible chat server on 127.0.0.1 for tests.

It speaks `POST /v1/chat/completions` the way OpenAI does: with `"stream": true` an SSE body of
`data: {chat.completion.chunk}` events ending in `data: [DONE]`; without it, one
`chat.completion` JSON. Real clients (litellm, openai, httpx) talk to it unchanged.

Each request takes the next scripted `StubReply` (or `default` once the script is used up), so a
test decides per request what the "model" does: stream text in chunks, stream tool calls in
fragments (id and name first, then the arguments in pieces), wait before the first chunk, answer
an HTTP error, drop the connection mid-stream, or send junk. Every request is recorded as an
`Exchange` (the JSON body, the headers, how the stream ended), so a test can assert what prompt
and tools were sent and whether the client hung up.

    async with OpenAIStub() as stub:
        stub.script(StubReply(text="Hello there."), StubReply(status=500))
        model = LiteLlmModel("openai/stub", api_base=stub.base_url, api_key="x")
        ...
        assert stub.exchanges[0].body["messages"][-1]["content"] == "Hi"
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class StubToolCall:
    """A tool call to stream; `arguments` is sent in `argument_pieces` fragments."""

    name: str
    arguments: str
    id: str = ""  # "" → call_<n>
    argument_pieces: int = 3
    index: int | None = None  # the stream's tool-call index; None → its position in the reply


@dataclass(frozen=True)
class StubReply:
    """What the stub does for one request.

    text: the reply text, streamed `chunk_chars` characters per chunk (or give `chunks`).
    tool_calls: streamed after the text, OpenAI style, finish_reason "tool_calls".
    first_chunk_delay_s / chunk_delay_s: sleep before the first chunk / between chunks.
    status: anything but 200 answers that status with an OpenAI-style error body, no stream.
    drop_after_chunks: abort the TCP connection after this many chunks (no [DONE]).
    junk: send these raw bytes as the whole (200, text/event-stream) body instead of SSE.
    finish_reason: sent on the last chunk; None sends no finish reason at all.
    """

    text: str = ""
    chunks: Sequence[str] | None = None
    chunk_chars: int = 4
    tool_calls: Sequence[StubToolCall] = ()
    first_chunk_delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    status: int = 200
    error_message: str = "stub says no"
    drop_after_chunks: int | None = None
    junk: bytes | None = None
    finish_reason: str | None = "stop"

    def text_chunks(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        step = max(1, self.chunk_chars)
        return [self.text[i : i + step] for i in range(0, len(self.text), step)]


@dataclass
class Exchange:
    """One request the stub received and how its answer went."""

    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float
    chunks_sent: int = 0
    completed: bool = False  # the whole scripted answer went out
    client_closed: bool = False  # the client hung up while we were still streaming
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the handler has finished

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])


class OpenAIStub:
    """The server. `base_url` ends in /v1, as OpenAI clients expect for `api_base`."""

    def __init__(self, default: StubReply | None = None, model: str = "stub-model") -> None:
        self.default = default or StubReply(text="Hello from the stub.")
        self.model = model
        self.exchanges: list[Exchange] = []
        self._script: deque[StubReply] = deque()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def script(self, *replies: StubReply) -> None:
        """Queue replies for the next requests, in order."""
        self._script.extend(replies)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the stub is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        # Finish handlers even when the client leaves, so `Exchange.done` is always set.
        self._runner = web.AppRunner(app, handler_cancellation=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "stub"}]}
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        exchange = Exchange(body=body, headers=dict(request.headers), received_at=time.monotonic())
        self.exchanges.append(exchange)
        reply = self._script.popleft() if self._script else self.default
        try:
            if reply.status != 200:
                return web.json_response(
                    {"error": {"message": reply.error_message, "type": "server_error",
                               "code": reply.status}},
                    status=reply.status,
                )
            if reply.first_chunk_delay_s:
                await asyncio.sleep(reply.first_chunk_delay_s)
            if not body.get("stream"):
                exchange.completed = True
                return web.json_response(self._completion(reply))
            return await self._stream(request, reply, exchange)
        finally:
            exchange.done.set()

    async def _stream(
        self, request: web.Request, reply: StubReply, exchange: Exchange
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            if reply.junk is not None:
                await response.write(reply.junk)
                await response.write_eof()
                exchange.completed = True
                return response
            for index, chunk in enumerate(self._chunks(reply)):
                if reply.drop_after_chunks is not None and index >= reply.drop_after_chunks:
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                if index and reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
                if request.transport is None or request.transport.is_closing():
                    raise ConnectionResetError("client went away")
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
                exchange.chunks_sent += 1
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            exchange.completed = True
        except (ConnectionResetError, ConnectionError):
            exchange.client_closed = True
        return response

    def _chunks(self, reply: StubReply) -> list[dict[str, Any]]:
        """The chat.completion.chunk objects for a reply, in order, as OpenAI sends them."""
        created = int(time.time())
        chunk_id = f"chatcmpl-stub{len(self.exchanges)}"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": chunk_id, "object": "chat.completion.chunk", "created": created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in reply.text_chunks()]
        for position, call in enumerate(reply.tool_calls):
            call_id = call.id or f"call_{len(self.exchanges)}_{position}"
            index = position if call.index is None else call.index
            out.append(chunk({"tool_calls": [{
                "index": index, "id": call_id, "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }]}))
            pieces = max(1, call.argument_pieces)
            step = max(1, -(-len(call.arguments) // pieces))
            for start in range(0, len(call.arguments), step):
                out.append(chunk({"tool_calls": [{
                    "index": index,
                    "function": {"arguments": call.arguments[start : start + step]},
                }]}))
        finish = reply.finish_reason
        if finish == "stop" and reply.tool_calls:
            finish = "tool_calls"
        if finish is not None:
            out.append(chunk({}, finish))
        return out

    def _completion(self, reply: StubReply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": call.id or f"call_{len(self.exchanges)}_{i}", "type": "function",
                 "function": {"name": call.name, "arguments": call.arguments}}
                for i, call in enumerate(reply.tool_calls)
            ]
        finish = "tool_calls" if reply.tool_calls else (reply.finish_reason or "stop")
        return {
            "id": f"chatcmpl-stub{len(self.exchanges)}", "object": "chat.completion",
            "created": int(time.time()), "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
