"""OpenAI-compatible chat: `GET /v1/models` (each persona is a model, e.g. "anna") and
`POST /v1/chat/completions`, answered by that persona's Brain as a conversation on the
"api" channel: FAQ, dialogues and the LLM exactly as a caller would get them.

Each request is one turn: the last user message is what the persona answers; the earlier
user and assistant messages become the conversation's history (the LLM sees them), but a
dialogue's state (a message half taken) does not carry from one request to the next.
System messages are ignored (the persona has its own instructions), as are sampling
parameters (the persona's settings apply). With `"stream": true` the reply comes as
`chat.completion.chunk` server-sent events, clause by clause, ending `data: [DONE]`.
Usage counts are estimates (words and punctuation), not the model's tokens. What a phone
would do (transfer, hang up) is reported in an extra `secretary` field.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from brain.conversation import Conversation
from brain.llm import ChatMessage
from brain.replies import Say
from web.api.openai_errors import openai_error, openai_handler, read_json
from web.chat import answer, describe_action, reply_events
from web.state import SERVICES, USER

MAX_MESSAGE_CHARS = 4000
MAX_MESSAGES = 100
TOKEN = re.compile(r"\w+|[^\w\s]")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, max_tokens...: the persona's
    model: str = Field(min_length=1, max_length=64)
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False


def count_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def model_card(persona: str) -> dict[str, Any]:
    return {"id": persona, "object": "model", "created": 0, "owned_by": "ai-secretary"}


@openai_handler
async def list_models(request: web.Request) -> web.Response:
    personas = request.app[SERVICES].personas()
    return web.json_response({"object": "list", "data": [model_card(p) for p in personas]})


@openai_handler
async def get_model(request: web.Request) -> web.Response:
    persona = request.match_info["model"]
    request.app[SERVICES].require_brain(persona)
    return web.json_response(model_card(persona))


def _question(body: ChatCompletionRequest) -> tuple[str, list[ChatMessage]]:
    """The last user message, and the user/assistant turns before it."""
    last = body.messages[-1]
    if last.role != "user" or not last.text().strip():
        raise openai_error(400, "The last message must be a non-empty user message.",
                           "invalid_request")
    question = last.text().strip()
    if len(question) > MAX_MESSAGE_CHARS:
        raise openai_error(400, f"The user message is longer than {MAX_MESSAGE_CHARS} "
                                "characters.", "message_too_long")
    history = [ChatMessage(role=m.role, content=m.text()[:MAX_MESSAGE_CHARS])
               for m in body.messages[:-1] if m.role in ("user", "assistant") and m.text()]
    return question, history


async def _conversation(request: web.Request, body: ChatCompletionRequest,
                        history: list[ChatMessage]) -> Conversation:
    brain = request.app[SERVICES].require_brain(body.model)
    conversation = await brain.start(channel="api", external_id=f"chatcmpl-{uuid.uuid4().hex}",
                                     caller=f"api:{request[USER].username}")
    conversation.history.extend(history)
    said = [m.content for m in history if m.role == "assistant"]
    conversation.last_said = said[-1] if said else ""  # "say that again" repeats it
    return conversation


@openai_handler
async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, ChatCompletionRequest)
    question, history = _question(body)
    conversation = await _conversation(request, body, history)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    try:
        if body.stream:
            return await _stream(request, conversation, question, body.model, completion_id)
        reply = await answer(conversation, question)
    finally:
        await conversation.close("API request answered")
    prompt = sum(count_tokens(m.text()) for m in body.messages)
    completion = count_tokens(reply.text)
    return web.json_response({
        "id": completion_id, "object": "chat.completion", "created": int(time.time()),
        "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
        "secretary": _extra(reply.source, reply.actions),
    })


def _extra(source: str, actions: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"source": source, "actions": list(actions)}


async def _stream(request: web.Request, conversation: Conversation, question: str,
                  model: str, completion_id: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    created = int(time.time())

    async def send(delta: dict[str, Any], finish: str | None = None,
                   extra: dict[str, Any] | None = None) -> None:
        chunk: dict[str, Any] = {
            "id": completion_id, "object": "chat.completion.chunk", "created": created,
            "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}]}
        if extra is not None:
            chunk["secretary"] = extra
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    await send({"role": "assistant", "content": ""})
    actions: list[str] = []
    first = True
    async for event in reply_events(conversation, question):
        if isinstance(event, Say):
            # Clauses arrive as the brain makes them; joined by a space, as `answer` does.
            await send({"content": event.text if first else " " + event.text})
            first = False
        elif (action := describe_action(event)) is not None:
            actions.append(action)
    source = conversation.stats.source
    await send({}, "stop", _extra(source.value if source else "flow", actions))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/models", list_models, name="api.openai.models")
    router.add_get("/v1/models/{model}", get_model, name="api.openai.model")
    router.add_post("/v1/chat/completions", chat_completions, name="api.openai.chat")

