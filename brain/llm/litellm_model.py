"""`ChatModel` over litellm: any OpenAI-compatible server (llama-server, vLLM, a LoRA adapter name
as the model) and every cloud provider litellm knows, streamed.

It owns turning our messages and tool specs into OpenAI's wire shapes, assembling streamed
tool-call fragments into whole calls, and mapping every provider exception to `LlmError`.
Provider keys come from the environment through litellm itself; only an explicit `api_key` is
passed on."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from brain.llm.base import (
    ChatMessage,
    ChatModel,
    LlmDelta,
    LlmError,
    LlmTimeout,
    ToolCall,
    ToolSpec,
)

log = logging.getLogger(__name__)

# An explicit api_base means a server we were pointed at; local OpenAI-compatible servers
# (llama-server, vLLM without --api-key) ignore the key, but the OpenAI client refuses to send a
# request without one. A real key, when the server checks it, is passed as `api_key`.
PLACEHOLDER_API_KEY = "none"


@functools.cache
def load_litellm() -> ModuleType:
    """Import and configure litellm once (blocking, ~5 s: call it from a worker thread).

    litellm fetches its model cost map (and, later, Anthropic beta headers and tokenizers) from
    GitHub/Hugging Face unless told to use the copies it ships; a phone must never wait on, or
    leak to, the network for that, and this machine has no network at all. The variables are
    read at import, hence set right before it (setdefault: an operator's explicit value wins)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    import litellm

    litellm.suppress_debug_info = True  # no "Give feedback / get help" banners on errors
    litellm.set_verbose = False
    litellm.turn_off_message_logging = True  # never hand conversation text to callbacks
    # Skips a thread-pool hop per streamed chunk that only feeds success callbacks (none set).
    litellm.disable_streaming_logging = True
    if hasattr(litellm, "telemetry"):  # older releases phoned home unless told not to
        litellm.telemetry = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


async def preload_litellm() -> None:
    """Import litellm in a worker thread, so the first reply does not pay for it."""
    await asyncio.to_thread(load_litellm)


class LiteLlmModel(ChatModel):
    """Streams replies through `litellm.acompletion(stream=True)`.

    `model` is litellm's model name: "openai/<served name>" with `api_base` for an
    OpenAI-compatible server, or a cloud name ("gemini/gemini-2.0-flash", "gpt-4o-mini",
    "anthropic/...", "deepseek/deepseek-chat", "openrouter/..."). `extra` is passed to every
    call (e.g. {"timeout": 10}, {"max_retries": 2}, provider-specific parameters).

    Call `preload_litellm()` at start-up: the first stream otherwise spends seconds importing
    litellm, which a chain would count against this model's first-token timeout. litellm sends
    at most 4 `stop` strings on OpenAI-style routes (it truncates the list)."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        if api_key is None and api_base is not None and model.startswith("openai/"):
            api_key = PLACEHOLDER_API_KEY
        self.api_key = api_key
        self.name = name or model
        # Retrying is the chain's job (and a retry's backoff is seconds of silence on a call).
        self.extra: dict[str, Any] = {"max_retries": 0, **(extra or {})}

    def __repr__(self) -> str:
        return f"LiteLlmModel({self.name!r}, model={self.model!r}, api_base={self.api_base!r})"

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        stop: Sequence[str] = (),
        max_tokens: int = 200,
        temperature: float = 0.3,
    ) -> AsyncIterator[LlmDelta]:
        # Once imported, no thread hop: the default executor may be busy with STT work.
        loaded = load_litellm.cache_info().currsize > 0
        litellm = load_litellm() if loaded else await asyncio.to_thread(load_litellm)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [to_openai_message(m) for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **self.extra,
        }
        if self.api_base is not None:
            request["api_base"] = self.api_base
        if self.api_key is not None:
            request["api_key"] = self.api_key
        if tools:
            request["tools"] = [to_openai_tool(t) for t in tools]
        if stop:
            request["stop"] = list(stop)

        response: Any = None
        calls = _ToolCallAssembler()
        try:
            response = await litellm.acompletion(**request)
            async for chunk in response:
                for choice in chunk.choices or ():
                    delta = choice.delta
                    if delta is None:
                        continue
                    for fragment in getattr(delta, "tool_calls", None) or ():
                        calls.add(fragment)
                    if delta.content:
                        yield LlmDelta(text=delta.content)
            finished = calls.finish()
            if finished:
                yield LlmDelta(tool_calls=finished)
        except LlmError:
            raise
        except Exception as exc:  # every provider/transport failure becomes ours, message kept
            raise _as_llm_error(litellm, exc, self.name) from exc
        finally:
            if response is not None and hasattr(response, "aclose"):
                # Closes the HTTP stream now (barge-in, consumer gone), not at garbage collection;
                # a server like llama-server stops generating when the connection goes.
                await response.aclose()


def to_openai_message(message: ChatMessage) -> dict[str, Any]:
    """Our message as OpenAI's chat `messages[]` item."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def to_openai_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


class _ToolCallAssembler:
    """Joins streamed tool-call fragments (id and name first, arguments in pieces) by index.

    Some providers send each call whole without an index, or reuse index 0 for every call with
    a new id; each of those starts a new call rather than corrupting the previous one."""

    def __init__(self) -> None:
        self._calls: list[_PartialCall] = []
        self._by_index: dict[int, _PartialCall] = {}

    def add(self, fragment: Any) -> None:
        index = getattr(fragment, "index", None)
        fragment_id = getattr(fragment, "id", None) or ""
        call = self._by_index.get(index) if index is not None else None
        if call is None or (fragment_id and call.id and fragment_id != call.id):
            call = _PartialCall()
            self._calls.append(call)
            if index is not None:
                self._by_index[index] = call
        if fragment_id:
            call.id = fragment_id
        function = getattr(fragment, "function", None)
        if function is not None:
            if getattr(function, "name", None):
                call.name = function.name
            if getattr(function, "arguments", None):
                call.arguments += function.arguments

    def finish(self) -> tuple[ToolCall, ...]:
        calls = []
        for number, partial in enumerate(self._calls):
            if not partial.name:
                raise LlmError(f"tool call #{number} streamed without a function name")
            # A call without arguments is sent as "" by some providers: "{}" parses for callers.
            calls.append(ToolCall(id=partial.id or f"call_{number}", name=partial.name,
                                  arguments=partial.arguments or "{}"))
        self._calls.clear()
        self._by_index.clear()
        return tuple(calls)


def _as_llm_error(litellm: ModuleType, exc: Exception, model_name: str) -> LlmError:
    message = f"{model_name}: {type(exc).__name__}: {exc}"
    if isinstance(exc, litellm.Timeout | asyncio.TimeoutError):
        return LlmTimeout(message)
    return LlmError(message)
