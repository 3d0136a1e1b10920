"""The secretary's duties as LLM tools: their JSON schemas, and validation of the
arguments a model sends (models send junk; a bad call is refused, never executed).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from brain.llm import ToolCall, ToolSpec


class TakeMessage(BaseModel):
    caller_name: str | None = Field(None, description="the caller's name, if said")
    callback_number: str | None = Field(None, description="the number to call back, digits")
    reason: str | None = Field(None, description="what the message is about")


class TransferCall(BaseModel):
    target: str | None = Field(None, description="who to transfer to; default: the first")


class LookupFaq(BaseModel):
    query: str = Field(description="the caller's question, rephrased")


class NoArguments(BaseModel):
    pass


TOOLS: dict[str, tuple[type[BaseModel], str]] = {
    "take_message": (TakeMessage, "Take a message for the team: asks the caller for what is "
                                  "missing, reads it back and saves it."),
    "transfer_call": (TransferCall, "Put the caller through to a human."),
    "business_hours": (NoArguments, "Tell the caller the opening hours and if we're open now."),
    "lookup_faq": (LookupFaq, "Answer from the company's FAQ."),
    "end_call": (NoArguments, "Say goodbye and hang up, when the caller is done."),
}


class ToolArgumentsError(ValueError):
    """A tool call named an unknown tool or sent arguments that don't validate."""


def tool_specs(transfer_targets: list[str]) -> list[ToolSpec]:
    specs = []
    for name, (model, description) in TOOLS.items():
        if name == "transfer_call" and not transfer_targets:
            continue
        schema = model.model_json_schema()
        schema.pop("title", None)
        if name == "transfer_call":
            schema["properties"]["target"]["description"] += f" (one of {transfer_targets})"
        specs.append(ToolSpec(name=name, description=description, parameters=schema))
    return specs


def parse_tool_call(call: ToolCall) -> BaseModel:
    if call.name not in TOOLS:
        raise ToolArgumentsError(f"unknown tool {call.name!r}")
    model = TOOLS[call.name][0]
    try:
        raw: Any = json.loads(call.arguments or "{}")
        if not isinstance(raw, dict):
            raise ValueError("arguments must be a JSON object")
        return model.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        raise ToolArgumentsError(f"{call.name}: bad arguments {call.arguments!r}: {exc}") from exc
