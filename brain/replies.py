"""What the brain hands the channel to do: say a piece of text, transfer, end the call.

Channels decide how: the phone speaks each `Say` as soon as it arrives and dials for
a `Transfer`; a chat sends the text and notifies a human instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from brain.persona import TransferTarget


class Source(StrEnum):
    """Where a reply came from (stored per turn; the bench and the console group by it)."""

    FLOW = "flow"  # a deterministic dialogue (message taking, hours, goodbye, ...)
    FAQ = "faq"
    LLM = "llm"
    LLM_TOOL = "llm_tool"
    FALLBACK = "fallback"  # the LLM failed or was not trusted: a stock phrase


@dataclass(frozen=True)
class Say:
    text: str
    language: str
    #: the same words are said again and again (FAQ answers, stock phrases), so a channel
    #: may keep their audio; a reply made for this caller (LLM text, a read-back) is not
    stock: bool = False


@dataclass(frozen=True)
class Transfer:
    target: TransferTarget


@dataclass(frozen=True)
class EndCall:
    reason: str


ReplyEvent = Say | Transfer | EndCall
