"""What the bots borrow from the process: a brain per persona, voices for spoken replies
and speech recognition. Any may be missing (models still loading, an echo-mode phone);
the bots then answer with an apology instead of failing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from brain.conversation import Brain
from media.stt.base import Transcript
from voices.chain import VoiceSynthesizer


class Transcriber(Protocol):
    async def transcribe(self, pcm16: bytes, sample_rate: int,
                         language: str | None = None) -> Transcript: ...


@dataclass(frozen=True)
class ChannelServices:
    """Each callable raises (any Exception, with a message) when it cannot serve."""

    brain_for: Callable[[str], Brain]
    voice_for: Callable[[str], VoiceSynthesizer] | None = None
    stt: Callable[[], Transcriber] | None = None
