"""The one chat-model interface: the messages we send, the deltas a model streams back, tool
specs and calls, and the errors callers can rely on.

Providers plug in by subclassing `ChatModel` (litellm_model.py for every OpenAI-compatible server
and cloud provider); the fallback chain (chain.py) only ever talks to this interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for."""

    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it (may be invalid: callers validate)


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role="tool"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object


@dataclass(frozen=True)
class LlmDelta:
    text: str = ""  # new text since the last delta
    tool_calls: tuple[ToolCall, ...] = ()  # only complete calls, emitted once fully assembled


class LlmError(Exception):
    """The provider failed, refused, or returned garbage; the message says which and why."""


class LlmTimeout(LlmError):
    """The provider did not answer (or stopped answering) in time."""


class ChatModel(ABC):
    """A chat model that streams its reply.

    `stream` is an async generator: iterate it for deltas; stop iterating (or `aclose()` it, or
    cancel the task) to abandon the reply, which closes the underlying connection."""

    name: str  # for logs and the per-turn record, e.g. "llama-server/smollm2"

    @abstractmethod
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        stop: Sequence[str] = (),
        max_tokens: int = 200,
        temperature: float = 0.3,
    ) -> AsyncIterator[LlmDelta]: ...
