"""LLM access: one streaming chat interface, litellm behind it for every provider, an ordered
fallback chain, and llama.cpp's llama-server as the local CPU default."""

from brain.llm.base import (
    ChatMessage,
    ChatModel,
    LlmDelta,
    LlmError,
    LlmTimeout,
    ToolCall,
    ToolSpec,
)
from brain.llm.chain import ChainStep, LlmChain
from brain.llm.litellm_model import LiteLlmModel, preload_litellm
from brain.llm.llama_server import (
    LlamaServer,
    LlamaServerBinary,
    LlamaServerConfig,
    LlamaServerError,
    find_llama_server,
    smollm2_model_path,
)

__all__ = [
    "ChainStep",
    "ChatMessage",
    "ChatModel",
    "LiteLlmModel",
    "LlamaServer",
    "LlamaServerBinary",
    "LlamaServerConfig",
    "LlamaServerError",
    "LlmChain",
    "LlmDelta",
    "LlmError",
    "LlmTimeout",
    "ToolCall",
    "ToolSpec",
    "find_llama_server",
    "preload_litellm",
    "smollm2_model_path",
]
